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

    /// A damaged allocator word (a free list head, a bump pointer, the
    /// first free run) is refused when the memory is opened: the
    /// next allocation would follow it outside the heap (found with a null
    /// root, where the VM then builds a world on the damaged heap).
    static let damage: [(offset: UInt64, value: UInt64)] = [(64, 0xdead_beef_0000), (64 + 8, 12345), (64 + 16, 1 << 40), (56, 4096 + 7)]

    @Test(arguments: damage)
    func aDamagedAllocatorWordIsRefusedAtOpen(offset: UInt64, value: UInt64) throws {
        let heap = try Heap.create()
        _ = try heap.memory.allocate(class: .null, references: 0, bytes: 8)
        heap.memory.store64(value, at: offset)
        #expect(throws: MemoryError.self) { try ObjectMemory(space: heap.space) }
    }

    @Test func anIntactMemoryOpensAgain() throws {
        let heap = try Heap.create()
        heap.memory.root = try makeList(heap.memory, count: 3000)
        let again = try ObjectMemory(space: heap.space)
        #expect(listValues(again, again.root).count == 3000)
    }
}
