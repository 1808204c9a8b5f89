// The console of the host, as the `con:` driver uses it: output, lines of
// input, and "the terminal is gone" (a closed output, the end of input).
// The POSIX console is the process's standard output and input; a test
// console (PhantomHostTesting's `MemoryConsole`) keeps both in memory.

import Synchronization

/// What a read of the console's input found.
public enum ConsoleLine: Sendable, Equatable {
    /// A line, without its newline.
    case line(String)
    /// The input has ended (and every line was taken).
    case end
    /// Nothing yet: a line may come.
    case none
}

/// A console: output, line input, and whether the terminal is gone.
public protocol Console: AnyObject, Sendable {
    /// Writes all of `text`; false once the output is gone (nothing is
    /// written then).
    @discardableResult
    func write(_ text: String) -> Bool
    /// True once the output is gone (a reader that went away).
    var isClosed: Bool { get }
    /// The next line of input, `.end` once input has ended, or `.none`.
    func takeLine() -> ConsoleLine
    /// True if `takeLine` would not return `.none`.
    var hasInput: Bool { get }
    /// Calls `wake` (on any thread) whenever input arrives or ends, so that
    /// a waiter need not poll.
    func onInput(_ wake: @escaping @Sendable () -> Void)
}

/// The process's standard output (`StandardOutput`) and input, read line
/// by line by a host thread started on the first read.
public final class TerminalConsole: Console, @unchecked Sendable {
    private let lock = Lock()
    private var lines: [String] = []
    private var ended = false
    private var started = false
    private var wakers: [@Sendable () -> Void] = []

    public init() {}

    @discardableResult
    public func write(_ text: String) -> Bool { StandardOutput.write(text) }

    public var isClosed: Bool { StandardOutput.isClosed }

    public var hasInput: Bool { lock.withLock { !lines.isEmpty || ended } }

    public func onInput(_ wake: @escaping @Sendable () -> Void) { lock.withLock { wakers.append(wake) } }

    public func takeLine() -> ConsoleLine {
        startIfNeeded()
        return lock.withLock {
            if !lines.isEmpty { return .line(lines.removeFirst()) }
            return ended ? .end : .none
        }
    }

    private func startIfNeeded() {
        let start = lock.withLock { () -> Bool in
            if started { return false }
            started = true
            return true
        }
        guard start else { return }
        // Never joined: it ends with the input, or with the process.
        _ = HostThread("console input") { [self] in
            while let line = readLine(strippingNewline: true) {
                let wake = lock.withLock { lines.append(line); return wakers }
                for waker in wake { waker() }
            }
            let wake = lock.withLock { ended = true; return wakers }
            for waker in wake { waker() }
        }
    }
}
