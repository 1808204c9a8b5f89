import PhantomHost
import PhantomMemory
import PhantomStore
@testable import PhantomVM

/// A VM on a simulated disk, whose console output is collected.
final class TestMachine {
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

    /// Assembles and installs classes.
    func install(_ source: String) throws {
        for file in try Assembler.assemble(source, file: "test.pa") {
            // Through the class file format, as the loader sees it.
            try vm.install(ClassFile(decoding: file.encoded()))
        }
    }

    /// The machine a restart after a power cut would find.
    func restarted() throws -> TestMachine {
        try TestMachine(device: device.rebooted(.dropAll))
    }
}

/// Runs `source`'s class `name` to the end; returns the console output.
func runProgram(_ source: String, className: String, budget: Int = 50_000_000) throws -> (output: String, machine: TestMachine, thread: ObjectRef) {
    let machine = try TestMachine()
    try machine.install(source)
    let thread = try machine.vm.startThread(className: className)
    machine.vm.run(budget: budget)
    return (machine.output, machine, thread)
}
