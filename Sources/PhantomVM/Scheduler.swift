// Persistent threads and the scheduler: round robin over the world's thread
// list, a slice of instructions at a time; blocking (mutex, join, condition
// variables) and sleeping, all recorded in the thread objects so that a
// wait survives a restart (docs/vm-objects.md, "Threads").
//
// A thread object:
// ```
// refs:  0 current frame · 1 result (or the exception that ended it) · 2 what it waits for
//        3 failure record (ThreadFailure.swift), null unless it failed; threads
//          made by builds before it have only refs 0-2
// bytes: 0 state u64 · 8 instructions run u64 · 16 wake-up time u64 (system ns) · 24 wait phase u64
// ```
// Blocking internal calls are restartable: the call instruction runs again
// when the thread wakes, and the wait phase tells it how far it got
// (0 not waiting, 1 waiting, 2 woken: finish the call).
//
// System time is the VM's own monotonic clock: it counts while the system
// runs and stands still while it is down, so a sleep resumes after a
// restart with the time it had left. It is kept in the world (plain word 8)
// at every safepoint.

import PhantomHost
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
    /// Waiting (thread slot 2) for a mutex to be free, a thread to end or a
    /// condition to be signalled; it re-executes its blocking instruction
    /// then, so a wait survives a restart.
    case blocked = 3
    /// Sleeping until its wake-up time (system time).
    case sleeping = 4
}

extension VirtualMachine {
    static let threadBytes = 32
    static let threadReferences = 4

