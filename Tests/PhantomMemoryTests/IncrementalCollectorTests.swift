import Testing
import Dispatch
import PhantomHost
import PhantomStore
@testable import PhantomMemory

/// The object graph a randomized mutator builds, as the test believes it
/// is. Every object carries its id in its first plain word.
struct CollectorModel {
    /// Reference slots of every object not yet known to be freed, by id.
    var slots: [Int: [Int?]] = [:]
    /// The root object's slots (its last slot holds the frame; not modelled).
    var roots: [Int?]
    /// The frame's slots: written with raw stores, like the VM's call frames.
    var frame: [Int?]
    /// Objects that only the test holds (like a thread's registers or a
    /// returned frame): written raw, passed for the remark, freed explicitly.
    var temps: [Int] = []

    /// Ids reachable from the root, the frame and the temps.
    func reachable() -> Set<Int> {
        var seen = Set<Int>()
        var stack = (roots + frame).compactMap { $0 } + temps
        while let id = stack.popLast() {
            guard seen.insert(id).inserted else { continue }
            stack.append(contentsOf: (slots[id] ?? []).compactMap { $0 })
        }
        return seen
    }
}

/// A randomized mutator over an object memory and its model, and the
/// checks of what a collector may and may not do to it.
struct Mutator {
    var memory: ObjectMemory
    var model: CollectorModel
    /// Where each id lives (ids are never reused).
    var refs: [Int: ObjectRef] = [:]
    var nextID = 1
    var random: Mix
    let frame: ObjectRef
    static let rootSlots = 48
    static let frameSlots = 16
    /// Objects allocated, and how many the test freed explicitly.
    var allocated = 0
    var explicitlyFreed = 0

    init(memory: ObjectMemory, seed: UInt64) throws {
        self.memory = memory
        random = Mix(state: seed)
        model = CollectorModel(roots: Array(repeating: nil, count: Self.rootSlots),
                               frame: Array(repeating: nil, count: Self.frameSlots))
        let root = try memory.allocate(class: .null, references: Self.rootSlots + 1, bytes: 8)
        memory.root = root
        frame = try memory.allocate(class: .null, references: Self.frameSlots, bytes: 8)
        memory.setReference(root, Self.rootSlots, frame)
    }

    /// The objects written without the barrier, for the remark.
    var rescanSet: [ObjectRef] { [frame] + model.temps.map { refs[$0]! } }

    /// A store that bypasses the collector's barrier (the snapshot barrier
    /// still runs: the VM marks a frame's pages dirty when it enters it).
    func rawStore(_ object: ObjectRef, _ slot: Int, _ value: ObjectRef) {
        let offset = object.raw + 16 + UInt64(slot) * 8
        memory.space.willWrite(page: Int(offset >> 12))
        memory.base.storeBytes(of: value.raw, toByteOffset: Int(offset), as: UInt64.self)
    }

    /// A reachable object (not a temp), by a random walk from the roots and
    /// the frame; nil if there is none.
    mutating func pickLive() -> Int? {
        let starts = (model.roots + model.frame).compactMap { $0 }
        guard var id = starts.isEmpty ? nil : starts[random.next(starts.count)] else { return nil }
        for _ in 0..<random.next(10) {
            let next = (model.slots[id] ?? []).compactMap { $0 }
            if next.isEmpty { break }
            id = next[random.next(next.count)]
        }
        return id
    }

    mutating func make(references: Int, bytes: Int) throws -> Int {
        let object = try memory.allocate(class: .null, references: references, bytes: max(bytes, 8))
        let id = nextID
        nextID += 1
        memory.setWord(object, at: 0, UInt64(id))
        refs[id] = object
        model.slots[id] = Array(repeating: nil, count: references)
        allocated += 1
        return id
    }

    mutating func set(_ id: Int, _ slot: Int, _ target: Int?) {
        model.slots[id]![slot] = target
        memory.setReference(refs[id]!, slot, target.map { refs[$0]! } ?? .null)
    }

    mutating func setRoot(_ slot: Int, _ target: Int?) {
        model.roots[slot] = target
        memory.setReference(memory.root, slot, target.map { refs[$0]! } ?? .null)
    }

    mutating func setFrame(_ slot: Int, _ target: Int?) {
        model.frame[slot] = target
        rawStore(frame, slot, target.map { refs[$0]! } ?? .null)
    }

