// `phantom bench gc`: garbage collection pauses for live heaps of 10, 100
// and 1024 MiB of small linked objects: the stop-the-world collection vs.
// the incremental collector's longest and 99th-percentile step and its
// total, measured in the same run (PhantomMemory's CollectorBenchmark does
// the measuring; docs/benchmarks.md, "Garbage collection pauses").

import ArgumentParser
import Foundation
import PhantomMemory

struct GCBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Measure stop-the-world and incremental garbage collection pauses.",
        discussion: """
            For each heap size, builds a table of lists of 32-byte nodes (plus garbage
            spread through it), then per run: adds garbage (a tenth of the live nodes) and
            collects stop-the-world; adds garbage again and collects incrementally, --budget
            work units a step (a unit is about one reference scanned or one cell swept), with
            a small mutator (allocations and barrier stores) between steps. A step's pause
            is the time collectionStep takes.
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Runs per heap (medians; step percentiles pool all runs).") var runs: Int = 3
    @Option(help: "Live heap sizes in MiB, comma-separated.") var heaps: String = "10,100,1024"
    @Option(help: "Work units per incremental step.") var budget: Int = 100_000
    @Option(help: "Directory for the images.") var dir: String = "."

    func validate() throws {
        guard heaps.split(separator: ",").allSatisfy({ Int($0).map { $0 >= 1 && $0 <= 8192 } ?? false }) else {
            throw ValidationError("--heaps takes sizes in MiB between 1 and 8192, e.g. 10,100,1024")
        }
        guard runs >= 1, budget >= 1 else { throw ValidationError("--runs and --budget must be at least 1") }
    }

    func run() throws {
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            var results = GCBenchResults(budget: budget)
            for mib in heaps.split(separator: ",").map({ Int($0)! }) {
                let found = try CollectorBenchmark.measure(heapMiB: mib, budget: budget, runs: runs,
                                                           imagePath: "\(work)/gc-\(mib).img")
                let row = GCBenchResults.Heap(found)
                results.heaps.append(row)
                if !json {
                    printNow("heap \(mib) MiB (\(found.liveObjects) live objects): stop-the-world \(fmt(row.fullMilliseconds)) ms; "
                             + "incremental, budget \(budget): step max \(fmt(row.stepMaxMilliseconds)) ms, "
                             + "p99 \(fmt(row.stepP99Milliseconds)) ms, total \(fmt(row.incrementalTotalMilliseconds)) ms in \(row.steps) steps")
                }
            }
            if json { try printJSON(results) }
        }
    }
}

/// What `phantom bench gc --json` prints.
struct GCBenchResults: Encodable {
    struct Heap: Encodable {
        let heapMiB: Int
        let fullMilliseconds: Double
        let stepMaxMilliseconds: Double
        let stepP99Milliseconds: Double
        let incrementalTotalMilliseconds: Double
        let steps: Int
        init(_ pauses: CollectorPauses) {
            heapMiB = pauses.heapMiB
            fullMilliseconds = pauses.fullMilliseconds
            stepMaxMilliseconds = pauses.stepMaxMilliseconds
            stepP99Milliseconds = pauses.stepP99Milliseconds
            incrementalTotalMilliseconds = pauses.incrementalTotalMilliseconds
            steps = pauses.steps
        }
        enum CodingKeys: String, CodingKey {
            case steps
            case heapMiB = "heap_mib"
            case fullMilliseconds = "full_ms"
            case stepMaxMilliseconds = "step_max_ms"
            case stepP99Milliseconds = "step_p99_ms"
            case incrementalTotalMilliseconds = "incremental_total_ms"
        }
    }
    let budget: Int
    var heaps: [Heap] = []
}
