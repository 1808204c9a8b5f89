// The kernel: boots a persistent image (creating it if needed), binds the
// kernel classes (connections, names) to this process, runs the threads,
// and takes snapshots in the background at safepoints (docs/kernel.md).
//
// One mutator thread runs the VM; a snapshot begins between two slices
// (a pause of a few microseconds: `PersistentSpace.beginSnapshot`) and is
// written by the snapshot writer thread while the mutator goes on.

import Dispatch
import Foundation
import PhantomHost
import PhantomMemory
import PhantomStore
import PhantomVM
import Synchronization

/// Why the kernel could not boot or do what it was asked.
public struct KernelError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A booted Phantom system.
public final class Kernel: @unchecked Sendable {
    /// How to boot.
    public struct Options {
        /// The image file (created with defaults if missing, unless `mustExist`).
        public var imagePath: String
        /// Refuse to create a new image.
        public var mustExist = false
        /// Open for reading only: no snapshots, nothing written (the boot
        /// count goes up in memory only).
        public var readOnly = false
        /// Period of the snapshot daemon, ns (0: no periodic snapshots).
        public var snapshotInterval: UInt64 = 1_000_000_000
        /// The host directory that `fio:` connections may use (nil: none).
        public var share: String? = nil
        /// Where console output goes (the console connection).
        public var console: @Sendable (String) -> Void = { text in
            StandardOutput.write(text)
        }
        /// The console's input (lines for `con:` reads); its arrival wakes
        /// the kernel's idle wait.
        public var consoleInput: any Console = TerminalConsole()
        /// Called on the writer thread after each snapshot is durable.
        public var snapshotLog: (@Sendable (SnapshotReport) -> Void)? = nil
        /// Address space of the image (bytes) and the store's logical size.
        public var capacity: UInt64 = 4 << 30
        /// Snapshots the store keeps for rollback.
        public var keep = 8
        /// A fault to inject, for tests (`FaultInjection`; PHANTOM_FAULT on
        /// the command line); nil: none.
        public var fault: FaultInjection? = nil
        /// Record this boot in the image's boot log and watch for crash
        /// loops (`CrashLoopPolicy`); nil: the boot is not recorded (every
        /// command but `run`, and read-only boots).
        public var crashLoop: CrashLoopPolicy? = nil
        /// Where the boot's warnings go (a crash loop, its rollback).
        public var warn: @Sendable (String) -> Void = { line in _ = writeAll(2, line + "\n") }

        public init(imagePath: String) { self.imagePath = imagePath }
    }

    /// How boots are recorded and crash loops handled (docs/kernel.md, *Crash loops*).
    public struct CrashLoopPolicy: Sendable {
        /// K: this many failed boots in a row from the snapshot a boot would
        /// start from make it start from the newest older one.
        public var failedBoots = 3
        /// False: count and warn, but never roll back (`--no-auto-rollback`).
        public var autoRollback = true
        /// A boot is healthy once it has run this long (ns) and a snapshot
        /// begun after that has committed.
        public var healthyAfter: UInt64 = 10_000_000_000
        /// The most failed boots K may be: the boot log keeps 64 records.
        public static let failedBootsRange = 1...64

        public init() {}
    }

    /// What one snapshot cost.
    public struct SnapshotReport: Sendable {
        public let id: UInt64
        public let pages: Int
        public let bytes: UInt64
        /// The mutator's pause to begin it, ns.
        public let pauseNanos: UInt64
        /// Writing and committing it, ns.
        public let writeNanos: UInt64
    }

    public let options: Options
    public let device: FileBlockDevice
    public let store: Store
    public let space: PersistentSpace
    public let memory: ObjectMemory
    public let vm: VirtualMachine
    /// True if this boot created the image.
    public let created: Bool
    /// The kernel's idle wait: the run loop sleeps on it when no thread can
    /// run, until the next deadline (a snapshot, a tick a thread waits for)
    /// or an event (console input, `requestStop`, a stop signal:
    /// `StopSignal.install(waking: kernel.wakeup)`).
    public let wakeup = PollWakeup()
    /// Called on the mutator thread when a snapshot begins (its instant).
    public var onSnapshotBegin: (() -> Void)? = nil
    let connections: ConnectionClass
    let names: NameSpaceClass
    /// The newest durable snapshot, for the failure records of threads.
    let durable: DurableSnapshot
    /// This boot's record in the boot log (nil: not recorded).
    public private(set) var bootRecord: BootRecord? = nil
    /// When and whether this boot becomes healthy (nil: not recorded).
    private var health: BootHealth? = nil

