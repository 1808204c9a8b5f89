import Testing
import PhantomHost
import PhantomStore
@testable import PhantomMemory

/// Freed memory is not written: the collectors zero the pages of a free run
/// after its first, the store keeps no block for a page of zeros, and an
/// allocation dirties only the pages that are not zero already (issue 10, F3).
@Suite struct FreedPagesTests {
    /// 64 objects of 64 KiB, filled, then a live object above them (so their
    /// run is inside the heap, not trimmed from its end).
    func fill(_ memory: ObjectMemory) throws -> ObjectRef {
        let holder = try memory.allocate(class: .null, references: 65, bytes: 0)
        memory.root = holder
        let payload = [UInt8](repeating: 0xA5, count: 64 << 10)
        for index in 0..<64 {
            let object = try memory.allocate(class: .null, references: 0, bytes: 64 << 10)
            payload.withUnsafeBytes { memory.setBytes(object, at: 0, $0) }
            memory.setReference(holder, index, object)
        }
        memory.setReference(holder, 64, try memory.allocate(class: .null, references: 0, bytes: 8 << 10))
        return holder
    }

    @Test(arguments: [false, true])
    func deadLargeObjectsBecomeHolesAndReuseWritesOnlyWhatIsUsed(incremental: Bool) throws {
        let heap = try Heap.create(capacity: 64 << 20)
        let memory = heap.memory
        let holder = try fill(memory)
        let full = try heap.space.takeSnapshot()
        #expect(full.pagesMapped >= 64 * 16)
        let endBefore = memory.heapEnd
        for index in 0..<64 { memory.setReference(holder, index, .null) }
        if incremental {
            memory.beginCollection()
            while !memory.collectionStep(budget: 10_000) {}
        } else {
            memory.collectGarbage()
        }
        let afterCollection = try heap.space.takeSnapshot()
        // The 64 x 17 pages are holes now: unmapped, and hardly any page written.
        #expect(afterCollection.pagesMapped + 64 * 16 <= full.pagesMapped, "mapped \(afterCollection.pagesMapped), before \(full.pagesMapped)")
        #expect(afterCollection.pagesWritten <= 8, "wrote \(afterCollection.pagesWritten) pages")
        // One 64 KiB object again: it reuses the freed run, reads as zero, and
        // the snapshot writes the pages it filled, not the whole run.
        let again = try memory.allocate(class: .null, references: 0, bytes: 64 << 10)
        #expect(memory.heapEnd == endBefore)
        #expect(memory.bytes(again).allSatisfy { $0 == 0 })
        memory.setWord(again, at: 0, 7)
        memory.setReference(holder, 0, again)
        let reuse = try heap.space.takeSnapshot()
        #expect(reuse.pagesWritten <= 4, "wrote \(reuse.pagesWritten) pages")
        #expect(memory.checkHeap().isEmpty)
        // After a power cut the heap is as it was, holes and all.
        let restarted = try heap.reopenedAfterCrash()
        #expect(restarted.memory.word(again, at: 0) == 7)
        #expect(restarted.memory.bytes(again).dropFirst(8).allSatisfy { $0 == 0 })
        #expect(restarted.memory.checkHeap().isEmpty)
    }
}
