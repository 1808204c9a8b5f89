// Collection pauses of a live heap, stop-the-world vs. incremental, measured
// in the same run: the figures of `phantom bench gc`, callable without the
// command line.
//
// The heap: a table (one large object) of lists of 1000 small nodes, 32 bytes
// each (one reference, one word); while it is built, every tenth list is
// built twice and the copy dropped, so that garbage is spread through it.
// Each run: refill the holes with garbage (a tenth of the live nodes) and
// collect stop-the-world; refill again and collect incrementally, `budget`
// units a step, with a mutator between steps (16 nodes prepended to random
// lists: allocation and barrier work during marking and sweeping).

import PhantomHost
import PhantomStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What `CollectorBenchmark.measure` found for one heap.
public struct CollectorPauses: Sendable {
    /// Live heap built, MiB.
    public var heapMiB: Int
    /// Stop-the-world collection, ms (median of the runs).
    public var fullMilliseconds: Double
    /// Longest incremental step (or `beginCollection`), ms, over all runs.
    public var stepMaxMilliseconds: Double
    /// 99th percentile of the incremental steps, ms, over all runs.
    public var stepP99Milliseconds: Double
    /// All steps of one incremental cycle, ms (median of the runs).
    public var incrementalTotalMilliseconds: Double
    /// Steps of one incremental cycle (median of the runs).
    public var steps: Int
    /// Objects the last stop-the-world collection found live.
    public var liveObjects: Int
}

/// Measures collection pauses (see the file's header).
public enum CollectorBenchmark {
    /// Nodes per list.
    static let listLength = 1000

    /// Builds a heap of `heapMiB` MiB of live nodes in an image at
    /// `imagePath` (created, and removed afterwards) and measures `runs`
    /// stop-the-world and incremental collections of it.
    public static func measure(heapMiB: Int, budget: Int, runs: Int, imagePath: String) throws -> CollectorPauses {
        let liveBytes = UInt64(heapMiB) << 20
        let capacity = liveBytes * 2 + (256 << 20)
        defer { unlink(imagePath) }
        let device = try FileBlockDevice(path: imagePath, mode: .create)
        let store = try Store.create(on: device, logicalSize: capacity, keep: 2)
        let space = try PersistentSpace(store: store, capacity: capacity)
        let memory = try ObjectMemory(space: space)

        let lists = max(1, Int(liveBytes / 32) / listLength)
        let table = try memory.allocate(class: .null, references: lists, bytes: 0)
        memory.root = table
        func makeList() throws -> ObjectRef {
            var head = ObjectRef.null
            for value in 0..<listLength {
                let node = try memory.allocate(class: .null, references: 1, bytes: 8)
                memory.setReference(node, 0, head)
                memory.setWord(node, at: 0, UInt64(value))
                head = node
            }
            return head
        }
        for list in 0..<lists {
            memory.setReference(table, list, try makeList())
            if list % 10 == 0 { _ = try makeList() }  // garbage, spread through the heap
        }
        func makeGarbage() throws {
            for _ in 0..<max(1, lists / 10) { _ = try makeList() }
        }

        var random: UInt64 = 0x9E37_79B9_7F4A_7C15
        func mutate() throws {
            for _ in 0..<16 {
                random = random &* 6364136223846793005 &+ 1442695040888963407
                let list = Int((random >> 33) % UInt64(lists))
                let node = try memory.allocate(class: .null, references: 1, bytes: 8)
                memory.setReference(node, 0, memory.reference(table, list))
                memory.setReference(table, list, node)
            }
        }

        var fulls: [Double] = []
        var totals: [Double] = []
        var stepCounts: [Int] = []
        var pauses: [Double] = []
        var liveObjects = 0
        for _ in 0..<max(1, runs) {
            try makeGarbage()
            let full = memory.collectGarbage()
            fulls.append(Double(full.nanoseconds) / 1e6)
            liveObjects = full.liveObjects

            try makeGarbage()
            var total: UInt64 = 0
            var steps = 0
            let began = HostClock.monotonicNanos()
            memory.beginCollection()
            var pause = HostClock.monotonicNanos() - began
            while true {
                total += pause
                pauses.append(Double(pause) / 1e6)
                let started = HostClock.monotonicNanos()
                let done = memory.collectionStep(budget: budget)
                pause = HostClock.monotonicNanos() - started
                steps += 1
                if done {
                    total += pause
                    pauses.append(Double(pause) / 1e6)
                    break
                }
                try mutate()
            }
            totals.append(Double(total) / 1e6)
            stepCounts.append(steps)
        }
        pauses.sort()
        return CollectorPauses(
            heapMiB: heapMiB,
            fullMilliseconds: median(fulls),
            stepMaxMilliseconds: pauses.last ?? 0,
            stepP99Milliseconds: pauses.isEmpty ? 0 : pauses[Int(Double(pauses.count - 1) * 0.99)],
            incrementalTotalMilliseconds: median(totals),
            steps: stepCounts.sorted()[stepCounts.count / 2],
            liveObjects: liveObjects)
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
