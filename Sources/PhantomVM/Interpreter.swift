// The interpreter: one loop, one switch over the opcode byte.
//
// A thread's whole state is in object memory: the thread object points at
// its current call frame, and a frame holds its program counter and both
// stacks (docs/vm-objects.md):
// ```
// frame refs:  0 previous frame · 1 code · 2 this · 3 catchers · 4... object stack
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

/// How a thread stands.
public enum ThreadState: UInt64, Sendable {
    /// Ready to run.
    case runnable = 0
    /// Returned from its first method.
    case finished = 1
    /// Ended by an uncaught exception.
    case failed = 2
    /// Waiting for a mutex (thread slot 2); it re-executes its lock
    /// instruction when the mutex is free, so the wait survives a restart.
    case blocked = 3
}

extension VirtualMachine {
    static let frameFixedRefs = 4
    static let maxCallDepth = 100_000

    // MARK: - Threads

    /// Starts a thread running `method` of a new instance of `className`,
    /// passing the boot object if the method takes an argument.
    @discardableResult
    public func startThread(className: String, method name: String = "run") throws(VMError) -> ObjectRef {
        guard let cls = classesByName[className] else { throw .unknownClass(className) }
        guard method(named: name, in: cls) != nil else { throw .unknownMethod(className: className, method: name) }
        return try startThread(on: try instantiate(cls), method: name, arguments: [bootObject])
    }

    /// Starts a thread running `method` of an existing object (threads may
    /// share objects). Extra arguments are dropped, missing ones are null.
    @discardableResult
    public func startThread(on receiver: ObjectRef, method name: String, arguments values: [ObjectRef] = []) throws(VMError) -> ObjectRef {
        let cls = classOf(receiver)
        guard let code = method(named: name, in: cls) else { throw .unknownMethod(className: className(cls), method: name) }
        let arguments = Int(memory.word(code, at: 0) & 0xFFFF_FFFF)
        let frame = try makeFrame(code: code, this: receiver, previous: .null, depth: 0)
        if arguments >= 1 {
            for (index, value) in values.prefix(arguments).enumerated() { memory.setReference(frame, Self.frameFixedRefs + index, value) }
            setFrameRegisters(frame, pc: 0, osp: UInt32(arguments), isp: 0)
        }
        let thread = try allocate(threadClass, references: 3, bytes: 16)
        memory.setReference(thread, 0, frame)
        try arrayAppend(holder: world, slot: 1, thread)
        return thread
    }

    /// Every thread object, in start order.
    public var threads: [ObjectRef] {
        let array = memory.reference(world, 1)
        return (0..<arrayCount(array)).map { arrayGet(array, $0) }
    }

    /// A thread's state.
    public func state(of thread: ObjectRef) -> ThreadState { ThreadState(rawValue: memory.word(thread, at: 0)) ?? .failed }
    /// Instructions a thread has run.
    public func instructions(of thread: ObjectRef) -> UInt64 { memory.word(thread, at: 8) }
    /// What a finished thread returned, or the exception that ended a failed one.
    public func result(of thread: ObjectRef) -> ObjectRef { memory.reference(thread, 1) }

    /// Runs runnable threads round robin, `slice` instructions at a time,
    /// until none is runnable or `budget` instructions have run. Returns
    /// between slices: a safepoint, where a snapshot may begin.
    @discardableResult
    public func run(budget: Int = .max, slice: Int = 10_000) -> Int {
        var remaining = budget
        while remaining > 0 {
            var ranAny = false
            for thread in threads {
                if state(of: thread) == .blocked {
                    let mutex = memory.reference(thread, 2)
                    guard mutex.isNull || memory.reference(mutex, 0).isNull else { continue }
                    memory.setWord(thread, at: 0, ThreadState.runnable.rawValue)
                    memory.setReference(thread, 2, .null)
                }
                guard state(of: thread) == .runnable else { continue }
                let ran = runSlice(thread, budget: min(slice, remaining))
                remaining -= ran
                ranAny = true
                collectIfDue()
                if remaining <= 0 { break }
            }
            if !ranAny { break }
        }
        return budget - remaining
    }

    /// Collects garbage at a safepoint once the heap has grown by as much as
    /// survived the last collection (at least 64 MiB): the cost of a
    /// collection stays proportional to the allocation that made it due.
    func collectIfDue() {
        let allocated = memory.bytesAllocated
        guard allocated - bytesAtLastCollection > max(64 << 20, liveAfterLastCollection) else { return }
        let stats = memory.collectGarbage()
        bytesAtLastCollection = memory.bytesAllocated
        liveAfterLastCollection = UInt64(stats.liveBytes)
    }

