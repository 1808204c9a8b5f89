// Incremental mark and sweep over the persistent heap, in bounded steps
// taken between safepoints (docs/object-layout.md, "Garbage collection").
//
// A cycle goes idle -> marking -> sweeping -> (trimming) -> idle:
// ```
// beginCollection   shade the root and the extra roots; the barrier is on
// marking steps     pop a gray object, shade its class and references
//                   (large objects in pieces); budget = objects + slots
// remark            mark stack empty: shade the root, rescan the objects the
//                   caller passes (its frames, written with raw stores); if
//                   that found nothing new, marking is complete; else mark
//                   on (after 4 rounds: drain to the end in that step)
// sweeping steps    chunk by chunk in heap order, up to the heap end at the
//                   end of marking: dead cells become free cells, appended
//                   to free-cell lists that the sweep rebuilds from empty;
//                   empty chunks and dead large objects become free runs,
//                   inserted into the (heap-ordered) run list at the cursor
//                   and merged with adjacent runs
// trimming steps    the free run that ends the heap shrinks from the top,
//                   its pages zeroed, lowering the heap end
// ```
// Invariants (white = an object the marker has not reached):
// - While marking, no object scanned or allocated in this cycle refers to a
//   white object except through a store the caller rescans: `setReference`,
//   `root` and `setClass` shade what they store (Dijkstra's insertion
//   barrier), and new objects are black (marked at allocation).
// - Marks are in process memory, one bit per 16 bytes of the space, all
//   clear between cycles (the sweep clears each chunk's bits as it passes).
// - The free-run list holds every free run, in heap order, at every step
//   boundary (the allocator splits runs in place; the sweep inserts, merges
//   and unlinks only right after `runBefore`, the last run below its cursor).
// - While sweeping, below the cursor every free cell is on a list; from the
//   cursor to `sweepEnd`, none is (the lists were emptied when the sweep
//   began; `free` there only flags the cell), and new objects there are
//   marked so that the sweep keeps them. Above `sweepEnd` (chunks that
//   appeared during the sweep) everything is as when idle.
// - Every step leaves the persistent heap consistent: object headers, free
//   lists (terminated, only free cells), the free-run list, the chunk
//   sequence, the heap end and zeros past it. The only thing a snapshot
//   between two steps can hold that a finished cycle would not is free cells
//   on no list (not swept yet), which the next sweep, incremental or full,
//   links again.

import PhantomHost

/// Where the incremental collector is in its cycle.
public enum CollectionPhase: Sendable {
    /// No cycle runs: no barrier work, no allocation colour.
    case idle
    /// Marking from the roots; `setReference` shades what it stores.
    case marking
    /// Freeing what marking did not reach, chunk by chunk.
    case sweeping
    /// Giving a free run at the end of the heap back, a few pages a step.
    case trimming
}

extension ObjectMemory {
    /// Remark rounds that may continue incrementally; the next one marks to
    /// the end within its step.
    static let incrementalRemarkRounds = 4
    /// Work units of sweeping a cell (reading its header streams the heap
    /// through the cache: measured at 2-3 times a marking unit).
    static let sweepUnitsPerCell = 2
    /// Work units of zeroing one page while trimming (a memset of 4 KiB and
    /// the snapshot barrier: about 1 µs).
    static let trimUnitsPerPage = 512
    /// Work units of sweeping a large object or a free run.
    static let chunkUnits = 16
    /// Work units of marking an object: its header and its mark bit are
    /// likely cache misses, where scanning a slot (1 unit) is not.
    static let markUnits = 8
    /// Objects with more slots than this are scanned in pieces.
    static let minimumScanPiece = 256

    // MARK: - Public API

    /// True from `beginCollection` until a `collectionStep` returns true.
    public var isCollecting: Bool { phase != .idle }

    /// The incremental collector's phase.
    public var collectionPhase: CollectionPhase { phase }

    /// Starts an incremental collection cycle at a safepoint; does nothing if
    /// one is running. O(1 + extra roots): the bitmap is clear already.
    ///
    /// `extraRoots` are marked now; references held outside the heap that
    /// may change during the cycle must come back from `collectionStep`'s
    /// `rescanning` instead.
    public func beginCollection(extraRoots: [ObjectRef] = []) {
        guard phase == .idle else { return }
        let started = monotonicNanos()
        prepareCollectorMemory()
        cycleStats = CollectionStats()
        remarkRounds = 0
        markCount = 0
        phase = .marking
        isMarking = true
        shade(load64(Self.rootOffset))
        for object in extraRoots { shade(object.raw) }
        cycleStats.nanoseconds = monotonicNanos() - started
    }

