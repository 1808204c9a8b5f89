import Testing
import PhantomHost
import PhantomStore
@testable import PhantomMemory

/// A model of the object graph: id -> (reference slots as ids, payload size).
struct GraphModel {
    var slots: [Int: [Int?]] = [:]
    var roots: [Int?]

    func reachable() -> Set<Int> {
        var seen = Set<Int>()
        var stack = roots.compactMap { $0 }
        while let id = stack.popLast() {
            guard seen.insert(id).inserted else { continue }
            stack.append(contentsOf: (slots[id] ?? []).compactMap { $0 })
        }
        return seen
    }
}

struct Mix {
    var state: UInt64
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}

@Suite struct GarbageCollectorTests {
    /// Objects carry their model id in their first payload word; the root
    /// object holds the model's root slots.
    @Test(arguments: [1, 2, 3, 4])
    func randomGraphsMatchTheModelAndSpaceIsReused(seed: UInt64) throws {
        var heap = try Heap.create(capacity: 256 << 20)
        var random = Mix(state: seed)
        let rootSlots = 64
        var model = GraphModel(roots: Array(repeating: nil, count: rootSlots))
        var refs: [Int: ObjectRef] = [:]
        var nextID = 1
        heap.memory.root = try heap.memory.allocate(class: .null, references: rootSlots, bytes: 0)
        var heapEnds: [UInt64] = []
        var freedTotal = 0
        var liveSeen = 0

        func check(_ memory: ObjectMemory, _ refs: [Int: ObjectRef]) {
            let live = model.reachable()
            for id in live {
                let object = refs[id]!
                #expect(memory.word(object, at: 0) == UInt64(id), "object \(id) was overwritten")
                for (slot, target) in (model.slots[id] ?? []).enumerated() {
                    #expect(memory.reference(object, slot) == (target.map { refs[$0]! } ?? .null))
                }
            }
        }

        for round in 0..<40 {
            for _ in 0..<400 {
                switch random.next(20) {
                case 0...11:  // allocate, hang it from a live object or from the root
                    let references = 1 + random.next(6)
                    let bytes = [8, 24, 100, 500, 3000, 9000][random.next(6)]
                    let object = try heap.memory.allocate(class: .null, references: references, bytes: bytes)
                    heap.memory.setWord(object, at: 0, UInt64(nextID))
                    refs[nextID] = object
                    model.slots[nextID] = Array(repeating: nil, count: references)
                    let live = Array(model.reachable())
                    if random.next(4) != 0, let parent = live.randomElement(using: &random), let count = model.slots[parent]?.count, count > 0 {
                        let slot = random.next(count)
                        model.slots[parent]![slot] = nextID
                        heap.memory.setReference(refs[parent]!, slot, object)
                    } else {
                        let slot = random.next(rootSlots)
                        model.roots[slot] = nextID
                        heap.memory.setReference(heap.memory.root, slot, object)
                    }
                    nextID += 1
                case 12...17:  // link two live objects (cycles happen)
                    let live = Array(model.reachable())
                    guard let from = live.randomElement(using: &random), let count = model.slots[from]?.count, count > 0 else { break }
                    let target = random.next(4) == 0 ? nil : live.randomElement(using: &random)
                    let slot = random.next(count)
                    model.slots[from]![slot] = target
                    heap.memory.setReference(refs[from]!, slot, target.map { refs[$0]! } ?? .null)
                default:  // drop a root
                    let slot = random.next(rootSlots)
                    model.roots[slot] = nil
                    heap.memory.setReference(heap.memory.root, slot, .null)
                }
            }
            let stats = heap.memory.collectGarbage()
            freedTotal += stats.freedObjects
            liveSeen = max(liveSeen, stats.liveObjects)
            let live = model.reachable()
            #expect(stats.liveObjects == live.count + 1, "round \(round): \(stats.liveObjects) live, model has \(live.count) + root")
            for id in refs.keys where !live.contains(id) { refs[id] = nil; model.slots[id] = nil }
            check(heap.memory, refs)
            heapEnds.append(heap.memory.heapEnd)
            if round % 10 == 9 {
                // Through a snapshot and a crash: the same graph comes back.
                try heap.space.takeSnapshot()
                heap = try heap.reopenedAfterCrash()
                check(heap.memory, refs)
                #expect(heap.memory.collectGarbage().liveObjects == live.count + 1)
            }
        }
        // The workload really churned: many objects freed, graphs of some size.
        #expect(freedTotal > 3000 && liveSeen > 100, "freed \(freedTotal), live at most \(liveSeen)")
        // Bounded: the heap stops growing once freed space is reused.
        let late = heapEnds.suffix(20).max()!
        #expect(late <= heapEnds[19] * 2, "heap end grew from \(heapEnds[19]) to \(late)")
    }

    @Test func cyclesAreCollected() throws {
        let heap = try Heap.create()
        let holder = try heap.memory.allocate(class: .null, references: 1, bytes: 0)
        heap.memory.root = holder
        for _ in 0..<1000 {
            let a = try heap.memory.allocate(class: .null, references: 1, bytes: 64)
            let b = try heap.memory.allocate(class: .null, references: 1, bytes: 64)
            heap.memory.setReference(a, 0, b)
            heap.memory.setReference(b, 0, a)
        }
        let stats = heap.memory.collectGarbage()
        #expect(stats.liveObjects == 1)
        #expect(stats.freedObjects == 2000)
        // Allocation-heavy churn stays within the space it had.
        let end = heap.memory.heapEnd
        for _ in 0..<20 {
            for _ in 0..<1000 { _ = try heap.memory.allocate(class: .null, references: 1, bytes: 64) }
            heap.memory.collectGarbage()
        }
        #expect(heap.memory.heapEnd <= end)
    }

    @Test func largeObjectsAreFreedAndTheirPagesReused() throws {
        let heap = try Heap.create(capacity: 64 << 20)
        heap.memory.root = try heap.memory.allocate(class: .null, references: 1, bytes: 0)
        for _ in 0..<200 {
            // 1 MiB objects, only the last one kept: 200 MiB would not fit.
            let big = try heap.memory.allocate(class: .null, references: 0, bytes: 1 << 20)
            heap.memory.setWord(big, at: 1000, 7)
            heap.memory.setReference(heap.memory.root, 0, big)
            heap.memory.collectGarbage()
        }
        #expect(heap.memory.heapEnd < 4 << 20)
        #expect(heap.memory.word(heap.memory.reference(heap.memory.root, 0), at: 1000) == 7)
    }
}

extension Mix: RandomNumberGenerator {
    mutating func next() -> UInt64 { UInt64(next(Int.max)) }
}
