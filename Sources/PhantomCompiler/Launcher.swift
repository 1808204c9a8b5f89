// Starting a compiled program. The VM's `new` calls no constructor, and a
// thread started by class name runs on a bare instance; a program whose main
// class has a constructor (or field initializers) needs its constructor run
// first. The launcher is a small generated class whose `make` method builds
// an instance the way `new C()` in Phantom code does; the host runs it, takes
// the instance from the thread's result and starts `run(boot)` on it (and
// any other threads on the same object).

import PhantomMemory
import PhantomVM

/// Builds instances of compiled classes from the host side.
public enum Launcher {
    /// The launcher class's name (replaced at every install).
    public static let className = ".phantom.launcher"

    /// A class whose method `make` (no arguments) returns a new, constructed instance of `cls`.
    public static func classFile(constructing cls: ClassFile) -> ClassFile {
        var emitter = Emitter()
        emitter.summon(className: cls.name)
        emitter.op(.new)
        if let constructor = cls.methods.first(where: { $0.name == "<init>" && $0.arguments == 0 }) {
            emitter.call(constructor.ordinal, arguments: 0)
        }
        emitter.op(.ret)
        let (code, _) = emitter.finish(prologue: [], counterSlot: 0)
        let make = MethodFile(name: "make", ordinal: 8, arguments: 0, maxObjectStack: 1, maxIntegerStack: 0, code: code)
        return ClassFile(name: className, methods: [make])
    }

    /// Why an instance could not be made.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Makes a constructed instance of the installed class `cls` (its
    /// constructor runs in a thread of its own, to its end).
    public static func instantiate(_ cls: ClassFile, in vm: VirtualMachine, budget: Int = 100_000_000) throws -> ObjectRef {
        _ = try vm.install(classFile(constructing: cls))
        let thread = try vm.startThread(className: className, method: "make")
        var remaining = budget
        while vm.state(of: thread) == .runnable && remaining > 0 {
            let ran = vm.run(budget: min(remaining, 1_000_000))
            if ran == 0 { break }
            remaining -= ran
        }
        switch vm.state(of: thread) {
        case .finished:
            return vm.result(of: thread)
        case .failed:
            throw Failure(description: "the constructor of \(cls.name) failed: \(vm.describe(vm.result(of: thread)))")
        default:
            throw Failure(description: "the constructor of \(cls.name) did not finish")
        }
    }
}
