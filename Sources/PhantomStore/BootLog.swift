// The boot log (format 2): one record for every boot, so that a crash loop
// can be seen and rolled back. It describes snapshots but is not snapshot
// data: it lives in reserved blocks outside the snapshots and survives a
// rollback. Two copies of four blocks each (blocks 2-5 and 6-9) are written
// alternately, each holding the whole log; the intact copy with the higher
// generation is the log. A damaged log is reported and read as empty; it
// never stops an open.
//
// Layout of one copy (16384 bytes, little-endian):
// ```
// off    size  field
//     0     8  magic "PHNTBOOT"
//     8     8  generation: 1, 2, ...; generation g is written to copy g % 2
//    16     8  next sequence: the sequence the next record gets
//    24     4  record count n (0...64)
//    28     4  0
//    32    16  image id (as in the superblock)
//    48    16  0
//    64 192*n  records, oldest first
// 16380     4  crc32c of bytes 0..<16380
// ```
// Record (192 bytes):
// ```
//  0    8  sequence (1, 2, ... never reused)
//  8    8  snapshot the boot started from
// 16    8  started, ns since the Unix epoch
// 24    1  outcome: 1 running, 2 healthy, 3 failed
// 25    1  note length in bytes (0...160)
// 26    6  0
// 32  160  note, UTF-8 (the rest zero)
// ```

import PhantomHost


/// How a boot ended, as the kernel reports it.
public enum BootOutcome: UInt8, Sendable {
    /// Started and not (yet) reported otherwise: a crash leaves it so.
    case running = 1
    /// The system ran long enough to be trusted.
    case healthy = 2
    /// The boot failed.
    case failed = 3
}

/// One boot of the image.
public struct BootRecord: Sendable, Equatable {
    /// 1, 2, ... assigned by the store, never reused.
    public var sequence: UInt64
    /// The snapshot id the boot started from.
    public var snapshot: UInt64
    /// Wall clock when it started, ns since 1970.
    public var startedNanos: UInt64
    /// How it ended (`.running` until told otherwise).
    public var outcome: BootOutcome
    /// At most 160 UTF-8 bytes (longer is cut at a character boundary),
    /// e.g. "rolled back from 12 after 3 failed boots".
    public var note: String
}

/// The boot log in memory.
struct BootLog {
    var records: [BootRecord] = []
    /// The generation of the copy read or written last (0: never written).
    var generation: UInt64 = 0
    var nextSequence: UInt64 = 1

    /// Records kept: the newest 64.
    static let capacity = 64
    static let magic: UInt64 = 0x544F_4F42_544E_4850  // "PHNTBOOT"
    static let bytes = Layout.bootLogBlocks * Layout.blockSize
    static let checksumOffset = bytes - 4
    static let recordsOffset = 64
    static let recordSize = 192
    static let noteLimit = 160

    /// `note` cut to at most 160 UTF-8 bytes at a character boundary.
    static func clip(_ note: String) -> String {
        guard note.utf8.count > noteLimit else { return note }
        var result = ""
        var used = 0
        for character in note {
            let size = String(character).utf8.count
            if used + size > noteLimit { break }
            result.append(character)
            used += size
        }
        return result
    }

    func encode(into buffer: UnsafeMutableRawBufferPointer, imageID: (UInt64, UInt64)) {
        buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: Self.bytes)
        func put64(_ offset: Int, _ value: UInt64) { buffer.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt64.self) }
        put64(0, Self.magic)
        put64(8, generation)
        put64(16, nextSequence)
        buffer.storeBytes(of: UInt32(records.count).littleEndian, toByteOffset: 24, as: UInt32.self)
        put64(32, imageID.0)
        put64(40, imageID.1)
        for (index, record) in records.enumerated() {
            let at = Self.recordsOffset + index * Self.recordSize
            put64(at, record.sequence)
            put64(at + 8, record.snapshot)
            put64(at + 16, record.startedNanos)
            buffer[at + 24] = record.outcome.rawValue
            let note = Array(Self.clip(record.note).utf8)
            buffer[at + 25] = UInt8(note.count)
            for (offset, byte) in note.enumerated() { buffer[at + 32 + offset] = byte }
        }
        let crc = crc32c(UnsafeRawBufferPointer(rebasing: buffer[0..<Self.checksumOffset]))
        buffer.storeBytes(of: crc.littleEndian, toByteOffset: Self.checksumOffset, as: UInt32.self)
    }

    /// A decoded copy, or why it cannot be used (nil reason and nil log: never written).
    static func decode(_ buffer: UnsafeRawBufferPointer, imageID: (UInt64, UInt64)) -> (log: BootLog?, problem: String?, hint: UInt64?) {
        func get64(_ offset: Int) -> UInt64 { UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
        guard get64(0) == magic else {
            return (nil, buffer.allSatisfy { $0 == 0 } ? nil : "no boot log magic", nil)
        }
        let hint = get64(16)
        let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: checksumOffset, as: UInt32.self))
        guard crc == crc32c(UnsafeRawBufferPointer(rebasing: buffer[0..<checksumOffset])) else { return (nil, "checksum mismatch", hint) }
        guard get64(32) == imageID.0, get64(40) == imageID.1 else { return (nil, "it belongs to another image", nil) }
        let count = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 24, as: UInt32.self)))
        guard count <= capacity else { return (nil, "it claims \(count) records", hint) }
        var log = BootLog(records: [], generation: get64(8), nextSequence: get64(16))
        for index in 0..<count {
            let at = recordsOffset + index * recordSize
            let length = Int(buffer[at + 25])
            guard let outcome = BootOutcome(rawValue: buffer[at + 24]), length <= noteLimit else {
                return (nil, "record \(index) is malformed", hint)
            }
            let note = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[(at + 32)..<(at + 32 + length)]), as: UTF8.self)
            log.records.append(BootRecord(sequence: get64(at), snapshot: get64(at + 8), startedNanos: get64(at + 16),
                                          outcome: outcome, note: note))
        }
        return (log, nil, hint)
    }
}