    /// Hangs a new object somewhere reachable (into an empty slot if it
    /// finds one: the graph grows until other operations cut it).
    mutating func hang(_ id: Int, growing: Bool = false) {
        if growing {
            // Into an empty slot only: down a random path to the first one.
            let starts = model.roots.indices.filter { model.roots[$0] != nil }
            if let start = starts.randomElement(using: &random), var parent = model.roots[start] {
                for _ in 0..<64 {
                    let slots = model.slots[parent]!
                    if let empty = slots.indices.filter({ slots[$0] == nil }).randomElement(using: &random) {
                        set(parent, empty, id)
                        return
                    }
                    parent = slots[random.next(slots.count)]!
                }
            }
            if let empty = model.roots.indices.filter({ model.roots[$0] == nil }).randomElement(using: &random) {
                setRoot(empty, id)
            }
            return
        }
        switch random.next(10) {
        case 0...6:
            if let parent = pickLive(), let slots = model.slots[parent], !slots.isEmpty {
                let empty = slots.indices.filter { slots[$0] == nil }
                set(parent, empty.randomElement(using: &random) ?? random.next(slots.count), id)
            } else {
                setRoot(random.next(Self.rootSlots), id)
            }
        case 7:
            let empty = model.roots.indices.filter { model.roots[$0] == nil }
            setRoot(empty.randomElement(using: &random) ?? random.next(Self.rootSlots), id)
        case 8: setFrame(random.next(Self.frameSlots), id)
        default:
            if let temp = model.temps.randomElement(using: &random) {
                let slot = random.next(model.slots[temp]!.count)
                model.slots[temp]![slot] = id
                rawStore(refs[temp]!, slot, refs[id]!)
            } else {
                setRoot(random.next(Self.rootSlots), id)
            }
        }
    }

    /// One random mutation; `growing` skips the ones that cut the graph.
    mutating func step(largeObjects: Bool = true, growing: Bool = false) throws {
        switch random.next(growing ? 10 : 22) {
        case 0...8:  // a small object
            let id = try make(references: 1 + random.next(6), bytes: [8, 24, 100, 500][random.next(4)])
            hang(id, growing: growing)
        case 9:  // a large object: many references or many bytes
            guard largeObjects else { break }
            let id = random.next(2) == 0
                ? try make(references: 300 + random.next(300), bytes: 8)
                : try make(references: 2, bytes: [3000, 9000, 40_000][random.next(3)])
            hang(id, growing: growing)
        case 10...13:  // link two live objects (cycles happen), or clear a slot
            guard let from = pickLive(), let slots = model.slots[from], !slots.isEmpty else { break }
            let empty = slots.indices.filter { slots[$0] == nil }
            let slot = random.next(2) == 0 ? empty.randomElement(using: &random) ?? random.next(slots.count) : random.next(slots.count)
            set(from, slot, random.next(8) == 0 ? nil : pickLive())
        case 14...16:  // move a reference: the only path to an object may now run through a scanned one
            guard let from = pickLive(), let slots = model.slots[from] else { break }
            let filled = slots.indices.filter { slots[$0] != nil }
            guard let slot = filled.randomElement(using: &random) else { break }
            let moved = slots[slot]
            if let to = pickLive(), let count = model.slots[to]?.count, count > 0 {
                set(to, random.next(count), moved)
            } else if random.next(2) == 0 {
                setFrame(random.next(Self.frameSlots), moved)
            } else {
                setRoot(random.next(Self.rootSlots), moved)
            }
            set(from, slot, nil)
        case 17:  // drop a root (now and then) or a frame slot
            if random.next(4) == 0 { setRoot(random.next(Self.rootSlots), nil) } else { setFrame(random.next(Self.frameSlots), nil) }
        case 18, 19:  // a frame slot gets a live object, raw
            setFrame(random.next(Self.frameSlots), pickLive())
        default:  // temps: a new one holding live objects (raw), or one returned and freed at once
            if model.temps.count < 8 && random.next(2) == 0 {
                let id = try make(references: 4, bytes: 16)
                model.temps.append(id)
                for slot in 0..<4 where random.next(2) == 0 {
                    let target = pickLive()
                    model.slots[id]![slot] = target
                    rawStore(refs[id]!, slot, target.map { refs[$0]! } ?? .null)
                }
            } else if !model.temps.isEmpty {
                let id = model.temps.remove(at: random.next(model.temps.count))
                memory.free(refs[id]!)
                refs[id] = nil
                model.slots[id] = nil
                explicitlyFreed += 1
            }
        }
    }

