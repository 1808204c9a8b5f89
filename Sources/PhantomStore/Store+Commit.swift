// Writing: a commit (the transaction, the block allocator, copies of
// metadata away from their twin, quarantine of freed blocks, freed lists)
// and rollback. Nothing reachable from either superblock is overwritten.

import Dispatch
import PhantomHost

extension Store {
    // MARK: - Writing

    /// Takes a snapshot: writes the given pages atomically on top of the
    /// newest snapshot. Either all of them become durable, with the new
    /// snapshot, or (on a thrown error) none, and the previous snapshot stays
    /// the newest. Later writes to the same page in `writes` win.
    @discardableResult
    public func commit(_ writes: [PageWrite]) throws(StoreError) -> SnapshotInfo {
        guard !isReadOnly else { throw .readOnly(path: device.path) }
        for write in writes {
            guard write.page < superblock.pageCount else {
                throw .pageOutOfRange(page: write.page, pageCount: superblock.pageCount)
            }
            guard write.bytes.count == Layout.blockSize, write.bytes.baseAddress != nil else {
                throw .invalidArgument("page \(write.page): a page write must be exactly \(Layout.blockSize) bytes, not \(write.bytes.count)")
            }
        }
        // Sort by page; the last write of a page wins.
        var order = Array(writes.indices)
        order.sort { writes[$0].page != writes[$1].page ? writes[$0].page < writes[$1].page : $0 < $1 }
        var unique: [PageWrite] = []
        unique.reserveCapacity(order.count)
        for index in order {
            if let last = unique.last, last.page == writes[index].page { unique[unique.count - 1] = writes[index] } else { unique.append(writes[index]) }
        }
        try commitInternal(writes: unique, makeSnapshot: true)
        return SnapshotInfo(superblock.snapshots.last!)
    }

    /// Convenience for tests and tools: commits pages given as byte arrays.
    @discardableResult
    public func commit(pages: [(page: UInt64, bytes: [UInt8])]) throws(StoreError) -> SnapshotInfo {
        var buffers: [UnsafeMutableRawBufferPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        var writes: [PageWrite] = []
        for (page, bytes) in pages {
            guard bytes.count == Layout.blockSize else {
                throw .invalidArgument("page \(page): a page write must be exactly \(Layout.blockSize) bytes, not \(bytes.count)")
            }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Layout.blockSize, alignment: 16)
            buffer.copyBytes(from: bytes)
            buffers.append(buffer)
            writes.append(PageWrite(page: page, bytes: UnsafeRawBufferPointer(buffer)))
        }
        return try commit(writes)
    }

    /// Makes snapshot `id` the newest again; newer snapshots are discarded
    /// (their space is freed). The change is durable when this returns.
    public func rollback(to id: UInt64) throws(StoreError) {
        guard !isReadOnly else { throw .readOnly(path: device.path) }
        guard let index = superblock.snapshots.firstIndex(where: { $0.id == id }) else {
            throw .noSuchSnapshot(id: id, retained: superblock.snapshots.map(\.id))
        }
        // Rolling back to the newest snapshot changes nothing, unless open
        // fell back: then it records the older state for good.
        if index == superblock.snapshots.count - 1 && !isFallenBack { return }
        ensureSpaceMap()
        let saved = (superblock.snapshots, onDisk, busy, blocksInUse, quarantine, rewriteWholeSpaceMap)
        superblock.snapshots.removeSubrange((index + 1)...)
        do throws(StoreError) {
            try rebuildSpaceMap()
            try commitInternal(writes: [], makeSnapshot: false)
        } catch {
            // Back to the state before: nothing of the newer snapshots may look free.
            // The failed commit's own blocks stay held (it may have reached the
            // disk); `undo` left them as the last quarantine entry.
            let held = quarantine.count > saved.4.count ? quarantine.last : nil
            (superblock.snapshots, onDisk, busy, blocksInUse, quarantine, rewriteWholeSpaceMap) = saved
            if let held {
                for block in held.blocks {
                    busy.resize(to: block + 1)
                    onDisk.resize(to: block + 1)
                    busy.set(block)
                }
                quarantine.append(held)
            }
            throw error
        }
    }

