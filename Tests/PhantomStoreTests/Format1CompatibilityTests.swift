import Testing
import PhantomHost
@testable import PhantomStore

#if canImport(Glibc)
import Glibc
#endif

/// Format-1 images (everything made before format 2) are read and written
/// as format 1: never misread, never converted. The fixture
/// `Tests/Fixtures/format1-store.img.gz` was made by the format-1 build
/// (commit 7ae414d): 16 MiB logical, keep 3, five snapshots of pattern pages.
@Suite struct Format1CompatibilityTests {
    static let fixture = String(#filePath.dropLast("PhantomStoreTests/Format1CompatibilityTests.swift".count)) + "Fixtures/format1-store.img.gz"

    /// The fixture's page `p` as snapshot `s` wrote it.
    static func page(_ s: UInt64, _ p: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: UInt8(truncatingIfNeeded: s &* 7 &+ p), count: 4096)
        for k in 0..<8 {
            bytes[k] = UInt8(truncatingIfNeeded: s >> (8 * UInt64(k)))
            bytes[8 + k] = UInt8(truncatingIfNeeded: p >> (8 * UInt64(k)))
        }
        return bytes
    }

    /// What each retained snapshot of the fixture holds.
    static var models: [UInt64: Model] {
        var model: Model = [:]
        var result: [UInt64: Model] = [:]
        let plan: [[UInt64]] = [Array(0..<10), Array(5..<15), [0, 1], [200, 3000], []]
        for (index, pages) in plan.enumerated() {
            let id = UInt64(index + 1)
            for page in pages { model[page] = Self.page(id, page) }
            result[id] = model
        }
        return result
    }

    /// The fixture, unpacked into `dir`.
    func unpack(into dir: TemporaryDirectory) throws -> String {
        let path = dir.file("format1.img")
        try #require(system("gzip -dc '\(Self.fixture)' > '\(path)'") == 0, "cannot unpack \(Self.fixture)")
        return path
    }

    /// The version field of superblock slot `slot` on disk.
    func versionOnDisk(_ device: any BlockDevice, slot: UInt64) throws -> UInt32 {
        let buffer = BlockBuffer()
        try device.read(into: buffer.mutableRaw, at: slot * 4096)
        return buffer.u32(8)
    }

    @Test func theFormat1FixtureReadsAsItWasWritten() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let device = try FileBlockDevice(path: try unpack(into: dir), mode: .readOnly)
        let store = try Store.open(device, readOnly: true, verification: .newestSnapshot)
        #expect(store.formatVersion == 1)
        #expect(store.openReport.isClean, "\(store.openReport.notes)")
        #expect(store.snapshots.map(\.id) == [3, 4, 5])
        for id in UInt64(3)...5 { #expect(try contents(of: store, snapshot: id) == Self.models[id], "snapshot \(id)") }
        let report = store.verify()
        #expect(report.isHealthy && report.warnings.isEmpty && report.damagedCopies.isEmpty, "\(report.problems) \(report.warnings)")
        #expect(store.bootRecords.isEmpty)
    }

    @Test func aFormat1ImageStaysFormat1WhenWrittenAndRolledBack() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let path = try unpack(into: dir)
        var models = Self.models
        do {
            let device = try FileBlockDevice(path: path, mode: .readWrite)
            let store = try Store.open(device)
            for id in UInt64(6)...9 {
                let pages = [id, 100 + id, 2 * id]
                try store.commit(pages: pages.map { (page: $0, bytes: pageBytes(seed: id, page: $0)) })
                var model = models[id - 1]!
                for page in pages { model[page] = pageBytes(seed: id, page: page) }
                models[id] = model
            }
            #expect(store.formatVersion == 1)
            #expect(try versionOnDisk(device, slot: 0) == 1 && versionOnDisk(device, slot: 1) == 1)
            #expect(throws: StoreError.formatTooOld(path: path, version: 1, feature: "boot log")) {
                try store.recordBoot(snapshot: 9, note: "no log in format 1")
            }
            device.close()
        }
        let device = try FileBlockDevice(path: path, mode: .readWrite)
        let store = try Store.open(device, verification: .newestSnapshot)
        #expect(store.formatVersion == 1 && store.snapshots.map(\.id) == [7, 8, 9])
        for id in UInt64(7)...9 { #expect(try contents(of: store, snapshot: id) == models[id]) }
        try store.rollback(to: 8)
        #expect(try contents(of: store) == models[8])
        let report = store.verify()
        #expect(report.isHealthy && report.warnings.isEmpty, "\(report.problems) \(report.warnings)")
        // Nothing of format 2 appeared: blocks 10 and 11 are not superblocks.
        let buffer = BlockBuffer()
        for block in [UInt64(10), 11] {
            try device.read(into: buffer.mutableRaw, at: block * 4096)
            #expect(buffer.u64(0) != Layout.superblockMagic)
        }
    }
}
