// Compiles Phantom source, checks every class with the PVM verifier, installs
// the classes in a VM on a simulated disk and runs them, collecting what the
// program prints.

import Testing
import PhantomHost
import PhantomMemory
import PhantomStore
@testable import PhantomCompiler
@testable import PhantomVM

/// A VM on a simulated disk whose console output is collected.
final class CompilerTestMachine {
    let device: FaultyBlockDevice
    let store: Store
    let space: PersistentSpace
    let memory: ObjectMemory
    let vm: VirtualMachine
    var output = ""

    init(device: FaultyBlockDevice? = nil, capacity: UInt64 = 256 << 20) throws {
        let device = device ?? FaultyBlockDevice()
        self.device = device
        if device.size == 0 {
            store = try Store.create(on: device, logicalSize: 1 << 30, keep: 4)
        } else {
            store = try Store.open(device, verification: .newestSnapshot)
        }
        space = try PersistentSpace(store: store, capacity: capacity)
        memory = try ObjectMemory(space: space)
        var sink: ((String) -> Void)? = nil
        vm = try VirtualMachine(memory: memory) { sink?($0) }
        sink = { [unowned self] in self.output += $0 }
    }

    /// Installs compiled classes through the class file format, as the loader sees them.
    func install(_ classes: [ClassFile]) throws {
        for file in classes { try vm.install(ClassFile(decoding: file.encoded())) }
    }

    /// The machine a restart after a power cut would find.
    func restarted() throws -> CompilerTestMachine {
        try CompilerTestMachine(device: device.rebooted(.dropAll))
    }
}

struct CompileFailure: Error, CustomStringConvertible {
    let diagnostics: [Diagnostic]
    var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

/// Compiles and verifies every class (the VM's own verifier, with the parents' field counts).
func compileVerified(_ source: String, file: String = "test.ph", sourceLocation: SourceLocation = #_sourceLocation) throws -> [ClassFile] {
    let result = Compiler.compile(source, file: file)
    guard result.succeeded else { throw CompileFailure(diagnostics: result.diagnostics) }
    var fieldCounts: [String: Int] = [:]
    for cls in result.classes {
        let inherited = cls.parent.isEmpty ? 0 : (fieldCounts[cls.parent] ?? 0)
        fieldCounts[cls.name] = inherited + cls.fields.count
        #expect(throws: Never.self, sourceLocation: sourceLocation) { try Verifier.verify(cls, inheritedFields: inherited) }
    }
    return result.classes
}

extension CompilerTestMachine {
    /// Starts `program.run(boot)` of an installed class as the kernel does:
    /// through its starter class (`StarterClass`), which runs the
    /// constructor first, in the same thread; on a bare instance if it needs none.
    func startProgram(_ program: ClassFile) throws -> ObjectRef {
        guard let starter = StarterClass.classFile(starting: program) else { return try vm.startThread(className: program.name) }
        try install([starter])
        return try vm.startThread(className: starter.name, method: "main")
    }
}

/// Compiles, installs and runs `className.run(boot)`; returns what it printed
/// (and, if the thread failed, the VM's "thread failed" line is part of it).
@discardableResult
func run(_ source: String, className: String? = nil, budget: Int = 200_000_000,
         sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
    let classes = try compileVerified(source, sourceLocation: sourceLocation)
    let machine = try CompilerTestMachine()
    try machine.install(classes)
    let mainName = className ?? classes.last { cls in cls.methods.contains { $0.name == "run" } }?.name ?? ""
    let main = try #require(classes.first { $0.name == mainName }, sourceLocation: sourceLocation)
    // As `new` in Phantom makes it: the constructor and the field initializers run.
    let thread = try machine.startProgram(main)
    machine.vm.run(budget: budget)
    #expect(machine.vm.state(of: thread) != .runnable, "the program did not finish within the budget", sourceLocation: sourceLocation)
    return machine.output
}

/// The errors of a source that must not compile, as "line:column: message".
func errors(_ source: String, file: String = "test.ph") -> [String] {
    Compiler.compile(source, file: file).diagnostics.filter { $0.severity == .error }.map { "\($0.line):\($0.column): \($0.message)" }
}

/// Wraps statements in a class whose run(boot) executes them.
func program(_ body: String, members: String = "") -> String {
    """
    class test {
    \(members)
        void run(var boot : .internal.boot) {
    \(body)
        }
    };
    """
}