    /// Loads the space map (and holds the older superblock's blocks) the
    /// first time it is needed. A damaged map is rebuilt from the snapshots;
    /// if even that fails, every block stays held, so nothing is overwritten.
    func ensureSpaceMap() {
        guard !spaceMapLoaded else { return }
        spaceMapLoaded = true
        do throws(StoreError) {
            let map = try loadSpaceMap(superblock)
            onDisk = map
            busy = map
            blocksInUse = map.population
        } catch {
            spaceMapDamage = "the space map of commit \(superblock.sequence) is damaged (\(error)); it is rebuilt from the snapshots and written again by the next commit"
            let all = Bitmap(allSet: superblock.deviceBlocks)
            onDisk = all
            busy = all
            blocksInUse = superblock.deviceBlocks
            do throws(StoreError) {
                try rebuildSpaceMap()
            } catch {
                warnings.append("the space map cannot be rebuilt (\(error)); no space is reused until it can")
            }
        }
        // Keep the older commit's blocks until the next commit is durable.
        if let older = olderSuperblock, let olderMap = try? loadSpaceMap(older) {
            let held = olderMap.setBits(notIn: onDisk)
            busy.formUnion(olderMap)
            if !held.isEmpty { quarantine.append((tag: superblock.sequence, blocks: held)) }
        }
        olderSuperblock = nil
    }

    /// The changes one commit makes to the in-memory space map, to undo them
    /// if the commit fails.
    struct Transaction {
        var setInMap: [UInt64] = []
        var clearedInMap: [UInt64] = []
        var allocated: [UInt64] = []
        var freed: [UInt64] = []
        var dirtyMapPages = Set<UInt64>()
    }

    /// Grows the device by 1/8 (at least 1 MiB), and to at least `minimum`
    /// blocks. A device that cannot grow that far (a raw disk) is used up
    /// to its end; throws when not one block could be added.
    func grow(toAtLeast minimum: UInt64) throws(StoreError) {
        let old = busy.count
        var grown = max(minimum, old + max(256, old / 8))
        do throws(BlockDeviceError) {
            try device.grow(to: grown << Layout.blockShift)
        } catch {
            let available = device.size >> Layout.blockShift
            guard case .noSpace = error, available > old else { throw StoreError(error) }
            grown = available
        }
        busy.resize(to: grown)
        onDisk.resize(to: grown)
    }

    /// Marks a free block allocated by this commit.
    func take(_ block: UInt64, _ txn: inout Transaction) {
        busy.set(block)
        onDisk.set(block)
        blocksInUse += 1
        txn.allocated.append(block)
        txn.setInMap.append(block)
        txn.dirtyMapPages.insert(block / Layout.blocksPerBitmapPage)
        nodeCache.removeValue(forKey: block)
    }

    /// The lowest free block (first fit).
    func allocate(_ txn: inout Transaction) throws(StoreError) -> UInt64 {
        var block = busy.firstClear(from: firstFreeHint)
        if block == nil {
            let old = busy.count
            try grow(toAtLeast: old + 1)
            block = busy.firstClear(from: old)
        }
        let chosen = block!
        firstFreeHint = chosen + 1
        take(chosen, &txn)
        return chosen
    }

    /// A block for the second copy of the metadata block at `first`: the
    /// lowest free block at least `Layout.copyDistance` above it, else the
    /// lowest one that far below it, else (growing the device) one that far
    /// above it in the new space; if the device cannot grow that far, any
    /// free block.
    func allocateCopy(awayFrom first: UInt64, _ txn: inout Transaction) throws(StoreError) -> UInt64 {
        let distance = Layout.copyDistance
        let reserved = format.reservedBlocks
        var block = busy.firstClear(from: first + distance)
        if block == nil, first >= reserved + distance, let low = busy.firstClear(from: reserved), low + distance <= first {
            block = low
        }
        if block == nil {
            let old = busy.count
            do throws(StoreError) {
                try grow(toAtLeast: first + distance + 1)
                block = busy.firstClear(from: max(old, first + distance))
            } catch {
                guard case .deviceFull = error else { throw error }
            }
        }
        if block == nil { block = busy.firstClear(from: reserved) }
        guard let chosen = block else {
            throw .deviceFull(path: device.path, detail: "no free block for the second copy of metadata block \(first)")
        }
        take(chosen, &txn)
        return chosen
    }

