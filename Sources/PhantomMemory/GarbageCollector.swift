// Mark and sweep over the persistent heap, at a safepoint: the
// stop-the-world collector (the incremental one, in bounded steps, is in
// IncrementalCollector.swift; this one abandons a cycle of it in progress).
//
// Marks live in a side bitmap in process memory (one bit per 16 bytes), so
// marking dirties no persistent page: a collection costs the next snapshot
// only the pages where something was freed or a free list changed. A
// collection runs between two safepoints, so every snapshot sees the heap
// either before or after it, never half collected; a crash during one rolls
// back to the last snapshot like any other work.

import PhantomHost

/// What one collection found and did.
public struct CollectionStats: Sendable {
    /// Objects reachable from the roots.
    public var liveObjects = 0
    /// Their bytes.
    public var liveBytes = 0
    /// Objects freed.
    public var freedObjects = 0
    /// Their bytes.
    public var freedBytes = 0
    /// Bytes of whole free page runs after the collection.
    public var freeRunBytes: UInt64 = 0
    /// The heap end after the collection (it shrinks when its tail is free).
    public var heapEnd: UInt64 = 0
    /// Duration of the collection, ns (incremental: the sum of its steps).
    public var nanoseconds: UInt64 = 0
    /// Incremental only: steps taken.
    public var steps = 0
    /// Incremental only: the longest step, ns.
    public var maxStepNanoseconds: UInt64 = 0
    /// Incremental only: remark rounds (rescans of the roots and frames).
    public var remarkRounds = 0
}

