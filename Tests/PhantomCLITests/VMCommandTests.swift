import Foundation
import Testing

/// `phantom asm` and `phantom exec` through the real binary.
@Suite struct VMCommandTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path

    @Test func helloExampleAssemblesAndRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let assembled = try phantom("asm", "\(Self.examples)/hello.pa", "-o", dir.file("classes"))
        #expect(assembled.exitedWith0, "\(assembled)")
        let run = try phantom("exec", dir.file("classes"), "hello")
        #expect(run.exitedWith0, "\(run)")
        #expect(run.stdout == "hello, world\n")
    }

    @Test func assemblerErrorsPointAtTheLineAndWriteNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.file("bad.pa")
        try "class bad\nmethod run 1\n    iconst 1\n    frobnicate\n    jmp nowhere\nend\n".write(toFile: source, atomically: true, encoding: .utf8)
        let result = try phantom("asm", source, "-o", dir.file("classes"))
        #expect(result.exited(1), "\(result)")
        #expect(result.stderr.contains("bad.pa:4:5: error: unknown instruction 'frobnicate'"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("classes")))
    }

    @Test func badClassFilesAndUnknownClassesGiveClearErrors() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.file("classes"), withIntermediateDirectories: true)
        try Data([1, 2, 3, 4, 5]).write(to: URL(fileURLWithPath: dir.file("classes/junk.pc")))
        let junk = try phantom("exec", dir.file("classes"), "junk")
        #expect(junk.exited(1) && junk.stderr.contains("not a Phantom class file"), "\(junk)")
        try FileManager.default.removeItem(atPath: dir.file("classes/junk.pc"))
        _ = try phantom("asm", "\(Self.examples)/hello.pa", "-o", dir.file("classes"))
        let missing = try phantom("exec", dir.file("classes"), "nosuch")
        #expect(missing.exited(1) && missing.stderr.contains("no class named nosuch"), "\(missing)")
        let empty = try phantom("exec", dir.file("nothing"), "hello")
        #expect(empty.exited(1) && empty.stderr.contains("no class files"), "\(empty)")
    }

    /// The contract keys of `phantom bench snapshot --json`, on a small run
    /// (the figures themselves are benchmark results, not test results).
    @Test func snapshotBenchmarkReportsPausesPerHeap() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try phantom("bench", "snapshot", "--json", "--dir", dir.path, "--heaps", "2,4",
                                 "--snapshots", "5", "--interval", "10", "--seconds", "0.2", "--pairs", "1", "--slowdown-interval", "50")
        #expect(result.exitedWith0, "\(result)")
        struct Heap: Decodable {
            let heap_mib: Int; let pause_p50_ms: Double; let pause_p99_ms: Double; let snapshots: Int
            let working_set_mib: Int; let slowdown_percent: Double; let slowdown_snapshots: Int
            let amplification_snapshots: Int; let bytes_written_per_snapshot: Double
            let live_bytes_changed_per_snapshot: Double; let write_amplification: Double
            let write_amplification_pages: Double; let bytes_written_per_hour: Double
        }
        struct Figures: Decodable { let heaps: [Heap] }
        let figures = try JSONDecoder().decode(Figures.self, from: Data(result.stdout.utf8))
        #expect(figures.heaps.map(\.heap_mib) == [2, 4])
        for heap in figures.heaps {
            #expect(heap.snapshots == 5 && heap.pause_p50_ms > 0 && heap.pause_p99_ms >= heap.pause_p50_ms)
            #expect(heap.working_set_mib == heap.heap_mib)
            #expect(heap.slowdown_snapshots >= 1)
            // At least 8 intervals, the first snapshot left out.
            #expect(heap.amplification_snapshots >= 5, "\(heap)")
            #expect(heap.live_bytes_changed_per_snapshot > 0 && heap.bytes_written_per_snapshot > 0)
            #expect(heap.write_amplification > 0 && heap.write_amplification_pages > 0)
            #expect(heap.bytes_written_per_hour == heap.bytes_written_per_snapshot * 3_600_000 / 50)
        }
        let bad = try phantom("bench", "snapshot", "--heaps", "0")
        #expect(bad.exited(64) && bad.stderr.contains("--heaps takes sizes"), "\(bad)")
        let short = try phantom("bench", "snapshot", "--seconds", "1", "--slowdown-interval", "1000")
        #expect(short.exited(64) && short.stderr.contains("at least two --slowdown-interval periods"), "\(short)")
    }

    /// The keys of `phantom bench safepoint --json` on a short run of two
    /// programs (figures are benchmark results, not test results), and its
    /// argument checks.
    @Test func safepointBenchmarkReportsLatencyPerProgramAndSetting() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try phantom("bench", "safepoint", "--json", "--dir", dir.path, "--programs", "loop,churn", "--seconds", "0.5")
        #expect(result.exitedWith0, "\(result)")
        struct Row: Decodable {
            let program: String; let cost_accounting: Bool; let requests: Int
            let request_p50_ms: Double; let request_p99_ms: Double; let request_max_ms: Double
            let safepoints: Int; let safepoint_gap_p50_ms: Double; let safepoint_gap_p99_ms: Double
            let safepoint_gap_max_ms: Double; let snapshots: Int; let seconds: Double
        }
        struct Figures: Decodable { let programs: [Row] }
        let figures = try JSONDecoder().decode(Figures.self, from: Data(result.stdout.utf8))
        #expect(figures.programs.map(\.program) == ["loop", "loop", "churn", "churn"])
        #expect(figures.programs.map(\.cost_accounting) == [true, false, true, false])
        for row in figures.programs {
            #expect(row.requests >= 10 && row.safepoints >= row.requests, "\(row)")
            #expect(row.request_p99_ms >= row.request_p50_ms && row.request_max_ms >= row.request_p99_ms)
            #expect(row.seconds >= 0.5)
        }
        let bad = try phantom("bench", "safepoint", "--programs", "loop,nosuch")
        #expect(bad.exited(64) && bad.stderr.contains("unknown program 'nosuch'"), "\(bad)")
        let short = try phantom("bench", "safepoint", "--seconds", "0.1")
        #expect(short.exited(64) && short.stderr.contains("--seconds must be between"), "\(short)")
    }
}
