import Foundation
import PhantomHost
import PhantomStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Image format 2 through the real binary (issue 10 F6): a damaged metadata
/// block is read from its copy and reported; format-1 images made by the
/// builds before it still run and stay format 1.
@Suite struct ImageFormatTests {
    static let examples = DamagedImageTests.examples
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path

    /// An image made by `phantom run examples/hello.ph`, run twice.
    func helloImage(_ dir: TemporaryDirectory) throws -> String {
        let image = dir.file("hello.img")
        for _ in 0..<2 {
            let result = try phantom("run", "--image", image, "\(Self.examples)/hello.ph")
            try #require(result.exitedWith0, "\(result)")
        }
        return image
    }

    /// Flips one bit of block `block` of the file.
    func flipBit(_ path: String, block: UInt64) throws {
        let offset = block * 4096 + 777
        var byte = try #require(fileBytes(path))[Int(offset)]
        byte ^= 0x08
        try overwrite(path, at: offset, with: Data([byte]))
    }

    @Test func aDamagedRootCopyIsReportedByVerifyAndRunBootsTheNewestSnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try helloImage(dir)
        let before = try imageInfo(image)
        #expect(before.format_version == 2)
        let roots: [UInt64]
        do {
            let device = try FileBlockDevice(path: image, mode: .readOnly)
            defer { device.close() }
            roots = try Store.open(device, readOnly: true).rootBlocks()
        }
        try #require(roots.count == 2)
        try flipBit(image, block: roots[0])
        let verify = try phantom("image", "verify", image)
        #expect(verify.exitedWith0, "\(verify)")
        #expect(verify.stdout.contains("copy: block \(roots[0])") && verify.stdout.contains("its copy at block \(roots[1]) is intact and served"), "\(verify)")
        #expect(verify.stdout.contains("nothing is lost"), "\(verify)")
        let json = try phantom("image", "verify", image, "--json")
        #expect(json.exitedWith0 && json.stdout.contains("\"served_by\" : \(roots[1])"), "\(json)")
        let run = try phantom("run", "--image", image, "\(Self.examples)/hello.ph")
        #expect(run.exitedWith0 && !run.stderr.contains("warning"), "\(run)")
        #expect(try imageInfo(image).newestID > before.newestID)
    }

    @Test func aDamagedSuperblockCopyLosesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try helloImage(dir)
        let before = try imageInfo(image)
        let slot = before.commit % 2
        try flipBit(image, block: slot)
        let info = try imageInfo(image)
        #expect(info.commit == before.commit && info.newestID == before.newestID)
        #expect(info.open_notes?.contains { $0.contains("block \(slot) (superblock \(slot))") && $0.contains("block \(slot + 10)") } == true, "\(info)")
        let verify = try phantom("image", "verify", image)
        #expect(verify.exitedWith0 && verify.stdout.contains("copy: block \(slot)"), "\(verify)")
    }

    /// A kill between the two writes of a superblock leaves its copy one
    /// commit behind (CI found it in the SIGKILL loop): verify still says
    /// "ok:" on its first line and explains the older copy in a note after it.
    @Test func anInterruptedSuperblockWriteIsANoteAfterTheVerdict() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try helloImage(dir)
        let first = try imageInfo(image)
        let slot = first.commit % 2
        let oldCopy = try #require(fileBytes(image))[Int((slot + 10) * 4096)..<Int((slot + 11) * 4096)]
        // Two more commits: the same slot is written again.
        for _ in 0..<2 {
            let result = try phantom("run", "--image", image, "\(Self.examples)/hello.ph")
            try #require(result.exitedWith0, "\(result)")
        }
        let later = try imageInfo(image)
        try #require(later.commit >= first.commit + 2, "\(later)")
        try overwrite(image, at: (slot + 10) * 4096, with: Data(oldCopy))
        let verify = try phantom("image", "verify", image)
        #expect(verify.exitedWith0 && verify.stdout.hasPrefix("ok:"), "\(verify)")
        #expect(verify.stdout.contains("note: superblock \(slot)") && verify.stdout.contains("an interrupted write"), "\(verify)")
        #expect(try imageInfo(image).newestID == later.newestID)
    }

    @Test func aFormat1ImageOfTheOldBuildStillRunsAndStaysFormat1() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("old.img")
        try #require(system("gzip -dc '\(Self.fixtures)/format1-hello.img.gz' > '\(image)'") == 0)
        let info = try imageInfo(image)
        #expect(info.format_version == 1 && !info.ids.isEmpty, "\(info)")
        let verify = try phantom("image", "verify", image)
        #expect(verify.exitedWith0 && verify.stdout.contains("every checksum valid"), "\(verify)")
        let run = try phantom("run", "--image", image, "\(Self.examples)/hello.ph")
        #expect(run.exitedWith0 && run.stdout.contains("hello, world"), "\(run)")
        let after = try imageInfo(image)
        #expect(after.format_version == 1 && after.newestID > info.newestID, "\(after)")
        #expect(try phantom("image", "verify", image).exitedWith0)
        // A new image is format 2; --format 1 still makes the old kind.
        let fresh = dir.file("new.img")
        let old = dir.file("old-kind.img")
        #expect(try phantom("image", "create", fresh).exitedWith0)
        #expect(try phantom("image", "create", old, "--format", "1").exitedWith0)
        #expect(try imageInfo(fresh).format_version == 2 && imageInfo(old).format_version == 1)
    }
}