    /// Does about `budget` units of collection work at a safepoint: a unit
    /// is about one reference scanned (marking an object costs 8, sweeping
    /// a cell 2, zeroing a trimmed page 512; a small chunk, 64 KiB, is swept
    /// in one piece, and an object of up to 256 references is scanned in
    /// one piece); 100,000 units took 0.06-0.2 ms on the benchmark's heap.
    /// Returns true when the cycle is complete (or none runs). The heap is
    /// consistent after every step, so a snapshot may be taken between any
    /// two.
    ///
    /// `rescanning` is called when the mark stack runs empty (the remark):
    /// it returns the objects written without the barrier since the cycle
    /// began, which are marked and whose references are scanned again —
    /// the VM's call frames of every thread — and any object referenced only
    /// from outside the heap. Each remark round costs their slots.
    @discardableResult
    public func collectionStep(budget: Int, rescanning rescan: () -> [ObjectRef] = { [] }) -> Bool {
        guard phase != .idle else { return true }
        let started = monotonicNanos()
        let budget = max(budget, 1)
        var work = 0
        while work < budget {
            switch phase {
            case .marking: work += markStep(budget: budget - work, rescan: rescan)
            case .sweeping: work += sweepStep(budget: budget - work)
            case .trimming: work += trimStep(budget: budget - work)
            case .idle: work = budget
            }
        }
        let elapsed = monotonicNanos() - started
        cycleStats.steps += 1
        cycleStats.nanoseconds += elapsed
        cycleStats.maxStepNanoseconds = max(cycleStats.maxStepNanoseconds, elapsed)
        if phase == .idle {
            lastIncrementalCollection = cycleStats
            return true
        }
        return false
    }

    /// Figures of the cycle in progress (or of the last one).
    public var currentCollection: CollectionStats { cycleStats }

    // MARK: - Allocation and free during a cycle (ObjectMemory.swift calls these)

    /// A new object is black: marked now while marking; marked while
    /// sweeping if the sweep has not passed it yet.
    @inline(never)
    func allocatedDuringCollection(_ object: UInt64, classRef: UInt64) {
        guard let bits = markBits else { return }
        switch phase {
        case .marking:
            setMark(bits, object)
            if classRef != 0 { shade(classRef) }
        case .sweeping:
            if object >= sweepCursor && object < sweepEnd { setMark(bits, object) }
        case .idle, .trimming:
            break
        }
    }

    // MARK: - Marking

    /// The barrier's slow path: marks `ref` gray if it is a white object.
    @usableFromInline @inline(never)
    func shade(_ ref: UInt64) {
        guard isMarking, let bits = markBits else { return }
        markAndPush(bits, ref, end: load64(Self.heapEndOffset))
    }

    /// Marks `ref` gray if it is a white object; true if it was.
    @inline(__always) @discardableResult
    func markAndPush(_ bits: UnsafeMutablePointer<UInt64>, _ ref: UInt64, end: UInt64) -> Bool {
        // Null, tagged integers and anything else that is not an object
        // start are not traced (as in the full collector).
        guard ref & 15 == 0, ref >= 4096 + 16, ref < end else { return false }
        let word = Int(ref >> 10)
        let bit: UInt64 = 1 << ((ref >> 4) & 63)
        if bits[word] & bit != 0 { return false }
        guard load64(ref) & Self.allocatedFlag != 0 else { return false }
        bits[word] |= bit
        pushGray(ref)
        cycleStats.liveObjects += 1
        cycleStats.liveBytes += Int(load32(ref + 8))
        return true
    }

    @inline(__always) func setMark(_ bits: UnsafeMutablePointer<UInt64>, _ ref: UInt64) {
        bits[Int(ref >> 10)] |= 1 << ((ref >> 4) & 63)
    }

    @inline(__always) func isMarkedBit(_ bits: UnsafeMutablePointer<UInt64>, _ ref: UInt64) -> Bool {
        bits[Int(ref >> 10)] & (1 << ((ref >> 4) & 63)) != 0
    }

    @inline(__always) func pushGray(_ value: UInt64) {
        if markCount == markCapacity { growMarkStack() }
        markStack.unsafelyUnwrapped[markCount] = value
        markCount += 1
    }

