import Testing
import PhantomHost
@testable import PhantomStore

@Suite struct RetentionTests {
    /// Runs `count` snapshots of random pages in a small range; returns the model after each.
    func churn(_ store: Store, snapshots count: Int, pagesEach: Int, span: UInt64, seed: UInt64) throws -> [UInt64: Model] {
        var generator = SplitMix(seed: seed)
        var model = try contents(of: store)
        var models: [UInt64: Model] = [:]
        for _ in 0..<count {
            let id = store.nextSnapshotID
            var pages: [(page: UInt64, bytes: [UInt8])] = []
            for _ in 0..<pagesEach {
                let page = generator.next() % span
                let bytes = pageBytes(seed: id, page: page)
                pages.append((page, bytes))
                model[page] = bytes
            }
            try store.commit(pages: pages)
            models[id] = model
        }
        return models
    }

    @Test(arguments: [1, 2, 8])
    func imageStopsGrowingOnceFreedBlocksAreReused(keep: Int) throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 64 << 20, keep: keep)
        _ = try churn(store, snapshots: 200, pagesEach: 50, span: 400, seed: 1)
        let sizeAfterWarmUp = device.size
        let usedAfterWarmUp = store.usage.usedBytes
        let models = try churn(store, snapshots: 300, pagesEach: 50, span: 400, seed: 2)
        #expect(device.size == sizeAfterWarmUp, "the image grew from \(sizeAfterWarmUp) to \(device.size) bytes")
        #expect(store.usage.usedBytes <= usedAfterWarmUp + 64 * 4096)
        #expect(store.snapshots.count == keep)
        let report = store.verify()
        #expect(report.isHealthy, "\(report.problems)")
        #expect(report.warnings.isEmpty, "\(report.warnings)")
        #expect(try contents(of: store) == models[store.newestSnapshot!.id])
    }

    @Test func everyRetainedSnapshotReadsAsItWasAndRollbackWorksToEachOfThem() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 64 << 20, keep: 6)
        let models = try churn(store, snapshots: 20, pagesEach: 40, span: 300, seed: 3)
        let retained = store.snapshots.map(\.id)
        #expect(retained == Array(15...20))
        for id in retained {
            #expect(try contents(of: store, snapshot: id) == models[id], "snapshot \(id) reads differently")
        }
        #expect(throws: StoreError.noSuchSnapshot(id: 3, retained: retained)) { _ = try store.read(page: 0, snapshot: 3) }

        for id in retained {
            let copy = FaultyBlockDevice(durableContents: device.contents)
            let rolled = try Store.open(copy)
            try rolled.rollback(to: id)
            #expect(rolled.newestSnapshot?.id == id)
            #expect(try contents(of: rolled) == models[id])
            // Durable: a reopen sees the rollback; ids are not reused.
            let reopened = try Store.open(copy.rebooted(.dropAll), verification: .newestSnapshot)
            #expect(reopened.snapshots.map(\.id) == Array(15...id))
            #expect(try contents(of: reopened) == models[id])
            let report = reopened.verify()
            #expect(report.isHealthy, "\(report.problems)")
            #expect(report.warnings.isEmpty, "rollback to \(id): \(report.warnings)")
            let next = try reopened.commit(pages: [(1, pageBytes(seed: 77, page: 1))])
            #expect(next.id == 21)
            #expect(reopened.verify().isHealthy)
        }
    }

    @Test func rollbackDiscardsNewerSnapshotsSpaceForReuse() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 64 << 20, keep: 8)
        _ = try churn(store, snapshots: 2, pagesEach: 100, span: 100, seed: 4)
        let usedBefore = store.usage.usedBytes
        _ = try churn(store, snapshots: 5, pagesEach: 100, span: 100, seed: 5)
        #expect(store.usage.usedBytes > usedBefore + 200 * 4096)
        try store.rollback(to: 2)
        // What is left: snapshots 1 and 2 and a fresh space map.
        #expect(store.usage.usedBytes <= usedBefore + 4 * 4096)
    }

    @Test func failedRollbackLeavesEverythingAsItWas() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 64 << 20, keep: 8)
        let models = try churn(store, snapshots: 5, pagesEach: 60, span: 200, seed: 6)
        device.failAllWrites = .io
        #expect(throws: StoreError.self) { try store.rollback(to: 2) }
        device.failAllWrites = nil
        #expect(store.snapshots.map(\.id) == [1, 2, 3, 4, 5])
        // New snapshots must not overwrite blocks of the kept snapshots.
        let more = try churn(store, snapshots: 10, pagesEach: 60, span: 200, seed: 7)
        #expect(try contents(of: store) == more[store.newestSnapshot!.id])
        #expect(store.verify().isHealthy)
        _ = models
    }
}

/// A tiny deterministic generator for tests.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
