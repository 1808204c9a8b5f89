// The failure record: why and where a thread ended with an uncaught
// exception (or by `phantom kill`), kept in the persistent heap so that it is
// in every later snapshot and survives restarts (docs/vm-objects.md,
// "Failure record"). Thread reference 3 points at it.
//
// A failure record has no class. With F recorded frames (F <= 64, innermost
// first):
// ```
// refs:  0 the exception's description (string)
//        1 + 2k class name of frame k (the class that defines its method; the class's own name string)
//        2 + 2k method name of frame k (the code object's own name string)
// bytes: 0 instructions the thread had run u64 · 8 wall time of the failure i64 (ns since the Unix epoch)
//        16 id of the newest durable snapshot then u64 (0: none) · 24 frames left out u64 (beyond the 64)
//        32 + 8k frame k: pc u32 · source line u32 (0: the class file has no line for it)
// ```
// The names are the strings of the class and code objects (no copies): the
// record costs one allocation, or two when the description is not a short
// string. Recording is best effort: if memory runs out, the thread fails
// without a record.

import PhantomHost
import PhantomMemory

/// Why and where a thread failed, as its failure record holds it.
public struct ThreadFailure: Sendable, Equatable {
    /// One frame of the stack trace.
    public struct Frame: Sendable, Equatable {
        /// The class that defines the method (full name, with its package).
        public let className: String
        public let method: String
        /// The offset of the instruction in the method's bytecode: the one
        /// that raised, in the innermost frame; the call, in the others.
        public let pc: Int
        /// The source line of `pc`, if the class file has line information.
        public let line: Int?
    }

    /// The exception's description: a string exception's text, else its
    /// class and reference; at most 4096 bytes (longer ones are cut, with a
    /// note of the length).
    public let exception: String
    /// The innermost frames first; at most 64.
    public let trace: [Frame]
    /// Frames beyond `trace` (the outermost ones), not recorded.
    public let framesLeftOut: Int
    /// Instructions the thread had run when it failed.
    public let instructions: UInt64
    /// When it failed, wall clock, ns since the Unix epoch.
    public let wallNanos: Int64
    /// The newest snapshot that was durable when it failed (0: none). A
    /// snapshot of this id or older holds the system before the failure.
    public let durableSnapshot: UInt64
}

extension VirtualMachine {
    /// Thread reference slot of the failure record.
    static let failureSlot = 3
    /// Frames a failure record keeps (innermost first).
    static let failureTraceLimit = 64
    /// Bytes of an exception's description a failure record keeps.
    static let failureDescriptionLimit = 4096

    /// The frames of the chain from `frame` outwards, innermost first, at
    /// most `limit` of them, with each frame's code object and pc: `pc` for
    /// the innermost, the call instruction for a caller (its saved pc is
    /// just past the call); and how many frames there are beyond.
    func stackFrames(from frame: ObjectRef, pc: Int, limit: Int) -> (frames: [(code: ObjectRef, pc: Int)], more: Int) {
        var frames: [(code: ObjectRef, pc: Int)] = []
        var more = 0
        var current = frame
        var at = pc
        while !current.isNull {
            if frames.count < limit { frames.append((memory.reference(current, 1), at)) } else { more += 1 }
            current = memory.reference(current, 0)
            // A caller's saved pc is past its call instruction (6 bytes).
            if !current.isNull { at = max(0, Int(memory.word(current, at: 0) & 0xFFFF_FFFF) - 6) }
        }
        return (frames, more)
    }

    /// True if a catcher of the chain from `frame` outwards takes
    /// `exception` (as `raise` would find it; nothing is changed).
    func isCaught(_ exception: ObjectRef, from frame: ObjectRef) -> Bool {
        var current = frame
        while !current.isNull {
            let catchers = memory.reference(current, 3)
            if !catchers.isNull {
                for index in 0..<tableCount(catchers) {
                    let wanted = memory.reference(tableGet(catchers, index), 0)
                    if wanted.isNull || isInstance(exception, of: wanted) { return true }
                }
            }
            current = memory.reference(current, 0)
        }
        return false
    }

    /// Records in thread ref 3 why and where `thread` fails: `exception`,
    /// the stack from `frame` (innermost, at `pc`) outwards, the time and the
    /// newest durable snapshot (`durableSnapshotID`). Call before the frames
    /// are unwound. A thread of fewer than 4 references (made by an older
    /// build) gets no record; nor does one when memory runs out.
    func recordFailure(of thread: ObjectRef, exception: ObjectRef, frame: ObjectRef, pc: Int) {
        recordFailure(of: thread, frame: frame, pc: pc) { () throws(VMError) in try failureDescription(exception) }
    }