    @inline(never) func growMarkStack() {
        let capacity = max(4096, markCapacity * 2)
        let grown = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
        if let old = markStack {
            grown.update(from: old, count: markCount)
            old.deallocate()
        }
        markStack = grown
        markCapacity = capacity
    }

    /// Marks for at most about `budget` units; may end marking.
    func markStep(budget: Int, rescan: () -> [ObjectRef]) -> Int {
        var work = 0
        while work < budget {
            if markCount > 0 {
                work += drain(budget: budget - work)
                continue
            }
            // Remark: the roots and the objects written without the barrier.
            remarkRounds += 1
            cycleStats.remarkRounds = remarkRounds
            work += 1
            shade(load64(Self.rootOffset))
            for object in rescan() { work += rescanObject(object.raw) }
            if markCount == 0 {
                finishMarking()
                return work
            }
            if remarkRounds >= Self.incrementalRemarkRounds {
                // No mutator runs between this rescan and the end of the
                // drain: marking is complete after it.
                work += drain(budget: .max)
                finishMarking()
                return work
            }
        }
        return work
    }

    /// Marks an object passed for the remark, or scans it again if it is
    /// marked already (it may be black with references stored raw since).
    func rescanObject(_ ref: UInt64) -> Int {
        guard let bits = markBits else { return 1 }
        let end = load64(Self.heapEndOffset)
        guard ref & 15 == 0, ref >= 4096 + 16, ref < end, load64(ref) & Self.allocatedFlag != 0 else { return 1 }
        if !isMarkedBit(bits, ref) {
            markAndPush(bits, ref, end: end)
            return Self.markUnits
        }
        markAndPush(bits, load64(ref) & Self.classMask, end: end)
        let slots = min(Int(load32(ref + 12)), (Int(load32(ref + 8)) - 16) / 8)
        var slot = 0
        while slot < slots {
            let value = load64(ref + 16 + UInt64(slot) * 8)
            if value != 0 { markAndPush(bits, value, end: end) }
            slot += 1
        }
        return 1 + max(slots, 0)
    }

    /// Scans gray objects until the stack is empty or `budget` is spent.
    /// An object with many slots is scanned in pieces: its continuation
    /// waits below the children found meanwhile (depth first, so the stack
    /// stays small).
    func drain(budget: Int) -> Int {
        guard let bits = markBits else { return 0 }
        let end = load64(Self.heapEndOffset)
        var work = 0
        while markCount > 0 && work < budget {
            markCount -= 1
            var object = markStack.unsafelyUnwrapped[markCount]
            var from = 0
            if object & 1 != 0 {
                object &= ~1
                markCount -= 1
                from = Int(markStack.unsafelyUnwrapped[markCount])
            }
            work += 1
            let header = load64(object)
            // Freed since it was shaded (a returned frame): nothing to scan.
            guard header & Self.allocatedFlag != 0 else { continue }
            if from == 0 && markAndPush(bits, header & Self.classMask, end: end) { work += Self.markUnits }
            let slots = min(Int(load32(object + 12)), (Int(load32(object + 8)) - 16) / 8)
            var continuation = -1
            if slots - from > Self.minimumScanPiece {
                pushGray(UInt64(from))
                pushGray(object | 1)
                continuation = markCount - 2
            }
            var slot = from
            while slot < slots {
                let ref = load64(object + 16 + UInt64(slot) * 8)
                slot += 1
                work += 1
                if ref != 0 && markAndPush(bits, ref, end: end) { work += Self.markUnits }
                if continuation >= 0 && work >= budget { break }
            }
            // Where it resumes (at its end: nothing left to scan).
            if continuation >= 0 { markStack.unsafelyUnwrapped[continuation] = UInt64(slot) }
        }
        return work
    }

    /// Marking is complete: the barrier goes off and the sweep begins with
    /// empty free-cell lists, which it rebuilds in heap order (the free-run
    /// list stays: the sweep inserts and merges runs at its cursor).
    func finishMarking() {
        isMarking = false
        phase = .sweeping
        sweepsBegun += 1
        sweepCursor = 4096
        sweepEnd = load64(Self.heapEndOffset)
        for classIndex in 0..<Self.sizeClasses.count where load64(Self.classOffset(classIndex)) != 0 {
            store64(0, at: Self.classOffset(classIndex))
        }
        for classIndex in 0..<freeListTails.count { freeListTails[classIndex] = 0 }
        runBefore = 0
        runBeforeBytes = 0
        linkToRunBefore = Self.freeRunsOffset
    }

