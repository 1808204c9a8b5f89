import Testing
import PhantomMemory
@testable import PhantomVM

/// Loading the world of a damaged image (found by the image fuzz target,
/// docs/fuzzing.md): a clear error or a loaded world, never a trap.
@Suite struct DamagedWorldTests {
    @Test func aClassTableCountPast2To63IsADamagedTable() throws {
        let machine = try TestMachine()
        let table = machine.memory.reference(machine.memory.root, 0)
        machine.memory.setWord(table, at: 0, UInt64.max)
        let error = #expect(throws: VMError.self) { try VirtualMachine(memory: machine.memory) { _ in } }
        #expect("\(error.map { "\($0)" } ?? "")".contains("the class table is damaged"))
    }

    @Test func aClassNameWithoutALengthWordReadsAsEmpty() throws {
        let machine = try TestMachine()
        let memory = machine.memory
        let table = memory.reference(memory.root, 0)
        let cls = memory.reference(table, 0)
        memory.setReference(cls, 0, try memory.allocate(class: .null, references: 0, bytes: 0))
        let again = try VirtualMachine(memory: memory) { _ in }
        #expect(again.string(memory.reference(cls, 0)) == "")
    }

    @Test func aStringLengthPast2To63IsCutAtTheObject() throws {
        let machine = try TestMachine()
        let text = try machine.vm.makeString("abc")
        machine.memory.setWord(text, at: 0, UInt64.max)
        #expect(machine.vm.string(text).hasPrefix("abc"))
    }
}