    /// Every reachable object is intact: its id, and its slots as modelled.
    func checkReachable(_ context: @autoclosure () -> String, sample: Int = .max) {
        var failures = 0
        for id in model.reachable().prefix(sample) {
            guard let object = refs[id] else {
                Issue.record("\(context()): reachable object \(id) has no address")
                return
            }
            guard memory.word(object, at: 0) == UInt64(id) else {
                Issue.record("\(context()): reachable object \(id) at \(object) was freed or overwritten")
                failures += 1
                if failures > 3 { return }
                continue
            }
            for (slot, target) in (model.slots[id] ?? []).enumerated()
            where memory.reference(object, slot) != (target.map { refs[$0]! } ?? .null) {
                Issue.record("\(context()): object \(id) slot \(slot) changed")
                failures += 1
                if failures > 3 { return }
            }
        }
        for (slot, target) in model.roots.enumerated() where memory.reference(memory.root, slot) != (target.map { refs[$0]! } ?? .null) {
            Issue.record("\(context()): root slot \(slot) changed")
        }
        for (slot, target) in model.frame.enumerated() where memory.reference(frame, slot) != (target.map { refs[$0]! } ?? .null) {
            Issue.record("\(context()): frame slot \(slot) changed")
        }
    }

    /// Objects unreachable now, which the next complete cycle must free.
    func garbage() -> [Int] {
        let live = model.reachable()
        return refs.keys.filter { !live.contains($0) }
    }

    /// After a complete cycle that began when `garbage` was unreachable:
    /// all of it is freed (its address holds no object with its id), and
    /// the heap is consistent with every free cell and run on a list.
    mutating func checkCycleEnd(garbage: [Int], _ context: String) {
        let census = memory.census()
        #expect(census.problems.isEmpty, "\(context): \(census.problems)")
        #expect(census.listedCells == census.freeCells.count,
                "\(context): \(census.freeCells.count - census.listedCells) free cells on no list after a complete cycle")
        #expect(memory.markBitsAreClear(), "\(context): mark bits left set")
        var survivors = 0
        for id in garbage {
            let object = refs[id]!
            if census.objects.contains(object.raw) && memory.word(object, at: 0) == UInt64(id) { survivors += 1 }
            refs[id] = nil
            model.slots[id] = nil
        }
        // (Some of it may have been freed by the cycle before: it became
        // unreachable then before the marker reached it.)
        #expect(survivors == 0, "\(context): \(survivors) of \(garbage.count) objects unreachable when the cycle began survived it")
        checkReachable(context)
    }
}

@Suite struct IncrementalCollectorTests {
    /// Randomized graphs, a mutator running between steps of every size,
    /// checked against the model at step boundaries and at every cycle's end.
    @Test(arguments: [11, 12, 13, 14, 15, 16] as [UInt64])
    func mutatorBetweenStepsNeverLosesAReachableObject(seed: UInt64) throws {
        let heap = try Heap.create()
        var mutator = try Mutator(memory: heap.memory, seed: seed)
        var random = Mix(state: seed &* 7)
        var garbageAtBegin: [Int] = []
        var cycles = 0
        var sawPhases = Set<String>()
        var freed = 0
        for operation in 0..<20_000 {
            try mutator.step()
            guard operation % 3 == 0 else { continue }
            let memory = heap.memory
            if !memory.isCollecting {
                garbageAtBegin = mutator.garbage()
                memory.beginCollection()
            }
            sawPhases.insert("\(memory.collectionPhase)")
            let budget = [1, 8, 64, 300, 2000, 20_000][random.next(6)]
            if memory.collectionStep(budget: budget, rescanning: { mutator.rescanSet }) {
                cycles += 1
                freed += garbageAtBegin.count
                mutator.checkCycleEnd(garbage: garbageAtBegin, "seed \(seed) cycle \(cycles)")
            } else if random.next(50) == 0 {
                mutator.checkReachable("seed \(seed) op \(operation) in \(memory.collectionPhase)")
                #expect(memory.checkHeap().isEmpty, "op \(operation) in \(memory.collectionPhase): \(memory.checkHeap())")
            }
        }
        #expect(cycles >= 10, "only \(cycles) cycles completed")
        #expect(sawPhases.isSuperset(of: ["marking", "sweeping"]), "\(sawPhases)")
        #expect(freed > 1000 && mutator.explicitlyFreed > 100, "freed \(freed), explicitly \(mutator.explicitlyFreed)")
    }

