// A block device that simulates a disk with a volatile write cache, for
// crash tests. It is not a mock: it stores real bytes and behaves like a
// disk, and it can lose power at any point.
//
// The model:
//
//     durable   [ medium: what survives a power cut      ]  size bytes
//     pending   (offset, bytes), (offset, bytes), ...       issue order
//     current   [ durable with every pending write applied ]  size bytes
//
//   write(...)   copies the bytes into `current` and appends them to `pending`.
//   read(...)    returns bytes of `current` (the latest written data).
//   flush()      applies `pending` to `durable` in order and empties it.
//   grow(to:)    zero-fills the new range of both arrays; the new size is
//                durable at once (like a file system's preallocation), the
//                data later written into the range is pending like any write.
//
// A power cut keeps `durable` plus some of `pending`, chosen by a `CrashMode`
// (drop all, keep all, keep a prefix, keep random sectors, tear the last
// write at a sector boundary, garble sectors). The seeded modes use
// SplitMix64, so a seed names one outcome and a failing test can be replayed.
//
// Every mutating call (write, flush, grow) has a 0-based index in
// `operationCount` order. A test can cut the power at an index
// (`crashAtOperation`), fail one index (`failOperation`), or fail every write
// until told otherwise (`failAllWrites`). A call is checked in this order:
// already crashed, crash point, injected failure, then its own arguments
// (range, `maxSize`). A call that fails does not happen at all.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `BlockDevice` in memory that behaves like a disk with a volatile write
/// cache and can simulate power cuts, I/O errors, a full disk and bit rot.
///
/// Use it in crash tests: run the code under test against it, cut the power
/// (`crashAtOperation` or `crashNow()`), then `rebooted(_:)` under each
/// `CrashMode` and check that recovery finds a consistent state.
public final class FaultyBlockDevice: BlockDevice {
    /// The sector size in bytes: the unit in which the seeded crash modes
    /// keep, lose, tear or garble data.
    public static let sectorSize = 512

    /// A failure to inject into an operation.
    public enum Failure: Sendable, Equatable {
        /// The operation fails with `BlockDeviceError.io` (errno EIO).
        case io
        /// The operation fails with `BlockDeviceError.noSpace`.
        case noSpace
    }

    /// Which of the unflushed writes reach the medium at a power cut.
    public enum CrashMode: Sendable, Equatable {
        /// Every unflushed write is lost.
        case dropAll
        /// Every unflushed write made it.
        case keepAll
        /// The first N unflushed writes (in issue order) made it; the rest are lost.
        case keepPrefix(Int)
        /// Each 512-byte sector touched by an unflushed write is independently
        /// kept (it holds the latest data: every pending write to it, applied
        /// in order) or lost (it holds the flushed data). Deterministic from `seed`.
        case randomSubset(seed: UInt64)
        /// Every unflushed write but the last made it; the last is cut at a
        /// 512-byte device sector boundary chosen from `seed`, so that of the
        /// k sectors it touches, 0..<k are kept (its head is kept, its tail lost).
        case tearLast(seed: UInt64)
        /// Each 512-byte sector touched by an unflushed write is independently
        /// kept, lost, or filled with random bytes. Deterministic from `seed`.
        case garble(seed: UInt64)
    }

    /// One write that is not yet durable.
    private struct PendingWrite {
        var offset: Int
        var bytes: [UInt8]
    }

    /// The kind of a mutating operation, for error messages and for which
    /// injected failures apply.
    private enum Operation: String {
        case write, flush, grow
    }

