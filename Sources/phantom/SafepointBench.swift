// `phantom bench safepoint`: how long a request waits for a safepoint while
// hostile programs run (issue 10, F1: a snapshot request, a collection step
// and a stop request are served within 50 ms p99, whatever a program does).
//
// Each program runs in the kernel, in this process, for --seconds or until it
// ends, driven as the kernel's run loop drives it: the VM runs until a
// deadline, and whatever waits for the safepoint (a snapshot request, a stop
// request) is served when it returns. Here each deadline is a request that
// arrives at a random moment 1-20 ms ahead; its latency is how long after
// the deadline the VM returned. A snapshot begins every second, as with the
// default interval. A collection step runs at every safepoint between two
// slices, so the gap between two safepoints is how long a step can wait.
// The peer: the same program with cost accounting off (slices counted in
// instructions only, as before F1), alternately, in the same run.

import ArgumentParser
import Foundation
import PhantomHost
import PhantomKernel
import PhantomVM

struct SafepointBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safepoint",
        abstract: "Measure how long snapshot, collection and stop requests wait for a safepoint under hostile programs.",
        discussion: """
            Programs: starve (the probe's: a 64 MiB string, then 300 concatenations of it),
            hstr (doubling a string to 256 MiB, then 64 more doublings of it), churn (2000
            small objects a round, dropped) and loop (integer arithmetic), each in the kernel
            for --seconds or to its end, with cost accounting on and off (the peer),
            alternately, --runs times. A request arrives at a random moment 1-20 ms ahead
            (the VM runs until then, as the kernel's loop runs it); its latency is how late the
            VM reached its next safepoint. The safepoint gap (the time between two safepoints)
            is what a collection step waits at most. A snapshot is taken every second.
            Figures are p50, p99 and max over every request of the runs.
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Seconds each program runs (or until it ends).") var seconds: Double = 6
    @Option(help: "Runs of each program and setting (alternating).") var runs: Int = 1
    @Option(help: "Programs, comma-separated: starve, hstr, churn, loop.") var programs: String = "starve,hstr,churn,loop"
    @Option(help: "Directory for the images.") var dir: String = "."

    static let sources: [String: (className: String, text: String)] = [
        "starve": ("starve", """
            class starve {
                void run(var boot) {
                    var s = "x";
                    for (var i : int = 0; i < 26; i++) s = s + s;
                    for (var j : int = 0; j < 300; j++) { var t = s + "y"; }
                }
            };
            """),
        "hstr": ("hstr", """
            class hstr {
                void run(var boot) {
                    var s = "x";
                    for (var i : int = 0; i < 28; i++) s = s + s;
                    for (var j : int = 0; j < 64; j++) { var t = s + s; }
                }
            };
            """),
        "churn": ("churn", """
            class node { var next; var payload; };
            class churn {
                void run(var boot) {
                    while (true) {
                        var head = null;
                        for (var i : int = 0; i < 2000; i++) { var n = new node(); n.next = head; n.payload = new int[16]; head = n; }
                    }
                }
            };
            """),
        "loop": ("loop", """
            class loop {
                var n : int;
                void run(var boot) {
                    while (true) { n = n + 1; if (n > 1000000000) n = 0; }
                }
            };
            """),
    ]

    func validate() throws {
        guard seconds >= 0.5, seconds <= 600 else { throw ValidationError("--seconds must be between 0.5 and 600") }
        guard runs >= 1, runs <= 50 else { throw ValidationError("--runs must be between 1 and 50") }
        let names = programs.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        if let bad = names.first(where: { Self.sources[$0] == nil }) {
            throw ValidationError("unknown program '\(bad)': --programs takes starve, hstr, churn, loop, comma-separated")
        }
    }

    struct Results: Encodable {
        struct Row: Encodable {
            let program: String
            let cost_accounting: Bool
            let requests: Int
            let request_p50_ms: Double
            let request_p99_ms: Double
            let request_max_ms: Double
            let safepoints: Int
            let safepoint_gap_p50_ms: Double
            let safepoint_gap_p99_ms: Double
            let safepoint_gap_max_ms: Double
            let snapshots: Int
            let seconds: Double
        }
        var programs: [Row] = []
    }

    func run() throws {
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            var results = Results()
            for name in programs.split(separator: ",").map(String.init) {
                let (className, text) = Self.sources[name]!
                let file = "\(work)/\(name).ph"
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                let classes = StarterClass.adding(to: try loadProgram(file))
                var on = Measurement(), off = Measurement()
                for round in 0..<runs {
                    // Alternating, so that a drift of the machine's speed falls on both.
                    let order = round % 2 == 0 ? [true, false] : [false, true]
                    for accounting in order {
                        let measured = try measure(classes, main: className, costAccounting: accounting, image: "\(work)/\(name)-\(round)-\(accounting).img")
                        if accounting { on.add(measured) } else { off.add(measured) }
                    }
                }
                for (accounting, measurement) in [(true, on), (false, off)] {
                    let row = measurement.row(program: name, costAccounting: accounting)
                    results.programs.append(row)
                    if !json {
                        printNow("\(name), cost accounting \(accounting ? "on " : "off"): request latency p50 \(fmt(row.request_p50_ms)) ms, p99 \(fmt(row.request_p99_ms)) ms, max \(fmt(row.request_max_ms)) ms (\(row.requests) requests); safepoint gap p99 \(fmt(row.safepoint_gap_p99_ms)) ms, max \(fmt(row.safepoint_gap_max_ms)) ms; \(row.snapshots) snapshots in \(fmt(row.seconds)) s")
                    }
                }
            }
            if json { try printJSON(results) }
        }
    }

    struct Measurement {
        var requests: [Double] = []
        var gaps: [Double] = []
        var snapshots = 0
        var seconds = 0.0
        mutating func add(_ other: Measurement) {
            requests += other.requests
            gaps += other.gaps
            snapshots += other.snapshots
            seconds += other.seconds
        }
        func row(program: String, costAccounting: Bool) -> Results.Row {
            Results.Row(program: program, cost_accounting: costAccounting, requests: requests.count,
                        request_p50_ms: percentile(requests, 0.5), request_p99_ms: percentile(requests, 0.99),
                        request_max_ms: requests.max() ?? 0, safepoints: gaps.count,
                        safepoint_gap_p50_ms: percentile(gaps, 0.5), safepoint_gap_p99_ms: percentile(gaps, 0.99),
                        safepoint_gap_max_ms: gaps.max() ?? 0, snapshots: snapshots, seconds: seconds)
        }
    }

    /// One program, run as the kernel's loop runs it, requests at random moments.
    func measure(_ classes: [ClassFile], main: String, costAccounting: Bool, image: String) throws -> Measurement {
        var options = Kernel.Options(imagePath: image)
        options.console = { _ in }
        let snapshots = SnapshotCounter()
        options.snapshotLog = { _ in snapshots.add() }
        let kernel = try Kernel(options)
        defer { unlink(image) }
        try kernel.install(classes)
        try kernel.start(className: main)
        let vm = kernel.vm
        vm.costAccounting = costAccounting
        var result = Measurement()
        result.gaps.reserveCapacity(1 << 16)
        var lastSafepoint = HostClock.monotonicNanos()
        vm.onSafepoint = {
            let now = HostClock.monotonicNanos()
            result.gaps.append(Double(now &- lastSafepoint) / 1e6)
            lastSafepoint = now
        }
        var random = SystemRandomNumberGenerator()
        let start = HostClock.monotonicNanos()
        let end = start + UInt64(seconds * 1e9)
        var nextSnapshot = start + 1_000_000_000
        while vm.hasWork {
            let now = HostClock.monotonicNanos()
            guard now < end else { break }
            let deadline = now + UInt64.random(in: 1_000_000...20_000_000, using: &random)
            lastSafepoint = now
            vm.run(budget: .max, slice: 10_000, until: deadline)
            let returned = HostClock.monotonicNanos()
            // A request at the deadline is served now (if the run ended
            // early, because no thread could run, it waited no time).
            result.requests.append(Double(returned &- min(returned, deadline)) / 1e6)
            if returned >= nextSnapshot {
                kernel.beginBackgroundSnapshot()
                nextSnapshot = HostClock.monotonicNanos() + 1_000_000_000
            }
        }
        result.seconds = Double(HostClock.monotonicNanos() - start) / 1e9
        vm.onSafepoint = nil
        try kernel.finalSnapshot()
        result.snapshots = max(0, snapshots.value - 1)  // the final snapshot is not counted
        return result
    }
}
