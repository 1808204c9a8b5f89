// What a call of an internal or kernel method does to the calling thread:
// one type for every outcome, so that waiting and sleeping are not errors.

import PhantomMemory

/// The outcome of a method implemented in Swift (by the VM's internal
/// classes, or by a kernel class's handler).
public enum CallOutcome {
    /// The call returns this value.
    case value(ObjectRef)
    /// The call raises a guest exception with this message.
    case raise(String)
    /// The thread blocks until `on` is ready (a thread has ended, a mutex is
    /// free, a kernel handler's `isReady(awaited:thread:)` says so); then the
    /// call instruction runs again (so a wait survives a restart).
    case wait(on: ObjectRef)
    /// The thread sleeps until this system time (ns), then the call runs again.
    case sleep(until: UInt64)
    /// An allocation failed: the call runs again after a full collection,
    /// and raises this message if it fails again.
    case outOfMemory(String)
    /// The call has more work. The slice ends with the thread runnable, and
    /// the call instruction runs again at its next turn, going on where it
    /// stopped (its progress is in the thread object), so a safepoint comes
    /// between the pieces of a long operation.
    case again
}

/// The kernel's older name for `CallOutcome`, kept while the kernel's
/// drivers (PhantomKernel) move to the new name; then it goes.
public typealias KernelCallResult = CallOutcome

extension CallOutcome {
    /// `raise(message)` under the kernel's older name (see `KernelCallResult`).
    public static func error(_ message: String) -> CallOutcome { .raise(message) }
}