    /// A graph of thousands of objects, grown first, then churned, with
    /// small budgets: cycles of hundreds of steps, the mutator between each.
    @Test func largeGraphCollectedInManySmallSteps() throws {
        let heap = try Heap.create()
        var mutator = try Mutator(memory: heap.memory, seed: 51)
        var random = Mix(state: 51)
        var garbageAtBegin: [Int] = []
        var cycles = 0
        var longest = 0
        var steps = 0
        for operation in 0..<16_000 {
            try mutator.step(growing: operation < 8000)
            let memory = heap.memory
            if !memory.isCollecting {
                garbageAtBegin = mutator.garbage()
                memory.beginCollection()
                steps = 0
            }
            steps += 1
            if memory.collectionStep(budget: [50, 200, 1000][random.next(3)], rescanning: { mutator.rescanSet }) {
                cycles += 1
                longest = max(longest, steps)
                mutator.checkCycleEnd(garbage: garbageAtBegin, "large graph cycle \(cycles)")
            }
        }
        #expect(mutator.model.reachable().count > 3000 || longest > 200, "live \(mutator.model.reachable().count), longest cycle \(longest) steps")
        #expect(cycles >= 10 && longest > 100, "\(cycles) cycles, the longest \(longest) steps")
    }

    /// Dijkstra's barrier: the only reference to an unmarked object moves
    /// into an object the marker has already scanned. Without the barrier in
    /// `setReference`, the sweep frees it.
    @Test func barrierKeepsAnObjectMovedIntoAScannedObject() throws {
        let heap = try Heap.create()
        let memory = heap.memory
        let root = try memory.allocate(class: .null, references: 2, bytes: 0)
        memory.root = root
        // root[0]: a chain of 200 objects ending in `hidden`; root[1]: `holder`.
        var head = try memory.allocate(class: .null, references: 1, bytes: 8)
        memory.setWord(head, at: 0, 7777)
        let hidden = head
        var last = head
        for _ in 0..<200 {
            let node = try memory.allocate(class: .null, references: 1, bytes: 8)
            memory.setReference(node, 0, head)
            if head == hidden { last = node }
            head = node
        }
        memory.setReference(root, 0, head)
        let holder = try memory.allocate(class: .null, references: 1, bytes: 8)
        memory.setReference(root, 1, holder)

        memory.beginCollection()
        let sweeps = memory.sweepsBegun
        var moved = false
        var sweepSeen = false
        while !memory.collectionStep(budget: 1) {
            // Caches keyed by address learn when freeing may begin.
            sweepSeen = sweepSeen || memory.sweepsBegun == sweeps + 1
            #expect(memory.sweepsBegun == (memory.collectionPhase == .marking ? sweeps : sweeps + 1))
            if !moved && memory.isMarked(holder) && !memory.isGray(holder) && !memory.isMarked(hidden) {
                // holder is black, hidden white: move the only reference.
                memory.setReference(holder, 0, hidden)
                memory.setReference(last, 0, .null)
                moved = true
            }
        }
        #expect(moved, "never saw holder scanned while hidden was unmarked")
        #expect(sweepSeen)
        #expect(memory.census().objects.contains(hidden.raw) && memory.word(hidden, at: 0) == 7777, "the moved object was freed")
        #expect(memory.checkHeap().isEmpty)
        // The next cycle keeps it too, and frees the chain's tail end.
        memory.beginCollection()
        while !memory.collectionStep(budget: 100) {}
        #expect(memory.word(memory.reference(holder, 0), at: 0) == 7777)
    }