    /// `recordFailure` for a failure that has no exception object (memory
    /// ran out for it): the description is `message`.
    func recordFailure(of thread: ObjectRef, message: String, frame: ObjectRef, pc: Int) {
        recordFailure(of: thread, frame: frame, pc: pc) { () throws(VMError) in try newString(String(message.prefix(Self.failureDescriptionLimit))) }
    }

    private func recordFailure(of thread: ObjectRef, frame: ObjectRef, pc: Int, description: () throws(VMError) -> ObjectRef) {
        guard memory.referenceCount(of: thread) > Self.failureSlot else { return }
        let (frames, more) = stackFrames(from: frame, pc: pc, limit: Self.failureTraceLimit)
        let record: ObjectRef
        do {
            let text = try description()
            record = try allocate(.null, references: 1 + 2 * frames.count, bytes: 32 + 8 * frames.count)
            memory.setReference(record, 0, text)
        } catch {
            return
        }
        for (index, entry) in frames.enumerated() {
            let owner = memory.reference(entry.code, 0)
            memory.setReference(record, 1 + 2 * index, owner.isNull ? .null : memory.reference(owner, 0))
            memory.setReference(record, 2 + 2 * index, memory.reference(entry.code, 1))
            let line = lineNumber(code: entry.code, pc: entry.pc) ?? 0
            memory.setWord(record, at: 32 + 8 * index, UInt64(UInt32(clamping: entry.pc)) | UInt64(UInt32(clamping: line)) << 32)
        }
        memory.setWord(record, at: 0, instructions(of: thread))
        memory.setWord(record, at: 8, UInt64(bitPattern: HostClock.wallNanos()))
        memory.setWord(record, at: 16, durableSnapshotID())
        memory.setWord(record, at: 24, UInt64(more))
        memory.setReference(thread, Self.failureSlot, record)
        // The thread's count does not include the running slice yet: the
        // slice's end writes the final count into the record.
        if thread == currentThread { failureAwaitingCount = record }
    }

    /// A short string saying what `exception` is: a string of at most
    /// `failureDescriptionLimit` bytes itself, else a new one.
    private func failureDescription(_ exception: ObjectRef) throws(VMError) -> ObjectRef {
        if !exception.isNull, !Self.isInt(exception), classOf(exception) == stringClass {
            let bytes = stringBytes(exception)
            let length = bytes.count
            if length <= Self.failureDescriptionLimit { return exception }
            let head = String(decoding: bytes.prefix(Self.failureDescriptionLimit), as: UTF8.self)
            return try newString(head + "... (\(length) bytes)")
        }
        return try newString(String(describe(exception).prefix(Self.failureDescriptionLimit)))
    }

    /// What `thread`'s failure record holds; nil if it has none (it has not
    /// failed, or failed without a record: made by an older build, or memory
    /// ran out). A damaged record reads as none.
    public func failure(of thread: ObjectRef) -> ThreadFailure? {
        guard memory.referenceCount(of: thread) > Self.failureSlot else { return nil }
        let record = memory.reference(thread, Self.failureSlot)
        guard !record.isNull, !Self.isInt(record), memory.isValidObject(record) else { return nil }
        let references = memory.referenceCount(of: record)
        let count = (references - 1) / 2
        guard references >= 1, references % 2 == 1, memory.bytes(record).count >= 32 + 8 * count else { return nil }
        func text(_ value: ObjectRef) -> String {
            guard !value.isNull, !Self.isInt(value), memory.isValidObject(value), classOf(value) == stringClass else { return "?" }
            return string(value)
        }
        let trace = (0..<count).map { index in
            let word = memory.word(record, at: 32 + 8 * index)
            let line = Int(word >> 32)
            return ThreadFailure.Frame(className: text(memory.reference(record, 1 + 2 * index)),
                                       method: text(memory.reference(record, 2 + 2 * index)),
                                       pc: Int(word & 0xFFFF_FFFF), line: line == 0 ? nil : line)
        }
        return ThreadFailure(exception: text(memory.reference(record, 0)), trace: trace,
                             framesLeftOut: Int(clamping: memory.word(record, at: 24)),
                             instructions: memory.word(record, at: 0),
                             wallNanos: Int64(bitPattern: memory.word(record, at: 8)),
                             durableSnapshot: memory.word(record, at: 16))
    }
}
