import Testing
import PhantomMemory
@testable import PhantomVM

@Suite struct DirectoryTests {
    @Test func directoryMatchesADictionaryUnderRandomOperationsAndSurvivesACrash() throws {
        let machine = try TestMachine()
        let vm = machine.vm
        let directory = try vm.instantiate(vm.directoryClass)
        let holder = try vm.allocate(.null, references: 1, bytes: 0)
        var model: [String: Int32] = [:]
        var generator = SystemRandomNumberGenerator()
        func call(_ ordinal: Int, _ arguments: [ObjectRef]) throws -> ObjectRef {
            try vm.callInternal(directory, cls: vm.directoryClass, ordinal: ordinal, arguments: arguments).returned()
        }
        for step in 0..<5000 {
            let name = "key\(Int.random(in: 0..<700, using: &generator))"
            let key = try vm.newString(name)
            switch Int.random(in: 0..<3, using: &generator) {
            case 0, 1:
                let value = Int32(step)
                let previous = try call(8, [key, VirtualMachine.box(value)])
                #expect(previous == (model[name].map(VirtualMachine.box) ?? .null))
                model[name] = value
            default:
                let removed = try call(10, [key])
                #expect(removed == (model[name].map(VirtualMachine.box) ?? .null))
                model[name] = nil
            }
        }
        #expect(try call(11, []) == VirtualMachine.box(Int32(model.count)))
        for (name, value) in model {
            #expect(try call(9, [try vm.newString(name)]) == VirtualMachine.box(value), "\(name)")
        }
        #expect(try call(9, [try vm.newString("absent")]) == .null)
        let keys = try call(13, [])
        #expect(vm.guestArrayCount(keys) == model.count)
        // Integer keys and identity keys.
        #expect(try call(8, [VirtualMachine.box(42), VirtualMachine.box(1)]) == .null)
        #expect(try call(12, [VirtualMachine.box(42)]) == VirtualMachine.box(1))
        #expect(try call(12, [holder]) == VirtualMachine.box(0))

    }

    @Test func directoryAndStringBuilderThroughBytecode() throws {
        let program = """
        class dict
        field d
        method run 1
            summon_by_name ".internal.directory"
            new
            os_save 0
            sconst "key"
            sconst "value"
            os_load 0
            call 8 2            ; d.put("key", "value"): arguments in order, receiver on top
            os_drop
            sconst "key"
            os_load 0
            call 9 1            ; d.get("key")
            os_get 0
            call 16 1
            os_drop
            summon_by_name ".internal.string_builder"
            new
            sconst "a"
            os_get 1
            call 8 1            ; append "a" (returns the builder)
            os_drop
            iconst 42
            i2o
            os_get 1
            call 8 1            ; append 42
            os_drop
            os_get 1
            call 9 0            ; toString
            os_get 0
            call 16 1
            os_drop
            os_drop
            ret
        end
        """
        let (output, machine, thread) = try runProgram(program, className: "dict")
        #expect(output == "valuea42")
        // The directory persists: the finished thread's frame keeps its `this`.
        try machine.space.takeSnapshot()
        let after = try machine.restarted()
        let instance = after.memory.reference(after.memory.reference(after.vm.threads[0], 0), 2)
        let directory = after.memory.reference(instance, 0)
        let key = try after.vm.newString("key")
        let value = try after.vm.callInternal(directory, cls: after.vm.directoryClass, ordinal: 9, arguments: [key]).returned()
        #expect(after.vm.describe(value) == "value")
        _ = thread
    }
}

/// An outcome other than a value, where the test wants one.
private struct UnexpectedOutcome: Error { let outcome: String }

private extension CallOutcome {
    /// The value returned; throws for any other outcome.
    func returned() throws -> ObjectRef {
        guard case let .value(value) = self else { throw UnexpectedOutcome(outcome: "\(self)") }
        return value
    }
}
