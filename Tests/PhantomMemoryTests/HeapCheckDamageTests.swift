import Testing
@testable import PhantomMemory

/// The heap check reads damaged images (`phantom image verify`, after a
/// crash): whatever the headers say, it reports problems and never reads
/// outside the space or traps. Found by the image fuzz target (docs/fuzzing.md).
@Suite struct HeapCheckDamageTests {
    @Test func anOversizedObjectHeaderIsAProblemNotAReadPastTheSpace() throws {
        let heap = try Heap.create()
        let memory = heap.memory
        let object = try memory.allocate(class: .null, references: 1, bytes: 8)
        memory.root = object
        #expect(memory.checkHeap().isEmpty)
        // Size and reference count far past its 32-byte cell (and the space).
        memory.store32(0xFFFF_FFF0, at: object.raw + 8)
        memory.store32(0x1FFF_FFF0, at: object.raw + 12)
        let problems = memory.checkHeap()
        #expect(problems.contains { $0.contains("object at \(object.raw): size 4294967280") }, "\(problems)")
    }

    @Test func aChunkSizeThatOverflowsIsAProblemNotATrap() throws {
        let heap = try Heap.create()
        let memory = heap.memory
        _ = try memory.allocate(class: .null, references: 0, bytes: 8)
        #expect(memory.checkHeap().isEmpty)
        // The first chunk (at 4096) claims whole pages up to the top of UInt64.
        memory.store64(UInt64.max & ~4095, at: 4096 + 8)
        let problems = memory.checkHeap()
        #expect(problems.contains { $0.contains("chunk at 4096: size \(UInt64.max & ~4095) is not whole pages") }, "\(problems)")
    }
}
