import Foundation
import Testing
import Dispatch
import PhantomHost
import PhantomStore
@testable import PhantomMemory

/// A heap on a simulated disk, reopenable as after a crash.
struct Heap {
    let device: FaultyBlockDevice
    let store: Store
    let space: PersistentSpace
    let memory: ObjectMemory

    static func create(capacity: UInt64 = 64 << 20) throws -> Heap {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 1 << 30, keep: 4)
        return try open(device: device, store: store, capacity: capacity)
    }

    static func open(device: FaultyBlockDevice, store: Store? = nil, capacity: UInt64 = 64 << 20) throws -> Heap {
        let store = try store ?? Store.open(device, verification: .newestSnapshot)
        let space = try PersistentSpace(store: store, capacity: capacity)
        return Heap(device: device, store: store, space: space, memory: try ObjectMemory(space: space))
    }

    /// The heap as a restart after a power cut would find it.
    func reopenedAfterCrash() throws -> Heap {
        try Heap.open(device: device.rebooted(.dropAll))
    }
}

/// A list node: slot 0 next; bytes: a value.
func makeList(_ memory: ObjectMemory, count: Int) throws -> ObjectRef {
    var head = ObjectRef.null
    for value in (0..<count).reversed() {
        let node = try memory.allocate(class: .null, references: 1, bytes: 8)
        memory.setReference(node, 0, head)
        memory.setWord(node, at: 0, UInt64(value))
        head = node
    }
    return head
}

func listValues(_ memory: ObjectMemory, _ head: ObjectRef) -> [Int] {
    var values: [Int] = []
    var node = head
    while !node.isNull && values.count < 1_000_000 {
        values.append(Int(memory.word(node, at: 0)))
        node = memory.reference(node, 0)
    }
    return values
}

@Suite struct ObjectMemoryTests {
    @Test func objectsSurviveASnapshotAndACrash() throws {
        let heap = try Heap.create()
        let list = try makeList(heap.memory, count: 1000)
        heap.memory.root = list
        let big = try heap.memory.allocate(class: .null, references: 2, bytes: 100_000)
        heap.memory.setReference(big, 0, list)
        heap.memory.setWord(big, at: 99_992, 0xDEAD_BEEF)
        heap.memory.setReference(list, 0, heap.memory.reference(list, 0))  // no-op write
        let holder = try heap.memory.allocate(class: .null, references: 2, bytes: 0)
        heap.memory.setReference(holder, 0, list)
        heap.memory.setReference(holder, 1, big)
        heap.memory.root = holder
        try heap.space.takeSnapshot()
        // Work after the snapshot is lost in the crash.
        heap.memory.setWord(big, at: 99_992, 1)

        let after = try heap.reopenedAfterCrash()
        let root = after.memory.root
        #expect(root == holder)
        #expect(listValues(after.memory, after.memory.reference(root, 0)) == Array(0..<1000))
        let bigAgain = after.memory.reference(root, 1)
        #expect(after.memory.word(bigAgain, at: 99_992) == 0xDEAD_BEEF)
        #expect(after.memory.size(of: bigAgain) >= 100_016)
    }

    @Test func snapshotHoldsTheHeapAsItWasAtItsSafepoint() throws {
        let heap = try Heap.create()
        let counters = try heap.memory.allocate(class: .null, references: 0, bytes: 8 * 2000)
        heap.memory.root = counters
        for index in 0..<2000 { heap.memory.setWord(counters, at: index * 8, 1) }
        let ticket = try #require(heap.space.beginSnapshot())
        // The mutator goes on before the writer copies anything.
        for index in 0..<2000 { heap.memory.setWord(counters, at: index * 8, 2) }
        try heap.space.writeSnapshot(ticket)
        let after = try heap.reopenedAfterCrash()
        let restored = after.memory.root
        #expect((0..<2000).allSatisfy { after.memory.word(restored, at: $0 * 8) == 1 })
        // The changes made during the write belong to the next snapshot.
        try heap.space.takeSnapshot()
        let later = try heap.reopenedAfterCrash()
        #expect((0..<2000).allSatisfy { later.memory.word(later.memory.root, at: $0 * 8) == 2 })
    }

