import Foundation
import PhantomHost
import Testing

/// Persistent errors (issue 10 section 6): a thread that fails keeps its
/// trace in the image, `phantom ps` shows it after the run, and `phantom
/// rollback --before-failure` goes back to before it, through the real binary.
@Suite(.serialized) struct FailureTests {
    /// Thread 1 (run) sleeps 15 x 10 ms, then divides by zero two calls
    /// down; thread 2 (ticker) prints 40 ticks, 10 ms apart, meanwhile.
    static let program = """
        class failing {
            var boot : .internal.boot;
            var ticks : int;

            void run(var b : .internal.boot) {
                boot = b;
                boot.spawn(this, "ticker");
                var timer = new .internal.connection();
                timer.connect("tmr:");
                for (var i : int = 0; i < 15; i++) { timer.block(null, 10); }
                boot.print("about to fail\\n");
                check(ticks);
            }

            void check(var n : int) {
                boot.print("ratio ", divide(n, 0), "\\n");
            }

            int divide(var a : int, var b : int) {
                return a / b;
            }

            void ticker(var b) {
                var timer = new .internal.connection();
                timer.connect("tmr:");
                for (var i : int = 0; i < 40; i++) {
                    ticks++;
                    boot.print("tick ", i, "\\n");
                    timer.block(null, 10);
                }
                boot.print("ticker done\\n");
            }
        };
        """

