import Foundation
import PhantomStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `phantom` binary. Serialized: the SIGKILL loop measures
/// time, and every test blocks a thread while its children run.
@Suite(.serialized) struct CLITests {
    /// Fails the test at once when the binary is not where it should be.
    func requirePhantom(sourceLocation: SourceLocation = #_sourceLocation) throws {
        try #require(FileManager.default.isExecutableFile(atPath: phantomPath),
                     "no phantom executable at \(phantomPath)", sourceLocation: sourceLocation)
    }

    /// The snapshot ids in the table `phantom image info` prints.
    func idsInInfoTable(_ stdout: String) -> [UInt64] {
        let lines = stdout.split(separator: "\n")
        guard let header = lines.firstIndex(where: { $0.contains("TIME (UTC)") }) else { return [] }
        return lines[(header + 1)...].compactMap { line in
            line.split(separator: " ").first.flatMap { UInt64($0) }
        }
    }

    @Test func createWriteInfoVerifyAndRollbackWorkTogether() throws {
        try requirePhantom()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("img")

        let created = try phantom("image", "create", image, "--size", "64M", "--keep", "3")
        #expect(created.exitedWith0, "\(created)")
        #expect(created.stdout.contains("created \(image)") && created.stdout.contains("keeps 3 snapshots"), "\(created)")

        let written = try phantom("image", "write-test", image, "--pages", "5", "--snapshots", "5")
        #expect(written.exitedWith0, "\(written)")
        #expect(committedIDs(written.stdout) == [1, 2, 3, 4, 5], "\(written)")

        // Human output: the retained snapshots, only those.
        let human = try phantom("image", "info", image)
        #expect(human.exitedWith0, "\(human)")
        #expect(idsInInfoTable(human.stdout) == [3, 4, 5], "\(human)")
        #expect(human.stdout.contains("keeps 3 snapshots"), "\(human)")

        // JSON output: every documented key, with values that fit the image.
        let json = try phantom("image", "info", image, "--json")
        #expect(json.exitedWith0, "\(json)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(json)")
        for key in ["format_version", "page_size", "logical_pages", "keep", "commit", "device_bytes", "used_bytes", "free_bytes", "snapshots"] {
            #expect(object[key] != nil, "info --json has no key \(key): \(json.stdout)")
        }
        let rawSnapshots = try #require(object["snapshots"] as? [[String: Any]], "\(json.stdout)")
        for snapshot in rawSnapshots {
            for key in ["id", "time", "pages", "bytes"] {
                #expect(snapshot[key] != nil, "a snapshot in info --json has no key \(key): \(snapshot)")
            }
        }
        let info = try JSONDecoder().decode(ImageInfo.self, from: Data(json.stdout.utf8))
        #expect(info.format_version == Int(Layout.formatVersion))
        #expect(info.page_size == 4096)
        #expect(info.logical_pages == (64 << 20) / 4096)
        #expect(info.keep == 3)
        #expect(info.commit == 6, "create is commit 1, then one commit per snapshot")
        #expect(info.ids == [3, 4, 5])
        #expect(info.snapshots.allSatisfy { $0.pages == 5 && $0.bytes >= 5 * 4096 }, "\(json.stdout)")
        #expect(info.snapshots.allSatisfy { ISO8601DateFormatter.withFractions.date(from: $0.time) != nil }, "\(json.stdout)")
        let fileSize = try #require(fileBytes(image)).count
        #expect(info.device_bytes == UInt64(fileSize))
        #expect(info.used_bytes + info.free_bytes == info.device_bytes, "\(json.stdout)")
        #expect(info.used_bytes >= 15 * 4096, "three snapshots of 5 pages are stored")

        let verified = try phantom("image", "verify", image)
        #expect(verified.exitedWith0, "\(verified)")
        #expect(verified.stdout.hasPrefix("ok:") && verified.stdout.contains("3 snapshots (3, 4, 5)"), "\(verified)")

        // Without --yes: refused, says what it would discard, changes nothing.
        let before = try #require(fileBytes(image))
        let refused = try phantom("image", "rollback", image, "--to", "3")
        #expect(refused.exited(1), "\(refused)")
        #expect(refused.stderr.contains("--yes") && refused.stderr.contains("4, 5"), "\(refused)")
        #expect(fileBytes(image) == before, "a refused rollback changed the image")
        #expect(try imageInfo(image).ids == [3, 4, 5])

        // A snapshot that is not retained: a clear error with the retained ids.
        for arguments in [["--to", "1", "--yes"], ["--to", "1"], ["--to", "99", "--yes"]] {
            let missing = try Child(["image", "rollback", image] + arguments).wait()
            #expect(missing.exited(1), "\(missing)")
            let id = arguments[1]
            #expect(missing.stderr.contains("no snapshot \(id)") && missing.stderr.contains("3, 4, 5"), "\(missing)")
            #expect(fileBytes(image) == before, "a failed rollback changed the image")
        }

        // Rolling back to the newest is a no-op.
        let noop = try phantom("image", "rollback", image, "--to", "5")
        #expect(noop.exitedWith0 && noop.stdout.contains("already the newest"), "\(noop)")
        #expect(fileBytes(image) == before)

        // With --yes: the newer snapshots are gone, the image verifies.
        let rolled = try phantom("image", "rollback", image, "--to", "3", "--yes")
        #expect(rolled.exitedWith0, "\(rolled)")
        #expect(rolled.stdout.contains("discarded snapshots 4, 5"), "\(rolled)")
        #expect(try imageInfo(image).ids == [3])
        let humanAfter = try phantom("image", "info", image)
        #expect(idsInInfoTable(humanAfter.stdout) == [3], "\(humanAfter)")
        let verifiedAfter = try phantom("image", "verify", image)
        #expect(verifiedAfter.exitedWith0 && verifiedAfter.stdout.hasPrefix("ok:"), "\(verifiedAfter)")

        // Ids of discarded snapshots are never given out again.
        let more = try phantom("image", "write-test", image, "--pages", "5", "--snapshots", "1")
        #expect(more.exitedWith0 && committedIDs(more.stdout) == [6], "\(more)")
        #expect(try imageInfo(image).ids == [3, 6])
    }

    @Test func secondWriterFailsFastWithImageInUseWhileTheFirstRuns() throws {
        try requirePhantom()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let image = dir.file("img")
        let created = try phantom("image", "create", image, "--size", "64M")
        try #require(created.exitedWith0, "\(created)")

        let first = try Child(["image", "write-test", image, "--pages", "1", "--snapshots", "1000000"])
        defer {
            first.kill()
            _ = first.wait()
        }
        // It holds the lock once it has committed something.
        let deadline = Date().addingTimeInterval(30)
        while committedIDs(first.stdoutSoFar).isEmpty && first.isRunning && Date() < deadline {
            sleep(milliseconds: 5)
        }
        try #require(!committedIDs(first.stdoutSoFar).isEmpty, "the first writer never committed: \(first.wait())")

        let second = try phantom("image", "write-test", image, "--pages", "1", "--snapshots", "1", timeLimit: 20)
        #expect(second.exited(1), "\(second)")
        #expect(second.stderr.contains("in use"), "\(second)")
        #expect(second.seconds < 5, "the second writer took \(second.seconds) s to give up")
        #expect(committedIDs(second.stdout).isEmpty, "\(second)")

        // Neither may a rollback or a create get in while it writes.
        let rollback = try phantom("image", "rollback", image, "--to", "1", "--yes", timeLimit: 20)
        #expect(rollback.exited(1) && rollback.stderr.contains("in use"), "\(rollback)")
        let create = try phantom("image", "create", image, timeLimit: 20)
        #expect(create.exited(1), "\(create)")

        #expect(first.isRunning, "the first writer stopped while the others were refused: \(first.wait())")
        #expect(first.kill())
        let killed = first.wait()
        #expect(killed.signaled && killed.status == SIGKILL, "\(killed)")

        let verified = try phantom("image", "verify", image)
        #expect(verified.exitedWith0 && verified.stdout.hasPrefix("ok:"), "\(verified)")
        #expect(try imageInfo(image).newestID >= committedIDs(killed.stdout).max() ?? 0)
    }
}