    /// The block (and, in format 2, the block of the second copy) of a new
    /// metadata block.
    func allocateMetadata(_ txn: inout Transaction) throws(StoreError) -> (block: UInt64, copy: UInt64) {
        let block = try allocate(&txn)
        return (block, format.hasCopies ? try allocateCopy(awayFrom: block, &txn) : 0)
    }

    /// Frees a block that no snapshot of the new state references; it stays
    /// busy until the next commit is durable.
    func release(block: UInt64, _ txn: inout Transaction) {
        if onDisk[block] {
            onDisk.clear(block)
            blocksInUse -= 1
            txn.clearedInMap.append(block)
            txn.dirtyMapPages.insert(block / Layout.blocksPerBitmapPage)
        }
        txn.freed.append(block)
    }

    func commitInternal(writes: [PageWrite], makeSnapshot: Bool) throws(StoreError) {
        ensureSpaceMap()
        let sequence = superblock.sequence + 1
        var txn = Transaction()
        var next = superblock
        next.sequence = sequence
        do throws(StoreError) {
            var blocksToWrite: [(block: UInt64, bytes: UnsafeRawPointer)] = []
            var keepAlive: [BlockBuffer] = []
            var bytesWritten: UInt64 = 0
            var pagesWrittenEarly = 0

            if makeSnapshot {
                let id = superblock.nextSnapshotID
                let birth = UInt32(truncatingIfNeeded: id)
                let previous = superblock.snapshots.last
                let tree = try TreeBuilder(levels: superblock.dataLevels, shape: format.dataTree, oldRoot: previous?.root ?? .hole,
                                           oldLevels: superblock.dataLevels) { [unowned self] entry throws(StoreError) in
                    try self.loadNode(entry, snapshot: previous?.id, what: "tree node")
                }
                var replaced: [UInt64] = []
                var newlyMapped: UInt64 = 0
                var unmapped: UInt64 = 0
                // A page of zeros is a hole: no block, and the block it had is
                // released like any replaced one (free memory costs no disk).
                var dataWrites: [PageWrite] = []
                dataWrites.reserveCapacity(writes.count)
                for write in writes {
                    guard isZeroPage(write.bytes) else { dataWrites.append(write); continue }
                    let old = try tree.touchPayload(write.page)
                    if !old.isHole {
                        replaced.append(old.block)
                        unmapped += 1
                        tree.setPayload(write.page, .hole)
                    }
                }
                let writes = dataWrites
                blocksToWrite.reserveCapacity(writes.count + writes.count / 64 + 16)
                var dataBlocks: [UInt64] = []
                dataBlocks.reserveCapacity(writes.count)
                for write in writes {
                    let old = try tree.touchPayload(write.page)
                    if old.isHole { newlyMapped += 1 } else { replaced.append(old.block) }
                    dataBlocks.append(try allocate(&txn))
                }
                let checksums: [UInt32]
                if writes.count >= Self.overlapThreshold {
                    // A large snapshot writes its pages now, while the other
                    // core computes their checksums (needed only for the tree).
                    checksums = try writeOverlappingChecksums(writes, blocks: dataBlocks)
                    pagesWrittenEarly = writes.count
                } else {
                    checksums = pageChecksums(writes)
                    for (index, write) in writes.enumerated() { blocksToWrite.append((dataBlocks[index], write.bytes.baseAddress!)) }
                }
                for (index, write) in writes.enumerated() {
                    tree.setPayload(write.page, TreeEntry(block: dataBlocks[index], checksum: checksums[index], birth: birth))
                }
                for node in tree.allNodes {
                    (node.block, node.copy) = try allocateMetadata(&txn)
                    for block in [node.block, node.copy] where block != 0 {
                        blocksToWrite.append((block, UnsafeRawPointer(node.buffer.bytes)))
                    }
                    keepAlive.append(node.buffer)
                }
                let root = tree.finalize(birth: birth)
                replaced.append(contentsOf: tree.replaced)
                // With keep == 1 the new snapshot is at once the oldest: what it
                // replaced is free now. Otherwise it is freed with its predecessor.
                if next.keep == 1 {
                    for block in replaced { release(block: block, &txn) }
                    replaced.removeAll()
                }
                let (head, listBuffers) = try buildFreedList(replaced, birth: birth, &txn)
                for (block, buffer) in listBuffers {
                    blocksToWrite.append((block, UnsafeRawPointer(buffer.bytes)))
                    keepAlive.append(buffer)
                }
                bytesWritten = UInt64(blocksToWrite.count + pagesWrittenEarly) << Layout.blockShift
                next.snapshots.append(SnapshotRecord(
                    id: id, timeNanos: nowNanos(), root: root, pagesWritten: UInt64(writes.count),
                    bytesWritten: bytesWritten, pagesMapped: (previous?.pagesMapped ?? 0) + newlyMapped - unmapped,
                    freedHead: head, freedBlocks: UInt64(replaced.count)))
                next.nextSnapshotID = id + 1
            }

            // Retention: drop the oldest snapshots; what only they used is free.
            while next.snapshots.count > next.keep {
                next.snapshots.removeFirst()
                try release(&next.snapshots[0], &txn)
            }

            // The space map, copy-on-write like everything else.
            let (mapRoot, mapLevels, mapBlocks) = try buildSpaceMap(&txn, birth: UInt32(truncatingIfNeeded: sequence))
            for (block, buffer) in mapBlocks {
                blocksToWrite.append((block, UnsafeRawPointer(buffer.bytes)))
                keepAlive.append(buffer)
            }
            if makeSnapshot {
                // Account the space-map blocks to the snapshot too.
                next.snapshots[next.snapshots.count - 1].bytesWritten += UInt64(mapBlocks.count) << Layout.blockShift
            }
            next.spaceMapRoot = mapRoot
            next.spaceMapLevels = mapLevels
            next.deviceBlocks = onDisk.count
            next.blocksInUse = blocksInUse
            next.bootSequenceFloor = bootLog.nextSequence

            // Write: sorted, in runs of adjacent blocks; then the barrier.
            let deviceBytes = onDisk.count << Layout.blockShift
            if device.size < deviceBytes {
                do throws(BlockDeviceError) { try device.grow(to: deviceBytes) } catch { throw StoreError(error) }
            }
            blocksToWrite.sort { $0.block < $1.block }
            try writeRuns(blocksToWrite)

            // A small commit is made durable with one flush: open re-checks
            // its few blocks against their checksums, so a superblock that
            // reached the disk without them is recognised and skipped. A
            // large one flushes its blocks before the superblock.
            let blocksWritten = blocksToWrite.count + pagesWrittenEarly
            let singleFlush = blocksWritten <= Layout.singleFlushLimit
            if blocksWritten > 0 && !singleFlush {
                do throws(BlockDeviceError) { try device.flush() } catch { throw StoreError(error) }
            }
            withExtendedLifetime(keepAlive) {}

            // Commit point: the superblock (both copies in format 2), then the barrier.
            next.flags = (singleFlush ? Superblock.singleFlush : 0) | (makeSnapshot ? Superblock.addedSnapshot : 0)
            next.commitBlocks = UInt64(blocksWritten)
            next.encode(into: scratch)
            do throws(BlockDeviceError) {
                for block in format.slotBlocks[Int(sequence % 2)] {
                    try device.write(scratch.raw, at: block << Layout.blockShift)
                }
                try device.flush()
            } catch {
                throw StoreError(error)
            }
        } catch {
            undo(txn, tag: sequence)
            throw error
        }
        // Durable. Blocks freed by the previous commit may now be reused.
        superblock = next
        rewriteWholeSpaceMap = false
        isFallenBack = false
        spaceMapDamage = nil
        // The slot just written holds intact copies again.
        superblockCopyDamage.removeAll { $0.what == "superblock \(sequence % 2)" }
        quarantine.append((tag: sequence, blocks: txn.freed))
        releaseQuarantine(upTo: sequence - 1)
    }