    /// Boots the image: opens (or creates) it, restores the newest snapshot,
    /// binds the kernel classes.
    public init(_ options: Options) throws {
        self.options = options
        var isNew = false
        var plan: BootPlan? = nil
        do {
            if HostProcess.fileExists(options.imagePath) {
                device = try FileBlockDevice(path: options.imagePath, mode: options.readOnly ? .readOnly : .readWrite)
                var opened = try Store.open(device, readOnly: options.readOnly, verification: .newestSnapshot)
                if let policy = options.crashLoop, !options.readOnly, opened.formatVersion >= 2 {
                    plan = Self.planBoot(&opened, device: device, policy: policy, image: options.imagePath, warn: options.warn)
                }
                store = opened
            } else {
                guard !options.mustExist && !options.readOnly else { throw KernelError("no image at \(options.imagePath) (phantom run creates one)") }
                // Atomic: a failure (a full disk) leaves no half-made image.
                (device, store) = try FileBlockDevice.createAtomically(path: options.imagePath) { device in
                    try Store.create(on: device, logicalSize: options.capacity, keep: options.keep)
                }
                isNew = true
            }
        } catch let error as KernelError {
            throw error
        } catch let error as BlockDeviceError {
            if case .locked = error {
                throw KernelError("\(options.imagePath) is in use by another phantom process (one writer at a time)")
            }
            throw KernelError("\(error)")
        } catch {
            throw KernelError("\(error)")
        }
        created = isNew
        space = try PersistentSpace(store: store, capacity: options.capacity)
        memory = try ObjectMemory(space: space)
        let console = options.console
        vm = try VirtualMachine(memory: memory) { console($0) }
        let durable = DurableSnapshot(store.newestSnapshot?.id ?? 0)
        self.durable = durable
        vm.durableSnapshotID = { durable.id }
        connections = ConnectionClass(share: options.share, console: console, input: options.consoleInput)
        let wakeup = self.wakeup
        options.consoleInput.onInput { wakeup.wake() }
        names = NameSpaceClass()
        try connections.register(in: vm)
        try names.register(in: vm)
        if let policy = options.crashLoop, !options.readOnly, store.formatVersion >= 2 {
            recordBoot(plan ?? BootPlan(stale: [], note: ""), policy: policy)
        }
        if options.fault == .abortAtBoot { FaultInjection.abortProcess("at boot, \(options.imagePath) open, before any instruction") }
        if !options.readOnly { startWriter() }
    }

    // MARK: - The boot log

    /// What the boot log says before this boot is recorded.
    struct BootPlan {
        /// Records still `.running`: boots that died (to mark `.failed`).
        var stale: [BootRecord]
        /// The note for this boot's record.
        var note: String
    }

