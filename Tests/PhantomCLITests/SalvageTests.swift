import Foundation
import PhantomHost
import PhantomStore
import Testing

/// `phantom image salvage` on a real VM image with a damaged data page
/// (issue 10 F6): verify lists the page, salvage says what lay on it and
/// what the heap check thinks, and with --yes commits the snapshot with the
/// page zeroed.
@Suite struct SalvageTests {
    struct Report: Decodable {
        struct Page: Decodable { let page: UInt64; let block: UInt64; let snapshots: [UInt64] }
        struct Object: Decodable { let address: UInt64; let size: UInt64 }
        let snapshot: UInt64?
        let committed: UInt64?
        let damaged_pages: [Page]
        let objects: [Object]
        let heap_checked: Bool
        let heap_consistent: Bool?
        let heap_problems: [String]
    }

    @Test func aDamagedPageSharedByEverySnapshotIsReportedAndZeroedInANewSnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("list.img")
        let made = try phantom("run", "--image", image, "\(DamagedImageTests.examples)/linkedlist.ph")
        try #require(made.exitedWith0, "\(made)")
        // A heap page (not page 0) that every retained snapshot shares.
        let (page, block, ids): (UInt64, UInt64, [UInt64]) = try {
            let device = try FileBlockDevice(path: image, mode: .readOnly)
            defer { device.close() }
            let store = try Store.open(device, readOnly: true)
            let ids = store.snapshots.map(\.id)
            for page in try store.mappedPages() where page > 0 {
                let block = try #require(try store.physicalBlock(page: page))
                if try ids.allSatisfy({ try store.physicalBlock(page: page, snapshot: $0) == block }) { return (page, block, ids) }
            }
            throw POSIXError(.ENOENT)
        }()
        let offset = block * 4096 + 1000
        var byte = try #require(fileBytes(image))[Int(offset)]
        byte ^= 0x02
        try overwrite(image, at: offset, with: Data([byte]))

        let verify = try phantom("image", "verify", image)
        #expect(verify.exited(1), "\(verify)")
        let list = ids.map(String.init).joined(separator: ", ")
        #expect(verify.stderr.contains("damaged page \(page) (block \(block)) in snapshot\(ids.count == 1 ? "" : "s") \(list): checksum mismatch"), "\(verify)")
        #expect(verify.stderr.contains("phantom image salvage \(image)"), "\(verify)")

        // run names the tools that help (a rollback cannot: every snapshot holds the page).
        let run = try phantom("run", "--image", image)
        #expect(run.exited(1) && run.stderr.contains("phantom image salvage \(image)"), "\(run)")

        // Without --yes: a report, nothing written, exit 1.
        let dry = try phantom("image", "salvage", image)
        #expect(dry.exited(1) && dry.stderr.contains("run again with --yes"), "\(dry)")
        #expect(dry.stdout.contains("1 damaged page(s): \(page) (block \(block))") && dry.stdout.contains("heap check with the pages zeroed")
                && dry.stdout.contains("would commit"), "\(dry)")
        #expect(try imageInfo(image).ids == ids)
        let json = try phantom("image", "salvage", image, "--json")
        #expect(json.exited(1), "\(json)")
        let report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))
        #expect(report.snapshot == ids.last && report.committed == nil && report.heap_checked)
        #expect(report.damaged_pages.map(\.page) == [page] && report.damaged_pages[0].snapshots == ids)
        #expect(report.objects.allSatisfy { $0.address >> 12 <= page && ($0.address + $0.size - 1) >> 12 >= page }, "\(json.stdout)")
        #expect(report.heap_consistent == report.heap_problems.isEmpty)

        // With --yes: a new snapshot without the damage.
        let done = try phantom("image", "salvage", image, "--yes", "--json")
        #expect(done.exitedWith0, "\(done)")
        let committed = try #require(try JSONDecoder().decode(Report.self, from: Data(done.stdout.utf8)).committed)
        #expect(try imageInfo(image).newestID == committed && committed > ids.last!)
        do {
            let device = try FileBlockDevice(path: image, mode: .readOnly)
            defer { device.close() }
            let store = try Store.open(device, readOnly: true)
            #expect(try store.read(page: page) == [UInt8](repeating: 0, count: 4096))
            #expect(try store.damagedPages().isEmpty)
        }
        let again = try phantom("image", "salvage", image)
        #expect(again.exitedWith0 && again.stdout.contains("nothing to salvage"), "\(again)")
        let after = try phantom("image", "verify", image)
        #expect(after.exited(1) && after.stderr.contains("older snapshots only"), "\(after)")
    }
}
