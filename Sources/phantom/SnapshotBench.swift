// `phantom bench snapshot`: the pause a snapshot costs a running mutator, for
// heaps of 10, 100 and 1024 MiB of live objects, and the mutator's slowdown
// with snapshots vs. none, measured in the same run (alternately).

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
            Each heap is a tree of 48-byte objects (64 bytes allocated). A mutator updates
            random objects of a working set (--working-set MiB of the heap; the rest
            is live but cold) and replaces one object in 256 with a new one, checking
            for a snapshot request every 64 updates (as the VM does between
            instructions). A daemon requests a snapshot every --interval until
            --snapshots pauses are measured; the pause is the time the mutator is
            stopped for one. Then the mutator runs --seconds without snapshots and
            --seconds with one every --slowdown-interval, --pairs times (ABBA order);
            the slowdown is the median of the pairs' (negative: faster with them). Between
            them, one run of --seconds (at least 8 intervals) with a snapshot every --slowdown-interval gives the
            write amplification: bytes each snapshot wrote / bytes of the live objects changed
            or created since the one before (and / the pages those lie on). The mutator
            collects its garbage as the VM does, at its safepoints. --uniform makes the whole heap the working set: every
            page of a large heap is then dirty in every snapshot, and the snapshot
            writer competes with the mutator for the cores and memory.
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Directory for the images (its disk is what is measured).") var dir: String = "."
    @Option(help: "Heap sizes in MiB, comma-separated.") var heaps: String = "10,100,1024"
    @Option(help: "Working set the mutator updates, MiB (at most the heap).") var workingSet: Int = 10
    @Flag(help: "Update random objects of the whole heap (the worst case for the writer).") var uniform = false
    @Option(help: "Pauses to measure for each heap.") var snapshots: Int = 500
    @Option(help: "Seconds of each slowdown run (at least two snapshot intervals).") var seconds: Double = 3
    @Option(help: "Slowdown runs: this many pairs of one without and one with snapshots.") var pairs: Int = 6
    @Option(help: "Time between snapshot requests for the pauses, ms.") var interval: Int = 50
    @Option(help: "Time between snapshots for the slowdown figure, ms.") var slowdownInterval: Int = 1000

    func validate() throws {
        guard heaps.split(separator: ",").allSatisfy({ Int($0).map { $0 >= 1 && $0 <= 8192 } ?? false }) else {
            throw ValidationError("--heaps takes sizes in MiB between 1 and 8192, e.g. 10,100,1024")
        }
        guard seconds > 0, interval >= 10, slowdownInterval >= 10 else { throw ValidationError("--seconds must be positive and intervals at least 10 ms") }
        guard seconds * 1000 >= 2 * Double(slowdownInterval) else {
            throw ValidationError("--seconds must cover at least two --slowdown-interval periods (a run with snapshots needs some)")
        }
        guard snapshots >= 1, pairs >= 1 else { throw ValidationError("--snapshots and --pairs must be at least 1") }
        guard workingSet >= 1 else { throw ValidationError("--working-set must be at least 1 MiB") }
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
                    printNow("heap \(mib) MiB (working set \(row.workingSetMiB) MiB): pause p50 \(fmt(row.pauseP50Milliseconds)) ms, p99 \(fmt(row.pauseP99Milliseconds)) ms, max \(fmt(row.pauseMaxMilliseconds)) ms over \(row.snapshots) snapshots; mutator slowdown \(fmt(row.slowdownPercent))% (pairs \(fmt(row.slowdownMinPercent)) to \(fmt(row.slowdownMaxPercent))%) with a snapshot every \(slowdownInterval) ms (\(row.slowdownSnapshots) snapshots); write amplification \(fmt(row.writeAmplification))x (\(fmt(row.bytesWrittenPerSnapshot / 1_048_576)) MiB written per snapshot for \(fmt(row.liveBytesChangedPerSnapshot / 1_048_576)) MiB of live objects changed; \(fmt(row.writeAmplificationPages))x their pages; \(fmt(row.bytesWrittenPerHour / 1_073_741_824)) GiB an hour, \(row.amplificationSnapshots) snapshots)")
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
        let working = uniform ? leafCount : min(leafCount, Int((UInt64(workingSet) << 20) / 64))

        let written = WrittenSnapshots()
        let writer = SnapshotWriter(space: space) { report in written.add(report) }
        defer { writer.stop() }
        let mutator = Mutator(memory: memory, space: space, writer: writer, bucketSize: bucketSize, leaves: working)
        let paused = try mutator.run(intervalMs: interval, snapshots: snapshots, seconds: nil)
        // Write amplification: what the snapshots wrote against the live
        // data that changed, one snapshot every --slowdown-interval.
        let tracker = ChangeTracker(capacityPages: space.capacityPages)
        _ = written.take()
        let trackedSeconds = max(seconds, Double(slowdownInterval) * 8 / 1000)  // seven snapshots or more
        let tracked = try mutator.run(intervalMs: slowdownInterval, snapshots: nil, seconds: trackedSeconds, tracker: tracker)
        let amplification = Amplification(changes: tracked.changes, written: written.take())
        // The slowdown: pairs of runs without and with snapshots, the
        // median of the pairs' ratios (this machine's rate varies by ~10%
        // from one run to the next).
        var baseline: [Double] = []
        var everySecond: [Double] = []
        var slowdownSnapshots = 0
        for pair in 0..<pairs {
            // ABBA order: a drift of the machine's speed over the runs
            // (it drifts: huge pages, other tenants) cancels out.
            if pair % 2 == 0 {
                baseline.append(try mutator.run(intervalMs: nil, snapshots: nil, seconds: seconds).rate)
                let run = try mutator.run(intervalMs: slowdownInterval, snapshots: nil, seconds: seconds)
                everySecond.append(run.rate)
                slowdownSnapshots += run.pauses.count
            } else {
                let run = try mutator.run(intervalMs: slowdownInterval, snapshots: nil, seconds: seconds)
                everySecond.append(run.rate)
                slowdownSnapshots += run.pauses.count
                baseline.append(try mutator.run(intervalMs: nil, snapshots: nil, seconds: seconds).rate)
            }
        }
        if let error = writer.failure { throw error }
        let pauses = paused.pauses.map { Double($0) / 1e6 }
        let baseRate = percentile(baseline, 0.5)
        let snapshotRate = percentile(everySecond, 0.5)
        let slowdowns = zip(baseline, everySecond).map { (1 - $1 / $0) * 100 }
        return .init(heapMiB: heapMiB, workingSetMiB: Int((UInt64(working) * 64) >> 20),
                     pauseP50Milliseconds: percentile(pauses, 0.5), pauseP99Milliseconds: percentile(pauses, 0.99),
                     pauseMaxMilliseconds: pauses.max() ?? 0, snapshots: pauses.count,
                     updatesPerSecondBaseline: baseRate, updatesPerSecondWithSnapshots: snapshotRate,
                     slowdownPercent: percentile(slowdowns, 0.5),
                     slowdownMinPercent: slowdowns.min() ?? 0, slowdownMaxPercent: slowdowns.max() ?? 0,
                     slowdownSnapshots: slowdownSnapshots,
                     amplificationSnapshots: amplification.snapshots,
                     bytesWrittenPerSnapshot: amplification.bytesWritten,
                     liveBytesChangedPerSnapshot: amplification.liveBytesChanged,
                     writeAmplification: amplification.ratio,
                     writeAmplificationPages: amplification.pageRatio,
                     bytesWrittenPerHour: amplification.perHour(intervalMs: slowdownInterval))
    }

    struct MutatorRun {
        var pauses: [UInt64] = []
        var rate: Double = 0
        /// With a tracker: the live data changed in each snapshot's epoch.
        var changes: [(epoch: UInt32, bytes: UInt64, pages: UInt64)] = []
    }

    /// Updates random leaves among the first `leaves` of the heap, and
    /// collects its garbage as the VM does (`CollectionPacer`, at the
    /// safepoint), so it runs as long as wanted in a bounded heap.
    final class Mutator {
        let memory: ObjectMemory
        let space: PersistentSpace
        let writer: SnapshotWriter
        let bucketSize: Int
        let leaves: Int
        var pacer = CollectionPacer()

        init(memory: ObjectMemory, space: PersistentSpace, writer: SnapshotWriter, bucketSize: Int, leaves: Int) {
            self.memory = memory
            self.space = space
            self.writer = writer
            self.bucketSize = bucketSize
            self.leaves = leaves
        }

        /// Runs for `seconds`, or until `snapshots` pauses are measured;
        /// with an interval, a daemon requests snapshots. A tracker counts
        /// the live data each epoch changes (not in the pauses measured).
        func run(intervalMs: Int?, snapshots: Int?, seconds: Double?, tracker: ChangeTracker? = nil) throws -> MutatorRun {
            let request = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
            request.initialize(to: 0)
            let stop = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
            stop.initialize(to: 0)
            defer { request.deallocate(); stop.deallocate() }
            nonisolated(unsafe) let requestFlag = request
            nonisolated(unsafe) let stopFlag = stop
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
            result.pauses.reserveCapacity(snapshots ?? 64)
            var state: UInt64 = 0x1234_5678_9ABC
            var updates = 0
            let start = monotonicSeconds()
            let deadline = start + (seconds ?? .infinity)
            var failure: Error? = nil
            while true {
                for _ in 0..<64 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let index = Int((state >> 20) % UInt64(leaves))
                    let bucket = memory.reference(memory.root, index / bucketSize)
                    if state & 0xFF == 0 {
                        // Replace the leaf: allocation, and garbage for later.
                        do {
                            let leaf = try memory.allocate(class: .null, references: 0, bytes: 48)
                            memory.setWord(leaf, at: 0, state)
                            memory.setReference(bucket, index % bucketSize, leaf)
                            if let tracker {
                                tracker.changed(leaf.raw, bytes: 64)
                                tracker.changed(bucket.raw + 16 + UInt64(index % bucketSize) * 8, bytes: 16)
                            }
                        } catch { failure = error }
                    } else {
                        let leaf = memory.reference(bucket, index % bucketSize)
                        memory.setWord(leaf, at: 8, memory.word(leaf, at: 8) &+ 1)
                        tracker?.changed(leaf.raw, bytes: 64)
                    }
                }
                updates += 64
                // Safepoint.
                if failure != nil { break }
                if phantom_atomic_load_u32(request) != 0 && !space.isWritingSnapshot {
                    let pauseStart = monotonicNanos()
                    phantom_atomic_store_u32(request, 0)
                    if let ticket = space.beginSnapshot() {
                        writer.write(ticket)
                        result.pauses.append(monotonicNanos() - pauseStart)
                        if let tracker { result.changes.append(tracker.take(epoch: ticket.epoch)) }
                    }
                    if let snapshots, result.pauses.count >= snapshots { break }
                }
                pacer.safepoint(memory)
                if updates % 4096 == 0 && monotonicSeconds() >= deadline { break }
            }
            let elapsed = monotonicSeconds() - start
            phantom_atomic_store_u32(stop, 1)
            daemon.wait()
            writer.waitUntilIdle()
            if let failure { throw failure }
            // Free the garbage between runs (not measured).
            memory.collectGarbage()
            result.rate = Double(updates) / elapsed
            return result
        }
    }
}