extension ISO8601DateFormatter {
    /// Parses "2024-05-01T12:00:00.123Z".
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}

extension CLITests {
    /// F16: write-test does not overwrite a Phantom system's image without
    /// --yes; on its own test images it needs none.
    @Test func writeTestRefusesAPhantomImageWithoutYes() throws {
        try requirePhantom()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("hello.pa")
        try KernelTests.counter.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("system.img")
        let installed = try phantom("install", "--image", image, program)
        try #require(installed.exitedWith0, "\(installed)")
        let before = try #require(fileBytes(image))
        let refused = try phantom("image", "write-test", image, "--pages", "4", "--snapshots", "1")
        #expect(refused.exited(1) && refused.stderr.contains("--yes") && refused.stderr.contains("write-test did not write"), "\(refused)")
        #expect(fileBytes(image) == before, "a refused write-test changed the image")
        let forced = try phantom("image", "write-test", image, "--pages", "4", "--snapshots", "1", "--yes")
        #expect(forced.exitedWith0, "\(forced)")
    }

    /// F10: a closed standard output (`phantom run | head -1`) stops the
    /// system with a final snapshot, not by SIGPIPE; the next run resumes.
    @Test func aClosedStandardOutputStopsWithAFinalSnapshot() throws {
        try requirePhantom()
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("counter.pa")
        try KernelTests.counter.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("pipe.img")
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        // POSIX sh has no PIPESTATUS: the run's status comes back through a file.
        shell.arguments = ["-c", "(\"$0\" run --image \"$1\" \"$2\" 2>\"$3\"; echo $? >\"$3.status\") | head -1 >/dev/null",
                           phantomPath, image, program, dir.file("err")]
        try shell.run()
        let deadline = Date().addingTimeInterval(30)
        while shell.isRunning && Date() < deadline { usleep(20_000) }
        if shell.isRunning { shell.terminate() }
        let status = try String(contentsOfFile: dir.file("err.status"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let errors = (try? String(contentsOfFile: dir.file("err"), encoding: .utf8)) ?? ""
        #expect(status == "0", "run ended with status \(status) (141 is SIGPIPE): \(errors)")
        #expect(errors.contains("standard output was closed; stopped after a final snapshot"), "\(errors)")
        let snapshots = try phantom("snapshots", "--image", image, "--json")
        #expect(snapshots.exitedWith0 && snapshots.stdout.contains("\"id\""), "\(snapshots)")
    }
}