    /// Reads the boot log, counts the failed boots in a row from the
    /// snapshot this boot would start from, and rolls back one snapshot if
    /// there are K or more (reopening the store on the older one). Writes
    /// nothing else: the records are written once the VM has opened.
    static func planBoot(_ store: inout Store, device: FileBlockDevice, policy: CrashLoopPolicy, image: String,
                         warn: (String) -> Void) -> BootPlan {
        let records = store.bootRecords
        var plan = BootPlan(stale: records.filter { $0.outcome == .running }, note: "")
        let from = store.newestSnapshot?.id ?? 0
        // Newest first; a boot still `.running` died (it is marked failed below).
        var failed = 0
        for record in records.reversed() {
            guard record.snapshot == from, record.outcome != .healthy else { break }
            failed += 1
        }
        guard failed >= policy.failedBoots else { return plan }
        let why = "\(failed) boots from snapshot \(from) failed (none became healthy)"
        guard policy.autoRollback else {
            warn("phantom: warning: \(why); not rolling back (--no-auto-rollback): starting from snapshot \(from) again")
            plan.note = "\(failed) failed boots from snapshot \(from); no rollback (--no-auto-rollback)"
            return plan
        }
        let kept = store.snapshots.map(\.id)
        guard let older = kept.filter({ $0 < from }).max() else {
            warn("phantom: warning: \(why), and \(image) keeps no older snapshot to roll back to: starting from snapshot \(from) as usual")
            plan.note = "\(failed) failed boots from snapshot \(from); no older snapshot kept"
            return plan
        }
        do {
            try store.rollback(to: older)
            // Reopened, so that the older snapshot is checked as the newest.
            store = try Store.open(device, readOnly: false, verification: .newestSnapshot)
        } catch {
            warn("phantom: warning: \(why), but the rollback to snapshot \(older) failed (\(error)): starting from snapshot \(store.newestSnapshot?.id ?? 0)")
            plan.note = "\(failed) failed boots from snapshot \(from); rollback to \(older) failed"
            return plan
        }
        let dropped = kept.filter { $0 > older }.map(String.init).joined(separator: ", ")
        warn("phantom: warning: \(why); starting from snapshot \(older), the newest older one (rolled back: dropped \(dropped)). `phantom snapshots --image \(image)` shows the boots; --no-auto-rollback turns this off")
        plan.note = "rolled back from snapshot \(from) to \(older) after \(failed) failed boots from \(from)"
        return plan
    }

    /// Marks the boots that died `.failed` and records this one (durable
    /// writes, before any instruction). A write that fails is a warning:
    /// the boot goes on without crash-loop detection.
    private func recordBoot(_ plan: BootPlan, policy: CrashLoopPolicy) {
        do {
            for record in plan.stale {
                let why = "did not become healthy"
                try store.setBootOutcome(sequence: record.sequence, .failed, note: record.note.isEmpty ? why : record.note + "; " + why)
            }
            let record = try store.recordBoot(snapshot: store.newestSnapshot?.id ?? 0, note: plan.note)
            bootRecord = record
            health = BootHealth(sequence: record.sequence, healthyAt: HostClock.monotonicNanos() &+ policy.healthyAfter)
        } catch {
            options.warn("phantom: warning: cannot write the boot log of \(options.imagePath) (\(error)); this boot is not recorded")
        }
    }

    /// Called after a snapshot of this boot committed (on the thread that
    /// committed it, so never inside a pause and never beside a commit):
    /// the first one begun after `healthyAfter` makes the boot healthy.
    private func snapshotCommitted(epoch: UInt32) {
        guard let health, health.becomesHealthy(committed: epoch) else { return }
        do { try store.setBootOutcome(sequence: health.sequence, .healthy) } catch {
            options.warn("phantom: warning: cannot write the boot log of \(options.imagePath) (\(error))")
        }
    }

    /// After the final snapshot of `run` (mutator, writer idle): a boot that
    /// ended cleanly is healthy, also before `healthyAfter`: it did not crash.
    private func endedCleanly(elapsedNanos: UInt64) {
        guard let health, let record = bootRecord, health.endsCleanly() else { return }
        var note: String? = nil
        if HostClock.monotonicNanos() < health.healthyAt {
            let ended = "ended cleanly after \(String(format: "%.3f", Double(elapsedNanos) / 1e9)) s, before --healthy-after"
            note = record.note.isEmpty ? ended : record.note + "; " + ended
        }
        do { try store.setBootOutcome(sequence: health.sequence, .healthy, note: note) } catch {
            options.warn("phantom: warning: cannot write the boot log of \(options.imagePath) (\(error))")
        }
    }

    deinit {
        snapshotWriter?.stop()
    }

    // MARK: - Programs

    /// Installs classes, parents before children (`VirtualMachine.install(_:)`).
    public func install(_ files: [ClassFile]) throws {
        do { try vm.install(files) } catch { throw KernelError("\(error)") }
    }

    /// The thread started by `run FILE` for a class, if the image has one.
    public func programThread(className: String) throws -> ObjectRef? {
        let programs = try programsDirectory()
        let thread = vm.directoryValue(programs, key: try vm.makeString(className))
        return thread.isNull ? nil : thread
    }

    /// Classes named `.phantom.start.NAME` start program `NAME`: their
    /// `main(boot)` builds the object with its constructor and calls its
    /// `run(boot)` (made by the command line for compiled programs).
    public static let starterPrefix = StarterClass.prefix