    /// Snapshots of at least this many pages write their pages while the
    /// checksums are computed on another core.
    static let overlapThreshold = 4096

    /// Writes blocks (sorted by block number) in runs of adjacent blocks.
    func writeRuns(_ blocks: [(block: UInt64, bytes: UnsafeRawPointer)]) throws(StoreError) {
        var start = 0
        while start < blocks.count {
            var end = start + 1
            while end < blocks.count && blocks[end].block == blocks[end - 1].block + 1 { end += 1 }
            // Pages adjacent in memory too (a mapped heap) go as one buffer.
            var buffers: [UnsafeRawBufferPointer] = []
            for item in blocks[start..<end] {
                if let last = buffers.last, last.baseAddress! + last.count == item.bytes {
                    buffers[buffers.count - 1] = UnsafeRawBufferPointer(start: last.baseAddress, count: last.count + Layout.blockSize)
                } else {
                    buffers.append(UnsafeRawBufferPointer(start: item.bytes, count: Layout.blockSize))
                }
            }
            do throws(BlockDeviceError) { try device.write(buffers, at: blocks[start].block << Layout.blockShift) } catch { throw StoreError(error) }
            start = end
        }
    }

    /// Writes the pages of a large snapshot to their (ascending) blocks while
    /// a background thread computes their checksums; returns the checksums.
    func writeOverlappingChecksums(_ writes: [PageWrite], blocks: [UInt64]) throws(StoreError) -> [UInt32] {
        let output = UnsafeMutableBufferPointer<UInt32>.allocate(capacity: writes.count)
        defer { output.deallocate() }
        nonisolated(unsafe) let pages = writes
        nonisolated(unsafe) let results = output
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            for index in 0..<pages.count { results[index] = crc32c(pages[index].bytes) }
        }
        defer { group.wait() }
        let deviceBytes = onDisk.count << Layout.blockShift
        if device.size < deviceBytes {
            do throws(BlockDeviceError) { try device.grow(to: deviceBytes) } catch { throw StoreError(error) }
        }
        try writeRuns(zip(blocks, writes).map { ($0, $1.bytes.baseAddress!) })
        group.wait()
        return Array(output)
    }

    func undo(_ txn: Transaction, tag: UInt64) {
        for block in txn.clearedInMap.reversed() { onDisk.set(block); blocksInUse += 1 }
        for block in txn.setInMap.reversed() { onDisk.clear(block); blocksInUse -= 1 }
        // The failed commit may have reached the disk in part, even its
        // superblock: keep its blocks away from the next commit.
        quarantine.append((tag: tag, blocks: txn.allocated))
    }

    func releaseQuarantine(upTo tag: UInt64) {
        quarantine.removeAll { entry in
            guard entry.tag <= tag else { return false }
            for block in entry.blocks where !onDisk[block] {
                busy.clear(block)
                if block < firstFreeHint { firstFreeHint = block }
            }
            return true
        }
    }

    /// Writes a freed list: the blocks of the previous snapshot that the new
    /// one replaced, as extents, in a chain of blocks (each written twice in
    /// format 2).
    ///
    /// Freed-list block layout: `0: next block (u64), 8: next crc32c (u32),
    /// 12: extent count (u32)`, format 1: `16: extents (start u64, length
    /// u64) ...`; format 2: `16: next block's copy (u64), 24: 0, 32: extents`.
    func buildFreedList(_ blocks: [UInt64], birth: UInt32, _ txn: inout Transaction)
        throws(StoreError) -> (TreeEntry, [(UInt64, BlockBuffer)]) {
        guard !blocks.isEmpty else { return (.hole, []) }
        var extents: [(UInt64, UInt64)] = []
        for block in blocks.sorted() {
            if let last = extents.last, last.0 + last.1 == block {
                extents[extents.count - 1].1 += 1
            } else {
                extents.append((block, 1))
            }
        }
        let perBlock = format.extentsPerFreedBlock
        let header = format.freedListHeader
        let count = (extents.count + perBlock - 1) / perBlock
        var chain: [(block: UInt64, copy: UInt64, buffer: BlockBuffer)] = []
        for _ in 0..<count {
            let (block, copy) = try allocateMetadata(&txn)
            chain.append((block, copy, BlockBuffer()))
        }
        var nextEntry = TreeEntry.hole
        for index in stride(from: count - 1, through: 0, by: -1) {
            let buffer = chain[index].buffer
            buffer.setU64(0, nextEntry.block)
            buffer.setU32(8, nextEntry.checksum)
            if format.hasCopies { buffer.setU64(16, nextEntry.copy) }
            let slice = extents[(index * perBlock)..<min(extents.count, (index + 1) * perBlock)]
            buffer.setU32(12, UInt32(slice.count))
            for (offset, extent) in slice.enumerated() {
                buffer.setU64(header + offset * 16, extent.0)
                buffer.setU64(header + 8 + offset * 16, extent.1)
            }
            nextEntry = TreeEntry(block: chain[index].block, checksum: buffer.checksum, birth: 0, copy: chain[index].copy)
        }
        var out: [(UInt64, BlockBuffer)] = []
        for link in chain {
            out.append((link.block, link.buffer))
            if link.copy != 0 { out.append((link.copy, link.buffer)) }
        }
        return (TreeEntry(block: nextEntry.block, checksum: nextEntry.checksum, birth: UInt32(count), copy: nextEntry.copy), out)
    }

    /// The entry of the next block of a freed list, from a list block.
    func nextFreedEntry(_ buffer: BlockBuffer) -> TreeEntry {
        TreeEntry(block: buffer.u64(0), checksum: buffer.u32(8), birth: 0, copy: format.hasCopies ? buffer.u64(16) : 0)
    }

    /// The extents of one freed-list block.
    func freedExtents(_ buffer: BlockBuffer, block: UInt64, snapshot: UInt64) throws(StoreError) -> [(UInt64, UInt64)] {
        let count = Int(buffer.u32(12))
        guard count <= format.extentsPerFreedBlock else {
            throw .corrupt(path: device.path, detail: "freed list block \(block) of snapshot \(snapshot) holds \(count) extents")
        }
        let header = format.freedListHeader
        return (0..<count).map { (buffer.u64(header + $0 * 16), buffer.u64(header + 8 + $0 * 16)) }
    }

    /// Reads a freed list: its extents and the blocks that hold it (both copies).
    func readFreedList(_ head: TreeEntry, snapshot: UInt64) throws(StoreError) -> (extents: [(UInt64, UInt64)], listBlocks: [UInt64]) {
        var extents: [(UInt64, UInt64)] = []
        var listBlocks: [UInt64] = []
        var entry = head
        var links = 0
        let buffer = BlockBuffer()
        let limit = Int(head.birth)
        while !entry.isHole {
            guard links < max(limit, 1) else {
                throw .corrupt(path: device.path, detail: "freed list of snapshot \(snapshot) is longer than recorded")
            }
            try readBlock(entry, into: buffer, snapshot: snapshot, what: "freed list")
            listBlocks.append(contentsOf: entry.blocks)
            links += 1
            extents += try freedExtents(buffer, block: entry.block, snapshot: snapshot)
            entry = nextFreedEntry(buffer)
        }
        return (extents, listBlocks)
    }

    /// `record` has become the oldest retained snapshot: the blocks it
    /// replaced from its (now dropped) predecessor are free.
    func release(_ record: inout SnapshotRecord, _ txn: inout Transaction) throws(StoreError) {
        guard !record.freedHead.isHole else { return }
        do throws(StoreError) {
            let list = try readFreedList(record.freedHead, snapshot: record.id)
            for (start, length) in list.extents {
                guard start >= format.reservedBlocks, start + length <= onDisk.count else { continue }
                for block in start..<(start + length) { release(block: block, &txn) }
            }
            for block in list.listBlocks { release(block: block, &txn) }
        } catch {
            // The space stays allocated (a leak `verify` reports); the data is safe.
            warnings.append("could not release the space of snapshot \(record.id)'s predecessor: \(error)")
        }
        record.freedHead = .hole
        record.freedBlocks = 0
    }

    /// Writes the changed pages of the space map and the tree over them.
    /// Allocating blocks for the map changes the map, so this repeats until
    /// no new page becomes dirty (two or three rounds).
}

/// CRC32C of every page, on all cores for large snapshots.
private func pageChecksums(_ writes: [PageWrite]) -> [UInt32] {
    guard writes.count >= 1024 else { return writes.map { crc32c($0.bytes) } }
    var result = [UInt32](repeating: 0, count: writes.count)
    let chunks = 4
    result.withUnsafeMutableBufferPointer { output in
        writes.withUnsafeBufferPointer { input in
            nonisolated(unsafe) let output = output
            nonisolated(unsafe) let input = input
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                let lower = input.count * chunk / chunks
                let upper = input.count * (chunk + 1) / chunks
                for index in lower..<upper { output[index] = crc32c(input[index].bytes) }
            }
        }
    }
    return result
}
