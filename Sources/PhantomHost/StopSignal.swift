// Stop requests from the host: SIGINT and SIGTERM ask the system to stop
// (the kernel then takes a final snapshot), and SIGPIPE is ignored so that
// a vanished reader of standard output is an answer (EPIPE), not death.

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// SIGINT/SIGTERM as a stop request.
public enum StopSignal {
    /// Set by the handler; read by the run loop.
    private static let requested = Atomic<Bool>(false)
    /// The writing end of a `PollWakeup` the handler pokes (-1: none).
    private static let wakeDescriptor = Atomic<Int32>(-1)

    /// True once SIGINT or SIGTERM arrived (or `request()` was called).
    public static var isRequested: Bool { requested.load(ordering: .acquiring) }

    /// Asks for a stop as the signals do (for tools and tests).
    public static func request() { handle(0) }

    /// Installs the handlers for SIGINT and SIGTERM and unblocks them; each
    /// stop request also wakes `wakeup` (the kernel's idle wait), so that
    /// a stop is seen at once, not at the next timer.
    public static func install(waking wakeup: PollWakeup? = nil) {
        if let wakeup { wakeDescriptor.store(wakeup.writer, ordering: .releasing) }
        let handler: @convention(c) (Int32) -> Void = { signal in StopSignal.handle(signal) }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        // A parent may have started us with these signals blocked (the mask is
        // inherited): unblock them, or a stop request would never arrive.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Makes a write to a pipe without a reader fail with EPIPE instead of
    /// ending the process (`StandardOutput.ignoreBrokenPipe`).
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// The handler: async-signal-safe (an atomic store and a write(2)).
    private static func handle(_ signal: Int32) {
        requested.store(true, ordering: .releasing)
        let descriptor = wakeDescriptor.load(ordering: .acquiring)
        if descriptor >= 0 {
            var byte: UInt8 = 1
            _ = write(descriptor, &byte, 1)
        }
    }
}
