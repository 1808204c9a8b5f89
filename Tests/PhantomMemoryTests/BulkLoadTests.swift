import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PhantomHost
import PhantomStore
@testable import PhantomMemory

/// The bulk loader (`Store.pageLocations` + `Store.readPages`, used by
/// `PersistentSpace.init`) against the page-by-page reader it replaced.
@Suite struct BulkLoadTests {
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let logicalPages: UInt64 = 8192

    /// Deterministic contents for a page written by a snapshot.
    static func bytes(seed: UInt64, page: UInt64) -> [UInt8] {
        var random = Random(state: seed &* 31 &+ page)
        var result = [UInt8](repeating: 0, count: 4096)
        // Some pages are mostly zero, like a young heap.
        let filled = Int(random.next() % 2) == 0 ? 4096 : 64
        for index in stride(from: 0, to: filled, by: 8) {
            withUnsafeBytes(of: random.next()) { word in
                for byte in 0..<8 { result[index + byte] = word[byte] }
            }
        }
        return result
    }

    /// Random snapshots: dense runs, scattered single pages and rewrites of
    /// old pages, so that device order and page order differ and runs of
    /// adjacent blocks hold pages that are far apart in the space.
    static func writeRandomSnapshots(_ store: Store, random: inout Random, count: Int, big: Bool) throws {
        for number in 0..<count {
            var pages = Set<UInt64>()
            let runs = Int(random.next() % 4)
            for _ in 0..<runs {
                let length = big && number == 0 ? 600 + random.next() % 900 : 1 + random.next() % 64
                let start = random.next() % (logicalPages - length)
                for page in start..<(start + length) { pages.insert(page) }
            }
            let scattered = Int(random.next() % 40)
            for _ in 0..<scattered { pages.insert(random.next() % logicalPages) }
            if random.next() % 3 == 0 { pages.insert(logicalPages - 1) }
            let seed = random.next()
            try store.commit(pages: pages.sorted().map { ($0, bytes(seed: seed, page: $0)) })
        }
    }

    /// What the page-by-page loader produced: every mapped page of the
    /// newest snapshot read with `read(page:)`, zeros elsewhere.
    static func pageByPage(_ store: Store, pages: Int) throws -> [UInt8] {
        var image = [UInt8](repeating: 0, count: pages * 4096)
        for page in try store.mappedPages() {
            let bytes = try store.read(page: page)
            image.replaceSubrange(Int(page) * 4096..<Int(page + 1) * 4096, with: bytes)
        }
        return image
    }

    /// The first page where two images differ (nil: identical).
    static func firstDifferentPage(_ loaded: UnsafeRawBufferPointer, _ expected: [UInt8]) -> Int? {
        guard loaded.count == expected.count else { return -1 }
        return expected.withUnsafeBytes { reference in
            (0..<(expected.count / 4096)).first { page in
                memcmp(loaded.baseAddress! + page * 4096, reference.baseAddress! + page * 4096, 4096) != 0
            }
        }
    }

    /// Loads the store into a space and checks it byte for byte against the
    /// page-by-page loader, and the bulk reader on its own with other run
    /// lengths, with and without the second thread.
    static func checkLoad(_ store: Store, _ context: String) throws {
        let pages = Int(logicalPages)
        let expected = try pageByPage(store, pages: pages)
        let mapped = try store.mappedPages()
        let space = try PersistentSpace(store: store, capacity: logicalPages << 12)
        let loaded = UnsafeRawBufferPointer(start: space.base, count: pages * 4096)
        #expect(firstDifferentPage(loaded, expected) == nil, "\(context): the loaded space differs from the page-by-page image")
        #expect(space.usedPages == Int((mapped.last ?? 0) + 1), "\(context): used pages")

        let locations = try store.pageLocations()
        #expect(locations.snapshot == store.newestSnapshot?.id)
        #expect(locations.pages.map(\.page) == mapped, "\(context): locations list other pages than mappedPages")
        for location in locations.pages {
            #expect(try store.physicalBlock(page: location.page) == location.block)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: pages * 4096, alignment: 4096)
        defer { buffer.deallocate() }
        for (runBytes, parallel) in [(4096, false), (3 * 4096, true), (64 << 10, true), (8 << 20, false)] {
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
            let stats = try store.readPages(locations, into: buffer.baseAddress!, maxReadBytes: runBytes, parallel: parallel)
            #expect(stats.pages == locations.pages.count)
            #expect(firstDifferentPage(UnsafeRawBufferPointer(buffer), expected) == nil,
                    "\(context): readPages with \(runBytes)-byte reads (parallel \(parallel)) differs")
        }
    }

