// The block device: the only way the store reaches durable storage.
//
// A device is a flat array of bytes addressed by offset. Writes become
// durable only after `flush()` returns; until then the host may keep them,
// drop them, reorder them or tear them at sector boundaries (a power cut).
// `FaultyBlockDevice` simulates exactly that for tests.

/// What went wrong on a block device, with what a user needs to act on it.
public enum BlockDeviceError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The host reported an I/O error (EIO and friends).
    case io(path: String, operation: String, errno: Int32)
    /// The device (or the file system under it) is full.
    case noSpace(path: String, requestedBytes: UInt64)
    /// A read or write past the end of the device.
    case outOfRange(path: String, offset: UInt64, length: Int, size: UInt64)
    /// The device could not be opened.
    case cannotOpen(path: String, errno: Int32)
    /// Another process holds the device's lock.
    case locked(path: String)
    /// A simulated power cut happened: the device takes no more operations.
    case crashed

    public var description: String {
        switch self {
        case let .io(path, operation, code):
            return "I/O error during \(operation) on \(path): \(errnoText(code))"
        case let .noSpace(path, requested):
            return "no space left on \(path) (needed \(requested) more bytes)"
        case let .outOfRange(path, offset, length, size):
            return "access of \(length) bytes at offset \(offset) is past the end of \(path) (size \(size))"
        case let .cannotOpen(path, code):
            return "cannot open \(path): \(errnoText(code))"
        case let .locked(path):
            return "\(path) is in use by another process (it holds the image lock)"
        case .crashed:
            return "the device crashed (simulated power cut)"
        }
    }
}

/// A durable array of bytes: a file, a raw disk, or a simulation of one.
///
/// Every method is synchronous and may be called from one thread at a time;
/// the store above serializes its calls.
public protocol BlockDevice: AnyObject {
    /// A name for messages: the path of the file or device.
    var path: String { get }
    /// The current size in bytes.
    var size: UInt64 { get }
    /// Reads `buffer.count` bytes at `offset`; the range must lie within `size`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError)
    /// Writes the buffers back to back starting at `offset` (a gather write).
    /// Not durable until `flush()` returns.
    func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError)
    /// A durability barrier: every write issued before it is durable when it returns.
    func flush() throws(BlockDeviceError)
    /// Makes the device at least `newSize` bytes long (new bytes read as zero).
    /// Devices of a fixed size throw `noSpace`.
    func grow(to newSize: UInt64) throws(BlockDeviceError)
}

extension BlockDevice {
    /// Writes one buffer at `offset`.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        try write([buffer], at: offset)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host's text for an errno value.
func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text) + " (errno \(code))"
}