    /// Starts `className.run(boot)` in a new thread (through its starter
    /// class, if it has one) and records it as the class's program thread.
    @discardableResult
    public func start(className: String) throws -> ObjectRef {
        let starter = Self.starterPrefix + className
        let thread = vm.classNamed(starter) != nil
            ? try vm.startThread(className: starter, method: "main")
            : try vm.startThread(className: className)
        try vm.setDirectoryValue(try programsDirectory(), key: try vm.makeString(className), value: thread)
        return thread
    }

    /// Kernel state refs: 0 names root, 1 programs (class name -> thread).
    func programsDirectory() throws -> ObjectRef {
        let state = vm.kernelState
        var programs = memory.reference(state, 1)
        if programs.isNull {
            programs = try vm.makeDirectory()
            memory.setReference(state, 1, programs)
        }
        return programs
    }

    // MARK: - Running

    /// The writer thread (none for a read-only kernel), started at boot so
    /// that no snapshot's pause includes starting it.
    private var snapshotWriter: SnapshotWriter? = nil
    private var writeFailure: MemoryError? { snapshotWriter?.failure }

    /// Runs the threads until `shouldStop` says so, taking a snapshot every
    /// `snapshotInterval`, then takes a final snapshot at the safepoint
    /// where it stopped. `shouldStop` is checked between slices (at least
    /// every 20 ms while threads run) and after every wake-up of the idle
    /// wait: a stop request that should be seen at once while the system is
    /// idle also wakes `wakeup` (`requestStop()` and `StopSignal` do);
    /// any other is seen within `idleCheckNanos`.
    ///
    /// It also stops when no thread can run any more (every thread has
    /// ended, or the rest wait for one another); the result says which.
    @discardableResult
    public func run(shouldStop: () -> Bool) throws -> StopReason {
        let interval = options.snapshotInterval
        // An injected fault: the VM's budget ends where the count is reached.
        var abortAfter: UInt64? = nil
        if case let .abortAfterInstructions(count) = options.fault { abortAfter = count }
        var nextSnapshot = HostClock.monotonicNanos() &+ (interval == 0 ? UInt64.max / 2 : interval)
        var reason = StopReason.requested
        while !shouldStop() && !stopRequested.load(ordering: .acquiring) {
            if StandardOutput.isClosed {
                reason = .outputClosed
                break
            }
            if !vm.hasPotentialWork {
                reason = vm.threads.allSatisfy({ vm.state(of: $0) == .finished || vm.state(of: $0) == .failed }) ? .allEnded : .deadlock
                break
            }
            let now = HostClock.monotonicNanos()
            let until = min(nextSnapshot, now &+ 20_000_000)
            var budget = Int.max
            if let abortAfter { budget = Int(clamping: abortAfter - min(abortAfter, vm.instructionsRun)) }
            vm.run(budget: budget, slice: 10_000, until: until)
            if let abortAfter, vm.instructionsRun >= abortAfter {
                FaultInjection.abortProcess("after \(vm.instructionsRun) instructions")
            }
            if let failure = writeFailure { throw KernelError("snapshot failed: \(failure)") }
            if HostClock.monotonicNanos() >= nextSnapshot {
                beginBackgroundSnapshot()
                nextSnapshot = HostClock.monotonicNanos() &+ interval
            }
            if !vm.hasWork {
                // Nothing can run before an event: sleep until the next
                // snapshot or the next tick a thread waits for, or until
                // console input or a stop request wakes us (no polling).
                let now = HostClock.monotonicNanos()
                var deadline = min(nextSnapshot, now &+ Self.idleCheckNanos)
                if let tick = connections.nextTick(vm) {
                    let late = tick &* 1_000_000 &- HostClock.wallNanos()
                    deadline = min(deadline, now &+ UInt64(max(0, late)))
                }
                wakeup.wait(until: deadline)
            }
        }
        try finalSnapshot()
        if let health { endedCleanly(elapsedNanos: HostClock.monotonicNanos() &- health.startedAt) }
        return reason
    }

    /// The longest idle wait (ns), for a `shouldStop` that nothing wakes.
    public static let idleCheckNanos: UInt64 = 1_000_000_000

