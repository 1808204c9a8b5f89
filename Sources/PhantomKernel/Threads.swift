// What `phantom ps` shows of the persistent threads, and small kernel
// services for the command line (names, thread numbers).

import PhantomMemory
import PhantomVM

extension Kernel {
    /// One line of `phantom ps`.
    public struct ThreadReport: Sendable {
        /// 1-based position in the world's thread list (stable: threads are never removed).
        public let id: Int
        public let className: String
        public let method: String
        /// runnable, finished, failed, blocked or sleeping.
        public let state: String
        /// What a blocked or sleeping thread waits for.
        public let waitingOn: String?
        public let instructions: UInt64
        /// Why and where a failed thread failed (nil for the others, and
        /// for a failed thread without a failure record).
        public let failure: ThreadFailure?
    }

    public func threadReports() -> [ThreadReport] {
        let threads = vm.threads
        return threads.enumerated().map { index, thread in
            var entry = vm.entryPoint(of: thread)
            if entry.className.hasPrefix(Self.starterPrefix) {
                entry = (String(entry.className.dropFirst(Self.starterPrefix.count)), "run")
            }
            let state = vm.state(of: thread)
            var waiting: String? = nil
            switch state {
            case .blocked: waiting = describeAwaited(vm.awaited(by: thread), threads: threads)
            case .sleeping:
                let now = vm.systemNanos
                let wake = vm.wakeTime(of: thread)
                waiting = "time: wakes in \(wake > now ? (wake - now) / 1_000_000 : 0) ms"
            default: break
            }
            let name: String
            switch state {
            case .runnable: name = "runnable"
            case .finished: name = "finished"
            case .failed: name = "failed"
            case .blocked: name = "blocked"
            case .sleeping: name = "sleeping"
            }
            return ThreadReport(id: index + 1, className: entry.className, method: entry.method, state: name,
                                waitingOn: waiting, instructions: vm.instructions(of: thread),
                                failure: state == .failed ? vm.failure(of: thread) : nil)
        }
    }

    func describeAwaited(_ awaited: ObjectRef, threads: [ObjectRef]) -> String {
        if awaited.isNull { return "a signal (about to run)" }
        if let index = threads.firstIndex(of: awaited) { return "thread \(index + 1) to end" }
        let cls = vm.className(vm.classOfValue(awaited))
        switch cls {
        case ".internal.mutex": return "mutex \(awaited)"
        case ".internal.cond": return "condition \(awaited)"
        case ".internal.connection": return "connection \(vm.text(of: memory.reference(awaited, 0)) ?? "?")"
        default: return "\(cls) \(awaited)"
        }
    }

    /// The number `phantom ps` gives a thread.
    public func threadNumber(_ thread: ObjectRef) -> Int { (vm.threads.firstIndex(of: thread) ?? -1) + 1 }

    /// Binds an array of strings at `path` in the name space.
    public func bind(path: String, strings: [String]) throws {
        guard let parts = NameSpaceClass.components(path), let last = parts.last else { throw KernelError("bad path \(path)") }
        let directory: ObjectRef
        switch try NameSpaceClass.makeDirectories(vm, parts.dropLast()) {
        case .success(let made): directory = made
        case .failure(let blocked): throw KernelError("\(blocked.part) in \(path) is not a directory")
        }
        let values = try strings.map { text throws(VMError) in try vm.makeString(text) }
        try vm.setDirectoryValue(directory, key: try vm.makeString(last), value: try vm.makeArray(values))
    }

    /// The object a name-space path names, if any.
    public func lookup(path: String) throws -> ObjectRef? {
        guard let parts = NameSpaceClass.components(path) else { return nil }
        return try NameSpaceClass.find(vm, parts)?.found
    }
}