    // MARK: - Sweeping

    /// Sweeps whole chunks for at most about `budget` units; may end the sweep.
    func sweepStep(budget: Int) -> Int {
        guard let bits = markBits else { return 1 }
        revalidateSweepTails()
        revalidateRunBefore()
        var work = 0
        while work < budget && sweepCursor < sweepEnd {
            let chunk = sweepCursor
            let bytes = load64(chunk + 8)
            guard bytes >= 4096, bytes % 4096 == 0, chunk + bytes <= sweepEnd,
                  let kind = ChunkKind(rawValue: load32(chunk)) else {
                // Not a chunk: a damaged heap. Stop here, as the full collector does.
                clearMarks(from: chunk, to: sweepEnd)
                sweepCursor = sweepEnd
                break
            }
            switch kind {
            case .small:
                work += sweepSmallChunk(bits, chunk, bytes)
            case .large:
                if isMarkedBit(bits, chunk + 16) {
                    clearMarks(from: chunk, to: chunk + 4096)
                } else {
                    cycleStats.freedObjects += 1
                    cycleStats.freedBytes += Int(load32(chunk + 16 + 8))
                    addFreeRun(chunk, bytes)
                }
                work += Self.chunkUnits
            case .free:
                passFreeRun(chunk, bytes)
                work += Self.chunkUnits
            }
            sweepCursor = chunk + bytes
        }
        closeSweepStep()
        if sweepCursor >= sweepEnd { finishSweep() }
        return max(work, 1)
    }

    func sweepSmallChunk(_ bits: UnsafeMutablePointer<UInt64>, _ chunk: UInt64, _ bytes: UInt64) -> Int {
        let classIndex = Int(load32(chunk + 4))
        guard classIndex < Self.sizeClasses.count, bytes == Self.chunkBytes else {
            clearMarks(from: chunk, to: chunk + bytes)
            return Self.chunkUnits  // damaged: leave it alone
        }
        let cellSize = UInt64(Self.sizeClasses[classIndex])
        let isBumpChunk = load64(Self.classOffset(classIndex) + 16) == chunk + bytes
        let cells = chunkCells.unsafelyUnwrapped  // free cells, dead ones tagged with 1
        var count = 0
        var live = 0
        var dead = 0
        var cell = chunk + 16
        while cell + cellSize <= chunk + bytes {
            let head = load64(cell)
            if head & Self.allocatedFlag != 0 {
                if isMarkedBit(bits, cell) {
                    live += 1
                } else {
                    cells[count] = cell | 1
                    count += 1
                    dead += 1
                }
            } else if head & Self.freeFlag != 0 {
                cells[count] = cell
                count += 1
            }  // else never handed out (the bump region)
            cell += cellSize
        }
        cycleStats.freedObjects += dead
        cycleStats.freedBytes += dead * Int(cellSize)
        if live == 0 && !isBumpChunk {
            addFreeRun(chunk, bytes)  // none of its cells is on a list: the whole chunk goes back
        } else {
            for index in 0..<count {
                let entry = cells[index]
                let free = entry & ~1
                if entry & 1 != 0 { store64(Self.freeFlag, at: free) }
                appendFreeCell(free, classIndex: classIndex)
            }
        }
        clearMarks(from: chunk, to: chunk + bytes)
        return Int((bytes - 16) / cellSize) * Self.sweepUnitsPerCell
    }

    /// Forgets free-list ends that the mutator changed since the last step
    /// (it allocated the last cell).
    func revalidateSweepTails() {
        for classIndex in 0..<freeListTails.count {
            let tail = freeListTails[classIndex]
            if tail != 0 && !(load64(tail) == Self.freeFlag && load64(tail + 8) == 0) { freeListTails[classIndex] = 0 }
        }
    }

    /// Appends a free cell to its class's free list (heap order), or pushes
    /// it if the list's end is unknown.
    func appendFreeCell(_ cell: UInt64, classIndex: Int) {
        let head = Self.classOffset(classIndex)
        var link: UInt64
        let tail = freeListTails[classIndex]
        if tail != 0 {
            link = tail + 8
        } else {
            let first = load64(head)
            if first == 0 {
                link = head
            } else if let last = lastCell(from: first, within: 64) {
                link = last + 8
            } else {
                if load64(cell + 8) != first { store64(first, at: cell + 8) }
                store64(cell, at: head)
                return
            }
        }
        if load64(link) != cell { store64(cell, at: link) }
        // Its own link is written when the next cell is appended or the step ends.
        freeListTails[classIndex] = cell
    }

