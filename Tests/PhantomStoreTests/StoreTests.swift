import Testing
import PhantomHost
@testable import PhantomStore

@Suite struct StoreBasicsTests {
    @Test func emptyImageReadsZerosAndHasNoSnapshots() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        let device = try FileBlockDevice(path: dir.file("a.img"), mode: .create)
        let store = try Store.create(on: device, logicalSize: 1 << 30)
        #expect(store.snapshots.isEmpty)
        #expect(try store.read(page: 5) == [UInt8](repeating: 0, count: 4096))
        #expect(store.verify().isHealthy)
    }

    @Test func committedPagesSurviveReopen() throws {
        let dir = TemporaryDirectory()
        defer { dir.cleanup() }
        var model: Model = [:]
        do {
            let device = try FileBlockDevice(path: dir.file("a.img"), mode: .create)
            let store = try Store.create(on: device)
            for snapshot in UInt64(1)...5 {
                var pages: [(page: UInt64, bytes: [UInt8])] = []
                for page in stride(from: snapshot, to: 3000, by: Int(snapshot) * 7) {
                    let bytes = pageBytes(seed: snapshot, page: page)
                    pages.append((page, bytes))
                    model[page] = bytes
                }
                let info = try store.commit(pages: pages)
                #expect(info.id == snapshot)
                #expect(try contents(of: store) == model)
            }
        }
        let device = try FileBlockDevice(path: dir.file("a.img"), mode: .readWrite)
        let store = try Store.open(device, verification: .newestSnapshot)
        #expect(store.openReport.isClean)
        #expect(store.snapshots.map(\.id) == [1, 2, 3, 4, 5])
        #expect(try contents(of: store) == model)
        let report = store.verify()
        #expect(report.isHealthy, "\(report.problems)")
        #expect(report.warnings.isEmpty, "\(report.warnings)")
    }
}
