import Foundation
import Testing

/// Damaged images (issue 10 F5): what `run` and `image verify` say when the
/// newest superblock is lost.
@Suite struct DamagedImageTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path

    /// The ids listed by `image verify`'s "ok" line.
    func verifiedIDs(_ output: String) -> [UInt64] {
        guard let open = output.firstIndex(of: "("), let close = output[open...].firstIndex(of: ")") else { return [] }
        return output[output.index(after: open)..<close].split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
    }

    @Test func lostNewestSuperblockIsReportedByRunAndVerifyAndItsIDIsNotReused() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("hello.img")
        for _ in 0..<2 {
            let result = try phantom("run", "--image", image, "\(Self.examples)/hello.ph")
            try #require(result.exitedWith0, "\(result)")
        }
        let before = try phantom("image", "verify", image)
        let ids = verifiedIDs(before.stdout)
        let lostID = try #require(ids.last, "\(before)")
        // Zero the slot with the higher sequence (offset 16 of each slot):
        // both of its copies (blocks 0 and 10, or 1 and 11, in format 2).
        var bytes = try #require(fileBytes(image))
        func sequence(_ slot: Int) -> UInt64 { bytes[(slot * 4096 + 16)..<(slot * 4096 + 24)].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        let newest = sequence(0) > sequence(1) ? 0 : 1
        for block in [newest, newest + 10] {
            bytes.replaceSubrange((block * 4096)..<((block + 1) * 4096), with: Data(count: 4096))
        }
        try bytes.write(to: URL(fileURLWithPath: image))

        let verify = try phantom("image", "verify", image)
        #expect(verify.status == 1, "\(verify)")
        #expect(verify.stderr.contains("snapshot \(lostID)") && verify.stderr.contains("lost"), "\(verify)")

        let run = try phantom("run", "--image", image)
        #expect(run.exitedWith0, "\(run)")
        #expect(run.stderr.contains("warning: superblock \(newest)") && run.stderr.contains("snapshot \(lostID)")
                && run.stderr.contains("Booted from snapshot \(lostID - 1)"), "\(run)")
        let after = try phantom("image", "verify", image)
        let afterIDs = verifiedIDs(after.stdout)
        #expect(after.exitedWith0 && !afterIDs.contains(lostID) && afterIDs.last.map { $0 > lostID } == true, "\(after)")
    }
}
