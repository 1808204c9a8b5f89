// The interpreter: one loop, one switch over the opcode byte (seen as a
// `Dispatch`, Dispatch.swift, so that the switch is one jump table).
//
// A thread's whole state is in object memory: the thread object points at
// its current call frame, and a frame holds its program counter and both
// stacks (docs/vm-objects.md):
// ```
// frame refs:  0 previous frame · 1 code · 2 this · 3 catchers · 4 spare frame · 5... object stack
// frame bytes: pc u32 · object sp u32 · integer sp u32 · call depth u32 · integer stack (i64)...
// ```
// While a slice runs, pc and the stack pointers live in locals and are
// written back at every call, return and slice end. Snapshots begin only
// between slices (safepoints), so the frame's pages, marked dirty once when
// the frame becomes current, take plain stores for the rest of the slice.

import PhantomMemory

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension VirtualMachine {
    static let frameFixedRefs = 5
    /// The frame's reference to its spare frame: the frame its last callee
    /// ran in, kept for the next call (a call allocates nothing then).
    static let spareSlot = 4
    static let maxCallDepth = 100_000

    func instantiate(_ cls: ObjectRef) throws(VMError) -> ObjectRef {
        switch kind(of: cls) {
        case .class, .code, .frame, .thread:
            throw .notInstantiable(className(cls))
        case .string: return try newString("")
        case .array: return try newGuestArray()
        case .long: return try box(0, as: .long)
        case .float: return try box(Self.slot(float: 0), as: .float)
        case .double: return try box(Self.slot(double: 0), as: .double)
        case .cond: return try allocate(condClass, references: 1, bytes: 0)
        case .kernel: return try instantiateKernelObject(cls)
        case .int: return Self.box(0)
        case .mutex: return try allocate(mutexClass, references: 1, bytes: 0)
        case .directory:
            let directory = try allocate(directoryClass, references: 1, bytes: 8)
            memory.setReference(directory, 0, try allocate(.null, references: 16, bytes: 0))
            return directory
        case .stringBuilder:
            let builder = try allocate(stringBuilderClass, references: 1, bytes: 8)
            memory.setReference(builder, 0, try allocate(.null, references: 0, bytes: 64))
            return builder
        default: return try allocate(cls, references: totalFields(cls), bytes: 0)
        }
    }

    func totalFields(_ cls: ObjectRef) -> Int {
        var total = 0
        var current = cls
        while !current.isNull {
            total += Int(memory.word(current, at: 0))
            current = memory.reference(current, 2)
        }
        return total
    }

    func makeFrame(code: ObjectRef, this: ObjectRef, previous: ObjectRef, depth: UInt32) throws(VMError) -> ObjectRef {
        let shape = codeShape(code)
        let frame = try allocate(frameClass, references: Self.frameFixedRefs + shape.maxObjects, bytes: 16 + 8 * shape.maxIntegers)
        memory.setReference(frame, 0, previous)
        memory.setReference(frame, 1, code)
        memory.setReference(frame, 2, this)
        memory.setWord(frame, at: 8, UInt64(depth) << 32)
        return frame
    }

    func setFrameRegisters(_ frame: ObjectRef, pc: UInt32, osp: UInt32, isp: UInt32) {
        memory.setWord(frame, at: 0, UInt64(pc) | UInt64(osp) << 32)
        memory.setWord(frame, at: 8, memory.word(frame, at: 8) & 0xFFFF_FFFF_0000_0000 | UInt64(isp))
    }

    // MARK: - The loop

    /// The current frame's registers, held in locals while a slice runs (a
    /// struct passed `inout`, so that they can stay in machine registers;
    /// closures capturing them would pin them to memory).
    ///
    /// Only what the loop needs all the time is held; the frame's code and
    /// `this` are read from its reference slots (just below the object
    /// stack) when an instruction needs them, so that fewer values compete
    /// for machine registers.
    struct Registers {
        var frame = ObjectRef.null
        var codeBytes = UnsafePointer<UInt8>(bitPattern: 1)!
        var objects = UnsafeMutablePointer<UInt64>(bitPattern: 8 * 8)!
        var integers = UnsafeMutablePointer<Int64>(bitPattern: 8 * 8)!
        var pc = 0
        var osp = 0
        var isp = 0
        var depth: UInt32 = 0

        /// The frame's code object (reference slot 1).
        var code: ObjectRef { ObjectRef(raw: objects[1 - VirtualMachine.frameFixedRefs]) }
        /// The receiver (reference slot 2).
        var this: ObjectRef { ObjectRef(raw: objects[2 - VirtualMachine.frameFixedRefs]) }
        /// The frame's plain bytes: pc, stack pointers, depth, then the integer stack.
        var data: UnsafeMutableRawPointer { UnsafeMutableRawPointer(integers) - 16 }

        /// A binary int operation: `b` on top of the integer stack, `a`
        /// below it; the result replaces `a`.
        @inline(__always)
        mutating func binary(_ operation: (_ a: Int32, _ b: Int32) -> Int64) {
            isp &-= 1
            integers[isp &- 1] = operation(Int32(truncatingIfNeeded: integers[isp &- 1]), Int32(truncatingIfNeeded: integers[isp]))
        }
    }

    /// A big-endian, signed 32-bit operand at `at`: one unaligned load and a
    /// byte swap.
    @inline(__always)
    static func operand32(_ code: UnsafePointer<UInt8>, _ at: Int) -> Int {
        Int(Int32(bitPattern: UInt32(bigEndian: UnsafeRawPointer(code + at).loadUnaligned(as: UInt32.self))))
    }

    /// The superinstructions `iconst K; OP` with a binary int `OP` (`a` on
    /// the stack, `K` the constant at `pc`): both count, or with one
    /// instruction of budget left only the `iconst` runs.
    @inline(__always)
    static func constantOperation(_ r: inout Registers, pc: inout Int, executed: inout Int, budget: Int,
                                  _ operation: (_ a: Int32, _ k: Int32) -> Int64) {
        let k = Int32(truncatingIfNeeded: operand32(r.codeBytes, pc))
        if executed < budget {
            r.integers[r.isp &- 1] = operation(Int32(truncatingIfNeeded: r.integers[r.isp &- 1]), k)
            pc &+= 5
            executed &+= 1
        } else {
            r.integers[r.isp] = Int64(k)
            r.isp &+= 1
            pc &+= 4
        }
    }

    /// Makes `frame` current: loads its registers and marks its pages dirty
    /// for this epoch (plain stores into it are then safe until the next
    /// safepoint).
    @inline(__always)
    func enter(_ frame: ObjectRef, _ r: inout Registers, alreadyDirty: Bool = false) {
        let base = memory.base
        r.frame = frame
        let refs = memory.referenceCount(of: frame)
        if !alreadyDirty { willWrite(frame) }
        let code = memory.reference(frame, 1)
        r.codeBytes = UnsafePointer(base.assumingMemoryBound(to: UInt8.self)) + (Int(truncatingIfNeeded: memory.dataOffset(of: code)) &+ 24)
        r.objects = (base + (Int(truncatingIfNeeded: frame.raw) &+ 16 &+ 8 &* Self.frameFixedRefs)).assumingMemoryBound(to: UInt64.self)
        let data = base + (Int(truncatingIfNeeded: frame.raw) &+ 16 &+ 8 &* refs)
        let first = data.load(as: UInt64.self)
        let second = data.load(fromByteOffset: 8, as: UInt64.self)
        r.pc = Int(first & 0xFFFF_FFFF)
        r.osp = Int(first >> 32)
        r.isp = Int(second & 0xFFFF_FFFF)
        r.depth = UInt32(second >> 32)
        r.integers = (data + 16).assumingMemoryBound(to: Int64.self)
        if !alreadyDirty { markedDepth = min(markedDepth, r.depth) }
    }

    /// The write barrier for a whole object, with the slow path out of line
    /// (so that the hot path holds no reference to the space across a call,
    /// and takes no retain).
    @inline(__always)
    func willWrite(_ object: ObjectRef) {
        var page = Int(truncatingIfNeeded: object.raw >> 12)
        let last = Int(truncatingIfNeeded: (object.raw &+ UInt64(truncatingIfNeeded: memory.size(of: object)) &- 1) >> 12)
        while page <= last {
            if !space.isWritable(page: page) { willWriteSlowly(page: page) }
            page &+= 1
        }
    }

    @inline(never)
    func willWriteSlowly(page: Int) { space.willWrite(page: page) }

    /// Writes the registers back into the current frame.
    @inline(__always) func save(_ r: Registers) {
        r.data.storeBytes(of: UInt64(truncatingIfNeeded: r.pc) | UInt64(truncatingIfNeeded: r.osp) << 32, as: UInt64.self)
        r.data.storeBytes(of: UInt64(r.depth) << 32 | UInt64(truncatingIfNeeded: r.isp), toByteOffset: 8, as: UInt64.self)
    }

    /// Unwinds to the innermost catcher that takes `exception`, or ends the
    /// thread; returns false if the thread ended.
    /// `at` is the pc of the instruction that raised it, for the failure
    /// record (`r.pc` may already be past it).
    @inline(never)
    func raise(_ exception: ObjectRef, thread: ObjectRef, at raisedPC: Int, _ r: inout Registers) -> Bool {
        // Uncaught: the failure record is made while the frames are intact.
        if !isCaught(exception, from: r.frame) { recordFailure(of: thread, exception: exception, frame: r.frame, pc: raisedPC) }
        while true {
            let catchers = memory.reference(r.frame, 3)
            if !catchers.isNull {
                var count = tableCount(catchers)
                while count > 0 {
                    count -= 1
                    let catcher = tableGet(catchers, count)
                    memory.setWord(catchers, at: 0, UInt64(count))
                    let wanted = memory.reference(catcher, 0)
                    if wanted.isNull || isInstance(exception, of: wanted) {
                        let registers = memory.word(catcher, at: 0)
                        r.pc = Int(registers & 0xFFFF_FFFF)
                        r.osp = Int(registers >> 32)
                        r.isp = Int(memory.word(catcher, at: 8))
                        r.objects[r.osp] = exception.raw
                        r.osp &+= 1
                        return true
                    }
                }
            }
            let previous = memory.reference(r.frame, 0)
            if previous.isNull {
                memory.setReference(thread, 1, exception)
                memory.setWord(thread, at: 0, ThreadState.failed.rawValue)
                console("thread failed with an uncaught exception: \(describe(exception))\n")
                return false
            }
            clearEnded(r)
            enter(previous, &r)
            memory.setReference(thread, 0, r.frame)
        }
    }

    /// A guest error raised by the VM itself: a string with a stack trace,
    /// thrown like any exception. `r.pc` points at the failing instruction.
    @inline(never)
    func fault(_ message: String, thread: ObjectRef, _ r: inout Registers) -> Bool {
        save(r)
        var text = message
        let (frames, more) = stackFrames(from: r.frame, pc: r.pc, limit: 40)
        for (currentCode, at) in frames {
            let owner = className(memory.reference(currentCode, 0))
            let method = string(memory.reference(currentCode, 1))
            let line = lineNumber(code: currentCode, pc: at).map { " line \($0)" } ?? ""
            text += "\n    at \(owner).\(method) (pc \(at)\(line))"
        }
        if more > 0 { text += "\n    ... \(more) more frames" }
        guard let exception = try? newString(text) else {
            recordFailure(of: thread, message: message, frame: r.frame, pc: r.pc)
            memory.setWord(thread, at: 0, ThreadState.failed.rawValue)
            console("thread failed: \(message) (and out of memory for the exception)\n")
            return false
        }
        return raise(exception, thread: thread, at: r.pc, &r)
    }

    /// Calls `ordinal` on the receiver on top of the stack with `count`
    /// arguments below it. Returns false if the thread ended.
    ///
    /// The common case (a cached user method, a spare frame big enough) is
    /// inline in the loop; everything else is `callSlowly`.
    @inline(__always)
    func call(ordinal: Int, count: Int, thread: ObjectRef, _ r: inout Registers) -> Bool {
        let receiver = ObjectRef(raw: r.objects[r.osp &- 1])
        fast: if !receiver.isNull {
            let cls = classOf(receiver)
            let entry = callCache + (Int(truncatingIfNeeded: cls.raw >> 4 ^ UInt64(ordinal) &* 0x9E37) & (Self.callCacheSize - 1))
            guard entry.pointee.cls == cls.raw, entry.pointee.ordinal == ordinal, entry.pointee.arguments == count,
                  r.depth < UInt32(Self.maxCallDepth) else { break fast }
            let spareSlot = (memory.base + (Int(truncatingIfNeeded: r.frame.raw) &+ 16 &+ 8 &* Self.spareSlot)).assumingMemoryBound(to: UInt64.self)
            let callee = ObjectRef(raw: spareSlot.pointee)
            guard !callee.isNull else { break fast }
            let calleeRefs = memory.referenceCount(of: callee)
            guard calleeRefs >= Self.frameFixedRefs &+ entry.pointee.maxObjects,
                  memory.size(of: callee) &- 16 &- 8 &* calleeRefs >= 16 &+ 8 &* entry.pointee.maxIntegers else { break fast }
            r.osp &-= count &+ 1
            save(r)
            enterCallee(callee, references: calleeRefs, entry: entry, receiver: receiver, count: count, fresh: false, &r)
            return true
        }
        return callSlowly(ordinal: ordinal, count: count, thread: thread, &r)
    }

    /// Makes `callee` (a frame with room for the method in `entry`) the
    /// current frame, with the arguments moved from the caller's stack
    /// (`r.osp` is already below them and the receiver). `fresh`: the
    /// frame was just made (it replaced the spare frame).
    ///
    /// The frame's pages are marked dirty unless that happened already in
    /// this slice: the frames of a thread's chain at depths `markedDepth`
    /// through `markedHigh` are marked (a callee frame at depth d+1 is
    /// always the spare of the frame at depth d, so the chain below the
    /// current frame is the one the slice has been through).
    @inline(__always)
    func enterCallee(_ callee: ObjectRef, references calleeRefs: Int, entry: UnsafeMutablePointer<CallCacheEntry>,
                     receiver: ObjectRef, count: Int, fresh: Bool, _ r: inout Registers) {
        let base = memory.base
        let depth = r.depth &+ 1
        if fresh || depth > markedHigh {
            willWrite(callee)
            markedHigh = depth
        }
        let refs = base + (Int(truncatingIfNeeded: callee.raw) &+ 16)
        refs.storeBytes(of: r.frame.raw, as: UInt64.self)
        refs.storeBytes(of: entry.pointee.target, toByteOffset: 8, as: UInt64.self)
        refs.storeBytes(of: receiver.raw, toByteOffset: 16, as: UInt64.self)
        // Arguments move to the callee's object stack.
        let arguments = (refs + 8 * Self.frameFixedRefs).assumingMemoryBound(to: UInt64.self)
        for index in 0..<count { arguments[index] = r.objects[r.osp &+ index] }
        let data = refs + 8 &* calleeRefs
        data.storeBytes(of: UInt64(truncatingIfNeeded: count) << 32, as: UInt64.self)
        data.storeBytes(of: UInt64(depth) << 32, toByteOffset: 8, as: UInt64.self)
        // The thread's frame reference is written at the slice's end (a safepoint).
        r.frame = callee
        r.codeBytes = UnsafePointer(base.assumingMemoryBound(to: UInt8.self)) + entry.pointee.code
        r.objects = arguments
        r.integers = (data + 16).assumingMemoryBound(to: Int64.self)
        r.pc = 0
        r.osp = count
        r.isp = 0
        r.depth &+= 1
    }

    /// `call` in full: fills the lookup cache, calls internal methods,
    /// makes a frame when the spare one is missing or too small, and
    /// raises the faults.
    @inline(never)
    func callSlowly(ordinal: Int, count: Int, thread: ObjectRef, _ r: inout Registers) -> Bool {
        let base = memory.base
        let receiver = ObjectRef(raw: r.objects[r.osp &- 1])
        if receiver.isNull {
            r.pc &-= 6
            return fault("null reference: method \(ordinal) called on null", thread: thread, &r)
        }
        let cls = classOf(receiver)
        // The method, from the lookup cache (a miss looks it up and fills the entry).
        let entry = callCache + (Int(truncatingIfNeeded: cls.raw >> 4 ^ UInt64(ordinal) &* 0x9E37) & (Self.callCacheSize - 1))
        if entry.pointee.cls != cls.raw || entry.pointee.ordinal != ordinal, let found = lookup(cls, ordinal: ordinal) {
            let shape = codeShape(found)
            entry.pointee = CallCacheEntry(cls: cls.raw, ordinal: ordinal, target: found.raw,
                                           arguments: shape.arguments, maxObjects: shape.maxObjects, maxIntegers: shape.maxIntegers,
                                           code: Int(memory.dataOffset(of: found)) + 24)
        }
        guard entry.pointee.cls == cls.raw && entry.pointee.ordinal == ordinal else {
            var arguments: [ObjectRef] = []
            for index in 0..<count { arguments.append(ObjectRef(raw: r.objects[r.osp &- 1 - count + index])) }
            r.osp &-= count + 1
            save(r)
            switch callInternal(receiver, cls: cls, ordinal: ordinal, arguments: arguments) {
            case let .value(value):
                r.objects[r.osp] = value.raw
                r.osp &+= 1
                return true
            case .again:
                // More to do: the call runs again at the thread's next turn.
                r.osp &+= count + 1
                r.pc &-= 6
                save(r)
                return false
            case let .sleep(until: wake):
                r.osp &+= count + 1
                r.pc &-= 6
                save(r)
                memory.setWord(thread, at: 16, wake)
                memory.setWord(thread, at: 0, ThreadState.sleeping.rawValue)
                return false
            case let .wait(on: awaited):
                r.osp &+= count + 1
                r.pc &-= 6
                if awaited == thread {
                    return fault("a thread cannot join itself", thread: thread, &r)
                }
                // Block; the call runs again once the awaited object is ready.
                save(r)
                memory.setWord(thread, at: 0, ThreadState.blocked.rawValue)
                memory.setReference(thread, 2, awaited)
                return false
            case let .outOfMemory(message) where !retryingAfterCollection:
                // Runs again after a full collection (`outOfMemory`).
                r.osp &+= count + 1
                r.pc &-= 6
                return outOfMemory(message, thread: thread, &r)
            case let .raise(message), let .outOfMemory(message):
                r.osp &+= count + 1
                r.pc &-= 6
                // An error ends any blocking call in progress: its wait phase
                // must not carry over to the thread's next blocking call
                // (nor a result built in pieces: `concatInPieces`).
                if waitPhase(thread) == Self.buildingPhase { memory.setReference(thread, 2, .null) }
                setWaitPhase(thread, 0)
                return fault(message, thread: thread, &r)
            }
        }
        let target = ObjectRef(raw: entry.pointee.target)
        let declared = entry.pointee.arguments
        if declared != count {
            r.pc &-= 6
            return fault("\(className(cls)).\(string(memory.reference(target, 1))) takes \(declared) arguments, called with \(count)", thread: thread, &r)
        }
        if r.depth + 1 > UInt32(Self.maxCallDepth) {
            r.pc &-= 6
            return fault("stack overflow: more than \(Self.maxCallDepth) nested calls", thread: thread, &r)
        }
        r.osp &-= count + 1
        save(r)
        // The callee's frame: the caller's spare frame (the one its last
        // callee returned from) if it is big enough, else a new one, which
        // becomes the spare. Its pages are marked dirty once, then it is
        // filled with plain stores.
        let maxObjects = entry.pointee.maxObjects
        let neededRefs = Self.frameFixedRefs + maxObjects
        let neededBytes = 16 + 8 * entry.pointee.maxIntegers
        let spareSlot = (base + (Int(truncatingIfNeeded: r.frame.raw) &+ 16 &+ 8 &* Self.spareSlot)).assumingMemoryBound(to: UInt64.self)
        var callee = ObjectRef(raw: spareSlot.pointee)
        var calleeRefs = 0
        var fresh = false
        if !callee.isNull {
            calleeRefs = memory.referenceCount(of: callee)
            if calleeRefs < neededRefs || memory.size(of: callee) - 16 - 8 * calleeRefs < neededBytes { callee = .null }
        }
        if callee.isNull {
            guard let made = try? memory.allocate(class: frameClass, references: neededRefs, bytes: neededBytes) else {
                r.osp &+= count + 1
                r.pc &-= 6
                return outOfMemory("out of memory making a call frame", thread: thread, &r)
            }
            // The old spare (and the spares below it) become garbage.
            callee = made
            calleeRefs = neededRefs
            fresh = true
            spareSlot.pointee = made.raw
        }
        enterCallee(callee, references: calleeRefs, entry: entry, receiver: receiver, count: count, fresh: fresh, &r)
        return true
    }

    /// Clears what a frame that has ended references (`this`, catchers and
    /// its object stack), so that it keeps nothing alive while it waits to
    /// be reused as its caller's spare frame.
    @inline(__always)
    func clearEnded(_ r: Registers) {
        let refs = r.objects - Self.frameFixedRefs
        refs[2] = 0
        refs[3] = 0
        // The code header's word 0 holds the deepest object stack in its high half.
        let maxObjects = Int(UnsafeRawPointer(r.codeBytes - 24).load(fromByteOffset: 4, as: UInt32.self))
        for index in 0..<maxObjects { r.objects[index] = 0 }
    }

    /// Returns from the current frame with `value`. Returns false if that
    /// ended the thread.
    @inline(__always)
    func returnFromFrame(_ value: ObjectRef, thread: ObjectRef, _ r: inout Registers) -> Bool {
        let previous = memory.reference(r.frame, 0)
        if previous.isNull {
            save(r)
            memory.setReference(thread, 1, value)
            memory.setWord(thread, at: 0, ThreadState.finished.rawValue)
            return false
        }
        clearEnded(r)
        // The caller's frame needs marking only if it lies below every
        // frame marked in this slice.
        enter(previous, &r, alreadyDirty: r.depth &- 1 >= markedDepth)
        r.objects[r.osp] = value.raw
        r.osp &+= 1
        return true
    }

    /// Runs `body` on the registers with the loop's local program counter
    /// written back first and read again after.
    @inline(__always)
    func synced<T>(_ pc: inout Int, _ r: inout Registers, _ body: (inout Registers) -> T) -> T {
        r.pc = pc
        defer { pc = r.pc }
        return body(&r)
    }

    /// Runs one thread for at most `budget` instructions; returns how many ran.
    func runSlice(_ thread: ObjectRef, budget: Int) -> Int {
        var r = Registers()
        currentThread = thread
        defer { currentThread = .null }
        markedDepth = .max
        markedHigh = 0
        enter(memory.reference(thread, 0), &r)
        // The program counter, in a local of its own: every instruction
        // reads and moves it, and `r` lives in memory (its address goes to
        // the out-of-line paths). It is written back to `r` around every
        // call that uses `r` (`synced`).
        var pc = r.pc
        markedHigh = r.depth
        if memory.sweepsBegun != callCacheSweeps { flushCallCache() }
        var executed = 0
        // Of `executed`, the cost of work beyond instructions (`sliceCost`).
        var charged = 0
        sliceCost = 0
        var running = true

        @inline(__always) func u32(_ code: UnsafePointer<UInt8>, _ at: Int) -> Int { Self.operand32(code, at) }

        loop: while executed < budget {
            executed &+= 1
            let opcode = r.codeBytes[pc]
            pc &+= 1
            switch Dispatch(byte: opcode) {
            case .nop: break  // nop
            case .djnz:  // djnz
                let value = Int64(Int32(truncatingIfNeeded: r.integers[r.isp &- 1]) &- 1)
                r.integers[r.isp &- 1] = value
                pc = value != 0 ? u32(r.codeBytes, pc) : pc &+ 4
            case .jz:  // jz
                r.isp &-= 1
                pc = r.integers[r.isp] == 0 ? u32(r.codeBytes, pc) : pc &+ 4
            case .jmp: pc = u32(r.codeBytes, pc)  // jmp
            case .ret:  // ret
                var value = ObjectRef.null
                if r.osp > 0 { r.osp &-= 1; value = ObjectRef(raw: r.objects[r.osp]) }
                if !synced(&pc, &r, { returnFromFrame(value, thread: thread, &$0) }) { running = false; break loop }
            case .call8:  // call ordinal(u8) arguments(i32)
                let ordinal = Int(r.codeBytes[pc])
                let count = u32(r.codeBytes, pc &+ 1)
                pc &+= 5
                if !synced(&pc, &r, { call(ordinal: ordinal, count: count, thread: thread, &$0) }) { running = false; break loop }
                // An internal method that copied or allocated much counts as
                // the instructions that work is worth: the slice ends sooner.
                if sliceCost != 0 { executed &+= sliceCost; charged &+= sliceCost; sliceCost = 0 }
            case .isDup: r.integers[r.isp] = r.integers[r.isp &- 1]; r.isp &+= 1  // is_dup
            case .isDrop: r.isp &-= 1  // is_drop
            case .osDup: r.objects[r.osp] = r.objects[r.osp &- 1]; r.osp &+= 1  // os_dup
            case .osDrop: r.osp &-= 1  // os_drop
            case .osLoad8:  // os_load
                r.objects[r.osp] = memory.reference(r.this, Int(r.codeBytes[pc])).raw
                r.osp &+= 1
                pc &+= 1
            case .osSave8:  // os_save
                r.osp &-= 1
                memory.setReference(r.this, Int(r.codeBytes[pc]), ObjectRef(raw: r.objects[r.osp]))
                pc &+= 1
            case .new:  // new
                let cls = ObjectRef(raw: r.objects[r.osp &- 1])
                guard classOf(cls) == classClass else {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("new: the operand is not a class", thread: thread, &$0) }) { running = false; break loop }
                    continue loop
                }
                r.pc = pc; save(r)
                let made: Result<ObjectRef, VMError>
                do { made = .success(try instantiate(cls)) } catch { made = .failure(error) }
                switch made {
                case let .success(object):
                    r.objects[r.osp &- 1] = object.raw
                    if sliceCost != 0 { executed &+= sliceCost; charged &+= sliceCost; sliceCost = 0 }
                case let .failure(error):
                    pc &-= 1
                    if case .memory(.outOfMemory) = error {
                        if !synced(&pc, &r, { outOfMemory("new: \(error)", thread: thread, &$0) }) { running = false; break loop }
                        continue loop
                    }
                    if !synced(&pc, &r, { fault("new: \(error)", thread: thread, &$0) }) { running = false; break loop }
                    continue loop
                }
            case .osGet32:  // os_get
                r.objects[r.osp] = r.objects[u32(r.codeBytes, pc)]
                r.osp &+= 1
                pc &+= 4
            case .osSet32:  // os_set
                r.osp &-= 1
                r.objects[u32(r.codeBytes, pc)] = r.objects[r.osp]
                pc &+= 4
            case .iconst0: r.integers[r.isp] = 0; r.isp &+= 1
            case .iconst1: r.integers[r.isp] = 1; r.isp &+= 1
            case .iconst8: r.integers[r.isp] = Int64(Int8(bitPattern: r.codeBytes[pc])); r.isp &+= 1; pc &+= 1
            case .iconst32: r.integers[r.isp] = Int64(u32(r.codeBytes, pc)); r.isp &+= 1; pc &+= 4
            // Each opcode has a case of its own, and no case tests the opcode
            // again: that keeps the switch one jump table (a case shared by
            // several opcodes made the optimizer split it into a chain).
            case .sconstBin:  // sconst
                if let problem = synced(&pc, &r, { inlineConstant(string: true, &$0) }) {
                    pc &-= 1
                    if !synced(&pc, &r, { outOfMemory(problem, thread: thread, &$0) }) { running = false; break loop }
                }
            case .summonByName:  // summon_by_name
                if let problem = synced(&pc, &r, { inlineConstant(string: false, &$0) }) {
                    pc &-= 1
                    if !synced(&pc, &r, { fault(problem, thread: thread, &$0) }) { running = false; break loop }
                }
            case .iconst64:  // iconst_64: int is 32-bit, the low word counts
                r.integers[r.isp] = Int64(Int32(truncatingIfNeeded: u32(r.codeBytes, pc &+ 4)))
                r.isp &+= 1
                pc &+= 8
            case .isGet32:  // is_get
                r.integers[r.isp] = r.integers[u32(r.codeBytes, pc)]
                r.isp &+= 1
                pc &+= 4
            case .isSet32:  // is_set
                r.isp &-= 1
                r.integers[u32(r.codeBytes, pc)] = r.integers[r.isp]
                pc &+= 4
            case .constPool:  // const_pool
                r.objects[r.osp] = tableGet(memory.reference(r.code, 2), u32(r.codeBytes, pc)).raw
                r.osp &+= 1
                pc &+= 4
            case .stackReserve:  // stack_reserve objects integers
                let objectSlots = Int(r.codeBytes[pc]), integerSlots = Int(r.codeBytes[pc &+ 1])
                pc &+= 2
                for _ in 0..<objectSlots { r.objects[r.osp] = 0; r.osp &+= 1 }
                for _ in 0..<integerSlots { r.integers[r.isp] = 0; r.isp &+= 1 }
            case .pushCatcher:  // push_catcher
                let handler = u32(r.codeBytes, pc)
                pc &+= 4
                r.osp &-= 1
                let wanted = ObjectRef(raw: r.objects[r.osp])
                r.pc = pc; save(r)
                do {
                    let catcher = try allocate(.null, references: 1, bytes: 16)
                    memory.setReference(catcher, 0, wanted)
                    memory.setWord(catcher, at: 0, UInt64(handler) | UInt64(r.osp) << 32)
                    memory.setWord(catcher, at: 8, UInt64(r.isp))
                    if memory.reference(r.frame, 3).isNull { memory.setReference(r.frame, 3, try newTable(capacity: 4)) }
                    try tableAppend(holder: r.frame, slot: 3, catcher)
                } catch {
                    if !synced(&pc, &r, { fault("out of memory", thread: thread, &$0) }) { running = false; break loop }
                }
            case .popCatcher:  // pop_catcher
                let catchers = memory.reference(r.frame, 3)
                if !catchers.isNull && tableCount(catchers) > 0 {
                    memory.setWord(catchers, at: 0, UInt64(tableCount(catchers) - 1))
                }
            case .throw:  // throw
                r.osp &-= 1
                let exception = ObjectRef(raw: r.objects[r.osp])
                r.pc = pc; save(r)
                let thrownAt = pc &- 1
                if !synced(&pc, &r, { raise(exception, thread: thread, at: thrownAt, &$0) }) { running = false; break loop }
            case .summonThread: r.objects[r.osp] = thread.raw; r.osp &+= 1
            case .summonThis: r.objects[r.osp] = r.this.raw; r.osp &+= 1
            case .summonNull: r.objects[r.osp] = 0; r.osp &+= 1
            case .summonClassClass: r.objects[r.osp] = classClass.raw; r.osp &+= 1
            case .summonIntClass: r.objects[r.osp] = intClass.raw; r.osp &+= 1
            case .summonStringClass: r.objects[r.osp] = stringClass.raw; r.osp &+= 1
            case .i2o:  // i2o
                r.isp &-= 1
                r.objects[r.osp] = Self.box(Int32(truncatingIfNeeded: r.integers[r.isp])).raw
                r.osp &+= 1
            case .o2i:  // o2i
                let object = ObjectRef(raw: r.objects[r.osp &- 1])
                guard Self.isInt(object) else {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("o2i: \(describe(object)) is not an integer", thread: thread, &$0) }) { running = false; break loop }
                    continue loop
                }
                r.osp &-= 1
                r.integers[r.isp] = Int64(Self.unbox(object))
                r.isp &+= 1
            // Binary integer operations (`Registers.binary`). One case each: a
            // shared case with an inner switch would dispatch twice.
            case .isum:  // isum
                r.binary { a, b in Int64(a &+ b) }
            case .imul:  // imul
                r.binary { a, b in Int64(a &* b) }
            case .isubul:  // isubul: upper - lower
                r.binary { a, b in Int64(b &- a) }
            case .isublu:  // isublu: lower - upper
                r.binary { a, b in Int64(a &- b) }
            case .ior:  // ior
                r.binary { a, b in Int64(a | b) }
            case .iand:  // iand
                r.binary { a, b in Int64(a & b) }
            case .ixor:  // ixor
                r.binary { a, b in Int64(a ^ b) }
            case .logOr:  // log_or
                r.binary { a, b in a != 0 || b != 0 ? 1 : 0 }
            case .logAnd:  // log_and
                r.binary { a, b in a != 0 && b != 0 ? 1 : 0 }
            case .logXor:  // log_xor
                r.binary { a, b in (a != 0) != (b != 0) ? 1 : 0 }
            case .ige:  // ige
                r.binary { a, b in a >= b ? 1 : 0 }
            case .ile:  // ile
                r.binary { a, b in a <= b ? 1 : 0 }
            case .igt:  // igt
                r.binary { a, b in a > b ? 1 : 0 }
            case .ilt:  // ilt
                r.binary { a, b in a < b ? 1 : 0 }
            case .idivul:  // idivul
                if !Self.divide(&r, upperIsDividend: true, remainder: false) {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("division by zero", thread: thread, &$0) }) { running = false; break loop }
                }
            case .idivlu:  // idivlu
                if !Self.divide(&r, upperIsDividend: false, remainder: false) {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("division by zero", thread: thread, &$0) }) { running = false; break loop }
                }
            case .iremul:  // iremul
                if !Self.divide(&r, upperIsDividend: true, remainder: true) {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("division by zero", thread: thread, &$0) }) { running = false; break loop }
                }
            case .iremlu:  // iremlu
                if !Self.divide(&r, upperIsDividend: false, remainder: true) {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("division by zero", thread: thread, &$0) }) { running = false; break loop }
                }
            case .inot: r.integers[r.isp &- 1] = Int64(~Int32(truncatingIfNeeded: r.integers[r.isp &- 1]))  // inot
            case .logNot: r.integers[r.isp &- 1] = r.integers[r.isp &- 1] == 0 ? 1 : 0  // log_not
            // Superinstructions (Quickening.swift); each counts as the
            // instructions it stands for, so with too little budget left
            // only the first part runs (the rest is still in the code, as
            // itself).
            case .osGetO2i:  // os_get A; o2i
                let object = r.objects[u32(r.codeBytes, pc)]
                if object & 1 == 1 && executed < budget {
                    r.integers[r.isp] = Int64(Self.unbox(ObjectRef(raw: object)))
                    r.isp &+= 1
                    pc &+= 5
                    executed &+= 1
                } else {
                    // Only the os_get: the o2i runs next, as itself (and faults).
                    r.objects[r.osp] = object
                    r.osp &+= 1
                    pc &+= 4
                }
            case .isGetIsGet:  // is_get A; is_get B
                r.integers[r.isp] = r.integers[u32(r.codeBytes, pc)]
                r.isp &+= 1
                if executed < budget {
                    r.integers[r.isp] = r.integers[u32(r.codeBytes, pc &+ 5)]
                    r.isp &+= 1
                    pc &+= 9
                    executed &+= 1
                } else {
                    pc &+= 4
                }
            case .isumIsSet:  // isum; is_set A
                r.isp &-= 1
                let sum = Int32(truncatingIfNeeded: r.integers[r.isp &- 1]) &+ Int32(truncatingIfNeeded: r.integers[r.isp])
                r.integers[r.isp &- 1] = Int64(sum)
                if executed < budget {
                    r.isp &-= 1
                    r.integers[u32(r.codeBytes, pc &+ 1)] = Int64(sum)
                    pc &+= 5
                    executed &+= 1
                }
            case .iconstIsublu:  // iconst K; isublu
                Self.constantOperation(&r, pc: &pc, executed: &executed, budget: budget) { a, k in Int64(a &- k) }
            case .iconstIsum:  // iconst K; isum
                Self.constantOperation(&r, pc: &pc, executed: &executed, budget: budget) { a, k in Int64(a &+ k) }
            case .iconstIlt:  // iconst K; ilt
                Self.constantOperation(&r, pc: &pc, executed: &executed, budget: budget) { a, k in a < k ? 1 : 0 }
            case .iconstIltJz:  // iconst K; ilt; jz L: iconst (5 bytes), ilt (1), jz (5)
                let k = Int32(truncatingIfNeeded: u32(r.codeBytes, pc))
                if budget &- executed >= 2 {
                    r.isp &-= 1
                    let less = Int32(truncatingIfNeeded: r.integers[r.isp]) < k
                    pc = less ? pc &+ 10 : u32(r.codeBytes, pc &+ 6)
                    executed &+= 2
                } else {
                    r.integers[r.isp] = Int64(k)
                    r.isp &+= 1
                    pc &+= 4
                }
            case .i2oSummonThis:  // i2o; summon_this
                r.isp &-= 1
                r.objects[r.osp] = Self.box(Int32(truncatingIfNeeded: r.integers[r.isp])).raw
                r.osp &+= 1
                if executed < budget {
                    r.objects[r.osp] = r.this.raw
                    r.osp &+= 1
                    pc &+= 1
                    executed &+= 1
                }
            case .isLoad8:  // is_load: an integer field of this
                let value = memory.reference(r.this, Int(r.codeBytes[pc]))
                pc &+= 1
                r.integers[r.isp] = Self.isInt(value) ? Int64(Self.unbox(value)) : 0
                r.isp &+= 1
            case .isSave8:  // is_save
                r.isp &-= 1
                memory.setReference(r.this, Int(r.codeBytes[pc]), Self.box(Int32(truncatingIfNeeded: r.integers[r.isp])))
                pc &+= 1
            case .osEq:  // os_eq
                r.osp &-= 2
                r.integers[r.isp] = r.objects[r.osp] == r.objects[r.osp &+ 1] ? 1 : 0
                r.isp &+= 1
            case .osNeq:  // os_neq
                r.osp &-= 2
                r.integers[r.isp] = r.objects[r.osp] != r.objects[r.osp &+ 1] ? 1 : 0
                r.isp &+= 1
            case .osIsNull:  // os_isnull
                r.osp &-= 1
                r.integers[r.isp] = r.objects[r.osp] == 0 ? 1 : 0
                r.isp &+= 1
            case .prefixLong: if !synced(&pc, &r, { prefixed(.long, thread: thread, &$0) }) { running = false; break loop }  // prefix_long + the instruction
            case .prefixFloat: if !synced(&pc, &r, { prefixed(.float, thread: thread, &$0) }) { running = false; break loop }  // prefix_float + the instruction
            case .prefixDouble: if !synced(&pc, &r, { prefixed(.double, thread: thread, &$0) }) { running = false; break loop }  // prefix_double + the instruction
            case .ieq: r.binary { a, b in a == b ? 1 : 0 }  // ieq (int)
            case .ineq: r.binary { a, b in a != b ? 1 : 0 }  // ineq (int)
            case .fromi: r.integers[r.isp &- 1] = Self.convert(r.integers[r.isp &- 1], from: nil, to: nil)  // fromi: to int
            case .froml: r.integers[r.isp &- 1] = Self.convert(r.integers[r.isp &- 1], from: .long, to: nil)  // froml: to int
            case .fromf: r.integers[r.isp &- 1] = Self.convert(r.integers[r.isp &- 1], from: .float, to: nil)  // fromf: to int
            case .fromd: r.integers[r.isp &- 1] = Self.convert(r.integers[r.isp &- 1], from: .double, to: nil)  // fromd: to int
            case .generalLock:  // general_lock
                let mutex = ObjectRef(raw: r.objects[r.osp &- 1])
                guard isMutex(mutex) else {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("general_lock: \(describe(mutex)) is not a mutex", thread: thread, &$0) }) { running = false; break loop }
                    continue loop
                }
                let owner = mutexOwner(mutex)
                if owner.isNull {
                    memory.setReference(mutex, 0, thread)
                    r.osp &-= 1
                } else if owner == thread {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("general_lock: this thread already holds the mutex", thread: thread, &$0) }) { running = false; break loop }
                } else {
                    // Block; the lock instruction runs again when the mutex is free.
                    pc &-= 1
                    executed &-= 1
                    r.pc = pc; save(r)
                    memory.setWord(thread, at: 0, ThreadState.blocked.rawValue)
                    memory.setReference(thread, 2, mutex)
                    running = false
                    break loop
                }
            case .generalUnlock:  // general_unlock
                let mutex = ObjectRef(raw: r.objects[r.osp &- 1])
                guard isMutex(mutex), memory.reference(mutex, 0) == thread else {
                    pc &-= 1
                    if !synced(&pc, &r, { fault("general_unlock: \(describe(mutex)) is not a mutex this thread holds", thread: thread, &$0) }) { running = false; break loop }
                    continue loop
                }
                memory.setReference(mutex, 0, .null)
                r.osp &-= 1
            case .ishl:  // ishl: the value on top, the count below
                r.binary { count, value in Int64(value << (count & 31)) }
            case .ishr:  // ishr: the value on top, the count below
                r.binary { count, value in Int64(value >> (count & 31)) }
            case .ushr:  // ushr: the value on top, the count below
                r.binary { count, value in Int64(Int32(bitPattern: UInt32(bitPattern: value) >> UInt32(count & 31))) }
            default:
                pc &-= 1
                if !synced(&pc, &r, { fault("bad opcode 0x\(String(opcode, radix: 16)) at \($0.pc)", thread: thread, &$0) }) { running = false; break loop }
            }
        }
        if running { r.pc = pc; save(r) }
        // A call that charged and then ended the slice (a long copy that
        // runs again for its next piece): its cost counts too.
        if sliceCost != 0 { executed &+= sliceCost; charged &+= sliceCost; sliceCost = 0 }
        memory.setReference(thread, 0, r.frame)
        memory.setWord(thread, at: 8, memory.word(thread, at: 8) &+ UInt64(executed &- charged))
        instructionsRun &+= UInt64(executed &- charged)
        if !failureAwaitingCount.isNull {
            memory.setWord(failureAwaitingCount, at: 0, memory.word(thread, at: 8))
            failureAwaitingCount = .null
        }
        return executed
    }

    /// An allocation failed in the instruction at `r.pc` (undone: nothing
    /// changed). The first time, the slice ends with the thread runnable and
    /// a full collection requested: the scheduler collects and runs the
    /// instruction again (`retryingAfterCollection`). Failing then too, it
    /// raises "out of memory". Returns false (the slice ends) or what
    /// `fault` returns.
    func outOfMemory(_ message: String, thread: ObjectRef, _ r: inout Registers) -> Bool {
        if retryingAfterCollection { return fault(message, thread: thread, &r) }
        save(r)
        collectionRequested = true
        return false
    }

    /// sconst (a new string) or summon_by_name (a class) with the inline
    /// length-prefixed bytes at `r.pc`; nil, or the fault's message.
    @inline(never)
    func inlineConstant(string: Bool, _ r: inout Registers) -> String? {
        let length = Self.operand32(r.codeBytes, r.pc)
        let bytes = Array(UnsafeBufferPointer(start: r.codeBytes + (r.pc &+ 4), count: length))
        let value: ObjectRef
        if string {
            save(r)
            guard let text = try? newString(bytes: bytes) else { return "out of memory" }
            value = text
        } else {
            let name = String(decoding: bytes, as: UTF8.self)
            guard let cls = classesByName[name] else { return "no class named \(name)" }
            value = cls
        }
        r.objects[r.osp] = value.raw
        r.osp &+= 1
        r.pc &+= 4 &+ length
        return nil
    }

    /// idivul/idivlu/iremul/iremlu; false (nothing changed) on a zero divisor.
    @inline(__always)
    static func divide(_ r: inout Registers, upperIsDividend: Bool, remainder: Bool) -> Bool {
        let upper = Int32(truncatingIfNeeded: r.integers[r.isp &- 1])
        let lower = Int32(truncatingIfNeeded: r.integers[r.isp &- 2])
        let (dividend, divisor) = upperIsDividend ? (upper, lower) : (lower, upper)
        if divisor == 0 { return false }
        r.isp &-= 1
        let value = remainder
            ? dividend.remainderReportingOverflow(dividingBy: divisor).partialValue
            : dividend.dividedReportingOverflow(by: divisor).partialValue
        r.integers[r.isp &- 1] = Int64(value)
        return true
    }

    /// A type prefix and the instruction after it; false if the thread ended.
    @inline(never)
    func prefixed(_ type: NumericType, thread: ObjectRef, _ r: inout Registers) -> Bool {
        let next = r.codeBytes[r.pc]
        r.pc &+= 1
        guard let problem = executePrefixed(type, next, &r) else { return true }
        r.pc &-= 2
        return fault(problem, thread: thread, &r)
    }

    /// The code of a method by ordinal in a user class or its parents.
    @inline(__always)
    func lookup(_ cls: ObjectRef, ordinal: Int) -> ObjectRef? {
        var current = cls
        while !current.isNull {
            let methods = memory.reference(current, 1)
            if !methods.isNull && ordinal < tableCount(methods) {
                let code = tableGet(methods, ordinal)
                if !code.isNull { return code }
            }
            current = memory.reference(current, 2)
        }
        return nil
    }

    /// True if `object`'s class is `cls` or inherits from it.
    func isInstance(_ object: ObjectRef, of cls: ObjectRef) -> Bool {
        var current = classOf(object)
        while !current.isNull {
            if current == cls { return true }
            current = memory.reference(current, 2)
        }
        return false
    }

    /// The source line of `pc` in a code object, if known.
    func lineNumber(code: ObjectRef, pc: Int) -> Int? {
        let header = memory.bytes(code)
        let codeLength = Int(header.load(fromByteOffset: 12, as: UInt32.self))
        let lines = Int(header.load(fromByteOffset: 16, as: UInt32.self))
        var found: Int? = nil
        for index in 0..<lines {
            let entry = 24 + codeLength + index * 8
            let ip = Int(header.loadUnaligned(fromByteOffset: entry, as: UInt32.self))
            if ip > pc { break }
            found = Int(header.loadUnaligned(fromByteOffset: entry + 4, as: UInt32.self))
        }
        return found
    }
}
