// A structural check of the persistent heap (an fsck for object memory):
// the chunk sequence, every cell and object header, the free lists, the
// free-run list, the bump pointers, zeros past the heap end, and that every
// object reachable from the root refers only to allocated objects. Linear in
// the heap; for tests, `phantom image verify`, and after a crash.

extension ObjectMemory {
    /// What a walk of the heap found.
    struct HeapCensus {
        /// What is wrong, at most `limit` items.
        var problems: [String] = []
        /// Every allocated object.
        var objects = Set<UInt64>()
        /// Free cells (header `1 << 63`) by size class.
        var freeCells: [UInt64: Int] = [:]
        /// Free runs (chunks of kind 3).
        var freeRuns = Set<UInt64>()
        /// Free cells and free runs on a list.
        var listedCells = 0
        var listedRuns = 0
        /// Objects reachable from the root.
        var reachable = 0
    }

    /// Checks the heap's structure; returns what is wrong (empty: nothing).
    /// Free cells on no list are not wrong (a sweep interrupted by a crash
    /// leaves some; the next sweep links them). Linear in the heap.
    public func checkHeap(limit: Int = 20) -> [String] { census(limit: limit).problems }

    func census(limit: Int = 20) -> HeapCensus {
        var census = HeapCensus()
        func problem(_ text: @autoclosure () -> String) {
            if census.problems.count < limit { census.problems.append(text()) }
        }
        let end = heapEnd
        let capacity = UInt64(space.capacityPages) << 12
        guard end >= 4096, end % 4096 == 0, end <= capacity else {
            problem("heap end \(end) is not a page boundary inside the space")
            return census
        }
        let classCount = Self.sizeClasses.count
        var smallChunks: [UInt64: Int] = [:]
        var chunk: UInt64 = 4096
        while chunk < end {
            let kind = load32(chunk)
            let bytes = load64(chunk + 8)
            // (bytes <= end - chunk: chunk + bytes may overflow for a damaged size)
            guard bytes >= 4096, bytes % 4096 == 0, bytes <= end - chunk else {
                problem("chunk at \(chunk): size \(bytes) is not whole pages inside the heap (end \(end))")
                break
            }
            switch ChunkKind(rawValue: kind) {
            case .small:
                let classIndex = Int(load32(chunk + 4))
                guard classIndex < classCount, bytes == Self.chunkBytes else {
                    problem("small chunk at \(chunk): class \(classIndex), \(bytes) bytes")
                    break
                }
                smallChunks[chunk] = classIndex
                let cellSize = UInt64(Self.sizeClasses[classIndex])
                let classHeader = Self.classOffset(classIndex)
                let isBumpChunk = load64(classHeader + 16) == chunk + bytes
                let bump = load64(classHeader + 8)
                var cell = chunk + 16
                while cell + cellSize <= chunk + bytes {
                    let head = load64(cell)
                    if head & Self.allocatedFlag != 0 && head & Self.freeFlag == 0 {
                        let size = UInt64(load32(cell + 8))
                        let references = UInt64(load32(cell + 12))
                        if size < 16 || size % 16 != 0 || size > cellSize || 16 + references * 8 > size {
                            // Not an object: the walk below must not follow a
                            // header that reaches past its cell (or the space).
                            problem("object at \(cell): size \(size), \(references) references in a \(cellSize)-byte cell")
                        } else {
                            census.objects.insert(cell)
                        }
                    } else if head == Self.freeFlag {
                        census.freeCells[cell] = classIndex
                    } else if head == 0 {
                        if !(isBumpChunk && cell >= bump) {
                            problem("cell at \(cell) is zero but not in its class's bump region")
                        }
                    } else {
                        problem("cell at \(cell): header \(String(head, radix: 16)) is neither an object nor a free cell")
                    }
                    cell += cellSize
                }
            case .large:
                let object = chunk + 16
                let head = load64(object)
                let size = UInt64(load32(object + 8))
                let references = UInt64(load32(object + 12))
                if head & Self.allocatedFlag == 0 || head & Self.freeFlag != 0 || size <= 2048
                    || (size + 16 + 4095) & ~4095 != bytes || 16 + references * 8 > size {
                    problem("large chunk at \(chunk): header \(String(head, radix: 16)), size \(size), chunk \(bytes) bytes")
                } else {
                    census.objects.insert(object)
                }
            case .free:
                census.freeRuns.insert(chunk)
            case nil:
                problem("chunk at \(chunk) has kind \(kind)")
                chunk = end
                continue
            }
            chunk += bytes
        }

        // Free lists: free cells of the right class, each on one list once.
        var listed = Set<UInt64>()
        for classIndex in 0..<classCount {
            var cell = load64(Self.classOffset(classIndex))
            while cell != 0 {
                guard let owner = census.freeCells[cell] else {
                    problem("free list \(classIndex) holds \(cell), which is not a free cell")
                    break
                }
                guard owner == classIndex else {
                    problem("free list \(classIndex) holds \(cell), a free cell of class \(owner)")
                    break
                }
                guard listed.insert(cell).inserted else {
                    problem("free list \(classIndex) holds \(cell) twice (or loops)")
                    break
                }
                cell = load64(cell + 8)
            }
            let bump = load64(Self.classOffset(classIndex) + 8)
            let bumpLimit = load64(Self.classOffset(classIndex) + 16)
            if bump != 0 || bumpLimit != 0 {
                let bumpChunk = bumpLimit &- Self.chunkBytes
                if smallChunks[bumpChunk] != classIndex || bump < bumpChunk + 16 || bump > bumpLimit {
                    problem("class \(classIndex): bump pointer \(bump), limit \(bumpLimit) are not in a chunk of that class")
                }
            }
        }
        census.listedCells = listed.count

        // Free runs: every chunk of kind 3, once, in heap order (the
        // incremental sweep relies on the order to merge at its cursor).
        var runs = Set<UInt64>()
        var run = load64(Self.freeRunsOffset)
        var previous: UInt64 = 0
        while run != 0 {
            guard census.freeRuns.contains(run) else {
                problem("the free-run list holds \(run), which is not a free run")
                break
            }
            guard run > previous else {
                problem("the free-run list is not in heap order: \(run) after \(previous)")
                break
            }
            runs.insert(run)
            previous = run
            run = load64(run + 16)
        }
        census.listedRuns = runs.count
        if runs.count != census.freeRuns.count {
            problem("\(census.freeRuns.count - runs.count) free runs are on no list")
        }

        // Past the heap end everything is zero.
        let used = UInt64(space.usedPages) << 12
        var offset = end
        while offset < used {
            if load64(offset) != 0 {
                problem("byte \(offset), past the heap end \(end), is not zero")
                break
            }
            offset += 8
        }

        // Everything reachable from the root is an allocated object.
        var seen = Set<UInt64>()
        var stack: [UInt64] = []
        func visit(_ ref: UInt64, from: UInt64) {
            // Tagged integers (odd) and null are not references.
            guard ref != 0, ref & 1 == 0 else { return }
            guard census.objects.contains(ref) else {
                if ref & 15 == 0 && ref > 4096 && ref < capacity {
                    problem("reachable object \(from) refers to \(ref), which is not an allocated object")
                }
                return
            }
            if seen.insert(ref).inserted { stack.append(ref) }
        }
        visit(load64(Self.rootOffset), from: 0)
        while let object = stack.popLast() {
            visit(load64(object) & Self.classMask, from: object)
            let slots = min(Int(load32(object + 12)), (Int(load32(object + 8)) - 16) / 8)
            for slot in 0..<max(slots, 0) { visit(load64(object + 16 + UInt64(slot) * 8), from: object) }
        }
        census.reachable = seen.count
        return census
    }
}

/// An allocated object of the heap (for reports).
public struct HeapObject: Sendable, Equatable {
    /// Its address (a reference).
    public let address: UInt64
    /// Its size in bytes, header included.
    public let size: UInt64
    /// The class reference in its header.
    public let classRef: UInt64
}

extension ObjectMemory {
    /// The allocated objects that lie at least in part on one of `pages`
    /// (page numbers of the space), in address order, as a walk of the
    /// chunks finds them (the walk of `checkHeap`: a chunk header that makes
    /// no sense ends it, and `checkHeap` says so). Linear in the heap.
    public func objects(onPages pages: Set<UInt64>) -> [HeapObject] {
        guard !pages.isEmpty else { return [] }
        return census(limit: 0).objects.sorted().compactMap { address in
            let size = UInt64(load32(address + 8))
            let first = address >> 12, last = (address + max(size, 1) - 1) >> 12
            guard (first...last).contains(where: { pages.contains($0) }) else { return nil }
            return HeapObject(address: address, size: size, classRef: load64(address) & Self.classMask)
        }
    }
}
