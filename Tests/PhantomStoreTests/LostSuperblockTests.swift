import Testing
import PhantomHost
@testable import PhantomStore

/// Finding F5 (issue 10): a damaged newest superblock is reported, and the
/// id of the snapshot it held is never given out again.
@Suite struct LostSuperblockTests {
    /// Format 2: both copies of the slot.
    @Test(arguments: [UInt32(1), 2])
    func zeroedNewestSuperblockIsReportedAndItsSnapshotIDIsNotReused(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        try store.commit(pages: [(1, pageBytes(seed: 1, page: 1))])
        try store.commit(pages: [(1, pageBytes(seed: 2, page: 1))])
        let lostID = try #require(store.newestSnapshot?.id)
        let slot = Int(store.commitSequence % 2)
        var image = device.durableImage(after: .keepAll)
        for block in store.superblockBlocks(slot: slot).map(Int.init) {
            image.replaceSubrange((block * 4096)..<((block + 1) * 4096), with: [UInt8](repeating: 0, count: 4096))
        }

        let reopened = try Store.open(FaultyBlockDevice(durableContents: image))
        #expect(reopened.newestSnapshot?.id == lostID - 1)
        #expect(reopened.openReport.fellBack)
        let lost = try #require(reopened.openReport.lostCommit)
        #expect(lost.snapshotID == lostID && lost.slot == UInt64(slot) && !lost.certain)
        #expect(reopened.openReport.notes.contains { $0.contains("snapshot \(lostID)") && $0.contains("lost") }, "\(reopened.openReport.notes)")
        #expect(reopened.nextSnapshotID == lostID + 1)
        let next = try reopened.commit(pages: [(2, pageBytes(seed: 3, page: 2))])
        #expect(next.id == lostID + 1)
    }

    @Test(arguments: [UInt32(1), 2])
    func flippedBitInTheNewestSuperblockNamesTheLostCommit(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        for seed in 1...3 { try store.commit(pages: [(1, pageBytes(seed: UInt64(seed), page: 1))]) }
        let lostID = try #require(store.newestSnapshot?.id)
        let sequence = store.commitSequence
        for block in store.superblockBlocks(slot: Int(sequence % 2)) { device.flipBit(atByte: block * 4096 + 300, bit: 3) }
        let reopened = try Store.open(device.rebooted(.keepAll))
        let lost = try #require(reopened.openReport.lostCommit)
        #expect(lost.certain && lost.sequence == sequence && lost.snapshotID == lostID)
        #expect(try reopened.commit(pages: [(3, pageBytes(seed: 9, page: 3))]).id == lostID + 1)
    }

    @Test(arguments: [UInt32(1), 2])
    func damagedOlderSuperblockLosesNothing(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        for seed in 1...3 { try store.commit(pages: [(1, pageBytes(seed: UInt64(seed), page: 1))]) }
        let newestID = try #require(store.newestSnapshot?.id)
        for block in store.superblockBlocks(slot: Int((store.commitSequence - 1) % 2)) { device.flipBit(atByte: block * 4096 + 300, bit: 3) }
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.newestSnapshot?.id == newestID)
        #expect(reopened.openReport.lostCommit == nil && !reopened.openReport.fellBack)
        #expect(!reopened.openReport.notes.isEmpty)
    }
}