    @Test(arguments: 0..<12)
    func matchesThePageByPageLoaderOnRandomImages(seed: UInt64) throws {
        var random = Random(state: seed)
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 1 + Int(random.next() % 6))
        try Self.writeRandomSnapshots(store, random: &random, count: 1 + Int(random.next() % 12), big: seed % 2 == 0)
        try Self.checkLoad(store, "seed \(seed)")
        // And as a restart finds it.
        let reopened = try Store.open(device.rebooted(.keepAll), verification: .newestSnapshot)
        try Self.checkLoad(reopened, "seed \(seed), reopened")
    }

    @Test func loadsAnEmptyImageAndAnImageWithOnePage() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12)
        try Self.checkLoad(store, "empty")
        try store.commit(pages: [(5000, Self.bytes(seed: 1, page: 5000))])
        try Self.checkLoad(store, "one page")
    }

    @Test(arguments: 0..<4)
    func matchesAfterRollback(seed: UInt64) throws {
        var random = Random(state: 100 + seed)
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 8)
        try Self.writeRandomSnapshots(store, random: &random, count: 7, big: true)
        let ids = store.snapshots.map(\.id)
        let target = ids[Int(random.next() % UInt64(ids.count - 1))]
        try store.rollback(to: target)
        #expect(store.newestSnapshot?.id == target)
        try Self.checkLoad(store, "rolled back to \(target)")
        // New snapshots on top of the rolled-back state reuse freed blocks.
        try Self.writeRandomSnapshots(store, random: &random, count: 3, big: false)
        let reopened = try Store.open(device.rebooted(.keepAll), verification: .newestSnapshot)
        try Self.checkLoad(reopened, "after rollback to \(target) and 3 more snapshots")
    }

    @Test(arguments: 0..<6)
    func matchesAfterACrash(seed: UInt64) throws {
        // Count the operations of the workload, then cut it at random points.
        func workload(_ device: FaultyBlockDevice) {
            var random = Random(state: 200 + seed)
            guard let store = try? Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 3) else { return }
            try? Self.writeRandomSnapshots(store, random: &random, count: 8, big: true)
        }
        let reference = FaultyBlockDevice()
        workload(reference)
        var random = Random(state: 300 + seed)
        let modes: [FaultyBlockDevice.CrashMode] = [.dropAll, .keepAll, .randomSubset(seed: seed), .tearLast(seed: seed), .garble(seed: seed)]
        for _ in 0..<4 {
            let crashAt = Int(random.next() % UInt64(reference.operationCount))
            let device = FaultyBlockDevice()
            device.crashAtOperation = crashAt
            workload(device)
            for mode in modes {
                guard let store = try? Store.open(device.rebooted(mode), verification: .newestSnapshot) else { continue }
                try Self.checkLoad(store, "crash at \(crashAt), \(mode)")
            }
        }
    }

    /// A flipped bit in any loaded page is reported, never loaded silently:
    /// by the space (as `.store(.checksumMismatch)` naming the block and the
    /// page) and by `readPages` in every configuration.
    @Test(arguments: 0..<8)
    func reportsAFlippedBitInAnyPage(seed: UInt64) throws {
        var random = Random(state: 400 + seed)
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 4)
        try Self.writeRandomSnapshots(store, random: &random, count: 5, big: true)
        // A last commit of more than 64 blocks: open's check of small
        // (single-flush) commits would otherwise see a damaged page first.
        try store.commit(pages: (0..<UInt64(80)).map { ($0 * 7, Self.bytes(seed: seed, page: $0 * 7)) })
        let locations = try store.pageLocations()
        let newestID = store.newestSnapshot!.id
        // The first, the last and random pages (in page and in device order).
        var victims = [locations.pages.first!, locations.pages.last!]
        let byBlock = locations.pages.sorted { $0.block < $1.block }
        victims += [byBlock.first!, byBlock.last!]
        for _ in 0..<4 { victims.append(locations.pages[Int(random.next() % UInt64(locations.pages.count))]) }
        for victim in victims {
            let rebooted = device.rebooted(.keepAll)
            let offset = victim.block * 4096 + random.next() % 4096
            rebooted.flipBit(atByte: offset, bit: Int(random.next() % 8))
            // `.metadata` trusts the snapshot without reading its pages: the
            // loader is what must find the damage.
            let reopened = try Store.open(rebooted, verification: .metadata)
            #expect(reopened.newestSnapshot?.id == newestID)
            let expected = StoreError.checksumMismatch(path: rebooted.path, block: victim.block, snapshot: newestID, what: "page \(victim.page)")
            do {
                _ = try PersistentSpace(store: reopened, capacity: Self.logicalPages << 12)
                Issue.record("a flipped bit in page \(victim.page) (block \(victim.block)) was loaded silently")
            } catch {
                guard case let .store(storeError) = error else {
                    Issue.record("unexpected error \(error)")
                    continue
                }
                #expect(storeError == expected)
            }
            let reopenedLocations = try reopened.pageLocations()
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(Self.logicalPages) * 4096, alignment: 4096)
            defer { buffer.deallocate() }
            for (runBytes, parallel) in [(4096, false), (64 << 10, true), (4 << 20, true)] {
                do {
                    try reopened.readPages(reopenedLocations, into: buffer, maxReadBytes: runBytes, parallel: parallel)
                    Issue.record("a flipped bit in page \(victim.page) (block \(victim.block)) was not reported (\(runBytes)-byte reads)")
                } catch {
                    #expect(error == .checksumMismatch(path: rebooted.path, block: victim.block, snapshot: newestID, what: "page \(victim.page)"))
                }
            }
        }
    }

    /// `.newestSnapshot` checks the newest increment with the same reader:
    /// a flipped bit there makes open fall back to the previous snapshot.
    @Test func openFallsBackWhenTheNewestIncrementIsDamaged() throws {
        var random = Random(state: 500)
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 4)
        try Self.writeRandomSnapshots(store, random: &random, count: 2, big: true)
        let older = store.newestSnapshot!.id
        let pages = (0..<UInt64(700)).map { ($0 + 3000, Self.bytes(seed: 77, page: $0 + 3000)) }
        try store.commit(pages: pages)
        let newest = store.newestSnapshot!.id
        let victim = try #require(try store.physicalBlock(page: 3350))
        let rebooted = device.rebooted(.keepAll)
        rebooted.flipBit(atByte: victim * 4096 + 100, bit: 3)
        let reopened = try Store.open(rebooted, verification: .newestSnapshot)
        #expect(reopened.newestSnapshot?.id == older)
        #expect(reopened.openReport.discardedSnapshots.map(\.id) == [newest])
        try Self.checkLoad(reopened, "after falling back")
    }

    @Test func reportsADeviceErrorDuringTheLoad() throws {
        var random = Random(state: 600)
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: Self.logicalPages << 12, keep: 4)
        try Self.writeRandomSnapshots(store, random: &random, count: 3, big: true)
        let locations = try store.pageLocations()
        device.crashNow()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(Self.logicalPages) * 4096, alignment: 4096)
        defer { buffer.deallocate() }
        #expect(throws: StoreError.device(.crashed)) { try store.readPages(locations, into: buffer) }
    }
}