    func lastCell(from first: UInt64, within limit: Int) -> UInt64? {
        var cell = first
        for _ in 0..<limit {
            let next = load64(cell + 8)
            if next == 0 { return cell }
            cell = next
        }
        return nil
    }

    /// The last free run below the sweep cursor (the list is in heap order),
    /// or 0 if there is none, found again if the mutator took or split it.
    func revalidateRunBefore() {
        if runBefore != 0 && !(load32(runBefore) == ChunkKind.free.rawValue && load64(runBefore + 8) == runBeforeBytes) {
            findRunBefore()
        }
    }

    /// Walks the run list up to the cursor (no longer than a first-fit
    /// allocation walks it).
    func findRunBefore() {
        var link = Self.freeRunsOffset
        var before: UInt64 = 0
        var linkToBefore = Self.freeRunsOffset
        var run = load64(link)
        while run != 0 && run < sweepCursor {
            linkToBefore = link
            before = run
            link = run + 16
            run = load64(link)
        }
        runBefore = before
        runBeforeBytes = before == 0 ? 0 : load64(before + 8)
        linkToRunBefore = linkToBefore
    }

    /// Where the link to the first free run at or after the cursor is.
    var runLink: UInt64 { runBefore == 0 ? Self.freeRunsOffset : runBefore + 16 }

    /// The sweep meets a free run (listed: every free run is, in heap order):
    /// it merges into the run before if adjacent.
    func passFreeRun(_ run: UInt64, _ bytes: UInt64) {
        if load64(runLink) != run {
            findRunBefore()
            // Not where heap order puts it: a damaged list. Leave it alone.
            guard load64(runLink) == run else { return }
        }
        if runBefore != 0 && runBefore + runBeforeBytes == run {
            store64(load64(run + 16), at: runLink)  // unlinked,
            runBeforeBytes += bytes
            store64(runBeforeBytes, at: runBefore + 8)  // and merged
            clearPages(run, bytes: 4096)  // its header is inside the run now
        } else {
            linkToRunBefore = runLink
            runBefore = run
            runBeforeBytes = bytes
        }
    }

    /// Pages freed by the sweep (a dead large object, a chunk without a live
    /// cell) join the run before if adjacent, else become a run linked in
    /// heap order.
    func addFreeRun(_ start: UInt64, _ bytes: UInt64) {
        cycleStats.freeRunBytes += bytes
        if runBefore != 0 && runBefore + runBeforeBytes == start {
            runBeforeBytes += bytes
            store64(runBeforeBytes, at: runBefore + 8)
            clearPages(start, bytes: bytes)  // all of it inside the run now
            return
        }
        clearPages(start + 4096, bytes: bytes - 4096)  // garbage: never to be written
        let link = runLink
        store32(ChunkKind.free.rawValue, at: start)
        store32(0, at: start + 4)
        store64(bytes, at: start + 8)
        store64(load64(link), at: start + 16)
        store64(start, at: link)
        linkToRunBefore = link
        runBefore = start
        runBeforeBytes = bytes
    }

    /// Ends a sweep step with every free list terminated.
    func closeSweepStep() {
        for tail in freeListTails where tail != 0 && load64(tail + 8) != 0 { store64(0, at: tail + 8) }
    }

    /// The sweep is done: trim the last free run if it ends the heap, or end
    /// the cycle.
    func finishSweep() {
        let end = load64(Self.heapEndOffset)
        if runBefore != 0 && runBefore + runBeforeBytes == end && sweepEnd == end && load64(runBefore + 16) == 0 {
            trimRun = runBefore
            phase = .trimming
            return
        }
        finishCycle()
    }

    // MARK: - Trimming

