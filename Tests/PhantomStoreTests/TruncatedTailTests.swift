import Testing
import PhantomHost
@testable import PhantomStore

/// Finding F7 (issue 10): an image cut short in its free tail still opens;
/// one that lost live blocks says what is missing and how to recover.
@Suite struct TruncatedTailTests {
    func smallImage() throws -> (image: [UInt8], model: [UInt64: [UInt8]]) {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20)
        var model: [UInt64: [UInt8]] = [:]
        for seed in 1...3 {
            let page = UInt64(seed)
            try store.commit(pages: [(page, pageBytes(seed: UInt64(seed), page: page))])
            model[page] = pageBytes(seed: UInt64(seed), page: page)
        }
        return (device.durableImage(after: .keepAll), model)
    }

    @Test func imageCutShortInItsFreeTailOpensAndTheNextCommitGrowsItBack() throws {
        let (image, model) = try smallImage()
        #expect(image.count > 64 * 4096)
        for cut in [1, 4095, 4096, 4096 * 20 + 7] {
            let device = FaultyBlockDevice(durableContents: Array(image.prefix(image.count - cut)))
            let store = try Store.open(device, verification: .newestSnapshot)
            #expect(store.newestSnapshot?.id == 3 && !store.openReport.fellBack, "cut \(cut)")
            #expect(store.openReport.notes.contains { $0.contains("only free blocks") }, "\(store.openReport.notes)")
            for (page, bytes) in model { #expect(try store.read(page: page) == bytes) }
            #expect(store.verify().isHealthy, "\(store.verify().problems)")
            try store.commit(pages: [(9, pageBytes(seed: 9, page: 9))])
            #expect(device.size >= UInt64(image.count))
            let reopened = try Store.open(device.rebooted(.keepAll), verification: .newestSnapshot)
            #expect(reopened.openReport.isClean, "\(reopened.openReport.notes)")
            #expect(try reopened.read(page: 9) == pageBytes(seed: 9, page: 9))
            #expect(reopened.verify().isHealthy)
        }
    }

    @Test func imageMissingLiveBlocksSaysWhatIsMissingAndHowToRecover() throws {
        let (image, _) = try smallImage()
        do {
            _ = try Store.open(FaultyBlockDevice(durableContents: Array(image.prefix(8192))))
            Issue.record("opened an image without its blocks")
        } catch let error {
            guard case let .corrupt(_, detail) = error else { Issue.record("\(error)"); return }
            #expect(detail.contains("cut short") && detail.contains("truncate -s \(image.count)"), "\(detail)")
        }
    }
}