    // MARK: - Starting threads

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
        let arguments = codeShape(code).arguments
        let frame = try makeFrame(code: code, this: receiver, previous: .null, depth: 0)
        if arguments >= 1 {
            for (index, value) in values.prefix(arguments).enumerated() { memory.setReference(frame, Self.frameFixedRefs + index, value) }
            setFrameRegisters(frame, pc: 0, osp: UInt32(arguments), isp: 0)
        }
        let thread = try allocate(threadClass, references: Self.threadReferences, bytes: Self.threadBytes)
        memory.setReference(thread, 0, frame)
        try tableAppend(holder: world, slot: 1, thread)
        return thread
    }

    // MARK: - Reading threads

    /// Every thread object, in start order.
    public var threads: [ObjectRef] {
        let table = memory.reference(world, 1)
        return (0..<tableCount(table)).map { tableGet(table, $0) }
    }

    /// A thread's state.
    public func state(of thread: ObjectRef) -> ThreadState { ThreadState(rawValue: memory.word(thread, at: 0)) ?? .failed }
    /// Instructions a thread has run.
    public func instructions(of thread: ObjectRef) -> UInt64 { memory.word(thread, at: 8) }
    /// What a finished thread returned, or the exception that ended a failed one.
    public func result(of thread: ObjectRef) -> ObjectRef { memory.reference(thread, 1) }
    /// What a blocked thread waits for (a mutex, a thread or a condition), or null.
    public func awaited(by thread: ObjectRef) -> ObjectRef { memory.reference(thread, 2) }
    /// When a sleeping thread wakes, in system time (ns).
    public func wakeTime(of thread: ObjectRef) -> UInt64 { memory.word(thread, at: 16) }

    /// The class and method a thread was started with (its bottom frame).
    public func entryPoint(of thread: ObjectRef) -> (className: String, method: String) {
        var frame = memory.reference(thread, 0)
        while !frame.isNull && !memory.reference(frame, 0).isNull { frame = memory.reference(frame, 0) }
        guard !frame.isNull else { return ("?", "?") }
        let code = memory.reference(frame, 1)
        let receiver = memory.reference(frame, 2)
        return (className(classOf(receiver)), string(memory.reference(code, 1)))
    }

    /// Ends a thread that has not ended: it fails with `reason` as its
    /// exception (the mutexes it holds become free), and its failure record
    /// says where it stood.
    public func kill(_ thread: ObjectRef, reason: String) throws(VMError) {
        let exception = try newString(reason)
        let frame = memory.reference(thread, 0)
        if !frame.isNull {
            recordFailure(of: thread, exception: exception, frame: frame, pc: Int(memory.word(frame, at: 0) & 0xFFFF_FFFF))
        }
        memory.setReference(thread, 1, exception)
        memory.setReference(thread, 2, .null)
        memory.setWord(thread, at: 0, ThreadState.failed.rawValue)
        setWaitPhase(thread, 0)
    }

    func waitPhase(_ thread: ObjectRef) -> UInt64 { memory.word(thread, at: 24) }
    func setWaitPhase(_ thread: ObjectRef, _ phase: UInt64) { memory.setWord(thread, at: 24, phase) }

    // MARK: - System time

    /// The VM's own monotonic time (ns): the host's monotonic clock since
    /// boot, added to the system time the image had at its last safepoint.
    public var systemNanos: UInt64 {
        systemNanosAtBoot &+ (HostClock.monotonicNanos() &- hostNanosAtBoot)
    }

    /// Call at a safepoint just before a snapshot begins: records what the
    /// snapshot must hold that lives in host variables (the system time).
    public func prepareForSnapshot() { recordSystemTime() }

    /// The wait phase of a thread's blocking call (0 none, 1 waiting, 2
    /// woken), for kernel methods that block (see the top of this file).
    public func waitPhase(of thread: ObjectRef) -> UInt64 { waitPhase(thread) }
    public func setWaitPhase(of thread: ObjectRef, _ phase: UInt64) { setWaitPhase(thread, phase) }

    /// Records the system time in the world, so that a snapshot holds it.
    func recordSystemTime() {
        memory.setWord(world, at: 8, systemNanos)
    }

    // MARK: - The scheduler

    /// Runs runnable threads round robin, `slice` instructions at a time,
    /// until none is runnable or sleeping, `budget` instructions have run,
    /// or the host's monotonic clock passes `deadline` (ns). While every
    /// live thread sleeps, the host thread sleeps too. Returns between
    /// slices: a safepoint, where a snapshot may begin.
    @discardableResult
    public func run(budget: Int = .max, slice: Int = 10_000, until deadline: UInt64? = nil) -> Int {
        var remaining = budget
        while remaining > 0 {
            var ranAny = false
            var nextWake: UInt64? = nil
            let now = systemNanos
            for thread in threads {
                switch state(of: thread) {
                case .runnable: break
                case .blocked:
                    guard isReady(thread) else { continue }
                    memory.setWord(thread, at: 0, ThreadState.runnable.rawValue)
                    memory.setReference(thread, 2, .null)
                case .sleeping:
                    let wake = wakeTime(of: thread)
                    if wake > now {
                        nextWake = min(nextWake ?? wake, wake)
                        continue
                    }
                    memory.setWord(thread, at: 0, ThreadState.runnable.rawValue)
                    setWaitPhase(thread, 2)
                case .finished, .failed: continue
                }
                let ran = runSlice(thread, budget: min(slice, remaining))
                remaining -= ran
                ranAny = true
                if collectionRequested {
                    // An allocation failed: all garbage goes, then the
                    // instruction runs once more (and raises "out of
                    // memory" if it fails again).
                    collectionRequested = false
                    collectGarbageNow()
                    retryingAfterCollection = true
                    remaining -= runSlice(thread, budget: 1)
                    retryingAfterCollection = false
                }
                collectIfDue()
                if let onSafepoint { onSafepoint() }
                if remaining <= 0 { break }
                // Checked after every slice, not every round: with many
                // threads a round is long, and the caller's safepoint work
                // (snapshots, stop requests) waits for this return.
                // (The check after the round then ends the run.)
                if let deadline, HostClock.monotonicNanos() >= deadline { break }
            }
            recordSystemTime()
            if let deadline, HostClock.monotonicNanos() >= deadline { break }
            if !ranAny {
                guard let wake = nextWake else { break }
                // Everyone sleeps: so does the host thread, until the first
                // wake-up or the deadline.
                var pause = wake &- systemNanos
                if let deadline { pause = min(pause, deadline &- min(deadline, HostClock.monotonicNanos())) }
                if pause > 0 && pause < (1 << 62) {
                    var request = timespec(tv_sec: Int(pause / 1_000_000_000), tv_nsec: Int(pause % 1_000_000_000))
                    _ = nanosleep(&request, nil)
                }
            }
        }
        return budget - remaining
    }

    /// True while some thread can still run: runnable, sleeping, or blocked
    /// on something that will become ready.
    public var hasWork: Bool {
        threads.contains { thread in
            switch state(of: thread) {
            case .runnable, .sleeping: return true
            case .blocked: return isReady(thread)
            case .finished, .failed: return false
            }
        }
    }

    /// True while some thread may still run: `hasWork`, or a thread waits
    /// for a kernel object (console input, ...), which the world outside
    /// can make ready. False when every thread has ended or the rest wait
    /// for one another (a deadlock).
    public var hasPotentialWork: Bool {
        hasWork || threads.contains { thread in
            guard state(of: thread) == .blocked else { return false }
            let awaited = memory.reference(thread, 2)
            return !awaited.isNull && !Self.isInt(awaited) && kind(of: classOf(awaited)) == .kernel
        }
    }

    /// True for a mutex object (not null, not an integer, of the mutex class).
    func isMutex(_ object: ObjectRef) -> Bool {
        !object.isNull && !Self.isInt(object) && classOf(object) == mutexClass
    }

    /// The thread holding a mutex, or null. A mutex held by a thread that
    /// has ended is free: its owner can never unlock it.
    func mutexOwner(_ mutex: ObjectRef) -> ObjectRef {
        let owner = memory.reference(mutex, 0)
        if owner.isNull { return owner }
        let ownerState = state(of: owner)
        if ownerState == .finished || ownerState == .failed {
            memory.setReference(mutex, 0, .null)
            return .null
        }
        return owner
    }

    /// True when what a blocked thread waits for is ready: a free mutex, a
    /// thread that has ended, or (null) a signal that has come.
    func isReady(_ thread: ObjectRef) -> Bool {
        let awaited = memory.reference(thread, 2)
        if awaited.isNull { return true }
        let cls = classOf(awaited)
        if cls == mutexClass { return mutexOwner(awaited).isNull }
        if cls == threadClass { let s = state(of: awaited); return s == .finished || s == .failed }
        if cls == condClass { return false }  // a signal clears the wait (slot 2)
        if kind(of: cls) == .kernel { return kernelObjectIsReady(awaited, cls: cls, thread: thread) }
        return true
    }

    // MARK: - Blocking internal methods

    /// `thread.sleep(ms)` (`.internal.thread` ordinal 10) on the current thread.
    func sleep(_ receiver: ObjectRef, milliseconds: Int32?) -> CallOutcome {
        guard receiver == currentThread else { return .raise("a thread can only put itself to sleep") }
        if waitPhase(receiver) == 2 {
            setWaitPhase(receiver, 0)
            return .value(.null)
        }
        let delay = UInt64(max(0, milliseconds ?? 0)) * 1_000_000
        setWaitPhase(receiver, 1)
        return .sleep(until: systemNanos &+ delay)
    }

    /// `mutex.lock()` (ordinal 8): as `general_lock`, through a call.
    func lockMutex(_ mutex: ObjectRef) -> CallOutcome {
        let owner = mutexOwner(mutex)
        if owner.isNull {
            memory.setReference(mutex, 0, currentThread)
            return .value(.null)
        }
        if owner == currentThread { return .raise("mutex.lock: this thread already holds the mutex") }
        return .wait(on: mutex)
    }

    /// `mutex.unlock()` (ordinal 9).
    func unlockMutex(_ mutex: ObjectRef) -> CallOutcome {
        guard memory.reference(mutex, 0) == currentThread else {
            return .raise("mutex.unlock: this thread does not hold the mutex")
        }
        memory.setReference(mutex, 0, .null)
        return .value(.null)
    }

    /// `cond.wait(mutex)` (`.internal.cond` ordinal 8): releases the mutex,
    /// waits for a signal, takes the mutex again.
    /// A condition: refs [0 waiters table]; FIFO.
    func conditionWait(_ cond: ObjectRef, mutex: ObjectRef?) -> CallOutcome {
        let thread = currentThread
        guard let mutex, isMutex(mutex) else { return .raise("cond.wait needs a mutex") }
        if waitPhase(thread) == 2 {
            // Signalled: take the mutex again (waiting for it if needed).
            let owner = mutexOwner(mutex)
            if owner.isNull {
                memory.setReference(mutex, 0, thread)
                setWaitPhase(thread, 0)
                return .value(.null)
            }
            return .wait(on: mutex)
        }
        guard memory.reference(mutex, 0) == thread else {
            return .raise("cond.wait: this thread does not hold the mutex")
        }
        do {
            if memory.reference(cond, 0).isNull { memory.setReference(cond, 0, try newTable(capacity: 4)) }
            try tableAppend(holder: cond, slot: 0, thread)
        } catch {
            return .outOfMemory("out of memory")
        }
        memory.setReference(mutex, 0, .null)
        setWaitPhase(thread, 1)
        return .wait(on: cond)
    }

    /// `cond.signal()` (9) wakes the longest waiter, `cond.broadcast()` (10)
    /// all of them; returns how many were woken.
    func conditionSignal(_ cond: ObjectRef, all: Bool) -> CallOutcome {
        let waiters = memory.reference(cond, 0)
        if waiters.isNull { return .value(Self.box(0)) }
        var woken = 0
        var kept: [ObjectRef] = []
        for index in 0..<tableCount(waiters) {
            let waiter = tableGet(waiters, index)
            if (all || woken == 0) && state(of: waiter) == .blocked && memory.reference(waiter, 2) == cond {
                setWaitPhase(waiter, 2)
                memory.setReference(waiter, 2, .null)
                woken += 1
            } else if state(of: waiter) == .blocked && memory.reference(waiter, 2) == cond {
                kept.append(waiter)
            }
        }
        for (index, waiter) in kept.enumerated() { tableSet(waiters, index, waiter) }
        for index in kept.count..<tableCount(waiters) { tableSet(waiters, index, .null) }
        memory.setWord(waiters, at: 0, UInt64(kept.count))
        return .value(Self.box(Int32(woken)))
    }

    /// Spare frames kept below each thread's current frame.
    static let keptSpareFrames = 64

    /// Cuts every thread's chain of spare frames after `keptSpareFrames`,
    /// so that one deep recursion does not keep its frames for ever; the
    /// frames cut off become garbage.
    func trimSpareFrames() {
        for thread in threads {
            var frame = memory.reference(thread, 0)
            var depth = 0
            while !frame.isNull {
                let spare = memory.reference(frame, Self.spareSlot)
                if depth == Self.keptSpareFrames && !spare.isNull {
                    memory.setReference(frame, Self.spareSlot, .null)
                    break
                }
                frame = spare
                depth += 1
            }
        }
    }

    // MARK: - Garbage collection pacing

    /// Collects garbage incrementally at a safepoint, paced by
    /// `CollectionPacer` (PhantomMemory): a bounded step at every safepoint
    /// while a cycle runs, so no pause grows with the heap. The interpreter
    /// writes call frames without the barrier, so the remark rescans every
    /// frame of every thread (`framesToRescan`).
    func collectIfDue() {
        pacer.safepoint(memory, prepare: { trimSpareFrames() }, rescanning: { framesToRescan() })
    }

    /// Every call frame of every thread: the active chain and the spare
    /// frames below the current one (stored without the barrier).
    func framesToRescan() -> [ObjectRef] {
        var frames: [ObjectRef] = []
        for thread in threads {
            let current = memory.reference(thread, 0)
            var frame = current
            while !frame.isNull { frames.append(frame); frame = memory.reference(frame, 0) }
            frame = current.isNull ? .null : memory.reference(current, Self.spareSlot)
            while !frame.isNull { frames.append(frame); frame = memory.reference(frame, Self.spareSlot) }
        }
        return frames
    }

    /// Finishes any incremental cycle and collects everything unreachable now
    /// (for tools and tests).
    @discardableResult
    public func collectGarbageNow() -> CollectionStats {
        trimSpareFrames()
        let stats = memory.collectGarbage()
        memory.lastCollection = (memory.bytesAllocated, UInt64(stats.liveBytes))
        return stats
    }
}