    /// Lowers the heap end through the free run that ends the heap, a few
    /// pages a step, zeroing them; the run stays listed (shrinking) until
    /// its last page goes.
    func trimStep(budget: Int) -> Int {
        let run = trimRun
        let end = load64(Self.heapEndOffset)
        let size = load64(run + 8)
        guard load32(run) == ChunkKind.free.rawValue, run + size == end, load64(run + 16) == 0 else {
            // The mutator took it or grew the heap above it meanwhile.
            finishCycle()
            return 1
        }
        let pages = UInt64(max(1, budget / Self.trimUnitsPerPage))
        let piece = min(pages, (size - 4096) >> 12) << 12
        if piece > 0 {
            let newEnd = end - piece
            store64(size - piece, at: run + 8)
            store64(newEnd, at: Self.heapEndOffset)
            // Pages past the heap end must read as zero when handed out again.
            clearPages(newEnd, bytes: piece)
            return Int(piece >> 12) * Self.trimUnitsPerPage
        }
        // The last page: unlink the run, then give it back too.
        if let link = linkToTrimRun() {
            store64(0, at: link)
            store64(run, at: Self.heapEndOffset)
            clearPages(run, bytes: 4096)
        }
        finishCycle()
        return Self.trimUnitsPerPage
    }

    /// Where the trimmed run is linked from.
    func linkToTrimRun() -> UInt64? {
        let recorded = linkToRunBefore
        if load64(recorded) == trimRun
            && (recorded == Self.freeRunsOffset || load32(recorded - 16) == ChunkKind.free.rawValue) {
            return recorded
        }
        var link = Self.freeRunsOffset
        while true {
            let run = load64(link)
            if run == 0 { return nil }
            if run == trimRun { return link }
            link = run + 16
        }
    }

    func finishCycle() {
        phase = .idle
        isMarking = false
        trimRun = 0
        store64(load64(Self.collectionsOffset) + 1, at: Self.collectionsOffset)
        cycleStats.heapEnd = load64(Self.heapEndOffset)
    }

    // MARK: - Memory of the collector

    /// Gives up the cycle in progress (the full collector does this before
    /// it starts). The heap is consistent at any step boundary; only the
    /// marks need clearing.
    func abandonCollection() {
        switch phase {
        case .idle:
            return
        case .marking:
            clearMarks(from: 4096, to: load64(Self.heapEndOffset))
        case .sweeping:
            clearMarks(from: sweepCursor, to: sweepEnd)
        case .trimming:
            break  // the run stays listed as it is
        }
        markCount = 0
        isMarking = false
        trimRun = 0
        phase = .idle
    }

    /// Clears the mark bits of [from, to) (page-aligned bounds).
    func clearMarks(from: UInt64, to: UInt64) {
        guard let bits = markBits, to > from else { return }
        let first = Int(from >> 10)
        let last = Int((to + 1023) >> 10)
        (bits + first).update(repeating: 0, count: last - first)
    }

    func prepareCollectorMemory() {
        if markBits == nil {
            // One bit per 16 bytes of the whole space, reserved but not
            // committed: only the words of granules in the heap are touched.
            let bytes = max(8, (space.capacityPages << 12) >> 7)
            guard let mapping = VirtualMemory.reserve(bytes) else {
                fatalError("cannot reserve \(bytes) bytes for the collector's mark bits")
            }
            markBits = mapping.assumingMemoryBound(to: UInt64.self)
        }
        if markStack == nil { growMarkStack() }
        if chunkCells == nil { chunkCells = .allocate(capacity: Int(Self.chunkBytes / 16)) }
        if freeListTails.isEmpty { freeListTails = Array(repeating: 0, count: Self.sizeClasses.count) }
    }

    func releaseCollectorMemory() {
        if let bits = markBits { VirtualMemory.release(bits, bytes: max(8, (space.capacityPages << 12) >> 7)) }
        markStack?.deallocate()
        chunkCells?.deallocate()
    }

    // MARK: - For tests

    /// True if the collector has marked `object` in this cycle.
    func isMarked(_ object: ObjectRef) -> Bool {
        guard let bits = markBits else { return false }
        return isMarkedBit(bits, object.raw)
    }

    /// True if `object` waits on the mark stack to be scanned.
    func isGray(_ object: ObjectRef) -> Bool {
        guard let stack = markStack else { return false }
        var index = markCount - 1
        while index >= 0 {
            if stack[index] & ~1 == object.raw { return true }
            index -= stack[index] & 1 != 0 ? 2 : 1  // a resumed object has its slot below it
        }
        return false
    }

    /// True if no mark bit is set in the heap (the state between cycles).
    func markBitsAreClear() -> Bool {
        guard let bits = markBits else { return true }
        let words = Int((UInt64(space.usedPages) << 12) >> 10)
        return (0..<words).allSatisfy { bits[$0] == 0 }
    }
}
