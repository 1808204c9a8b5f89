// Launching a program: what `phantom run FILE` asks of the kernel. The
// command reads and compiles the file; the kernel chooses the program class,
// adds its starter class (`StarterClass`) and decides whether the program
// resumes (its thread still lives in the image) or starts anew
// (docs/kernel.md, *The programs directory*).

import PhantomMemory
import PhantomVM

extension Kernel {
    /// The classes of one program file, and the class whose `run` it starts.
    public struct Program: Sendable {
        /// The file's classes plus their starters.
        public let classes: [ClassFile]
        /// The program class: the last class of the file with a `run` method.
        public let className: String

        /// A program of `classes`, read from `file` (named in errors).
        public init(classes: [ClassFile], file: String) throws(KernelError) {
            guard let main = classes.last(where: { $0.methods.contains { $0.name == "run" } }) else {
                throw KernelError("\(file): no class has a run method")
            }
            self.classes = StarterClass.adding(to: classes)
            self.className = main.name
        }
    }

    /// What `launch` did.
    public enum Launch: Equatable, Sendable {
        /// The program was installed and started in this new thread, and a
        /// snapshot holding it is durable.
        case started(ObjectRef)
        /// The program's thread still lives in the image: nothing was
        /// installed, and the thread goes on where it was.
        case resumed(ObjectRef)
    }

    /// Starts `program`, unless the image has a live thread started from its
    /// class: then that thread resumes. A program whose thread has ended
    /// (finished or failed), or that was never started, is installed
    /// (replacing installed classes of the same names) and started anew;
    /// it is durable before its first instruction, so that a kill at any
    /// moment after this keeps it (finding F1).
    @discardableResult
    public func launch(_ program: Program) throws -> Launch {
        if let existing = try programThread(className: program.className),
           vm.state(of: existing) != .finished, vm.state(of: existing) != .failed {
            return .resumed(existing)
        }
        try install(program.classes)
        let thread = try start(className: program.className)
        try finalSnapshot()
        return .started(thread)
    }
}
