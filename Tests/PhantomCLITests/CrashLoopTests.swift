import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Crash loops (docs/kernel.md, *Crash loops*): every `phantom run` is
/// recorded in the image's boot log; K failed boots in a row from one
/// snapshot make the next boot start from the newest older one. The faults
/// are real: PHANTOM_FAULT aborts the real binary.
@Suite(.serialized) struct CrashLoopTests {
    /// Prints "hi" and ends.
    static let hello = """
        class hi
        method run 1
            sconst "hi\\n"
            os_get 0
            call 16 1
            os_drop
            ret
        end
        """

    func phantom(_ arguments: String..., fault: String? = nil) throws -> CommandResult {
        try Child(arguments, environment: fault.map { ["PHANTOM_FAULT": $0] } ?? [:]).wait()
    }

    /// `snapshots --json`: the kept ids, the top-level boots, and each
    /// snapshot's own boots (sequences).
    struct Listing {
        var ids: [Int] = []
        var boots: [[String: Any]] = []
        var bootsOf: [Int: [Int]] = [:]
        func outcomes() -> [String] { boots.compactMap { $0["outcome"] as? String } }
        func notes() -> [String] { boots.compactMap { $0["note"] as? String } }
    }

    func listing(_ image: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Listing {
        let result = try phantom("snapshots", "--image", image, "--json")
        #expect(result.exitedWith0, "\(result)", sourceLocation: sourceLocation)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result)")
        var listing = Listing()
        let snapshots = try #require(object["snapshots"] as? [[String: Any]], "\(result)")
        for snapshot in snapshots {
            let id = try #require(snapshot["id"] as? Int)
            // Every key that was there before the boot log stays.
            for key in ["time_ns", "pages_written", "bytes_written", "pages_mapped"] { #expect(snapshot[key] != nil, "\(key): \(result)") }
            listing.ids.append(id)
            listing.bootsOf[id] = (snapshot["boots"] as? [[String: Any]])?.compactMap { $0["sequence"] as? Int }
        }
        listing.boots = try #require(object["boots"] as? [[String: Any]], "\(result)")
        return listing
    }

    /// An image whose newest snapshot (2) is after `hi` ended, snapshot 1
    /// from before it ran (the program made durable before its first
    /// instruction).
    func helloImage(_ dir: TemporaryDirectory, name: String = "loop.img") throws -> String {
        let program = dir.file("hi.pa")
        try Self.hello.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file(name)
        let first = try phantom("run", "--image", image, program)
        #expect(first.exitedWith0 && first.stdout == "hi\n", "\(first)")
        #expect(try listing(image).ids == [1, 2])
        return image
    }

    func abortAtBoot(_ image: String, times: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for _ in 0..<times {
            let result = try phantom("run", "--image", image, fault: "abort-at-boot")
            #expect(result.signaled && result.status == SIGABRT, "\(result)", sourceLocation: sourceLocation)
        }
    }

    @Test func threeBootsThatDieAtBootRollTheNextBackOneSnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try helloImage(dir)
        try abortAtBoot(image, times: 3)
        // Each boot marks the one before it; the last is marked by the next boot.
        #expect(try listing(image).outcomes() == ["healthy", "failed", "failed", "running"])

        let fourth = try phantom("run", "--image", image)
        #expect(fourth.exitedWith0, "\(fourth)")
        #expect(fourth.stderr.contains("phantom: warning: 3 boots from snapshot 2 failed (none became healthy); starting from snapshot 1"), "\(fourth)")
        // Snapshot 1 is from before `hi` ran: it runs again.
        #expect(fourth.stdout == "hi\n", "\(fourth)")
        let after = try listing(image)
        #expect(after.ids == [1, 3], "2 was dropped, 3 is the fourth boot's final snapshot")
        #expect(after.outcomes() == ["healthy", "failed", "failed", "failed", "healthy"])
        #expect(after.notes()[1...3].allSatisfy { $0 == "did not become healthy" }, "\(after.notes())")
        #expect(after.notes()[4].hasPrefix("rolled back from snapshot 2 to 1 after 3 failed boots from 2"), "\(after.notes())")
        #expect(after.boots.compactMap { $0["snapshot"] as? Int } == [0, 2, 2, 2, 1])
        #expect(after.bootsOf[1] == [5] && after.bootsOf[3] == [])
        let text = try phantom("snapshots", "--image", image)
        #expect(text.stdout.contains("failed  did not become healthy  (from snapshot 2)"), "\(text)")
        #expect(try phantom("image", "verify", image).exitedWith0)

        // The failures from 2 do not count against 1, nor against 3: two
        // more deaths from 3 roll nothing back.
        try abortAtBoot(image, times: 2)
        let next = try phantom("run", "--image", image)
        #expect(next.exitedWith0 && !next.stderr.contains("warning"), "\(next)")
    }

    @Test func noAutoRollbackWarnsButBootsTheSameSnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = try helloImage(dir)
        try abortAtBoot(image, times: 3)
        let fourth = try phantom("run", "--image", image, "--no-auto-rollback")
        #expect(fourth.exitedWith0 && fourth.stdout.isEmpty, "hi has ended in snapshot 2: \(fourth)")
        #expect(fourth.stderr.contains("3 boots from snapshot 2 failed (none became healthy); not rolling back (--no-auto-rollback)"), "\(fourth)")
        let after = try listing(image)
        #expect(after.ids == [1, 2, 3])
        #expect(after.outcomes() == ["healthy", "failed", "failed", "failed", "healthy"])
        #expect(after.bootsOf[2] == [2, 3, 4, 5])
        // A larger K: no warning at all.
        try abortAtBoot(image, times: 3)
        let patient = try phantom("run", "--image", image, "--crash-loop-boots", "4")
        #expect(patient.exitedWith0 && !patient.stderr.contains("warning"), "\(patient)")
    }

