// The snapshot writer: one thread, started once, that writes the snapshots
// the mutator begins at its safepoints. Handing a snapshot over costs the
// mutator a mutex and a condition signal: no allocation and no thread
// creation inside the pause (a dispatch queue's `async` allocated a work
// item and, after its worker thread had timed out while idle, made a new
// one: the pause's tail, docs/benchmarks.md).

import PhantomHost
import PhantomStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    private var lock = pthread_mutex_t()
    private var wake = pthread_cond_t()
    /// Handed over, not yet taken by the thread (with its pause).
    private var pending: (ticket: SnapshotTicket, pauseNanos: UInt64)? = nil
    /// The thread is writing one (or reporting it).
    private var writing = false
    private var firstFailure: MemoryError? = nil
    private var stopping = false
    private var thread: pthread_t? = nil

    /// Starts the writer thread for `space`; `done` runs on it after each
    /// snapshot.
    public init(space: PersistentSpace, done: @escaping @Sendable (Report) -> Void) {
        self.space = space
        self.done = done
        pthread_mutex_init(&lock, nil)
        pthread_cond_init(&wake, nil)
        let box = Unmanaged.passRetained(self)
        var created = pthread_t()
        let status = pthread_create(&created, nil, { context in
            let writer = Unmanaged<SnapshotWriter>.fromOpaque(context!).takeRetainedValue()
            writer.loop()
            return nil
        }, box.toOpaque())
        guard status == 0 else {
            box.release()
            fatalError("cannot start the snapshot writer thread (error \(status))")
        }
        thread = created
    }

    deinit {
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&lock)
    }

    /// Hands a snapshot begun at a safepoint to the writer. Mutator thread.
    /// `beginSnapshot` refuses while one is being written, so at most one
    /// waits here (while the thread reports the previous one).
    public func write(_ ticket: SnapshotTicket, pauseNanos: UInt64 = 0) {
        pthread_mutex_lock(&lock)
        precondition(pending == nil, "a snapshot is already waiting for the writer")
        pending = (ticket, pauseNanos)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&lock)
    }

    /// The first snapshot that failed to be written, if any (its pages stay
    /// owed to the next one). Any thread.
    public var failure: MemoryError? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return firstFailure
    }

    /// Waits until the writer has nothing to write.
    public func waitUntilIdle() {
        pthread_mutex_lock(&lock)
        while pending != nil || writing { pthread_cond_wait(&wake, &lock) }
        pthread_mutex_unlock(&lock)
    }

    /// Finishes the snapshot in hand, if any, and ends the thread.
    public func stop() {
        pthread_mutex_lock(&lock)
        stopping = true
        pthread_cond_broadcast(&wake)
        let running = thread
        thread = nil
        pthread_mutex_unlock(&lock)
        if let running { pthread_join(running, nil) }
    }

    private func loop() {
        pthread_mutex_lock(&lock)
        while true {
            while pending == nil && !stopping { pthread_cond_wait(&wake, &lock) }
            guard let (ticket, pause) = pending else { break }
            pending = nil
            writing = true
            pthread_mutex_unlock(&lock)
            let start = HostClock.monotonicNanos()
            let result: Result<SnapshotInfo, MemoryError>
            do { result = .success(try space.writeSnapshot(ticket)) } catch { result = .failure(error) }
            done(Report(ticket: ticket, pauseNanos: pause, result: result, writeNanos: HostClock.monotonicNanos() - start))
            pthread_mutex_lock(&lock)
            if case let .failure(error) = result, firstFailure == nil { firstFailure = error }
            writing = false
            pthread_cond_broadcast(&wake)
        }
        pthread_mutex_unlock(&lock)
    }

}