    func instantiate(_ cls: ObjectRef) throws(VMError) -> ObjectRef {
        switch kind(of: cls) {
        case .string: return try newString("")
        case .array: return try newArray(capacity: 4)
        case .int: return Self.box(0)
        case .mutex: return try allocate(mutexClass, references: 1, bytes: 0)
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
        let maxObjects = Int(memory.word(code, at: 0) >> 32)
        let maxIntegers = Int(memory.word(code, at: 8) & 0xFFFF_FFFF)
        let frame = try allocate(frameClass, references: Self.frameFixedRefs + maxObjects, bytes: 16 + 8 * maxIntegers)
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

    /// Runs one thread for at most `budget` instructions; returns how many ran.
    func runSlice(_ thread: ObjectRef, budget: Int) -> Int {
        let base = memory.space.base
        let space = memory.space
        var frame = memory.reference(thread, 0)
        var executed = 0

        // Registers of the current frame.
        var code = ObjectRef.null
        var codeBytes = UnsafePointer<UInt8>(bitPattern: 1)!
        var registers = UnsafeMutableRawPointer(bitPattern: 8)!
        var objects = UnsafeMutablePointer<UInt64>(bitPattern: 8)!
        var integers = UnsafeMutablePointer<Int64>(bitPattern: 8)!
        var pc = 0, osp = 0, isp = 0
        var this = ObjectRef.null
        var depth: UInt32 = 0

        func enter(_ target: ObjectRef) {
            frame = target
            let refs = Int(memory.referenceCount(of: frame))
            space.willWrite(offset: frame.raw, length: memory.size(of: frame))
            code = memory.reference(frame, 1)
            this = memory.reference(frame, 2)
            codeBytes = UnsafePointer(base.assumingMemoryBound(to: UInt8.self)) + Int(memory.dataOffset(of: code)) + 24
            objects = (base + Int(frame.raw) + 16 + 8 * Self.frameFixedRefs).assumingMemoryBound(to: UInt64.self)
            let data = base + Int(frame.raw) + 16 + 8 * refs
            registers = data
            let first = data.load(as: UInt64.self)
            let second = data.load(fromByteOffset: 8, as: UInt64.self)
            pc = Int(first & 0xFFFF_FFFF)
            osp = Int(first >> 32)
            isp = Int(second & 0xFFFF_FFFF)
            depth = UInt32(second >> 32)
            integers = (data + 16).assumingMemoryBound(to: Int64.self)
        }
        func save() {
            registers.storeBytes(of: UInt64(pc) | UInt64(osp) << 32, as: UInt64.self)
            registers.storeBytes(of: UInt64(depth) << 32 | UInt64(isp), toByteOffset: 8, as: UInt64.self)
        }
        @inline(__always) func u32(_ at: Int) -> Int {
            Int(Int32(bitPattern: UInt32(codeBytes[at]) << 24 | UInt32(codeBytes[at + 1]) << 16 | UInt32(codeBytes[at + 2]) << 8 | UInt32(codeBytes[at + 3])))
        }
        @inline(__always) func push(_ value: ObjectRef) { objects[osp] = value.raw; osp += 1 }
        @inline(__always) func pop() -> ObjectRef { osp -= 1; return ObjectRef(raw: objects[osp]) }
        @inline(__always) func ipush(_ value: Int32) { integers[isp] = Int64(value); isp += 1 }
        @inline(__always) func ipop() -> Int32 { isp -= 1; return Int32(truncatingIfNeeded: integers[isp]) }

        enter(frame)
        // Guest exceptions: unwind to a catcher or end the thread.
        func raise(_ exception: ObjectRef) -> Bool {
            while true {
                let catchers = memory.reference(frame, 3)
                if !catchers.isNull {
                    var count = arrayCount(catchers)
                    while count > 0 {
                        count -= 1
                        let catcher = arrayGet(catchers, count)
                        memory.setWord(catchers, at: 0, UInt64(count))
                        let wanted = memory.reference(catcher, 0)
                        if wanted.isNull || isInstance(exception, of: wanted) {
                            let registers = memory.word(catcher, at: 0)
                            pc = Int(registers & 0xFFFF_FFFF)
                            osp = Int(registers >> 32)
                            isp = Int(memory.word(catcher, at: 8))
                            push(exception)
                            return true
                        }
                    }
                }
                let previous = memory.reference(frame, 0)
                if previous.isNull {
                    memory.setReference(thread, 1, exception)
                    memory.setWord(thread, at: 0, ThreadState.failed.rawValue)
                    console("thread failed with an uncaught exception: \(describe(exception))\n")
                    return false
                }
                let finished = frame
                enter(previous)
                memory.setReference(thread, 0, frame)
                memory.free(finished)
            }
        }
        /// A guest error raised by the VM itself: a string with a stack trace.
        func fault(_ message: String) -> Bool {
            save()
            var text = message
            var current = frame
            var at = pc
            while !current.isNull {
                let currentCode = memory.reference(current, 1)
                let owner = className(memory.reference(currentCode, 0))
                let method = string(memory.reference(currentCode, 1))
                let line = lineNumber(code: currentCode, pc: at).map { " line \($0)" } ?? ""
                text += "\n    at \(owner).\(method) (pc \(at)\(line))"
                current = memory.reference(current, 0)
                // A caller's saved pc is past its call instruction.
                if !current.isNull { at = max(0, Int(memory.word(current, at: 0) & 0xFFFF_FFFF) - 6) }
            }
            guard let exception = try? newString(text) else {
                memory.setWord(thread, at: 0, ThreadState.failed.rawValue)
                console("thread failed: \(message) (and out of memory for the exception)\n")
                return false
            }
            return raise(exception)
        }

        var running = true
        loop: while running && executed < budget {
            executed += 1
            let opcode = codeBytes[pc]
            pc += 1
            switch opcode {
            case 0x00: break  // nop
            case 0x04:  // djnz
                integers[isp - 1] = Int64(Int32(truncatingIfNeeded: integers[isp - 1]) &- 1)
                if integers[isp - 1] != 0 { pc = u32(pc) } else { pc += 4 }
            case 0x05:  // jz
                let value = ipop()
                if value == 0 { pc = u32(pc) } else { pc += 4 }
            case 0x06: pc = u32(pc)  // jmp
            case 0x08:  // ret
                let value = osp > 0 ? pop() : .null
                let previous = memory.reference(frame, 0)
                if previous.isNull {
                    save()
                    memory.setReference(thread, 1, value)
                    memory.setWord(thread, at: 0, ThreadState.finished.rawValue)
                    running = false
                    break
                }
                let finished = frame
                enter(previous)
                memory.setReference(thread, 0, frame)
                memory.free(finished)
                push(value)
            case 0x0D:  // call ordinal(u8) arguments(i32)
                let ordinal = Int(codeBytes[pc])
                let count = u32(pc + 1)
                pc += 5
                let receiver = pop()
                osp -= count
                if receiver.isNull {
                    osp += count
                    push(receiver)
                    pc -= 6
                    if !fault("null reference: method \(ordinal) called on null") { running = false }
                    continue loop
                }
                let cls = classOf(receiver)
                if let target = lookup(cls, ordinal: ordinal) {
                    let declared = Int(memory.word(target, at: 0) & 0xFFFF_FFFF)
                    if declared != count {
                        osp += count
                        push(receiver)
                        pc -= 6
                        let name = string(memory.reference(target, 1))
                        if !fault("\(className(cls)).\(name) takes \(declared) arguments, called with \(count)") { running = false }
                        continue loop
                    }
                    if depth + 1 > UInt32(Self.maxCallDepth) {
                        if !fault("stack overflow: more than \(Self.maxCallDepth) nested calls") { running = false }
                        continue loop
                    }
                    save()
                    guard let callee = try? makeFrame(code: target, this: receiver, previous: frame, depth: depth + 1) else {
                        if !fault("out of memory making a call frame") { running = false }
                        continue loop
                    }
                    // Arguments move to the callee's object stack.
                    let arguments = UnsafeMutablePointer(objects + osp)
                    let calleeObjects = (base + Int(callee.raw) + 16 + 8 * Self.frameFixedRefs).assumingMemoryBound(to: UInt64.self)
                    space.willWrite(offset: callee.raw, length: memory.size(of: callee))
                    calleeObjects.update(from: arguments, count: count)
                    setFrameRegisters(callee, pc: 0, osp: UInt32(count), isp: 0)
                    memory.setReference(thread, 0, callee)
                    enter(callee)
                } else {
                    var arguments: [ObjectRef] = []
                    for index in 0..<count { arguments.append(ObjectRef(raw: objects[osp + index])) }
                    save()
                    switch callInternal(receiver, cls: cls, ordinal: ordinal, arguments: arguments) {
                    case let .success(value): push(value)
                    case let .failure(problem):
                        if !fault(problem.message) { running = false }
                    }
                }
            case 0x10: integers[isp] = integers[isp - 1]; isp += 1  // is_dup
            case 0x11: isp -= 1  // is_drop
            case 0x12: objects[osp] = objects[osp - 1]; osp += 1  // os_dup
            case 0x13: osp -= 1  // os_drop
            case 0x14: push(memory.reference(this, Int(codeBytes[pc]))); pc += 1  // os_load
            case 0x15: memory.setReference(this, Int(codeBytes[pc]), pop()); pc += 1  // os_save
            case 0x18:  // new
                let cls = pop()
                guard classOf(cls) == classClass else {
                    if !fault("new: the operand is not a class") { running = false }
                    continue loop
                }
                save()
                guard let object = try? instantiate(cls) else {
                    if !fault("out of memory") { running = false }
                    continue loop
                }
                push(object)
            case 0x1E: push(ObjectRef(raw: objects[u32(pc)])); pc += 4  // os_get
            case 0x1F: objects[u32(pc)] = pop().raw; pc += 4  // os_set
            case 0x20: ipush(0)
            case 0x21: ipush(1)
            case 0x22: ipush(Int32(Int8(bitPattern: codeBytes[pc]))); pc += 1
            case 0x23: ipush(Int32(truncatingIfNeeded: u32(pc))); pc += 4
            case 0x24, 0x3F:  // sconst, summon_by_name
                let length = u32(pc)
                let bytes = Array(UnsafeBufferPointer(start: codeBytes + pc + 4, count: length))
                pc += 4 + length
                if opcode == 0x24 {
                    save()
                    guard let text = try? newString(bytes: bytes) else {
                        if !fault("out of memory") { running = false }
                        continue loop
                    }
                    push(text)
                } else {
                    let name = String(decoding: bytes, as: UTF8.self)
                    guard let cls = classesByName[name] else {
                        if !fault("no class named \(name)") { running = false }
                        continue loop
                    }
                    push(cls)
                }
            case 0x25:  // iconst_64: the low 32 bits (int is 32-bit)
                let high = u32(pc), low = u32(pc + 4)
                _ = high
                ipush(Int32(truncatingIfNeeded: low))
                pc += 8
            case 0x26: ipush(Int32(truncatingIfNeeded: integers[u32(pc)])); pc += 4  // is_get
            case 0x27: integers[u32(pc)] = Int64(ipop()); pc += 4  // is_set
            case 0x28:  // const_pool
                let constants = memory.reference(code, 2)
                push(arrayGet(constants, u32(pc)))
                pc += 4
            case 0x29:  // stack_reserve objects integers
                let objectSlots = Int(codeBytes[pc]), integerSlots = Int(codeBytes[pc + 1])
                pc += 2
                for _ in 0..<objectSlots { push(.null) }
                for _ in 0..<integerSlots { ipush(0) }
            case 0x2D:  // push_catcher
                let handler = u32(pc)
                pc += 4
                let wanted = pop()
                save()
                do {
                    let catcher = try allocate(.null, references: 1, bytes: 16)
                    memory.setReference(catcher, 0, wanted)
                    memory.setWord(catcher, at: 0, UInt64(handler) | UInt64(osp) << 32)
                    memory.setWord(catcher, at: 8, UInt64(isp))
                    if memory.reference(frame, 3).isNull { memory.setReference(frame, 3, try newArray(capacity: 4)) }
                    try arrayAppend(holder: frame, slot: 3, catcher)
                } catch {
                    if !fault("out of memory") { running = false }
                }
            case 0x2E:  // pop_catcher
                let catchers = memory.reference(frame, 3)
                if !catchers.isNull && arrayCount(catchers) > 0 {
                    memory.setWord(catchers, at: 0, UInt64(arrayCount(catchers) - 1))
                }
            case 0x2F:  // throw
                let exception = pop()
                save()
                if !raise(exception) { running = false }
            case 0x30: push(thread)
            case 0x31: push(this)
            case 0x37: push(.null)
            case 0x38: push(classClass)
            case 0x39: push(intClass)
            case 0x3A: push(stringClass)
            case 0x40: push(Self.box(ipop()))  // i2o
            case 0x41:  // o2i
                let object = pop()
                if Self.isInt(object) {
                    ipush(Self.unbox(object))
                } else {
                    push(object)
                    pc -= 1
                    if !fault("o2i: \(describe(object)) is not an integer") { running = false }
                }
            case 0x42: let b = ipop(); ipush(ipop() &+ b)  // isum
            case 0x43: let b = ipop(); ipush(ipop() &* b)  // imul
            case 0x44: let u = ipop(); let l = ipop(); ipush(u &- l)  // isubul
            case 0x45: let u = ipop(); let l = ipop(); ipush(l &- u)  // isublu
            case 0x46, 0x47, 0x56, 0x57:  // idivul, idivlu, iremul, iremlu
                let u = ipop(), l = ipop()
                let (dividend, divisor) = opcode == 0x46 || opcode == 0x56 ? (u, l) : (l, u)
                if divisor == 0 {
                    ipush(l); ipush(u); pc -= 1
                    if !fault("division by zero") { running = false }
                    continue loop
                }
                let (quotient, overflow) = dividend.dividedReportingOverflow(by: divisor)
                if opcode == 0x46 || opcode == 0x47 { ipush(overflow ? dividend : quotient) }
                else { ipush(dividend.remainderReportingOverflow(dividingBy: divisor).partialValue) }
            case 0x48: let b = ipop(); ipush(ipop() | b)
            case 0x49: let b = ipop(); ipush(ipop() & b)
            case 0x4A: let b = ipop(); ipush(ipop() ^ b)
            case 0x4B: ipush(~ipop())
            case 0x4C: let a = ipop(), b = ipop(); ipush(a != 0 || b != 0 ? 1 : 0)
            case 0x4D: let a = ipop(), b = ipop(); ipush(a != 0 && b != 0 ? 1 : 0)
            case 0x4E: let a = ipop() != 0, b = ipop() != 0; ipush(a != b ? 1 : 0)
            case 0x4F: ipush(ipop() == 0 ? 1 : 0)
            case 0x50:  // is_load: an integer field of this
                let value = memory.reference(this, Int(codeBytes[pc]))
                pc += 1
                ipush(Self.isInt(value) ? Self.unbox(value) : 0)
            case 0x51: memory.setReference(this, Int(codeBytes[pc]), Self.box(ipop())); pc += 1  // is_save
            case 0x52: let b = ipop(); ipush(ipop() >= b ? 1 : 0)
            case 0x53: let b = ipop(); ipush(ipop() <= b ? 1 : 0)
            case 0x54: let b = ipop(); ipush(ipop() > b ? 1 : 0)
            case 0x55: let b = ipop(); ipush(ipop() < b ? 1 : 0)
            case 0x58: let a = pop(), b = pop(); ipush(a == b ? 1 : 0)
            case 0x59: let a = pop(), b = pop(); ipush(a != b ? 1 : 0)
            case 0x5A: ipush(pop().isNull ? 1 : 0)
            case 0x62:  // general_lock
                let mutex = pop()
                guard !mutex.isNull, !Self.isInt(mutex), classOf(mutex) == mutexClass else {
                    push(mutex); pc -= 1
                    if !fault("general_lock: \(describe(mutex)) is not a mutex") { running = false }
                    continue loop
                }
                let owner = memory.reference(mutex, 0)
                if owner.isNull {
                    memory.setReference(mutex, 0, thread)
                } else if owner == thread {
                    push(mutex); pc -= 1
                    if !fault("general_lock: this thread already holds the mutex") { running = false }
                    continue loop
                } else {
                    // Block; the lock instruction runs again when the mutex is free.
                    push(mutex)
                    pc -= 1
                    save()
                    memory.setWord(thread, at: 0, ThreadState.blocked.rawValue)
                    memory.setReference(thread, 2, mutex)
                    running = false
                    executed -= 1
                }
            case 0x63:  // general_unlock
                let mutex = pop()
                guard !mutex.isNull, !Self.isInt(mutex), classOf(mutex) == mutexClass, memory.reference(mutex, 0) == thread else {
                    push(mutex); pc -= 1
                    if !fault("general_unlock: \(describe(mutex)) is not a mutex this thread holds") { running = false }
                    continue loop
                }
                memory.setReference(mutex, 0, .null)
            case 0x70: let value = ipop(); ipush(value << (ipop() & 31))  // ishl: value on top, count below
            case 0x71: let value = ipop(); ipush(value >> (ipop() & 31))
            case 0x72: let value = UInt32(bitPattern: ipop()); ipush(Int32(bitPattern: value >> UInt32(ipop() & 31)))
            default:
                pc -= 1
                if !fault("bad opcode 0x\(String(opcode, radix: 16)) at \(pc)") { running = false }
            }
        }
        if running { save() }
        memory.setWord(thread, at: 8, memory.word(thread, at: 8) &+ UInt64(executed))
        return executed
    }

    /// The code of a method by ordinal in a user class or its parents.
    func lookup(_ cls: ObjectRef, ordinal: Int) -> ObjectRef? {
        var current = cls
        while !current.isNull {
            let methods = memory.reference(current, 1)
            if !methods.isNull && ordinal < arrayCount(methods) {
                let code = arrayGet(methods, ordinal)
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
