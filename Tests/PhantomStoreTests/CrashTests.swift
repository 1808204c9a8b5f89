import Testing
import PhantomHost
@testable import PhantomStore

/// Runs a workload of snapshots on a device; remembers what each returned
/// snapshot holds so that any recovered state can be compared byte for byte.
struct Workload {
    /// Pages changed by each snapshot, from 1 page to thousands.
    let sizes: [Int]
    let logicalSize: UInt64 = 64 << 20
    let keep: Int = 3
    var formatVersion: UInt32 = Layout.formatVersion

    /// The full contents after each snapshot id (index 0: empty image).
    var models: [Model] {
        var result: [Model] = [[:]]
        var current: Model = [:]
        for (index, size) in sizes.enumerated() {
            let id = UInt64(index + 1)
            for page in pages(snapshot: id, count: size) { current[page] = pageBytes(seed: id, page: page) }
            result.append(current)
        }
        return result
    }

    func pages(snapshot: UInt64, count: Int) -> [UInt64] {
        // Overlapping ranges, so that snapshots replace each other's pages.
        let start = (snapshot * 37) % 600
        return (0..<UInt64(count)).map { start + $0 * (snapshot % 3 + 1) }
    }

    /// Creates the image and takes every snapshot; returns how many commits
    /// returned (create counts as 0) before the device crashed, and whether
    /// create itself returned.
    func run(on device: FaultyBlockDevice) -> (created: Bool, committed: Int) {
        let store: Store
        do {
            store = try Store.create(on: device, logicalSize: logicalSize, keep: keep, formatVersion: formatVersion)
        } catch {
            return (false, 0)
        }
        for (index, size) in sizes.enumerated() {
            let id = UInt64(index + 1)
            let pages = pages(snapshot: id, count: size).map { ($0, pageBytes(seed: id, page: $0)) }
            do {
                try store.commit(pages: pages.map { (page: $0.0, bytes: $0.1) })
            } catch {
                return (true, index)
            }
        }
        return (true, sizes.count)
    }
}

@Suite struct CrashTests {
    static let workload = Workload(sizes: [1, 5, 300, 2, 1500, 1, 40, 3])

    static let modes: [FaultyBlockDevice.CrashMode] = [
        .dropAll, .keepAll, .keepPrefix(1), .keepPrefix(2),
        .randomSubset(seed: 1), .randomSubset(seed: 2), .tearLast(seed: 3), .tearLast(seed: 4),
        .garble(seed: 5), .garble(seed: 6),
    ]

