// Issue 10, findings F2 and F3: a program with little live data and much
// garbage keeps a small image across kill -9 restarts, and each snapshot
// writes about what it changed, not the heap.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension CLITests {
    /// Allocates and drops 2000 small objects a round, forever; live data
    /// well under 1 MiB (the probe's `churn.ph`).
    static let churn = """
        class node { var next; var payload; };
        class churn {
            var rounds : int;
            void run(var boot) {
                while (true) {
                    var head = null;
                    for (var i : int = 0; i < 2000; i++) { var n = new node(); n.next = head; n.payload = new int[16]; head = n; }
                    rounds++;
                }
            }
        };
        """

    /// `pages_mapped` of the newest snapshot of an image, or (`highest`) the
    /// most of any kept snapshot.
    func pagesMapped(_ image: String, highest: Bool = false) throws -> UInt64 {
        let result = try phantom("snapshots", "--image", image, "--json")
        try #require(result.exitedWith0, "\(result)")
        struct Listing: Decodable { struct Entry: Decodable { let pages_mapped: UInt64 }; let snapshots: [Entry] }
        let listing = try JSONDecoder().decode(Listing.self, from: Data(result.stdout.utf8))
        if highest { return try #require(listing.snapshots.map(\.pages_mapped).max()) }
        return try #require(listing.snapshots.last).pages_mapped
    }

    @Test func aChurningProgramWritesLittlePerSnapshotAndStaysSmallAcrossKillRestarts() throws {
        try requirePhantom()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("churn.ph")
        try Self.churn.write(toFile: program, atomically: true, encoding: .utf8)

        // Uninterrupted: 6 s with a snapshot every 500 ms, each logged.
        let steady = dir.file("steady.img")
        let child = try Child(["run", "--image", steady, "--snapshot-interval", "500ms", "--verbose", program])
        usleep(6_000_000)
        child.send(SIGTERM)
        let ran = child.wait()
        #expect(ran.exitedWith0, "\(ran)")
        let pages = ran.stderr.split(separator: "\n").filter { $0.contains(" snapshot") }.compactMap { line -> Int? in
            guard let range = line.range(of: "pages=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        try #require(pages.count >= 6, "\(ran)")
        // F3: at most 4 MiB (1024 pages) a snapshot; before, about 17 000.
        for count in pages.dropFirst() { #expect(count <= 1024, "a snapshot wrote \(count) pages: \(pages)") }
        // Freed pages are holes, so the mapped pages of a churning heap rise
        // and fall with its collections (about 200 to 600 here): its steady
        // size is the most of its kept snapshots (the last 4 s).
        let steadyPages = try pagesMapped(steady, highest: true)

        // F2: 40 runs of 150 ms each, every one ended by SIGKILL.
        let killed = dir.file("killed.img")
        #expect(try phantom("install", "--image", killed, program).exitedWith0)
        #expect(try phantom("start", "--image", killed, "churn").exitedWith0)
        for _ in 0..<40 {
            // A kill loop is a crash loop: no rollback (it would drop snapshots, not grow them).
            let run = try Child(["run", "--image", killed, "--snapshot-interval", "50ms", "--no-auto-rollback"])
            usleep(150_000)
            _ = run.kill()
            _ = run.wait()
        }
        let killedPages = try pagesMapped(killed)
        #expect(Double(killedPages) <= 1.5 * Double(steadyPages) + 64,
                "after 40 kill -9 restarts \(killedPages) pages are mapped; an uninterrupted run maps \(steadyPages)")
    }
}