/// The live data a mutator changes between two snapshots: the distinct
/// objects it wrote or created (their bytes, header included), and the
/// pages they lie on. A bit per 16-byte granule and per page of the space;
/// what was set is listed, so starting an epoch again costs that much.
final class ChangeTracker {
    private var granules: [UInt64]
    private var pages: [UInt64]
    private var setGranules: [Int] = []
    private var setPages: [Int] = []
    private var bytes: UInt64 = 0

    init(capacityPages: Int) {
        granules = [UInt64](repeating: 0, count: (capacityPages * 256 + 63) / 64)
        pages = [UInt64](repeating: 0, count: (capacityPages + 63) / 64)
    }

    /// `bytes` of live data at `offset` changed (counted once an epoch).
    @inline(__always)
    func changed(_ offset: UInt64, bytes count: UInt64) {
        let granule = Int(offset >> 4)
        let bit: UInt64 = 1 << UInt64(granule & 63)
        guard granules[granule >> 6] & bit == 0 else { return }
        granules[granule >> 6] |= bit
        setGranules.append(granule)
        bytes += count
        let page = Int(offset >> 12)
        let pageBit: UInt64 = 1 << UInt64(page & 63)
        if pages[page >> 6] & pageBit == 0 {
            pages[page >> 6] |= pageBit
            setPages.append(page)
        }
    }