    /// `KernelTests.counter` prints a number every 2 ms or more: 9
    /// instructions, then 21 a number.
    static func counterImage(_ dir: TemporaryDirectory) throws -> (image: String, program: String) {
        let program = dir.file("counter.pa")
        try KernelTests.counter.write(toFile: program, atomically: true, encoding: .utf8)
        return (dir.file("counter.img"), program)
    }

    @Test func aBootThatBecameHealthyIsNotCountedAndEndsTheCount() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let (image, program) = try Self.counterImage(dir)
        // 100 numbers, at least 200 ms; healthy after 50 ms and a snapshot.
        let fault = "abort-after-instructions=\(9 + 21 * 100)"
        let healthy = try phantom("run", "--image", image, "--snapshot-interval", "20ms", "--healthy-after", "50ms", program, fault: fault)
        #expect(healthy.signaled && healthy.status == SIGABRT, "\(healthy)")
        #expect(try listing(image).outcomes() == ["healthy"], "healthy, then it died: not a failed boot")

        // The same crash before the boot is healthy (default 10 s) fails it,
        // with the snapshots off so that each boot starts where the last one did.
        for _ in 0..<2 {
            let result = try phantom("run", "--image", image, "--snapshot-interval", "0", fault: "abort-after-instructions=50")
            #expect(result.signaled && result.status == SIGABRT, "\(result)")
        }
        // Two failed boots from S, then a healthy one from S ends the
        // count: rolled back to S by hand, one more failure from S is one,
        // not three.
        let s = try #require(try listing(image).ids.last)
        // (Few snapshots, so that the image still keeps S: it keeps 8.)
        let good = try phantom("run", "--image", image, "--snapshot-interval", "60ms", "--healthy-after", "30ms", fault: fault)
        #expect(good.signaled && good.status == SIGABRT, "\(good)")
        #expect(try phantom("rollback", "--image", image, "--to", "\(s)").exitedWith0)
        let again = try phantom("run", "--image", image, "--snapshot-interval", "0", fault: "abort-after-instructions=50")
        #expect(again.signaled && again.status == SIGABRT, "\(again)")
        // A boot stopped by SIGTERM before --healthy-after ended cleanly: healthy.
        let child = try Child(["run", "--image", image, "--snapshot-interval", "0"])
        usleep(100_000)
        #expect(child.send(SIGTERM))
        let last = child.wait()
        #expect(last.exitedWith0 && !last.stderr.contains("warning"), "\(last)")
        let listed = try listing(image)
        #expect(listed.outcomes() == ["healthy", "failed", "failed", "healthy", "failed", "healthy"])
        #expect(listed.notes().last?.contains("ended cleanly after") == true, "\(listed.notes())")
        #expect(listed.boots.compactMap { $0["snapshot"] as? Int }.dropFirst() == [s, s, s, s, s], "\(listed.boots)")

        // Three crashes after 50 instructions, each from the same snapshot:
        // the next boot goes back one.
        let before = try listing(image).ids
        for _ in 0..<3 {
            let result = try phantom("run", "--image", image, "--snapshot-interval", "0", fault: "abort-after-instructions=50")
            #expect(result.signaled && result.status == SIGABRT, "\(result)")
        }
        let back = try Child(["run", "--image", image, "--snapshot-interval", "0"])
        usleep(100_000)
        #expect(back.send(SIGTERM))
        let rolled = back.wait()
        let newest = try #require(before.last)
        let older = try #require(before.dropLast().last)
        #expect(rolled.exitedWith0 && rolled.stderr.contains("3 boots from snapshot \(newest) failed (none became healthy); starting from snapshot \(older)"), "\(rolled)")
    }

    @Test func withNoOlderSnapshotTheBootGoesOnWithAWarning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("hi.pa")
        try Self.hello.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("new.img")
        // A new image dies before its first snapshot: three boots from none.
        for _ in 0..<3 {
            let result = try phantom("run", "--image", image, program, fault: "abort-at-boot")
            #expect(result.signaled && result.status == SIGABRT, "\(result)")
        }
        let fourth = try phantom("run", "--image", image, program)
        #expect(fourth.exitedWith0 && fourth.stdout == "hi\n", "\(fourth)")
        #expect(fourth.stderr.contains("3 boots from snapshot 0 failed (none became healthy), and \(image) keeps no older snapshot to roll back to"), "\(fourth)")
        let after = try listing(image)
        #expect(after.outcomes() == ["failed", "failed", "failed", "healthy"])
        #expect(after.notes().last?.hasPrefix("3 failed boots from snapshot 0; no older snapshot kept") == true, "\(after.notes())")
        #expect(try phantom("image", "verify", image).exitedWith0)
    }

    @Test(arguments: [["--crash-loop-boots", "0"], ["--crash-loop-boots", "65"], ["--crash-loop-boots", "-1"], ["--crash-loop-boots", "3x"],
                      ["--crash-loop-boots", "+3"], ["--healthy-after", "soon"], ["--healthy-after", "-1s"], ["--healthy-after", "1e30"]])
    func badValuesAreUsageErrors(arguments: [String]) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("bad.img")
        let result = try Child(["run", "--image", image] + arguments).wait()
        #expect(result.exited(64) && result.stderr.contains(arguments[0]), "\(result)")
        #expect(fileBytes(image) == nil, "nothing was made")
    }
}
