import Testing
import PhantomHost
@testable import PhantomStore

/// Data-page damage costs only the pages hit (issue 10 F6, salvage):
/// `verify` and `damagedPages` name each damaged page with the snapshots
/// that hold it, and a snapshot that writes zero pages over them is intact.
@Suite struct DamagedPageTests {
    @Test(arguments: [UInt32(1), 2])
    func damagedPagesAreListedWithEverySnapshotThatHoldsThem(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, keep: 4, formatVersion: format)
        try store.commit(pages: (0..<UInt64(40)).map { (page: $0, bytes: pageBytes(seed: 1, page: $0)) })
        try store.commit(pages: [(5, pageBytes(seed: 2, page: 5))])
        try store.commit(pages: [(6, pageBytes(seed: 3, page: 6))])
        let shared = try #require(try store.physicalBlock(page: 20))
        let newestOnly = try #require(try store.physicalBlock(page: 6))
        device.flipBit(atByte: shared * 4096 + 9, bit: 0)
        device.flipBit(atByte: newestOnly * 4096 + 4095, bit: 7)

        let report = store.verify()
        #expect(report.damagedPages == [
            DamagedPage(page: 6, block: newestOnly, snapshots: [3], reason: "checksum mismatch"),
            DamagedPage(page: 20, block: shared, snapshots: [1, 2, 3], reason: "checksum mismatch"),
        ], "\(report.damagedPages)")
        #expect(report.damagedSnapshots == [1, 2, 3])
        #expect(try store.damagedPages().map(\.page) == [6, 20])
        #expect(try store.damagedPages(snapshot: 1).map(\.page) == [20])

        // Zero pages over the damage: the new snapshot is intact, the rest of it as it was.
        let zero = [UInt8](repeating: 0, count: 4096)
        let salvaged = try store.commit(pages: [(6, zero), (20, zero)])
        #expect(try store.damagedPages().isEmpty)
        #expect(try store.read(page: 20) == zero && store.read(page: 21) == pageBytes(seed: 1, page: 21))
        let after = store.verify()
        #expect(!after.damagedSnapshots.contains(salvaged.id))
        #expect(after.damagedPages.map(\.snapshots) == [[3], [1, 2, 3]])
        // What is left of a damaged page can still be read, unchecked, for reports.
        var raw = [UInt8](repeating: 0, count: 4096)
        try raw.withUnsafeMutableBytes { try store.readUnchecked(block: shared, into: $0) }
        var expected = pageBytes(seed: 1, page: 20)
        expected[9] ^= 1
        #expect(raw == expected)
    }
}
