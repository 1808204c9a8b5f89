import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension CLITests {
    /// How many times a writer is killed with SIGKILL.
    static let killCount = 50
    /// Pages per snapshot, cycled: from one page to thousands.
    static let killPageCounts = [1, 7, 64, 300, 2000]

    /// PHANTOM_CLI_SEED=<n> in the environment repeats a run's kill times.
    static func killSeed() -> UInt64 {
        ProcessInfo.processInfo.environment["PHANTOM_CLI_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    }

    @Test func sigkilledWriterNeverLosesAPrintedSnapshotAndLeavesAVerifiableImage() throws {
        try requirePhantom()
        let seed = Self.killSeed()
        var random = SplitMix64(seed: seed)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("img")
        let created = try phantom("image", "create", image, "--size", "256M", "--keep", "4")
        try #require(created.exitedWith0, "\(created)")

        let started = Date()
        var newest: UInt64 = 0
        var killedWhileRunning = 0
        var killedInWriteLoop = 0
        var printedTotal = 0
        var notKilled: [String] = []
        for iteration in 0..<Self.killCount {
            let pages = Self.killPageCounts[iteration % Self.killPageCounts.count]
            let delay = UInt64.random(in: 20...250, using: &random)
            let context = "seed \(seed) (PHANTOM_CLI_SEED=\(seed) repeats it), kill \(iteration + 1) of \(Self.killCount), --pages \(pages), SIGKILL after \(delay) ms"

            let writer = try Child(["image", "write-test", image, "--pages", String(pages), "--snapshots", "1000000"])
            sleep(milliseconds: delay)
            let signalled = writer.kill()
            let result = writer.wait()
            let printed = committedIDs(result.stdout)
            printedTotal += printed.count
            if signalled && result.signaled && result.status == SIGKILL {
                killedWhileRunning += 1
                // It had committed and was writing the next snapshot.
                if !printed.isEmpty { killedInWriteLoop += 1 }
            } else {
                notKilled.append("\(context): \(result)")
            }
            // Each snapshot gets a new id, above every id that existed before.
            #expect(printed == printed.sorted() && Set(printed).count == printed.count, "\(context): ids out of order: \(printed)")
            if let first = printed.first {
                #expect(first > newest, "\(context): the writer printed snapshot \(first), but snapshot \(newest) existed before it started")
            }

            let verified = try phantom("image", "verify", image)
            try #require(verified.exitedWith0 && verified.stdout.hasPrefix("ok:"), "\(context): \(verified)")
            #expect(!verified.stdout.contains("note:") && !verified.stdout.contains("warning:"),
                    "\(context): a killed writer should leave nothing to repair: \(verified)")

            let info = try imageInfo(image)
            let highestPrinted = printed.last ?? 0
            // A printed commit is durable.
            try #require(info.newestID >= highestPrinted,
                         "\(context): the writer printed 'committed snapshot \(highestPrinted)' but the newest snapshot is \(info.newestID) (retained: \(info.ids))")
            // The image never goes back in time.
            try #require(info.newestID >= newest, "\(context): the newest snapshot went back from \(newest) to \(info.newestID)")
            #expect(info.ids.count <= 4 && info.ids == info.ids.sorted() && Set(info.ids).count == info.ids.count,
                    "\(context): retained ids \(info.ids) with --keep 4")
            #expect(info.open_notes?.isEmpty ?? true, "\(context): \(info.open_notes ?? [])")
            newest = info.newestID
        }
        let seconds = Date().timeIntervalSince(started)

        // The loop really killed writers in the middle of their work.
        #expect(killedWhileRunning >= Self.killCount * 9 / 10,
                "only \(killedWhileRunning) of \(Self.killCount) writers were still running when killed (seed \(seed)):\n\(notKilled.joined(separator: "\n"))")
        #expect(killedInWriteLoop >= Self.killCount / 3,
                "only \(killedInWriteLoop) of \(Self.killCount) writers had committed a snapshot before the kill (seed \(seed))")
        #expect(printedTotal > Self.killCount && newest >= UInt64(printedTotal),
                "\(printedTotal) commits printed, newest snapshot \(newest) (seed \(seed))")
        #expect(seconds < 120, "the kill loop took \(seconds) s (seed \(seed))")
    }
}