    /// A name for messages.
    public let path: String
    /// The current size in bytes. Growth is durable at once.
    public private(set) var size: UInt64
    /// The largest size `grow(to:)` accepts; beyond it, it throws `noSpace`.
    /// `nil` means no limit.
    public var maxSize: UInt64?
    /// Number of mutating operations attempted so far (write, flush, grow
    /// each count 1, whether they succeed or fail; reads do not count;
    /// calls on a crashed device do not count).
    public private(set) var operationCount = 0
    /// When set, the mutating operation whose 0-based index equals this value
    /// does not happen: the device "loses power": it throws
    /// `BlockDeviceError.crashed`, and every later call (reads too) throws
    /// `.crashed`.
    public var crashAtOperation: Int?
    /// True after a simulated power cut; every call then throws `.crashed`.
    public private(set) var isCrashed = false
    /// Persistent failure of every write and grow (flush too for `.io`) until
    /// set back to `nil`, e.g. "disk full until space is freed". Reads work.
    public var failAllWrites: Failure?

    /// The medium: what survives a power cut. `durable.count == size`.
    private var durable: [UInt8]
    /// What reads return: `durable` with `pending` applied. `current.count == size`.
    private var current: [UInt8]
    /// Writes since the last successful flush, in issue order.
    private var pending: [PendingWrite] = []
    /// One-shot failures by operation index.
    private var scheduledFailures: [Int: Failure] = [:]

    /// A healthy device of `size` zero bytes, all durable.
    /// `grow(to:)` beyond `maxSize` throws `.noSpace`.
    public init(path: String = "faulty-device", size: UInt64 = 0, maxSize: UInt64? = nil) {
        self.path = path
        self.size = size
        self.maxSize = maxSize
        durable = [UInt8](repeating: 0, count: Int(size))
        current = durable
    }

    /// A healthy device holding `durableContents`, all durable, nothing pending.
    /// `grow(to:)` beyond `maxSize` throws `.noSpace`.
    public init(path: String = "faulty-device", durableContents: [UInt8], maxSize: UInt64? = nil) {
        self.path = path
        self.size = UInt64(durableContents.count)
        self.maxSize = maxSize
        durable = durableContents
        current = durableContents
    }

    /// Writes issued since the last successful flush (not yet durable).
    public var pendingWriteCount: Int { pending.count }

    /// The current view (what reads return): durable bytes with the pending
    /// writes applied.
    public var contents: [UInt8] { current }

    /// Cuts the power now: every later call throws `.crashed`. Pending writes
    /// stay as they are, for `durableImage(after:)` and `rebooted(_:)`.
    public func crashNow() {
        isCrashed = true
    }

    /// One-shot failure: the mutating operation with this 0-based index fails
    /// (does not happen) with `failure`; the device keeps working after.
    /// An index already passed never fires.
    public func failOperation(_ index: Int, with failure: Failure) {
        scheduledFailures[index] = failure
    }

    // MARK: BlockDevice