    /// What the epoch that just ended changed; starts the next one.
    func take(epoch: UInt32) -> (epoch: UInt32, bytes: UInt64, pages: UInt64) {
        let result = (epoch, bytes, UInt64(setPages.count))
        for granule in setGranules { granules[granule >> 6] = 0 }
        for page in setPages { pages[page >> 6] = 0 }
        setGranules.removeAll(keepingCapacity: true)
        setPages.removeAll(keepingCapacity: true)
        bytes = 0
        return result
    }
}

/// The snapshots the writer thread has written (bytes, by epoch).
final class WrittenSnapshots: @unchecked Sendable {
    private let lock = NSLock()
    private var written: [UInt32: UInt64] = [:]
    func add(_ report: SnapshotWriter.Report) {
        guard case let .success(info) = report.result else { return }
        lock.lock(); written[report.ticket.epoch] = info.bytesWritten; lock.unlock()
    }
    func take() -> [UInt32: UInt64] {
        lock.lock(); defer { written.removeAll(); lock.unlock() }
        return written
    }
}

/// Bytes written per snapshot against the live bytes changed: medians over
/// the snapshots of one run (the first one, which follows the heap's
/// building, left out if there are others).
struct Amplification {
    var snapshots = 0
    var bytesWritten: Double = 0
    var liveBytesChanged: Double = 0
    /// Bytes written / live bytes changed.
    var ratio: Double = 0
    /// Bytes written / (pages holding changed live data x 4096): what
    /// page-grained writing costs beyond the pages it must write.
    var pageRatio: Double = 0

