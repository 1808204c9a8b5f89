// Locks for the layers above the host: a plain mutual exclusion over
// `Synchronization.Mutex`, and a lock with a condition (the snapshot
// writer's hand-over), so that no file outside PhantomHost calls pthread.

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutual-exclusion lock (over `Synchronization.Mutex`): hold it only
/// for short, non-blocking work.
public final class Lock: @unchecked Sendable {
    private let mutex = Mutex(())

    public init() {}

    /// Runs `body` with the lock held.
    @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
    }
}

/// A lock with one condition to wait on, for a hand-over between threads
/// (a producer sets state and calls `broadcast`, a consumer `wait`s for it).
/// Unlike `Lock`, it is taken and released explicitly, since a `wait`
/// releases it while it sleeps.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Takes the lock.
    public func lock() { pthread_mutex_lock(mutex) }
    /// Releases the lock.
    public func unlock() { pthread_mutex_unlock(mutex) }
    /// Runs `body` with the lock held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
    /// Releases the lock, sleeps until a `broadcast`, takes it again. The
    /// caller holds the lock and checks its condition in a loop (a wake-up
    /// may be spurious).
    public func wait() { pthread_cond_wait(condition, mutex) }
    /// Wakes every thread in `wait`. Call with the lock held.
    public func broadcast() { pthread_cond_broadcast(condition) }
}
