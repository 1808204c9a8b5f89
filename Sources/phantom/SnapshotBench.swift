// `phantom bench snapshot`: the pause a snapshot costs a running mutator, for
// heaps of 10, 100 and 1024 MiB of live objects, and the mutator's slowdown
// with snapshots vs. none, measured in the same run.

import ArgumentParser
import CPhantomSupport
import Dispatch
import Foundation
import PhantomHost
import PhantomMemory
import PhantomStore

struct SnapshotBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Measure snapshot pauses and mutator slowdown with live heaps of several sizes.",
        discussion: """
            A mutator updates random objects of a live heap and allocates new ones,
            checking for a snapshot request every 64 updates (as the VM does between
            instructions). A daemon requests a snapshot every --interval; the pause is
            the time the mutator is stopped for it. The mutator's update rate with
            snapshots is compared with a run of the same length without.
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Directory for the images (its disk is what is measured).") var dir: String = "."
    @Option(help: "Heap sizes in MiB, comma-separated.") var heaps: String = "10,100,1024"
    @Option(help: "Seconds the mutator runs for each measurement.") var seconds: Double = 3
    @Option(help: "Time between snapshot requests, ms.") var interval: Int = 100
    @Option(help: "Time between snapshots for the slowdown figure, ms.") var slowdownInterval: Int = 1000

    func validate() throws {
        guard heaps.split(separator: ",").allSatisfy({ Int($0).map { $0 >= 1 && $0 <= 8192 } ?? false }) else {
            throw ValidationError("--heaps takes sizes in MiB between 1 and 8192, e.g. 10,100,1024")
        }
        guard seconds > 0, interval >= 10, slowdownInterval >= 10 else { throw ValidationError("--seconds must be positive and intervals at least 10 ms") }
    }

    func run() throws {
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            var results = SnapshotBenchResults()
            for mib in heaps.split(separator: ",").map({ Int($0)! }) {
                let row = try measure(heapMiB: mib, work: work)
                results.heaps.append(row)
                if !json {
                    printNow("heap \(mib) MiB: pause p50 \(fmt(row.pauseP50Milliseconds)) ms, p99 \(fmt(row.pauseP99Milliseconds)) ms over \(row.snapshots) snapshots; mutator slowdown \(fmt(row.slowdownPercent))% with a snapshot every \(slowdownInterval) ms")
                }
            }
            if json { try printJSON(results) }
        }
    }

    func measure(heapMiB: Int, work: String) throws -> SnapshotBenchResults.Heap {
        let path = "\(work)/heap-\(heapMiB).img"
        defer { unlink(path) }
        let device = try FileBlockDevice(path: path, mode: .create)
        let liveBytes = UInt64(heapMiB) << 20
        let store = try Store.create(on: device, logicalSize: liveBytes * 4 + (256 << 20), keep: 2)
        let space = try PersistentSpace(store: store, capacity: liveBytes * 4 + (256 << 20))
        let memory = try ObjectMemory(space: space)

        // The live heap: a directory of buckets of 48-byte leaves (64 bytes allocated).
        let leafCount = Int(liveBytes / 64)
        let bucketSize = 1024
        let buckets = (leafCount + bucketSize - 1) / bucketSize
        let directory = try memory.allocate(class: .null, references: buckets, bytes: 0)
        memory.root = directory
        for bucket in 0..<buckets {
            let node = try memory.allocate(class: .null, references: bucketSize, bytes: 0)
            memory.setReference(directory, bucket, node)
            for slot in 0..<min(bucketSize, leafCount - bucket * bucketSize) {
                let leaf = try memory.allocate(class: .null, references: 0, bytes: 48)
                memory.setWord(leaf, at: 0, UInt64(slot))
                memory.setReference(node, slot, leaf)
            }
        }
        try space.takeSnapshot()

        let withSnapshots = try runMutator(memory: memory, space: space, buckets: buckets, bucketSize: bucketSize,
                                           leafCount: leafCount, intervalMs: interval)
        let baseline = try runMutator(memory: memory, space: space, buckets: buckets, bucketSize: bucketSize,
                                      leafCount: leafCount, intervalMs: nil)
        let everySecond = try runMutator(memory: memory, space: space, buckets: buckets, bucketSize: bucketSize,
                                         leafCount: leafCount, intervalMs: slowdownInterval)
        let pauses = withSnapshots.pauses.map { Double($0) / 1e6 }
        return .init(heapMiB: heapMiB, pauseP50Milliseconds: percentile(pauses, 0.5), pauseP99Milliseconds: percentile(pauses, 0.99),
                     pauseMaxMilliseconds: pauses.max() ?? 0, snapshots: pauses.count,
                     updatesPerSecondBaseline: baseline.rate, updatesPerSecondWithSnapshots: everySecond.rate,
                     slowdownPercent: max(0, (1 - everySecond.rate / baseline.rate) * 100))
    }

    struct MutatorRun {
        var pauses: [UInt64] = []
        var rate: Double = 0
    }

    /// Runs the mutator for `seconds`; with an interval, a daemon requests
    /// snapshots and a writer thread writes them.
    func runMutator(memory: ObjectMemory, space: PersistentSpace, buckets: Int, bucketSize: Int,
                    leafCount: Int, intervalMs: Int?) throws -> MutatorRun {
        let request = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        request.initialize(to: 0)
        let stop = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        stop.initialize(to: 0)
        defer { request.deallocate(); stop.deallocate() }
        nonisolated(unsafe) let requestFlag = request
        nonisolated(unsafe) let stopFlag = stop
        let writes = DispatchQueue(label: "snapshot-writer")
        let daemon = DispatchGroup()
        if let intervalMs {
            DispatchQueue.global().async(group: daemon) {
                while phantom_atomic_load_u32(stopFlag) == 0 {
                    usleep(UInt32(intervalMs) * 1000)
                    phantom_atomic_store_u32(requestFlag, 1)
                }
            }
        }
        var result = MutatorRun()
        var state: UInt64 = 0x1234_5678_9ABC
        var updates = 0
        let start = monotonicSeconds()
        let deadline = start + seconds
        var failure: Error? = nil
        nonisolated(unsafe) var writerFailure: Error? = nil
        while true {
            for _ in 0..<64 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let index = Int((state >> 20) % UInt64(leafCount))
                let bucket = memory.reference(memory.root, index / bucketSize)
                if state & 0xFF == 0 {
                    // Replace the leaf: allocation, and garbage for later.
                    do {
                        let leaf = try memory.allocate(class: .null, references: 0, bytes: 48)
                        memory.setWord(leaf, at: 0, state)
                        memory.setReference(bucket, index % bucketSize, leaf)
                    } catch { failure = error }
                } else {
                    let leaf = memory.reference(bucket, index % bucketSize)
                    memory.setWord(leaf, at: 8, memory.word(leaf, at: 8) &+ 1)
                }
            }
            updates += 64
            // Safepoint.
            if phantom_atomic_load_u32(request) != 0 && !space.isWritingSnapshot {
                let pauseStart = monotonicNanos()
                phantom_atomic_store_u32(request, 0)
                if let ticket = space.beginSnapshot() {
                    writes.async {
                        do { try space.writeSnapshot(ticket) } catch { writerFailure = error }
                    }
                }
                result.pauses.append(monotonicNanos() - pauseStart)
            }
            if updates % 4096 == 0 && monotonicSeconds() >= deadline { break }
        }
        let elapsed = monotonicSeconds() - start
        phantom_atomic_store_u32(stop, 1)
        daemon.wait()
        writes.sync {}
        if let failure { throw failure }
        if let writerFailure { throw writerFailure }
        // Free the garbage between runs (not measured).
        memory.collectGarbage()
        result.rate = Double(updates) / elapsed
        return result
    }
}

/// What `phantom bench snapshot --json` prints.
struct SnapshotBenchResults: Encodable {
    struct Heap: Encodable {
        let heapMiB: Int
        let pauseP50Milliseconds: Double
        let pauseP99Milliseconds: Double
        let pauseMaxMilliseconds: Double
        let snapshots: Int
        let updatesPerSecondBaseline: Double
        let updatesPerSecondWithSnapshots: Double
        let slowdownPercent: Double
        enum CodingKeys: String, CodingKey {
            case snapshots
            case heapMiB = "heap_mib"
            case pauseP50Milliseconds = "pause_p50_ms"
            case pauseP99Milliseconds = "pause_p99_ms"
            case pauseMaxMilliseconds = "pause_max_ms"
            case updatesPerSecondBaseline = "updates_per_s_baseline"
            case updatesPerSecondWithSnapshots = "updates_per_s_with_snapshots"
            case slowdownPercent = "slowdown_percent"
        }
    }
    var heaps: [Heap] = []
}

func monotonicNanos() -> UInt64 { HostClock.monotonicNanos() }