    init(changes: [(epoch: UInt32, bytes: UInt64, pages: UInt64)], written: [UInt32: UInt64]) {
        var rows = changes.compactMap { change in written[change.epoch].map { (change, Double($0)) } }
        if rows.count > 1 { rows.removeFirst() }
        snapshots = rows.count
        guard !rows.isEmpty else { return }
        bytesWritten = percentile(rows.map(\.1), 0.5)
        liveBytesChanged = percentile(rows.map { Double($0.0.bytes) }, 0.5)
        ratio = percentile(rows.map { $0.1 / Double(max($0.0.bytes, 1)) }, 0.5)
        pageRatio = percentile(rows.map { $0.1 / Double(max($0.0.pages, 1) * 4096) }, 0.5)
    }

    func perHour(intervalMs: Int) -> Double { bytesWritten * 3_600_000 / Double(intervalMs) }
}

/// What `phantom bench snapshot --json` prints.
struct SnapshotBenchResults: Encodable {
    struct Heap: Encodable {
        let heapMiB: Int
        let workingSetMiB: Int
        let pauseP50Milliseconds: Double
        let pauseP99Milliseconds: Double
        let pauseMaxMilliseconds: Double
        let snapshots: Int
        let updatesPerSecondBaseline: Double
        let updatesPerSecondWithSnapshots: Double
        let slowdownPercent: Double
        /// The range of the pairs' slowdowns (the machine's noise).
        let slowdownMinPercent: Double
        let slowdownMaxPercent: Double
        /// Snapshots taken during the runs with snapshots.
        let slowdownSnapshots: Int
        /// The write-amplification run: its snapshots (one a
        /// --slowdown-interval), and medians over them.
        let amplificationSnapshots: Int
        let bytesWrittenPerSnapshot: Double
        let liveBytesChangedPerSnapshot: Double
        /// Bytes written / live bytes changed (objects, header included).
        let writeAmplification: Double
        /// Bytes written / 4 KiB pages holding changed live data.
        let writeAmplificationPages: Double
        let bytesWrittenPerHour: Double
        enum CodingKeys: String, CodingKey {
            case snapshots
            case heapMiB = "heap_mib"
            case workingSetMiB = "working_set_mib"
            case pauseP50Milliseconds = "pause_p50_ms"
            case pauseP99Milliseconds = "pause_p99_ms"
            case pauseMaxMilliseconds = "pause_max_ms"
            case updatesPerSecondBaseline = "updates_per_s_baseline"
            case updatesPerSecondWithSnapshots = "updates_per_s_with_snapshots"
            case slowdownPercent = "slowdown_percent"
            case slowdownMinPercent = "slowdown_min_percent"
            case slowdownMaxPercent = "slowdown_max_percent"
            case slowdownSnapshots = "slowdown_snapshots"
            case amplificationSnapshots = "amplification_snapshots"
            case bytesWrittenPerSnapshot = "bytes_written_per_snapshot"
            case liveBytesChangedPerSnapshot = "live_bytes_changed_per_snapshot"
            case writeAmplification = "write_amplification"
            case writeAmplificationPages = "write_amplification_pages"
            case bytesWrittenPerHour = "bytes_written_per_hour"
        }
    }
    var heaps: [Heap] = []
}

func monotonicNanos() -> UInt64 { HostClock.monotonicNanos() }
