import Testing
import PhantomHost
@testable import PhantomStore

#if canImport(Glibc)
import Glibc
#endif

/// Finding F6 (issue 10): in format 2 every metadata block has a second
/// copy, so one bad block shared by every retained snapshot (a tree node,
/// a space-map page, a freed-list block, a superblock) costs nothing.
@Suite struct MetadataCopyTests {
    /// How a block is damaged.
    enum Damage: CaseIterable { case flipBit, zero }

    /// An image with four snapshots whose trees share nodes: snapshot 1
    /// writes pages 0..<600 and 40000..<40010 (another level-1 subtree);
    /// the later ones change only a few low pages. Returns the device, the
    /// store and the model of each snapshot.
    func sharedImage() throws -> (FaultyBlockDevice, Store, [UInt64: Model]) {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 1 << 30, keep: 4)
        var model: Model = [:]
        var models: [UInt64: Model] = [:]
        let plan: [[UInt64]] = [Array(0..<600) + Array(40000..<40010), Array(0..<5), [7, 200], [1]]
        for pages in plan {
            let id = store.nextSnapshotID
            let writes = pages.map { (page: $0, bytes: pageBytes(seed: id, page: $0)) }
            try store.commit(pages: writes)
            for write in writes { model[write.page] = write.bytes }
            models[id] = model
        }
        return (device, store, models)
    }

    /// The durable image with one block damaged, as a new device.
    func damaged(_ device: FaultyBlockDevice, block: UInt64, _ damage: Damage) -> FaultyBlockDevice {
        var bytes = device.durableImage(after: .keepAll)
        let start = Int(block) * 4096
        switch damage {
        case .flipBit: bytes[start + 1234] ^= 0x10
        case .zero: bytes.replaceSubrange(start..<(start + 4096), with: [UInt8](repeating: 0, count: 4096))
        }
        return FaultyBlockDevice(durableContents: bytes)
    }

    /// Opens `device`, expects the newest snapshot with every page intact
    /// and every retained snapshot as it was, and `verify` to report the
    /// damaged copy `block` (and nothing else).
    func expectServedByTheCopy(_ device: FaultyBlockDevice, block: UInt64, models: [UInt64: Model],
                               newest: UInt64, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let store = try Store.open(device, verification: .newestSnapshot)
        #expect(store.newestSnapshot?.id == newest, sourceLocation: sourceLocation)
        #expect(store.openReport.discardedSnapshots.isEmpty && !store.openReport.fellBack, "\(store.openReport)", sourceLocation: sourceLocation)
        for snapshot in store.snapshots {
            #expect(try contents(of: store, snapshot: snapshot.id) == models[snapshot.id], "snapshot \(snapshot.id)", sourceLocation: sourceLocation)
        }
        let report = store.verify()
        #expect(report.isHealthy, "\(report.problems)", sourceLocation: sourceLocation)
        #expect(report.damagedSnapshots.isEmpty, sourceLocation: sourceLocation)
        #expect(report.damagedCopies.map(\.block) == [block], "\(report.damagedCopies)", sourceLocation: sourceLocation)
        #expect(report.damagedCopies.first.map { "\($0)".contains("block \(block)") && "\($0)".contains("is intact and served") } == true,
                sourceLocation: sourceLocation)
        // It keeps working, and the next commit's state checks out.
        try store.commit(pages: [(9, pageBytes(seed: 99, page: 9))])
        #expect(try store.read(page: 9) == pageBytes(seed: 99, page: 9), sourceLocation: sourceLocation)
        #expect(store.verify().isHealthy, sourceLocation: sourceLocation)
    }

    @Test(arguments: Damage.allCases)
    func aDamagedRootOfTheNewestSnapshotIsReadFromItsCopy(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        let root = try store.rootEntry()
        #expect(root.copy != 0 && root.copy != root.block)
        try expectServedByTheCopy(damaged(device, block: root.block, damage), block: root.block, models: models, newest: 4)
    }

    @Test(arguments: Damage.allCases)
    func aDamagedInnerNodeSharedByEverySnapshotIsReadFromItsCopy(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        // The level-1 node over pages 32768..<65536: written by snapshot 1 only.
        let node = try store.nodeEntry(page: 40000, level: 1)
        for snapshot in store.snapshots { #expect(try store.nodeEntry(page: 40000, level: 1, snapshot: snapshot.id) == node) }
        try expectServedByTheCopy(damaged(device, block: node.block, damage), block: node.block, models: models, newest: 4)
    }

    @Test(arguments: Damage.allCases)
    func aDamagedLeafSharedByEverySnapshotIsReadFromItsCopy(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        let leaf = try store.nodeEntry(page: 500, level: 0)
        for snapshot in store.snapshots { #expect(try store.nodeEntry(page: 500, level: 0, snapshot: snapshot.id) == leaf) }
        try expectServedByTheCopy(damaged(device, block: leaf.block, damage), block: leaf.block, models: models, newest: 4)
    }

    @Test(arguments: Damage.allCases)
    func aDamagedSpaceMapPageIsReadFromItsCopyAndNothingIsRebuilt(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        #expect(store.superblock.spaceMapLevels == 1)
        let page = try store.loadNode(store.spaceMapRootEntry, snapshot: nil, what: "space map node").entry(0, wide: true)
        #expect(page.copy != 0)
        let copy = damaged(device, block: page.block, damage)
        try expectServedByTheCopy(copy, block: page.block, models: models, newest: 4)
        let reopened = try Store.open(FaultyBlockDevice(durableContents: copy.contents))
        _ = reopened.usage
        #expect(reopened.spaceMapDamage == nil && !reopened.rewriteWholeSpaceMap)
    }

    @Test(arguments: Damage.allCases)
    func aDamagedFreedListBlockIsReadFromItsCopyWhenItsSpaceIsReleased(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        let head = try store.freedHead(snapshot: 2)
        #expect(!head.isHole && head.copy != 0)
        let copy = damaged(device, block: head.block, damage)
        let pristine = copy.contents
        try expectServedByTheCopy(copy, block: head.block, models: models, newest: 4)
        // One more snapshot drops 1: 2's list is read to free its space.
        let reopened = try Store.open(FaultyBlockDevice(durableContents: pristine))
        try reopened.commit(pages: [(2, pageBytes(seed: 10, page: 2))])
        #expect(reopened.snapshots.first?.id == 2)
        #expect(reopened.warnings.isEmpty, "\(reopened.warnings)")
        #expect(reopened.redundantReads.map(\.block) == [head.block])
        let report = reopened.verify()
        #expect(report.isHealthy && report.warnings.isEmpty, "\(report.problems) \(report.warnings)")
    }

    @Test(arguments: Damage.allCases)
    func aDamagedCopyOfTheNewestSuperblockLosesNoCommit(damage: Damage) throws {
        let (device, store, models) = try sharedImage()
        let slot = Int(store.commitSequence % 2)
        for block in store.superblockBlocks(slot: slot) {
            let copy = damaged(device, block: block, damage)
            let reopened = try Store.open(copy, verification: .newestSnapshot)
            #expect(reopened.commitSequence == store.commitSequence && reopened.newestSnapshot?.id == 4)
            #expect(reopened.openReport.lostCommit == nil && !reopened.openReport.fellBack)
            #expect(reopened.openReport.isClean, "\(reopened.openReport.notes)")
            #expect(reopened.redundantReads.map(\.block) == [block] && "\(reopened.redundantReads[0])".contains("served"), "\(reopened.redundantReads)")
            #expect(try contents(of: reopened) == models[4])
            let report = reopened.verify()
            #expect(report.isHealthy && report.damagedCopies.map(\.block) == [block], "\(report.damagedCopies)")
            // The next commit to that slot writes both copies again.
            try reopened.commit(pages: [(3, pageBytes(seed: 50, page: 3))])
            try reopened.commit(pages: [(3, pageBytes(seed: 51, page: 3))])
            #expect(reopened.verify().damagedCopies.isEmpty)
            let again = try Store.open(copy.rebooted(.keepAll))
            #expect(again.openReport.isClean && again.redundantReads.isEmpty, "\(again.openReport.notes)")
        }
    }

    @Test func bothCopiesOfTheNewestRootDamagedFallBackToTheSnapshotBefore() throws {
        let (device, store, models) = try sharedImage()
        let root = try store.rootEntry()
        let bad = damaged(damaged(device, block: root.block, .flipBit), block: root.copy, .zero)
        let reopened = try Store.open(bad)
        #expect(reopened.newestSnapshot?.id == 3)
        let reason = try #require(reopened.openReport.discardedSnapshots.first { $0.id == 4 }?.reason)
        #expect(reason.contains("both copies") && reason.contains("snapshot 4"), "\(reason)")
        #expect(try contents(of: reopened) == models[3])
    }

    @Test func bothCopiesOfASharedNodeDamagedNameEverySnapshot() throws {
        let (device, store, _) = try sharedImage()
        let node = try store.nodeEntry(page: 40000, level: 1)
        let bad = damaged(damaged(device, block: node.block, .zero), block: node.copy, .flipBit)
        let reopened = try Store.open(bad, readOnly: true)
        let report = reopened.verify()
        #expect(report.damagedSnapshots == Set(reopened.snapshots.map(\.id)))
        #expect(report.problems.contains { $0.contains("block \(node.block)") && $0.contains("its copy") }, "\(report.problems)")
        #expect(throws: StoreError.self) { _ = try reopened.read(page: 40001) }
    }

    /// Every metadata entry's two copies are different blocks, at least
    /// `Layout.copyDistance` apart, and no data page shares a block with one.
    @Test func copiesAreFarApartAndNeverShareABlock() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 1 << 40, keep: 3)
        var generator = SplitMix(seed: 5)
        for round in 0..<30 {
            let count = [1, 3, 40, 700][round % 4]
            let pages = (0..<count).map { _ in generator.next() % (1 << 20) }
            try store.commit(pages: pages.map { (page: $0, bytes: pageBytes(seed: UInt64(round), page: $0)) })
        }
        var owners: [UInt64: String] = [:]
        func claim(_ block: UInt64, _ what: String) {
            if let other = owners[block], other != what { Issue.record("block \(block) is both \(other) and \(what)") }
            owners[block] = what
        }
        func checkPair(_ entry: TreeEntry, _ what: String) {
            #expect(entry.copy != 0, "\(what) has no copy")
            let distance = entry.block > entry.copy ? entry.block - entry.copy : entry.copy - entry.block
            #expect(distance >= Layout.copyDistance, "\(what): blocks \(entry.block) and \(entry.copy)")
            claim(entry.block, "metadata (\(entry.block))")
            claim(entry.copy, "metadata (\(entry.block))")
        }
        for snapshot in store.snapshots {
            let root = try store.rootEntry(snapshot: snapshot.id)
            checkPair(root, "root")
            try store.walk(root: root, snapshot: snapshot.id, visitNode: { checkPair($0, "node"); return true }) { page, entry in
                #expect(entry.copy == 0)
                claim(entry.block, "page \(page)")
            }
            var link = try store.freedHead(snapshot: snapshot.id)
            while !link.isHole {
                checkPair(link, "freed list")
                let buffer = BlockBuffer()
                try store.readBlock(link, into: buffer, snapshot: snapshot.id, what: "freed list")
                link = store.nextFreedEntry(buffer)
            }
        }
        checkPair(store.spaceMapRootEntry, "space map root")
        try store.walk(root: store.spaceMapRootEntry, snapshot: nil, kind: .spaceMap, visitNode: { checkPair($0, "space map node"); return true }) { _, entry in
            checkPair(entry, "space map page")
        }
        #expect(store.verify().isHealthy)
    }

    /// In a format-1 image blocks 10 and 11 are data: a page that happens
    /// to hold a valid format-2 superblock is never read as one.
    @Test func aFormat1ImageIsNotMisreadThroughAPageThatLooksLikeASuperblock() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: 1)
        // A fake format-2 superblock with a huge sequence, as page contents.
        let fake = BlockBuffer()
        var forged = store.superblock
        forged.version = 2
        forged.sequence = 1 << 40
        forged.snapshots = []
        forged.encode(into: fake)
        let page = Array(fake.raw)
        try store.commit(pages: (0..<UInt64(20)).map { (page: $0, bytes: page) })
        #expect(try (0..<UInt64(20)).compactMap { try store.physicalBlock(page: $0) }.contains(10))
        for block in [UInt64(0), 1] { device.flipBit(atByte: block * 4096 + 500, bit: 1) }
        // Both real superblocks are damaged: the image is damaged, not a format-2 image.
        #expect(throws: StoreError.self) { _ = try Store.open(device.rebooted(.keepAll)) }
        for block in [UInt64(0), 1] { device.flipBit(atByte: block * 4096 + 500, bit: 1) }
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.formatVersion == 1 && reopened.newestSnapshot?.id == 1)
    }
}