    /// Objects written with raw stores (the VM's frames) are rescanned at the
    /// remark; without the rescan the object stored raw would be freed.
    @Test(arguments: [true, false])
    func rawStoresAreFoundByTheRemark(rescan: Bool) throws {
        let heap = try Heap.create()
        let memory = heap.memory
        let root = try memory.allocate(class: .null, references: 2, bytes: 0)
        memory.root = root
        var head = ObjectRef.null
        for index in 0..<100 {
            let node = try memory.allocate(class: .null, references: 1, bytes: 8)
            memory.setWord(node, at: 0, UInt64(index))
            memory.setReference(node, 0, head)
            head = node
        }
        let value = memory.reference(memory.reference(head, 0), 0)  // deep in the chain: marked late
        let frame = try memory.allocate(class: .null, references: 4, bytes: 8)
        // The frame is scanned first (the marker takes the last slot first).
        memory.setReference(root, 0, head)
        memory.setReference(root, 1, frame)
        memory.beginCollection()
        var stored = false
        while !memory.collectionStep(budget: 1, rescanning: { rescan ? [frame] : [] }) {
            if !stored && memory.isMarked(frame) && !memory.isGray(frame) && !memory.isMarked(value) {
                // Like `r.objects[r.osp] = ...` in the interpreter: no barrier.
                let offset = frame.raw + 16
                memory.space.willWrite(page: Int(offset >> 12))
                memory.base.storeBytes(of: value.raw, toByteOffset: Int(offset), as: UInt64.self)
                memory.setReference(head, 0, .null)  // the chain no longer reaches it
                stored = true
            }
        }
        #expect(stored)
        let survived = memory.census().objects.contains(value.raw) && memory.word(value, at: 0) == 97
        #expect(survived == rescan, rescan ? "the object stored raw into a rescanned frame was freed" : "control: without the rescan it should have been freed")
    }

    /// A large object is scanned in pieces across steps while the mutator
    /// moves references from its unscanned part into its scanned part.
    @Test func largeObjectScannedInPiecesWhileMutated() throws {
        let heap = try Heap.create()
        let memory = heap.memory
        let slots = 6000
        let array = try memory.allocate(class: .null, references: slots, bytes: 0)
        memory.root = array
        var leaves: [ObjectRef] = []
        for index in 0..<slots / 2 {
            let leaf = try memory.allocate(class: .null, references: 0, bytes: 8)
            memory.setWord(leaf, at: 0, UInt64(index))
            memory.setReference(array, slots / 2 + index, leaf)
            leaves.append(leaf)
        }
        memory.beginCollection()
        var random = Mix(state: 5)
        var steps = 0
        while !memory.collectionStep(budget: 50) {
            steps += 1
            // Move ten references from the upper half (scanned last) to the lower one.
            for _ in 0..<10 {
                let from = slots / 2 + random.next(slots / 2)
                let moved = memory.reference(array, from)
                guard !moved.isNull else { continue }
                let index = Int(memory.word(moved, at: 0))
                memory.setReference(array, index, moved)
                memory.setReference(array, from, .null)
            }
        }
        #expect(steps > 50, "the array should take many steps, took \(steps)")
        for (index, leaf) in leaves.enumerated() {
            let here = memory.reference(array, index).isNull ? memory.reference(array, slots / 2 + index) : memory.reference(array, index)
            #expect(here == leaf && memory.word(leaf, at: 0) == UInt64(index), "leaf \(index) lost")
        }
        #expect(memory.checkHeap().isEmpty)
    }

