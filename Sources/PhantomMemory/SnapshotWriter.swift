// The snapshot writer: one thread, started once, that writes the snapshots
// the mutator begins at its safepoints. Handing a snapshot over costs the
// mutator a mutex and a condition signal: no allocation and no thread
// creation inside the pause (a dispatch queue's `async` allocated a work
// item and, after its worker thread had timed out while idle, made a new
// one: the pause's tail, docs/benchmarks.md).

import PhantomHost
import PhantomStore

/// Call `stop()` when done with it: the thread holds the writer until then.
public final class SnapshotWriter: @unchecked Sendable {
    /// What a written snapshot reports (on the writer thread).
    public struct Report: Sendable {
        public let ticket: SnapshotTicket
        /// The mutator's pause to begin it, as handed over with it, ns.
        public let pauseNanos: UInt64
        /// The snapshot, or why it failed (its pages stay owed to the next).
        public let result: Result<SnapshotInfo, MemoryError>
        /// Time the write took, ns.
        public let writeNanos: UInt64
    }

    private let space: PersistentSpace
    private let done: @Sendable (Report) -> Void
    /// Guards the state below; its condition is signalled on every change.
    private let lock = ConditionLock()
    /// Handed over, not yet taken by the thread (with its pause).
    private var pending: (ticket: SnapshotTicket, pauseNanos: UInt64)? = nil
    /// The thread is writing one (or reporting it).
    private var writing = false
    private var firstFailure: MemoryError? = nil
    private var stopping = false
    private var thread: HostThread? = nil

    /// Starts the writer thread for `space`; `done` runs on it after each
    /// snapshot.
    public init(space: PersistentSpace, done: @escaping @Sendable (Report) -> Void) {
        self.space = space
        self.done = done
        // The thread holds the writer until `stop()`.
        thread = HostThread("snapshot writer") { [self] in loop() }
    }

    /// Hands a snapshot begun at a safepoint to the writer. Mutator thread.
    /// `beginSnapshot` refuses while one is being written, so at most one
    /// waits here (while the thread reports the previous one).
    public func write(_ ticket: SnapshotTicket, pauseNanos: UInt64 = 0) {
        lock.withLock {
            precondition(pending == nil, "a snapshot is already waiting for the writer")
            pending = (ticket, pauseNanos)
            lock.broadcast()
        }
    }

    /// The first snapshot that failed to be written, if any (its pages stay
    /// owed to the next one). Any thread.
    public var failure: MemoryError? {
        lock.withLock { firstFailure }
    }

    /// Waits until the writer has nothing to write.
    public func waitUntilIdle() {
        lock.withLock {
            while pending != nil || writing { lock.wait() }
        }
    }

    /// Finishes the snapshot in hand, if any, and ends the thread.
    public func stop() {
        let running = lock.withLock { () -> HostThread? in
            stopping = true
            lock.broadcast()
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    private func loop() {
        lock.lock()
        while true {
            while pending == nil && !stopping { lock.wait() }
            guard let (ticket, pause) = pending else { break }
            pending = nil
            writing = true
            lock.unlock()
            let start = HostClock.monotonicNanos()
            let result: Result<SnapshotInfo, MemoryError>
            do { result = .success(try space.writeSnapshot(ticket)) } catch { result = .failure(error) }
            done(Report(ticket: ticket, pauseNanos: pause, result: result, writeNanos: HostClock.monotonicNanos() - start))
            lock.lock()
            if case let .failure(error) = result, firstFailure == nil { firstFailure = error }
            writing = false
            lock.broadcast()
        }
        lock.unlock()
    }

}