extension ObjectMemory {
    /// Frees every object not reachable from the root (and `extraRoots`),
    /// cycles included, in one pause. Mutator thread, at a safepoint. An
    /// incremental cycle in progress is abandoned first (its work is lost,
    /// the heap it leaves is consistent).
    @discardableResult
    public func collectGarbage(extraRoots: [ObjectRef] = []) -> CollectionStats {
        abandonCollection()
        var stats = CollectionStats()
        let started = monotonicNanos()
        let end = heapEnd
        // The incremental collector's mark bits (clear between cycles, and
        // resident after the first one), cleared again at the end.
        prepareCollectorMemory()
        let marks = markBits.unsafelyUnwrapped
        defer { clearMarks(from: 0, to: end) }

        @inline(__always) func isPlausible(_ ref: UInt64) -> Bool {
            ref >= 4096 + 16 && ref < end && ref & 15 == 0 && load64(ref) & Self.allocatedFlag != 0
        }
        @inline(__always) func markIfNew(_ ref: UInt64) -> Bool {
            let granule = Int(ref >> 4)
            let bit: UInt64 = 1 << UInt64(granule & 63)
            if marks[granule >> 6] & bit != 0 { return false }
            marks[granule >> 6] |= bit
            return true
        }

        // Mark.
        var stack: [UInt64] = []
        for ref in [root] + extraRoots where isPlausible(ref.raw) && markIfNew(ref.raw) { stack.append(ref.raw) }
        while let object = stack.popLast() {
            stats.liveObjects += 1
            stats.liveBytes += Int(load32(object + 8))
            let classRef = load64(object) & Self.classMask
            if isPlausible(classRef) && markIfNew(classRef) { stack.append(classRef) }
            let slots = Int(load32(object + 12))
            let limit = min(slots, (Int(load32(object + 8)) - 16) / 8)
            var slot = 0
            while slot < limit {
                let ref = load64(object + 16 + UInt64(slot) * 8)
                if ref != 0 && isPlausible(ref) && markIfNew(ref) { stack.append(ref) }
                slot += 1
            }
        }
        @inline(__always) func isMarked(_ ref: UInt64) -> Bool {
            let granule = Int(ref >> 4)
            return marks[granule >> 6] & (1 << UInt64(granule & 63)) != 0
        }

        // Sweep: rebuild every free list in heap order, and write only what changes.
        sweepsBegun += 1
        let classCount = Self.sizeClasses.count
        var listTails = (0..<classCount).map { Self.classOffset($0) }  // where to link the next free cell
        var freeRuns: [(start: UInt64, bytes: UInt64)] = []
        func addFreeRun(_ start: UInt64, _ bytes: UInt64) {
            if let last = freeRuns.last, last.start + last.bytes == start {
                freeRuns[freeRuns.count - 1].bytes += bytes
            } else {
                freeRuns.append((start, bytes))
            }
        }
        var chunk: UInt64 = 4096
        while chunk < end {
            let kind = load32(chunk)
            let bytes = load64(chunk + 8)
            guard bytes >= 4096, bytes % 4096 == 0, chunk + bytes <= end else { break }  // damaged heap: stop here
            switch ChunkKind(rawValue: kind) {
            case .small:
                let classIndex = Int(load32(chunk + 4))
                guard classIndex < classCount else { break }
                let cellSize = UInt64(Self.sizeClasses[classIndex])
                let bumpLimit = load64(Self.classOffset(classIndex) + 16)
                let isBumpChunk = bumpLimit == chunk + bytes
                var cells: [UInt64] = []  // free cells of this chunk
                var live = 0
                var cell = chunk + 16
                while cell + cellSize <= chunk + bytes {
                    let head = load64(cell)
                    if head & Self.allocatedFlag != 0 {
                        if isMarked(cell) {
                            live += 1
                        } else {
                            stats.freedObjects += 1
                            stats.freedBytes += Int(cellSize)
                            store64(Self.freeFlag, at: cell)
                            cells.append(cell)
                        }
                    } else if head & Self.freeFlag != 0 {
                        cells.append(cell)
                    } // else never handed out (the bump region)
                    cell += cellSize
                }
                if live == 0 && !isBumpChunk {
                    addFreeRun(chunk, bytes)  // the whole chunk goes back
                } else {
                    for free in cells {
                        if load64(listTails[classIndex]) != free { store64(free, at: listTails[classIndex]) }
                        listTails[classIndex] = free + 8
                    }
                }
            case .large:
                if isMarked(chunk + 16) {
                    break
                }
                stats.freedObjects += 1
                stats.freedBytes += Int(load32(chunk + 16 + 8))
                addFreeRun(chunk, bytes)
            case .free:
                addFreeRun(chunk, bytes)
            case nil:
                chunk = end  // not a chunk: a damaged heap; stop
                continue
            }
            chunk += bytes
        }
        for classIndex in 0..<classCount where load64(listTails[classIndex]) != 0 {
            store64(0, at: listTails[classIndex])
        }
        // A free tail gives the pages back to the heap end.
        var newEnd = end
        if let last = freeRuns.last, last.start + last.bytes == end {
            newEnd = last.start
            freeRuns.removeLast()
            store64(newEnd, at: Self.heapEndOffset)
            // Those pages must read as zero again when handed out.
            clearPages(newEnd, bytes: end - newEnd)
        }
        // Link the free runs, each with its (merged) size.
        var link = Self.freeRunsOffset
        for run in freeRuns {
            if load32(run.start) != ChunkKind.free.rawValue { store32(ChunkKind.free.rawValue, at: run.start) }
            if load64(run.start + 8) != run.bytes { store64(run.bytes, at: run.start + 8) }
            if load64(link) != run.start { store64(run.start, at: link) }
            // Its pages after the first hold garbage: none of it need be written.
            clearPages(run.start + 4096, bytes: run.bytes - 4096)
            link = run.start + 16
            stats.freeRunBytes += run.bytes
        }
        if load64(link) != 0 { store64(0, at: link) }
        store64(load64(Self.collectionsOffset) + 1, at: Self.collectionsOffset)
        stats.heapEnd = newEnd
        stats.nanoseconds = monotonicNanos() - started
        return stats
    }
}

/// Monotonic time in ns.
func monotonicNanos() -> UInt64 { HostClock.monotonicNanos() }