    /// Snapshots at random steps, then a power cut: the image that comes
    /// back is a valid heap holding the graph as it was at the snapshot,
    /// and collection on it goes on and reclaims what the crash left.
    @Test(arguments: [21, 22, 23, 24] as [UInt64])
    func crashBetweenStepsLeavesAConsistentImage(seed: UInt64) throws {
        var heap = try Heap.create()
        var mutator = try Mutator(memory: heap.memory, seed: seed)
        var random = Mix(state: seed &* 13)
        var garbageAtBegin: [Int] = []
        var saved: (model: CollectorModel, refs: [Int: ObjectRef])? = nil
        var snapshotPhases = Set<String>()
        var crashes = 0
        var cycles = 0
        // Half the snapshots are written on another thread while the
        // mutator and the collector go on (copy-on-write of their pages).
        let writer = DispatchGroup()
        nonisolated(unsafe) var writeFailure: Error? = nil
        for operation in 0..<12_000 {
            try mutator.step()
            guard operation % 3 == 0 else { continue }
            if !heap.memory.isCollecting {
                garbageAtBegin = mutator.garbage()
                heap.memory.beginCollection()
            }
            let budget = [4, 50, 400, 3000][random.next(4)]
            if heap.memory.collectionStep(budget: budget, rescanning: { mutator.rescanSet }) {
                cycles += 1
                mutator.checkCycleEnd(garbage: garbageAtBegin, "seed \(seed) cycle \(cycles)")
            }
            if random.next(40) == 0 {
                // A snapshot at this safepoint, between two steps.
                snapshotPhases.insert("\(heap.memory.collectionPhase)")
                writer.wait()
                if random.next(2) == 0 {
                    try heap.space.takeSnapshot()
                } else {
                    let ticket = try #require(heap.space.beginSnapshot())
                    let space = heap.space
                    DispatchQueue.global().async(group: writer) {
                        do { try space.writeSnapshot(ticket) } catch { writeFailure = error }
                    }
                }
                saved = (mutator.model, mutator.refs)
            }
            if operation % 1500 == 1497, let image = saved {
                // Power cut: everything after the last snapshot is lost,
                // the collector's transient state too.
                writer.wait()
                #expect(writeFailure == nil)
                heap = try heap.reopenedAfterCrash()
                crashes += 1
                mutator.memory = heap.memory
                mutator.model = image.model
                mutator.refs = image.refs
                // The test's own references are transient: the temps are gone.
                mutator.model.temps = []
                let census = heap.memory.census()
                #expect(census.problems.isEmpty, "seed \(seed) crash \(crashes): \(census.problems)")
                mutator.checkReachable("seed \(seed) after crash \(crashes)")
                #expect(!heap.memory.isCollecting)
            }
        }
        writer.wait()
        #expect(crashes == 8 && cycles >= 8, "\(crashes) crashes, \(cycles) cycles")
        #expect(snapshotPhases.isSuperset(of: ["marking", "sweeping"]), "snapshots were taken only in \(snapshotPhases)")
        // Finish with a full cycle: everything is linked again, nothing reachable lost.
        if heap.memory.isCollecting {
            while !heap.memory.collectionStep(budget: 10_000, rescanning: { mutator.rescanSet }) {}
        }
        let garbage = mutator.garbage()
        heap.memory.beginCollection()
        while !heap.memory.collectionStep(budget: 10_000, rescanning: { mutator.rescanSet }) {}
        mutator.checkCycleEnd(garbage: garbage, "seed \(seed) final cycle")
    }

    /// Snapshots taken at every step boundary of one cycle each reopen as a
    /// valid heap with the whole graph (an exhaustive sweep over one cycle).
    @Test func everyStepBoundaryOfACycleIsAValidImage() throws {
        let heap = try Heap.create()
        var mutator = try Mutator(memory: heap.memory, seed: 31)
        for _ in 0..<3000 { try mutator.step() }
        let garbage = mutator.garbage()
        #expect(garbage.count > 100)
        let model = mutator.model
        let refs = mutator.refs
        heap.memory.beginCollection()
        var boundaries = 0
        while true {
            let done = heap.memory.collectionStep(budget: 1000, rescanning: { mutator.rescanSet })
            try heap.space.takeSnapshot()
            boundaries += 1
            // Open the snapshot on a copy of the disk, as after a crash.
            let copy = FaultyBlockDevice(durableContents: heap.device.durableImage(after: .dropAll))
            let reopened = try Heap.open(device: copy)
            var view = mutator
            view.memory = reopened.memory
            view.model = model
            view.refs = refs
            let census = reopened.memory.census()
            #expect(census.problems.isEmpty, "boundary \(boundaries) (\(heap.memory.collectionPhase)): \(census.problems)")
            view.checkReachable("boundary \(boundaries)")
            if done { break }
        }
        #expect(boundaries >= 10)
        mutator.checkCycleEnd(garbage: garbage, "after the cycle")
    }