    @Test func concurrentSnapshotsAlwaysSeeTheInvariant() throws {
        // Two accounts arrays whose total is constant; the mutator moves money
        // while snapshots are written on another thread.
        let heap = try Heap.create()
        let accounts = 512
        let table = try heap.memory.allocate(class: .null, references: 0, bytes: 8 * accounts)
        heap.memory.root = table
        for index in 0..<accounts { heap.memory.setWord(table, at: index * 8, 1000) }
        let total = UInt64(accounts * 1000)
        var generator = SystemRandomNumberGenerator()
        var snapshots = 0
        let group = DispatchGroup()
        nonisolated(unsafe) var failure: Error? = nil
        for step in 0..<200_000 {
            // A transfer is atomic with respect to safepoints (between steps).
            let from = Int.random(in: 0..<accounts, using: &generator)
            let to = Int.random(in: 0..<accounts, using: &generator)
            let amount = UInt64.random(in: 0...10, using: &generator)
            let balance = heap.memory.word(table, at: from * 8)
            if balance >= amount {
                heap.memory.setWord(table, at: from * 8, balance - amount)
                heap.memory.setWord(table, at: to * 8, heap.memory.word(table, at: to * 8) + amount)
            }
            if step % 5000 == 0 {
                group.wait()  // one snapshot at a time; the mutator runs during each
                let ticket = try #require(heap.space.beginSnapshot())
                snapshots += 1
                let space = heap.space
                DispatchQueue.global().async(group: group) {
                    do { try space.writeSnapshot(ticket) } catch { failure = error }
                }
            }
        }
        group.wait()
        #expect(failure == nil)
        #expect(snapshots == 40)
        // Every retained snapshot is consistent.
        for snapshot in heap.store.snapshots {
            let copy = FaultyBlockDevice(durableContents: heap.device.contents)
            let store = try Store.open(copy)
            try store.rollback(to: snapshot.id)
            let view = try Heap.open(device: copy, store: store)
            let sum = (0..<accounts).reduce(UInt64(0)) { $0 + view.memory.word(view.memory.root, at: $1 * 8) }
            #expect(sum == total, "snapshot \(snapshot.id) holds a total of \(sum)")
        }
    }

    /// The writer thread, with a snapshot begun at every safepoint where the
    /// previous one is done (so a new one is handed over while the thread
    /// may still be reporting the last): every one is written, in order, and
    /// each holds the invariant.
    @Test func writerThreadWritesBackToBackSnapshots() throws {
        final class Reports: @unchecked Sendable {
            let lock = NSLock()
            var epochs: [UInt32] = []
            var pauses: [UInt64] = []
            var failures = 0
        }
        let heap = try Heap.create()
        let cells = 64
        let table = try heap.memory.allocate(class: .null, references: 0, bytes: 8 * cells)
        heap.memory.root = table
        let reports = Reports()
        let writer = SnapshotWriter(space: heap.space) { report in
            reports.lock.withLock {
                if case .success = report.result { reports.epochs.append(report.ticket.epoch) } else { reports.failures += 1 }
                reports.pauses.append(report.pauseNanos)
            }
            // A slow report: the next snapshot is begun (and handed over)
            // meanwhile, and must not change what this one reports.
            if report.ticket.epoch % 3 == 0 { usleep(300) }
        }
        var begun: [UInt32] = []
        var step: UInt64 = 0
        while begun.count < 300 {
            // Every cell holds the same value at every safepoint.
            step += 1
            for cell in 0..<cells { heap.memory.setWord(table, at: cell * 8, step) }
            if let ticket = heap.space.beginSnapshot() {
                writer.write(ticket, pauseNanos: UInt64(ticket.epoch) * 1000)
                begun.append(ticket.epoch)
            }
        }
        writer.waitUntilIdle()
        writer.stop()
        #expect(reports.lock.withLock { reports.epochs } == begun)
        #expect(reports.lock.withLock { reports.pauses } == begun.map { UInt64($0) * 1000 })
        #expect(reports.lock.withLock { reports.failures } == 0)
        for snapshot in heap.store.snapshots {
            let copy = FaultyBlockDevice(durableContents: heap.device.contents)
            let store = try Store.open(copy)
            try store.rollback(to: snapshot.id)
            let view = try Heap.open(device: copy, store: store)
            let values = Set((0..<cells).map { view.memory.word(view.memory.root, at: $0 * 8) })
            #expect(values.count == 1, "snapshot \(snapshot.id) holds \(values)")
        }
    }
}