    /// The 1-based line of the program holding `text`.
    static func line(of text: String) -> Int {
        (program.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(text) } ?? -1) + 1
    }

    /// `phantom ps --json`'s threads.
    func threads(_ image: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [[String: Any]] {
        let ps = try phantom("ps", "--image", image, "--json")
        try #require(ps.exitedWith0, "\(ps)", sourceLocation: sourceLocation)
        let parsed = try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [String: Any]
        return try #require(parsed?["threads"] as? [[String: Any]], "\(ps)", sourceLocation: sourceLocation)
    }

    @Test func aFailedThreadKeepsItsTraceAndRollbackBeforeFailureBringsItBack() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.file("failing.ph")
        try Self.program.write(toFile: source, atomically: true, encoding: .utf8)
        let image = dir.file("failing.img")
        let started = HostClock.wallNanos()
        let run = try phantom("run", "--image", image, "--snapshot-interval", "100ms", source)
        let ended = HostClock.wallNanos()
        // Exit 2: a thread failed during the run.
        #expect(run.exited(2), "\(run)")
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let failedAt = try #require(lines.firstIndex { $0.hasPrefix("thread failed with an uncaught exception: division by zero") }, "\(run)")
        // The other thread ran on after the failure, to its end.
        #expect(lines[failedAt...].filter { $0.hasPrefix("tick ") }.count >= 5, "\(run)")
        #expect(lines.last == "ticker done", "\(run)")

        // ps, a new process: the trace is in the image.
        let ps = try phantom("ps", "--image", image)
        #expect(ps.exitedWith0, "\(ps)")
        let divideLine = Self.line(of: "return a / b;")
        let checkLine = Self.line(of: "divide(n, 0)")
        let runLine = Self.line(of: "check(ticks);")
        for expected in ["1   failed", "    exception: division by zero", "    at failing.divide (pc ", ", line \(divideLine))",
                         "    at failing.check (pc ", ", line \(checkLine))", "    at failing.run (pc ", ", line \(runLine))",
                         "--before-failure 1"] {
            #expect(ps.stdout.contains(expected), "\(expected) in \(ps)")
        }
        #expect(!ps.stdout.contains("ticker done"))
        let rows = try threads(image)
        try #require(rows.count == 2)
        for key in ["id", "class", "method", "state", "waiting_on", "instructions", "failure"] {
            #expect(rows[0].keys.contains(key) && rows[1].keys.contains(key), "\(key): \(rows)")
        }
        #expect(rows[0]["state"] as? String == "failed" && rows[1]["state"] as? String == "finished")
        #expect(rows[1]["failure"] is NSNull, "\(rows[1])")
        let failure = try #require(rows[0]["failure"] as? [String: Any], "\(rows[0])")
        #expect((failure["exception"] as? String)?.hasPrefix("division by zero") == true, "\(failure)")
        let trace = try #require(failure["trace"] as? [[String: Any]], "\(failure)")
        // (Below run, a starter frame if the compiler made one.)
        #expect(trace.prefix(3).map { $0["method"] as? String } == ["divide", "check", "run"], "\(trace)")
        #expect(trace.first?["class"] as? String == "failing" && trace.first?["line"] as? Int == divideLine, "\(trace)")
        #expect(trace.allSatisfy { ($0["pc"] as? Int).map { $0 >= 0 } == true }, "\(trace)")
        #expect(failure["frames_left_out"] as? Int == 0)
        #expect(failure["instructions"] as? Int == rows[0]["instructions"] as? Int)
        let failedNanos = try #require(failure["failed_at_ns"] as? Int64)
        #expect(failedNanos > started && failedNanos < ended, "\(failure)")
        let before = try #require(failure["before_snapshot"] as? Int, "\(failure)")
        #expect(before >= 1, "\(failure)")

        // Back to before the failure: the thread lives again.
        let back = try phantom("rollback", "--image", image, "--before-failure", "1")
        #expect(back.exitedWith0, "\(back)")
        let target = try #require(back.stdout.split(separator: "\n").first.flatMap { Int($0.split(separator: " ")[4].split(separator: ";")[0]) }, "\(back)")
        #expect(target <= before && back.stdout.contains("phantom run --image"), "\(back)")
        let alive = try threads(image)
        #expect(alive[0]["state"] as? String != "failed" && alive[0]["failure"] is NSNull, "\(alive)")
        // It resumes, runs and fails again, and ps shows the new failure.
        let again = try phantom("run", "--image", image, "--snapshot-interval", "100ms")
        #expect(again.exited(2) && again.stdout.contains("about to fail\n")
                && again.stdout.contains("thread failed with an uncaught exception: division by zero"), "\(again)")
        let refailed = try threads(image)
        #expect(refailed[0]["state"] as? String == "failed" && refailed[0]["failure"] is [String: Any], "\(refailed)")
    }

    @Test func rollbackBeforeFailureSaysWhyItCannot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.file("failing.ph")
        try Self.program.write(toFile: source, atomically: true, encoding: .utf8)
        // Two snapshots kept: the one before the first instruction and the final one.
        let image = dir.file("short.img")
        let created = try phantom("image", "create", image, "--size", "64M", "--keep", "2")
        try #require(created.exitedWith0, "\(created)")
        let run = try phantom("run", "--image", image, "--snapshot-interval", "0", source)
        #expect(run.exited(2), "\(run)")
        let cases: [([String], Int32, String)] = [
            (["--before-failure", "2"], 1, "thread 2 has not failed (it is finished)"),
            (["--before-failure", "3"], 1, "no thread 3 (the image has 2"),
            (["--before-failure", "-1"], 64, "'-1' is not a thread number"),
            (["--before-failure", "1", "--to", "1"], 64, "--to and --before-failure exclude each other"),
            ([], 64, "name the snapshot to go back to"),
        ]
        for (arguments, status, message) in cases {
            let result = try Child(["rollback", "--image", image] + arguments).wait()
            #expect(result.exited(status) && result.stderr.contains(message), "\(arguments): \(result)")
        }
        // One more snapshot: the one from before the failure is no longer kept.
        let ids = try imageInfo(image).ids
        #expect(try phantom("run", "--image", image).exitedWith0)
        let kept = try imageInfo(image).ids
        #expect(kept.count == 2 && kept.first == ids.last, "\(ids) then \(kept)")
        let tooOld = try phantom("rollback", "--image", image, "--before-failure", "1")
        #expect(tooOld.exited(1), "\(tooOld)")
        #expect(tooOld.stderr.contains("no snapshot that \(image) keeps is from before thread 1 failed")
                && tooOld.stderr.contains("keeps \(kept.map(String.init).joined(separator: ", "))")
                && tooOld.stderr.contains("--to ID"), "\(tooOld)")
        #expect(try imageInfo(image).ids == kept, "a refused rollback changes nothing")
    }

    @Test func aKillIsAFailureThatRollbackBeforeFailureUndoes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("counter.pa")
        try KernelTests.counter.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("killed.img")
        #expect(try phantom("install", "--image", image, program).exitedWith0)
        #expect(try phantom("start", "--image", image, "counter").exitedWith0)
        let killed = try phantom("kill", "--image", image, "1")
        #expect(killed.exitedWith0, "\(killed)")
        let ps = try phantom("ps", "--image", image)
        #expect(ps.stdout.contains("    exception: killed by phantom kill") && ps.stdout.contains("    at counter.run (pc 0, line "), "\(ps)")
        let back = try phantom("rollback", "--image", image, "--before-failure", "1")
        #expect(back.exitedWith0, "\(back)")
        #expect(try threads(image).first?["state"] as? String == "runnable")
    }
}
