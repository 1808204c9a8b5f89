import Testing
import PhantomHost
@testable import PhantomStore

/// A page of zeros costs no block: it is a hole in the snapshot (issue 10, F3:
/// free memory is not written).
@Suite struct HoleTests {
    @Test func aZeroPageOverAMappedPageBecomesAHoleAndItsBlockIsFreed() throws {
        let store = try Store.create(on: FaultyBlockDevice(), keep: 1)
        let zeros = [UInt8](repeating: 0, count: 4096)
        let first = try store.commit(pages: (0..<100).map { (UInt64($0), pageBytes(seed: 1, page: UInt64($0))) })
        #expect(first.pagesMapped == 100)
        let used = store.usage.usedBytes >> 12
        // Pages 10..<90 become zeros: no data block written, 80 unmapped.
        let second = try store.commit(pages: (10..<90).map { (UInt64($0), zeros) } + [(5, pageBytes(seed: 2, page: 5))])
        #expect(second.pagesWritten == 1)
        #expect(second.pagesMapped == 20)
        #expect(try store.physicalBlock(page: 50, snapshot: second.id) == nil)
        #expect(try store.read(page: 50) == zeros)
        #expect(try store.read(page: 5) == pageBytes(seed: 2, page: 5))
        #expect(try store.read(page: 95) == pageBytes(seed: 1, page: 95))
        let usedAfter = store.usage.usedBytes >> 12
        #expect(usedAfter + 70 <= used, "blocks in use \(usedAfter), before \(used)")
        #expect(store.verify().isHealthy)
        // A zero page where there was nothing stays a hole and writes nothing.
        let third = try store.commit(pages: [(500, zeros)])
        #expect(third.pagesWritten == 0 && third.pagesMapped == 20)
        let reopened = try Store.open(store.device, verification: .newestSnapshot)
        #expect(try reopened.read(page: 50) == zeros)
        #expect(try reopened.read(page: 95) == pageBytes(seed: 1, page: 95))
        #expect(reopened.verify().isHealthy)
    }
}
