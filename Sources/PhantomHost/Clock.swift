// The clock and the timer of the host, as the kernel sees them: time to
// read (`Clock`) and a way to sleep until a deadline that an event cuts
// short (`Wakeup`). A test host replaces both (PhantomHostTesting's
// `ManualClock`), so that time is simulated, not waited for.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic and wall-clock time.
public protocol Clock: Sendable {
    /// Monotonic time in ns (for durations and deadlines; not comparable
    /// across boots).
    func monotonicNanos() -> UInt64
    /// Wall-clock time in ns since the Unix epoch.
    func wallNanos() -> Int64
}

/// The host's clocks (`HostClock`).
public struct SystemClock: Clock {
    public init() {}
    public func monotonicNanos() -> UInt64 { HostClock.monotonicNanos() }
    public func wallNanos() -> Int64 { HostClock.wallNanos() }
}

/// A timer that wakes a waiter: `wait(until:)` returns at its deadline or
/// as soon as `wake()` is called (by another thread, or a signal handler),
/// whichever comes first. A `wake()` while nobody waits makes the next
/// `wait` return at once: no wake-up is lost between a check and a wait.
public protocol Wakeup: AnyObject, Sendable {
    /// Sleeps until `deadline` (monotonic ns of the host's clock) or a
    /// `wake()`; true if woken.
    @discardableResult
    func wait(until deadline: UInt64) -> Bool
    /// Ends the current or the next `wait`. Async-signal-safe in the POSIX
    /// implementation.
    func wake()
}

/// `Wakeup` over a pipe and poll(2): `wake()` writes a byte (which a signal
/// handler may do), `wait` polls the reading end with the time left to
/// the deadline, then drains it.
public final class PollWakeup: Wakeup, @unchecked Sendable {
    /// The pipe's reading and writing ends.
    private let reader: Int32
    /// The writing end (also for `StopSignal`, whose handler writes to it).
    public let writer: Int32

    public init() {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { fatalError("cannot make the wake-up pipe (errno \(errno))") }
        reader = ends[0]
        writer = ends[1]
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
    }

    deinit {
        close(reader)
        close(writer)
    }

    @discardableResult
    public func wait(until deadline: UInt64) -> Bool {
        while true {
            let now = HostClock.monotonicNanos()
            if drain() { return true }
            guard deadline > now else { return false }
            // Rounded up: a wait never ends before its deadline.
            let millis = Int32(clamping: (deadline - now + 999_999) / 1_000_000)
            var entry = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, millis)
            if ready > 0 { _ = drain(); return true }
            if ready < 0 && errno != EINTR { return false }
            if HostClock.monotonicNanos() >= deadline { return false }
        }
    }

    public func wake() {
        var byte: UInt8 = 1
        _ = write(writer, &byte, 1)  // a full pipe is already a pending wake-up
    }

    /// Empties the pipe; true if it held a wake-up.
    private func drain() -> Bool {
        var bytes = (UInt64(0), UInt64(0))
        var woken = false
        while withUnsafeMutableBytes(of: &bytes, { read(reader, $0.baseAddress!, $0.count) }) > 0 { woken = true }
        return woken
    }
}