    /// Asks `run` to stop as soon as it can (from any thread): its next
    /// check of `shouldStop` is made true, and an idle wait ends at once.
    public func requestStop() {
        stopRequested.store(true, ordering: .releasing)
        wakeup.wake()
    }

    private let stopRequested = Atomic<Bool>(false)

    /// Why `run` returned.
    public enum StopReason: Sendable {
        /// `shouldStop` said so (SIGINT, SIGTERM).
        case requested
        /// Every thread has ended.
        case allEnded
        /// Threads remain, but each waits for another.
        case deadlock
        /// Standard output lost its reader (a closed pipe): the console
        /// cannot be written any more.
        case outputClosed
    }

    /// Begins a snapshot at this safepoint and lets the writer thread write
    /// it; skipped if the previous one is still being written.
    public func beginBackgroundSnapshot() {
        guard !options.readOnly else { return }
        let started = HostClock.monotonicNanos()
        vm.prepareForSnapshot()
        guard let ticket = space.beginSnapshot() else { return }
        let pause = HostClock.monotonicNanos() - started
        if let health, started >= health.healthyAt { health.arm(ticket.epoch) }
        onSnapshotBegin?()
        snapshotWriter?.write(ticket, pauseNanos: pause)
    }

    private func startWriter() {
        let log = options.snapshotLog
        let durable = self.durable
        snapshotWriter = SnapshotWriter(space: space) { [weak self] report in
            // A failure is kept by the writer (`failure`), for the run loop.
            guard case let .success(info) = report.result else { return }
            durable.id = info.id
            self?.snapshotCommitted(epoch: report.ticket.epoch)
            log?(SnapshotReport(id: info.id, pages: Int(info.pagesWritten), bytes: info.bytesWritten,
                                pauseNanos: report.pauseNanos, writeNanos: report.writeNanos))
        }
    }

    /// Waits for a background snapshot, then takes one synchronously.
    public func finalSnapshot() throws {
        guard !options.readOnly else { return }
        snapshotWriter?.waitUntilIdle()
        if let failure = writeFailure { throw KernelError("snapshot failed: \(failure)") }
        let started = HostClock.monotonicNanos()
        vm.prepareForSnapshot()
        onSnapshotBegin?()
        let info = try space.takeSnapshot()
        durable.id = info.id
        // Synchronous: the threads are stopped for the whole write.
        let elapsed = HostClock.monotonicNanos() - started
        options.snapshotLog?(SnapshotReport(id: info.id, pages: Int(info.pagesWritten), bytes: info.bytesWritten,
                                            pauseNanos: elapsed, writeNanos: elapsed))
    }
}

/// The id of the newest durable snapshot (0: none): set at boot, by the
/// writer thread after each commit and after a synchronous snapshot; read
/// by the mutator when a thread fails (its failure record keeps it).
final class DurableSnapshot: @unchecked Sendable {
    private let lock = NSLock()
    private var value: UInt64

    init(_ id: UInt64) { value = id }

    var id: UInt64 {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// Whether this boot has become healthy: armed by the mutator with the
/// first snapshot begun after `healthyAt`, taken by the writer thread when
/// that snapshot (or a later one) commits.
final class BootHealth: @unchecked Sendable {
    let sequence: UInt64
    let startedAt: UInt64
    let healthyAt: UInt64
    private let lock = NSLock()
    private var armedEpoch: UInt32? = nil
    private var done = false

    init(sequence: UInt64, healthyAt: UInt64) {
        self.sequence = sequence
        startedAt = HostClock.monotonicNanos()
        self.healthyAt = healthyAt
    }

    func arm(_ epoch: UInt32) {
        lock.withLock { if armedEpoch == nil { armedEpoch = epoch } }
    }

    /// True once: the snapshot of `epoch` committed, and it is the armed
    /// one or later.
    func becomesHealthy(committed epoch: UInt32) -> Bool {
        lock.withLock {
            guard !done, let armed = armedEpoch, epoch >= armed else { return false }
            done = true
            return true
        }
    }

    /// True if the boot was not healthy yet (it is now).
    func endsCleanly() -> Bool {
        lock.withLock {
            defer { done = true }
            return !done
        }
    }
}
