// Threads of the host: the layers above start their few long-lived threads
// (the snapshot writer, the console reader) here.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A host thread running one closure; `join` waits for it to end.
public final class HostThread: @unchecked Sendable {
    private var handle: pthread_t? = nil

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a thread running `body`. A thread that cannot start is a
    /// fatal error: the system cannot run without its threads.
    public init(_ what: String, _ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body))
        var created = pthread_t()
        #if canImport(Glibc)
        let status = pthread_create(&created, nil, { context in
            Unmanaged<Box>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        #else
        let status = pthread_create(&created, nil, { context in
            Unmanaged<Box>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, box.toOpaque())
        #endif
        guard status == 0 else {
            box.release()
            fatalError("cannot start the \(what) thread (error \(status))")
        }
        handle = created
    }

    /// Waits for the thread to end (once; later calls return at once).
    public func join() {
        guard let running = handle else { return }
        handle = nil
        pthread_join(running, nil)
    }

    /// Lets other threads run (a spin wait's pause).
    @inline(__always)
    public static func yield() { sched_yield() }
}
