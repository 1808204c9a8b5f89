import PhantomStore

/// What object memory can report.
public enum MemoryError: Error, CustomStringConvertible {
    /// The store below failed.
    case store(StoreError)
    /// The host would not reserve the address space.
    case outOfAddressSpace(requested: UInt64)
    /// The image holds a page beyond the space this process mapped.
    case imageTooLarge(page: UInt64, capacityPages: UInt64)
    /// The heap is full.
    case outOfMemory(requested: UInt64, capacity: UInt64)
    /// A snapshot is already being written.
    case snapshotInProgress
    /// The image's object memory header is not one this build reads.
    case badHeader(String)
    /// An argument out of range.
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .store(error): return error.description
        case let .outOfAddressSpace(requested): return "cannot reserve \(requested) bytes of address space for the persistent heap"
        case let .imageTooLarge(page, capacity): return "the image holds page \(page), beyond the \(capacity) pages of this heap; open it with a larger heap"
        case let .outOfMemory(requested, capacity): return "out of persistent memory: \(requested) bytes requested, heap capacity \(capacity) bytes"
        case .snapshotInProgress: return "a snapshot is already being written"
        case let .badHeader(reason): return "the image's object memory is not readable: \(reason)"
        case let .invalidArgument(reason): return reason
        }
    }
}