extension Store {
    /// The recorded boots, oldest first (the newest 64 are kept). Empty on
    /// a format-1 image, which has no boot log.
    public var bootRecords: [BootRecord] { bootLog.records }

    /// Records a boot from `snapshot` with outcome `.running`; the store
    /// gives it the next sequence number. Durable (written and flushed)
    /// when it returns.
    @discardableResult
    public func recordBoot(snapshot: UInt64, note: String) throws(StoreError) -> BootRecord {
        try checkBootLogWritable()
        var log = bootLog
        let record = BootRecord(sequence: log.nextSequence, snapshot: snapshot, startedNanos: UInt64(max(0, nowNanos())),
                                outcome: .running, note: BootLog.clip(note))
        log.records.append(record)
        if log.records.count > BootLog.capacity { log.records.removeFirst(log.records.count - BootLog.capacity) }
        log.nextSequence += 1
        try writeBootLog(log)
        return record
    }

    /// Sets the outcome (and, if given, the note) of boot `sequence`.
    /// Durable when it returns.
    public func setBootOutcome(sequence: UInt64, _ outcome: BootOutcome, note: String? = nil) throws(StoreError) {
        try checkBootLogWritable()
        var log = bootLog
        guard let index = log.records.firstIndex(where: { $0.sequence == sequence }) else {
            let held = log.records.isEmpty ? "it is empty" : "it holds boots \(log.records.first!.sequence)...\(log.records.last!.sequence)"
            throw .invalidArgument("no boot \(sequence) in the boot log of \(device.path) (\(held))")
        }
        log.records[index].outcome = outcome
        if let note { log.records[index].note = BootLog.clip(note) }
        try writeBootLog(log)
    }

    private func checkBootLogWritable() throws(StoreError) {
        guard !isReadOnly else { throw .readOnly(path: device.path) }
        guard format.hasCopies else {
            throw .formatTooOld(path: device.path, version: format.version, feature: "boot log")
        }
    }

    /// Writes `log` as the next generation to the other copy, flushes, and
    /// makes it the log in memory.
    private func writeBootLog(_ log: BootLog) throws(StoreError) {
        var log = log
        log.generation = bootLog.generation + 1
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: BootLog.bytes, alignment: Layout.blockSize)
        defer { memory.deallocate() }
        log.encode(into: memory, imageID: superblock.imageID)
        let block = Layout.bootLogCopies[Int(log.generation % 2)]
        do throws(BlockDeviceError) {
            try device.write([UnsafeRawBufferPointer(memory)], at: block << Layout.blockShift)
            try device.flush()
        } catch {
            throw StoreError(error)
        }
        bootLog = log
    }

    /// Reads the boot log at open: the intact copy with the higher
    /// generation. Damage is a note in `report`, never an error.
    func loadBootLog(into report: inout OpenReport) {
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: BootLog.bytes, alignment: Layout.blockSize)
        defer { memory.deallocate() }
        var copies: [(first: UInt64, log: BootLog?, problem: String?, hint: UInt64?)] = []
        for first in Layout.bootLogCopies {
            do throws(BlockDeviceError) {
                try device.read(into: memory, at: first << Layout.blockShift)
                let decoded = BootLog.decode(UnsafeRawBufferPointer(memory), imageID: superblock.imageID)
                copies.append((first, decoded.log, decoded.problem, decoded.hint))
            } catch {
                copies.append((first, nil, error.description, nil))
            }
        }
        func name(_ first: UInt64) -> String { "blocks \(first)-\(first + UInt64(Layout.bootLogBlocks) - 1)" }
        var log = BootLog()
        if let best = copies.filter({ $0.log != nil }).max(by: { $0.log!.generation < $1.log!.generation }) {
            log = best.log!
            for other in copies where other.first != best.first {
                if let problem = other.problem {
                    report.notes.append("the boot log copy at \(name(other.first)) is damaged (\(problem)); the copy at \(name(best.first)) (generation \(log.generation)) serves, and the newest change to the log may be lost")
                } else if other.log == nil && log.generation > 1 {
                    report.notes.append("the boot log copy at \(name(other.first)) is empty although the log has been written \(log.generation) times; the copy at \(name(best.first)) serves")
                }
            }
        } else if let problem = copies.compactMap(\.problem).first {
            report.notes.append("the boot log is damaged (\(problem)); it is read as empty")
        }
        // Sequences are never reused: not even after the log is lost.
        let floor = superblock.bootSequenceFloor
        let hinted = copies.compactMap(\.hint).filter { $0 >= floor && $0 - floor < 1 << 32 }.max() ?? 0
        log.nextSequence = max(log.nextSequence, floor, hinted, (log.records.last?.sequence ?? 0) + 1, 1)
        bootLog = log
    }
}