    /// A long allocation-heavy run with incremental collection only (paced by
    /// allocation) stays within a bounded heap: freed memory is reused.
    @Test func heapStaysBoundedUnderIncrementalCollectionOnly() throws {
        let heap = try Heap.create(capacity: 128 << 20)
        let memory = heap.memory
        let lists = 64
        let root = try memory.allocate(class: .null, references: lists + 1, bytes: 0)
        memory.root = root
        var random = Mix(state: 99)
        var heapEnds: [UInt64] = []
        var cycles = 0
        for round in 0..<60 {
            for _ in 0..<40 {
                // Replace a list of 200 nodes (the old one becomes garbage),
                // now and then a large object. The list being built is held
                // in a local: an extra root, passed again at the remark.
                var head = ObjectRef.null
                for value in 0..<200 {
                    let node = try memory.allocate(class: .null, references: 2, bytes: [8, 40, 200][random.next(3)])
                    memory.setReference(node, 0, head)
                    memory.setWord(node, at: 0, UInt64(value))
                    head = node
                    if value % 25 == 0 {
                        if !memory.isCollecting { memory.beginCollection(extraRoots: [head]) }
                        if memory.collectionStep(budget: 3000, rescanning: { [head] }) { cycles += 1 }
                    }
                }
                memory.setReference(root, random.next(lists), head)
                if random.next(10) == 0 {
                    memory.setReference(root, lists, try memory.allocate(class: .null, references: 1, bytes: 50_000 + random.next(100_000)))
                }
            }
            heapEnds.append(memory.heapEnd)
            _ = round
        }
        let allocated = memory.bytesAllocated
        let early = heapEnds[9]
        let late = heapEnds.suffix(30).max()!
        #expect(cycles >= 20, "\(cycles) cycles")
        #expect(late <= early * 3 / 2, "heap end grew from \(early) to \(late)")
        #expect(allocated > late * 10, "allocated \(allocated) bytes in a heap of \(late)")
        #expect(memory.checkHeap().isEmpty)
    }

    /// A free tail is handed back a few pages a step, the pages past the heap
    /// end zero at every step.
    @Test func freeTailIsTrimmedInBoundedSteps() throws {
        let heap = try Heap.create()
        let memory = heap.memory
        let root = try memory.allocate(class: .null, references: 2, bytes: 0)
        memory.root = root
        memory.setReference(root, 0, try makeList(memory, count: 1000))
        let start = memory.heapEnd
        // 8 MiB of large objects, each garbage once the next replaces it.
        for _ in 0..<40 { memory.setReference(root, 1, try memory.allocate(class: .null, references: 0, bytes: 200_000)) }
        memory.setReference(root, 1, .null)
        let grown = memory.heapEnd
        memory.beginCollection()
        var trimmingSteps = 0
        var previous = grown
        while !memory.collectionStep(budget: 10 * ObjectMemory.trimUnitsPerPage) {  // 10 pages a trimming step
            if memory.collectionPhase == .trimming {
                trimmingSteps += 1
                #expect(previous - memory.heapEnd <= 10 * 4096 || previous == grown)
                previous = memory.heapEnd
                if trimmingSteps % 50 == 0 { #expect(memory.checkHeap().isEmpty) }
            }
        }
        #expect(trimmingSteps > 50, "\(trimmingSteps) trimming steps")
        #expect(memory.heapEnd <= start + (128 << 10), "heap end \(memory.heapEnd), was \(start) before the garbage")
        #expect(memory.checkHeap().isEmpty)
        #expect(listValues(memory, memory.reference(root, 0)) == Array(0..<1000))
    }

    /// A full collection in the middle of an incremental cycle abandons it and
    /// leaves an exact, consistent heap.
    @Test func fullCollectionAbandonsACycleInProgress() throws {
        let heap = try Heap.create()
        var mutator = try Mutator(memory: heap.memory, seed: 41)
        var random = Mix(state: 41)
        var abandoned = Set<String>()
        for round in 0..<40 {
            for _ in 0..<150 { try mutator.step() }
            if !heap.memory.isCollecting { heap.memory.beginCollection() }
            for _ in 0..<random.next(40) { heap.memory.collectionStep(budget: 200, rescanning: { mutator.rescanSet }) }
            abandoned.insert("\(heap.memory.collectionPhase)")
            if round % 2 == 0 {
                let live = mutator.model.reachable()
                let stats = heap.memory.collectGarbage(extraRoots: mutator.model.temps.map { mutator.refs[$0]! })
                #expect(!heap.memory.isCollecting)
                // root + frame + everything the model reaches
                #expect(stats.liveObjects == live.count + 2, "round \(round): \(stats.liveObjects) live, model \(live.count) + 2")
                #expect(heap.memory.markBitsAreClear())
                let census = heap.memory.census()
                #expect(census.problems.isEmpty, "\(census.problems)")
                #expect(census.listedCells == census.freeCells.count && census.listedRuns == census.freeRuns.count)
                for id in mutator.refs.keys where !live.contains(id) { mutator.refs[id] = nil; mutator.model.slots[id] = nil }
                mutator.checkReachable("round \(round)")
            }
        }
        #expect(abandoned.isSuperset(of: ["marking", "sweeping"]), "\(abandoned)")
    }
}