    /// Reads `buffer.count` bytes of the current view at `offset`.
    /// Throws `.crashed` after a power cut, `.outOfRange` past `size`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        if isCrashed { throw .crashed }
        guard let start = checkedRange(offset, buffer.count) else {
            throw .outOfRange(path: path, offset: offset, length: buffer.count, size: size)
        }
        guard buffer.count > 0 else { return }
        current.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: buffer.count)
        }
    }

    /// Writes the buffers back to back at `offset`. The data is visible to
    /// reads at once and durable after the next successful `flush()`.
    /// Writes past `size` throw `.outOfRange` (grow first).
    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        var total = 0
        for buffer in buffers { total += buffer.count }
        try beginOperation(.write, requestedBytes: UInt64(total))
        guard let start = checkedRange(offset, total) else {
            throw .outOfRange(path: path, offset: offset, length: total, size: size)
        }
        let bytes = [UInt8](unsafeUninitializedCapacity: total) { target, initialized in
            var at = 0
            for buffer in buffers where buffer.count > 0 {
                UnsafeMutableRawPointer(target.baseAddress! + at)
                    .copyMemory(from: buffer.baseAddress!, byteCount: buffer.count)
                at += buffer.count
            }
            initialized = total
        }
        let write = PendingWrite(offset: start, bytes: bytes)
        Self.apply(write, to: &current)
        pending.append(write)
    }

    /// Makes every pending write durable. If it fails (an injected failure),
    /// the writes stay pending.
    public func flush() throws(BlockDeviceError) {
        try beginOperation(.flush, requestedBytes: 0)
        for write in pending { Self.apply(write, to: &durable) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Grows the device to `newSize` zero bytes; the new size is durable at
    /// once. A smaller or equal size is a no-op (but still an operation).
    /// Throws `.noSpace` beyond `maxSize`.
    public func grow(to newSize: UInt64) throws(BlockDeviceError) {
        try beginOperation(.grow, requestedBytes: newSize > size ? newSize - size : 0)
        guard newSize > size else { return }
        if let maxSize, newSize > maxSize {
            throw .noSpace(path: path, requestedBytes: newSize - size)
        }
        guard newSize <= UInt64(Int.max) else {
            throw .noSpace(path: path, requestedBytes: newSize - size)
        }
        let extra = Int(newSize - size)
        durable.append(contentsOf: repeatElement(0, count: extra))
        current.append(contentsOf: repeatElement(0, count: extra))
        size = newSize
    }

    // MARK: Power cuts

    /// The bytes that would be on the medium after a power cut now, under
    /// `mode`. Does not change this device (works on a crashed one too).
    public func durableImage(after mode: CrashMode) -> [UInt8] {
        var image = durable
        switch mode {
        case .dropAll:
            break
        case .keepAll:
            return current
        case let .keepPrefix(count):
            for write in pending.prefix(max(0, count)) { Self.apply(write, to: &image) }
        case let .tearLast(seed):
            guard let last = pending.last else { break }
            for write in pending.dropLast() { Self.apply(write, to: &image) }
            let sector = Self.sectorSize
            let end = last.offset + last.bytes.count
            guard end > last.offset else { break }
            let sectorCount = (end - 1) / sector - last.offset / sector + 1
            var random = SplitMix64(seed: seed)
            let keptSectors = Int(random.next() % UInt64(sectorCount))
            // Cut points: the write's start, then each sector boundary inside it.
            let cut = keptSectors == 0 ? last.offset : (last.offset / sector + keptSectors) * sector
            Self.apply(PendingWrite(offset: last.offset, bytes: Array(last.bytes[0 ..< (cut - last.offset)])), to: &image)
        case let .randomSubset(seed):
            var random = SplitMix64(seed: seed)
            forEachDirtySector { range in
                if random.next() & 1 == 1 { Self.copy(range, from: current, to: &image) }
            }
        case let .garble(seed):
            var random = SplitMix64(seed: seed)
            forEachDirtySector { range in
                switch random.next() % 3 {
                case 0: Self.copy(range, from: current, to: &image)
                case 1: break
                default: Self.fillWithGarbage(range, of: &image, using: &random)
                }
            }
        }
        return image
    }

    /// A new, healthy device holding `durableImage(after: mode)`: all of it
    /// durable, nothing pending, counters at 0, no faults armed, same path
    /// and `maxSize`.
    public func rebooted(_ mode: CrashMode) -> FaultyBlockDevice {
        FaultyBlockDevice(path: path, durableContents: durableImage(after: mode), maxSize: maxSize)
    }

    /// Flips one bit of the stored data, to simulate media corruption. The
    /// bit flips on the medium, in the current view and in every pending
    /// write that covers the byte, so reads show it now and every crash mode
    /// keeps it (unless a garbled sector replaces it).
    /// - Precondition: `offset < size` and `0 <= bit < 8`.
    public func flipBit(atByte offset: UInt64, bit: Int) {
        precondition(offset < size, "flipBit at \(offset) is past the end of \(path) (size \(size))")
        precondition((0 ..< 8).contains(bit), "bit \(bit) is not in 0..<8")
        let index = Int(offset)
        let mask = UInt8(1) << UInt8(bit)
        durable[index] ^= mask
        current[index] ^= mask
        for i in pending.indices where pending[i].offset <= index && index < pending[i].offset + pending[i].bytes.count {
            pending[i].bytes[index - pending[i].offset] ^= mask
        }
    }

    // MARK: Internals

    /// Counts a mutating operation and applies the crash point and the
    /// injected failures to it. Throws if the operation must not happen.
    private func beginOperation(_ operation: Operation, requestedBytes: UInt64) throws(BlockDeviceError) {
        if isCrashed { throw .crashed }
        let index = operationCount
        operationCount += 1
        if crashAtOperation == index {
            isCrashed = true
            throw .crashed
        }
        if let failure = scheduledFailures.removeValue(forKey: index) {
            throw error(for: failure, during: operation, requestedBytes: requestedBytes)
        }
        if let failure = failAllWrites, operation != .flush || failure == .io {
            throw error(for: failure, during: operation, requestedBytes: requestedBytes)
        }
    }

    /// The error that an injected failure raises.
    private func error(for failure: Failure, during operation: Operation, requestedBytes: UInt64) -> BlockDeviceError {
        switch failure {
        case .io: return .io(path: path, operation: operation.rawValue, errno: EIO)
        case .noSpace: return .noSpace(path: path, requestedBytes: requestedBytes)
        }
    }

    /// The start index of `length` bytes at `offset`, or nil if they do not
    /// lie within `size` (checked without overflow).
    private func checkedRange(_ offset: UInt64, _ length: Int) -> Int? {
        guard offset <= size, UInt64(length) <= size - offset else { return nil }
        return Int(offset)
    }

    /// Calls `body` with the byte range of every sector touched by a pending
    /// write, once each, in ascending order (the last sector may be short).
    private func forEachDirtySector(_ body: (Range<Int>) -> Void) {
        let sector = Self.sectorSize
        var spans: [Range<Int>] = []  // sector indices
        spans.reserveCapacity(pending.count)
        for write in pending where !write.bytes.isEmpty {
            spans.append(write.offset / sector ..< (write.offset + write.bytes.count - 1) / sector + 1)
        }
        spans.sort { $0.lowerBound < $1.lowerBound }
        let byteCount = current.count
        var next = 0  // first sector not yet visited
        for span in spans {
            for index in max(next, span.lowerBound) ..< max(next, span.upperBound) {
                body(index * sector ..< min((index + 1) * sector, byteCount))
            }
            next = max(next, span.upperBound)
        }
    }

    /// Copies `write.bytes` into `image` at `write.offset`.
    private static func apply(_ write: PendingWrite, to image: inout [UInt8]) {
        guard !write.bytes.isEmpty else { return }
        image.withUnsafeMutableBytes { target in
            write.bytes.withUnsafeBytes { source in
                (target.baseAddress! + write.offset).copyMemory(from: source.baseAddress!, byteCount: source.count)
            }
        }
    }

    /// Copies `range` of `source` into the same range of `image`.
    private static func copy(_ range: Range<Int>, from source: [UInt8], to image: inout [UInt8]) {
        image.withUnsafeMutableBytes { target in
            source.withUnsafeBytes { from in
                (target.baseAddress! + range.lowerBound)
                    .copyMemory(from: from.baseAddress! + range.lowerBound, byteCount: range.count)
            }
        }
    }

    /// Fills `range` of `image` with random bytes.
    private static func fillWithGarbage(_ range: Range<Int>, of image: inout [UInt8], using random: inout SplitMix64) {
        var word = random.next()
        var left = 8
        for index in range {
            if left == 0 {
                word = random.next()
                left = 8
            }
            image[index] = UInt8(truncatingIfNeeded: word)
            word >>= 8
            left -= 1
        }
    }
}

/// A small, fast, deterministic PRNG (Steele, Lea and Flood's SplitMix64):
/// one seed gives one reproducible sequence on every platform.
private struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E4B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
