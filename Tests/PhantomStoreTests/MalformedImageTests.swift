import Testing
import PhantomHost
@testable import PhantomStore

@Suite struct MalformedImageTests {
    func validImage(format: UInt32 = Layout.formatVersion) throws -> [UInt8] {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 16 << 20, formatVersion: format)
        for id in UInt64(1)...4 {
            try store.commit(pages: (0..<UInt64(30)).map { (($0 * id) % 70, pageBytes(seed: id, page: ($0 * id) % 70)) })
        }
        return device.contents
    }

    @Test func randomBytesAreNotAnImage() throws {
        var generator = SplitMix(seed: 11)
        for size in [0, 100, 4096, 8192, 65536, 1 << 20] {
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let device = FaultyBlockDevice(durableContents: bytes)
            do {
                _ = try Store.open(device)
                Issue.record("random bytes of size \(size) opened as an image")
            } catch let error {
                guard case .notAnImage = error else { Issue.record("size \(size): \(error)"); continue }
                #expect(error.description.contains("is not a Phantom image"))
            }
        }
    }

    @Test func aFileOfAnotherKindIsNotAnImage() throws {
        let text = Array("#!/bin/sh\necho hello, this is a shell script and not an image\n".utf8) + [UInt8](repeating: 0x20, count: 9000)
        #expect(throws: StoreError.notAnImage(path: "faulty-device", reason: "no Phantom superblock (magic \"PHNTMIMG\") at block 0 or 1")) {
            _ = try Store.open(FaultyBlockDevice(durableContents: text))
        }
    }

    @Test(arguments: [UInt32(1), 2])
    func truncatedImagesGiveAClearErrorOrAnOlderState(format: UInt32) throws {
        let image = try validImage(format: format)
        for length in stride(from: 0, to: image.count, by: 4096 * 3 + 512) {
            let device = FaultyBlockDevice(durableContents: Array(image[0..<length]))
            do {
                let store = try Store.open(device, verification: .newestSnapshot)
                _ = store.verify()  // must not crash; damage is reported
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func newerFormatVersionIsRefusedWithTheVersionNumber() throws {
        var image = try validImage()
        for slot in 0..<2 {
            let buffer = BlockBuffer()
            buffer.mutableRaw.copyBytes(from: image[(slot * 4096)..<((slot + 1) * 4096)])
            guard buffer.u64(0) == Layout.superblockMagic else { continue }
            buffer.setU32(8, 7)
            buffer.setU32(Superblock.checksumOffset, crc32c(UnsafeRawBufferPointer(start: buffer.bytes, count: Superblock.checksumOffset)))
            image.replaceSubrange((slot * 4096)..<((slot + 1) * 4096), with: Array(buffer.raw))
            break
        }
        #expect(throws: StoreError.unsupportedVersion(path: "faulty-device", found: 7, supported: Layout.formatVersion)) {
            _ = try Store.open(FaultyBlockDevice(durableContents: image))
        }
    }

    /// Format 2: all four copies.
    @Test(arguments: [UInt32(1), 2])
    func bothSuperblocksDamagedIsReportedAsCorrupt(format: UInt32) throws {
        var image = try validImage(format: format)
        for block in ImageFormat(version: format).slotBlocks.joined() { image[Int(block) * 4096 + 20] ^= 1 }
        do {
            _ = try Store.open(FaultyBlockDevice(durableContents: image))
            Issue.record("opened an image with both superblocks damaged")
        } catch let error {
            guard case let .corrupt(_, detail) = error else { Issue.record("\(error)"); return }
            #expect(detail.contains("checksum mismatch"))
        }
    }

    @Test(arguments: [UInt32(1), 2])
    func randomCorruptionNeverCrashesAndIsFoundOrHarmless(format: UInt32) throws {
        let image = try validImage(format: format)
        var generator = SplitMix(seed: 12)
        for _ in 0..<300 {
            var damaged = image
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let offset = Int(generator.next() % UInt64(damaged.count))
                damaged[offset] ^= UInt8(1 << (generator.next() % 8))
            }
            let device = FaultyBlockDevice(durableContents: damaged)
            guard let store = try? Store.open(device, readOnly: true, verification: .newestSnapshot) else { continue }
            let report = store.verify()
            if report.isHealthy {
                // Every page that verifies must read back without error.
                for page in try store.mappedPages() { _ = try store.read(page: page) }
            }
        }
    }
}
