// The process's standard output, as the console connection writes it.
//
// A reader that goes away (`phantom run | head -1`) must not kill the
// system: SIGPIPE is ignored (`ignoreBrokenPipe`), a write that fails with
// EPIPE marks the output closed, and the kernel's run loop then stops with
// a final snapshot (`Kernel.StopReason.outputClosed`), as for SIGTERM.

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard output, written with `write(2)` so that a closed pipe is an
/// answer, not a signal.
public enum StandardOutput {
    private static let closed = Atomic<Bool>(false)

    /// True once a write found no reader (EPIPE) or another lasting error.
    public static var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Makes a write to a pipe without a reader fail with EPIPE instead of
    /// ending the process. Call once, before the first write.
    public static func ignoreBrokenPipe() { signal(SIGPIPE, SIG_IGN) }

    /// Writes all of `text`; false (and `isClosed` from then on) if the
    /// output is gone. Nothing is written once it is closed.
    @discardableResult
    public static func write(_ text: String) -> Bool {
        if isClosed { return false }
        guard writeAll(1, text) == nil else {
            closed.store(true, ordering: .releasing)
            return false
        }
        return true
    }
}