    @Test(arguments: [UInt32(1), 2])
    func recoversACommittedSnapshotAfterACrashAtEveryOperation(format: UInt32) throws {
        var workload = Self.workload
        workload.formatVersion = format
        let models = workload.models
        let reference = FaultyBlockDevice()
        let full = workload.run(on: reference)
        #expect(full.committed == workload.sizes.count)
        let operations = reference.operationCount
        #expect(operations > 30)
        var recoveries = 0
        for crashAt in 0..<operations {
            let device = FaultyBlockDevice()
            device.crashAtOperation = crashAt
            let outcome = workload.run(on: device)
            #expect(device.isCrashed, "crash point \(crashAt) was not reached")
            for mode in Self.modes {
                let rebooted = device.rebooted(mode)
                let store: Store
                do {
                    store = try Store.open(rebooted, verification: .newestSnapshot)
                } catch {
                    // Only an image whose creation never returned may fail to open.
                    #expect(!outcome.created, "crash at \(crashAt), \(mode): open failed: \(error)")
                    continue
                }
                let newest = Int(store.newestSnapshot?.id ?? 0)
                #expect(newest >= outcome.committed && newest <= outcome.committed + 1,
                        "crash at \(crashAt), \(mode): opened snapshot \(newest) after \(outcome.committed) commits returned")
                #expect(try contents(of: store) == models[newest], "crash at \(crashAt), \(mode): contents differ from snapshot \(newest)")
                let report = store.verify()
                #expect(report.isHealthy, "crash at \(crashAt), \(mode): \(report.problems)")
                // The recovered store keeps working.
                let page = UInt64(crashAt % 50)
                try store.commit(pages: [(page, pageBytes(seed: 999, page: page))])
                #expect(try store.read(page: page) == pageBytes(seed: 999, page: page))
                #expect(store.verify().isHealthy)
                recoveries += 1
            }
        }
        #expect(recoveries > operations * Self.modes.count / 2)
    }

    @Test func flippedBitInNewestSnapshotFallsBackToPreviousAndIsReported() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20)
        try store.commit(pages: [(1, pageBytes(seed: 1, page: 1)), (2, pageBytes(seed: 1, page: 2))])
        try store.commit(pages: [(2, pageBytes(seed: 2, page: 2))])
        let block = try #require(try store.physicalBlock(page: 2))
        device.flipBit(atByte: block * 4096 + 100, bit: 3)

        // A plain read detects it and names the block and snapshot.
        #expect(throws: StoreError.checksumMismatch(path: device.path, block: block, snapshot: 2, what: "page 2")) {
            _ = try store.read(page: 2)
        }
        // verify reports it.
        let report = store.verify()
        #expect(!report.isHealthy)
        #expect(report.problems.contains { $0.contains("block \(block)") && $0.contains("snapshot 2") })

        // Opening with the newest snapshot checked falls back and says so.
        let reopened = try Store.open(device.rebooted(.keepAll), verification: .newestSnapshot)
        #expect(reopened.newestSnapshot?.id == 1)
        #expect(reopened.openReport.discardedSnapshots.map(\.id) == [2])
        #expect(try reopened.read(page: 2) == pageBytes(seed: 1, page: 2))
        #expect(reopened.verify().isHealthy)
        // And it keeps working from there.
        try reopened.commit(pages: [(3, pageBytes(seed: 3, page: 3))])
        #expect(reopened.newestSnapshot?.id == 3)
        #expect(reopened.verify().isHealthy)
    }

    /// Format 2: both copies of the root damaged.
    @Test(arguments: [UInt32(1), 2])
    func damagedRootNodeFallsBackEvenWithMetadataChecksOnly(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        try store.commit(pages: [(7, pageBytes(seed: 1, page: 7))])
        try store.commit(pages: [(7, pageBytes(seed: 2, page: 7))])
        let roots = try store.rootBlocks()
        #expect(roots.count == Int(format))
        for root in roots { device.flipBit(atByte: root * 4096 + 4000, bit: 0) }
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.newestSnapshot?.id == 1)
        #expect(reopened.openReport.discardedSnapshots.first?.reason.contains("checksum mismatch") == true)
        #expect(try reopened.read(page: 7) == pageBytes(seed: 1, page: 7))
    }

    /// Format 2: both copies of the map's root damaged.
    @Test(arguments: [UInt32(1), 2])
    func damagedSpaceMapIsRebuiltFromTheSnapshotsWithoutLosingOne(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, keep: 3, formatVersion: format)
        var model: Model = [:]
        // The last commit is large (two flushes), so open does not re-check
        // its blocks: the damage is found when the map is loaded.
        for id in UInt64(1)...5 {
            let numbers: [UInt64] = id == 5 ? Array(0..<100) : (0..<UInt64(40)).map { $0 * id % 90 }
            let pages = numbers.map { ($0, pageBytes(seed: id, page: $0)) }
            try store.commit(pages: pages.map { (page: $0.0, bytes: $0.1) })
            for (page, bytes) in pages { model[page] = bytes }
        }
        for mapRoot in store.spaceMapRootEntry.blocks { device.flipBit(atByte: mapRoot * 4096 + 7, bit: 2) }
        let rebooted = device.rebooted(.keepAll)
        let reopened = try Store.open(rebooted)
        #expect(reopened.newestSnapshot?.id == 5)
        #expect(try contents(of: reopened) == model)
        let report = reopened.verify()
        #expect(report.problems.contains { $0.contains("space map") }, "\(report.problems)")
        // The next commit writes a fresh map; everything checks out again.
        try reopened.commit(pages: [(3, pageBytes(seed: 6, page: 3))])
        model[3] = pageBytes(seed: 6, page: 3)
        let again = reopened.verify()
        #expect(again.isHealthy, "\(again.problems)")
        let third = try Store.open(rebooted.rebooted(.dropAll), verification: .newestSnapshot)
        #expect(try contents(of: third) == model)
        #expect(third.verify().isHealthy)
    }

    /// Format 2: both copies of the newest slot damaged.
    @Test(arguments: [UInt32(1), 2])
    func damagedSuperblockFallsBackToTheOtherSlot(format: UInt32) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        try store.commit(pages: [(1, pageBytes(seed: 1, page: 1))])
        try store.commit(pages: [(1, pageBytes(seed: 2, page: 1))])
        for block in store.superblockBlocks(slot: Int(store.commitSequence % 2)) { device.flipBit(atByte: block * 4096 + 20, bit: 1) }
        let reopened = try Store.open(device.rebooted(.keepAll))
        #expect(reopened.newestSnapshot?.id == 1)
        #expect(!reopened.openReport.notes.isEmpty)
        #expect(try reopened.read(page: 1) == pageBytes(seed: 1, page: 1))
        #expect(reopened.verify().isHealthy)
    }

    @Test(arguments: [FaultyBlockDevice.Failure.io, .noSpace])
    func failedWriteDuringSnapshotKeepsPreviousSnapshotAndStoreKeepsWorking(failure: FaultyBlockDevice.Failure) throws {
        for failAt in 0..<6 {
            let device = FaultyBlockDevice()
            let store = try Store.create(on: device, logicalSize: 16 << 20)
            try store.commit(pages: (0..<20).map { (UInt64($0), pageBytes(seed: 1, page: UInt64($0))) })
            device.failOperation(device.operationCount + failAt, with: failure)
            let attempt = (0..<300).map { (UInt64($0), pageBytes(seed: 2, page: UInt64($0))) }
            var failed = false
            do {
                try store.commit(pages: attempt.map { (page: $0.0, bytes: $0.1) })
            } catch let error {
                failed = true
                if failure == .noSpace {
                    guard case .deviceFull = error else { Issue.record("expected deviceFull, got \(error)"); continue }
                } else {
                    guard case .device(.io) = error else { Issue.record("expected an I/O error, got \(error)"); continue }
                }
                #expect(error.description.contains("faulty-device"))
            }
            if !failed { continue }  // the failure hit an operation the commit did not need
            #expect(store.newestSnapshot?.id == 1)
            #expect(try store.read(page: 5) == pageBytes(seed: 1, page: 5))
            #expect(try store.read(page: 200) == [UInt8](repeating: 0, count: 4096))
            // The next snapshot succeeds, and everything checks out after a reopen.
            try store.commit(pages: attempt.map { (page: $0.0, bytes: $0.1) })
            let reopened = try Store.open(device.rebooted(.dropAll), verification: .newestSnapshot)
            // A failed snapshot consumes no id.
            #expect(reopened.newestSnapshot?.id == 2)
            #expect(try reopened.read(page: 200) == pageBytes(seed: 2, page: 200))
            let report = reopened.verify()
            #expect(report.isHealthy, "\(report.problems)")
        }
    }

    @Test func fullDeviceGivesDeviceFullAndWorksAgainOnceSpaceIsFreed() throws {
        let device = FaultyBlockDevice(maxSize: 2 << 20)
        let store = try Store.create(on: device, logicalSize: 64 << 20)
        try store.commit(pages: (0..<100).map { (UInt64($0), pageBytes(seed: 1, page: UInt64($0))) })
        #expect(throws: StoreError.self) {
            try store.commit(pages: (0..<1000).map { (UInt64($0), pageBytes(seed: 2, page: UInt64($0))) })
        }
        do {
            try store.commit(pages: (0..<1000).map { (UInt64($0), pageBytes(seed: 2, page: UInt64($0))) })
        } catch let error {
            guard case .deviceFull = error else { Issue.record("expected deviceFull, got \(error)"); return }
        }
        #expect(store.newestSnapshot?.id == 1)
        #expect(try store.read(page: 50) == pageBytes(seed: 1, page: 50))
        device.maxSize = nil
        try store.commit(pages: (0..<1000).map { (UInt64($0), pageBytes(seed: 2, page: UInt64($0))) })
        #expect(try store.read(page: 500) == pageBytes(seed: 2, page: 500))
        #expect(store.verify().isHealthy)
    }
}
