// The space map: which blocks the current state uses. Built at commit,
// loaded lazily, rebuilt from the trees when damaged, compared by verify.

import PhantomHost

extension Store {
    func buildSpaceMap(_ txn: inout Transaction, birth: UInt32)
        throws(StoreError) -> (TreeEntry, Int, [(UInt64, BlockBuffer)]) {
        let shape = format.mapTree
        // Leave room for growth during this commit before choosing the height.
        let headroom = onDisk.count + onDisk.count / 4 + 4 * Layout.blocksPerBitmapPage
        let levels = max(superblock.spaceMapLevels, shape.levels(forPayloads: (headroom + Layout.blocksPerBitmapPage - 1) / Layout.blocksPerBitmapPage))
        // After a rebuild the old map is not read at all (it may be the
        // damaged part); its blocks are held by the rebuild's quarantine.
        let tree = try TreeBuilder(levels: levels, shape: shape, oldRoot: rewriteWholeSpaceMap ? .hole : superblock.spaceMapRoot,
                                   oldLevels: rewriteWholeSpaceMap ? levels : superblock.spaceMapLevels) {
            [unowned self] entry throws(StoreError) in try self.loadNode(entry, snapshot: nil, what: "space map node")
        }
        if rewriteWholeSpaceMap {
            let pages = (onDisk.count + Layout.blocksPerBitmapPage - 1) / Layout.blocksPerBitmapPage
            for page in 0..<pages { txn.dirtyMapPages.insert(page) }
        }
        var pageBlocks: [UInt64: (block: UInt64, copy: UInt64)] = [:]
        while true {
            let todo = txn.dirtyMapPages.filter { pageBlocks[$0] == nil }.sorted()
            let unplaced = tree.allNodes.filter { $0.block == 0 }
            if todo.isEmpty && unplaced.isEmpty { break }
            for page in todo {
                let old = try tree.touchPayload(page)
                if !old.isHole { for block in old.blocks { release(block: block, &txn) } }
                pageBlocks[page] = try allocateMetadata(&txn)
            }
            for block in tree.takeReplaced() { release(block: block, &txn) }
            for node in tree.allNodes where node.block == 0 { (node.block, node.copy) = try allocateMetadata(&txn) }
        }
        let (covered, overflow) = shape.capacity(levels: levels).multipliedReportingOverflow(by: Layout.blocksPerBitmapPage)
        guard overflow || onDisk.count <= covered else {
            throw .deviceFull(path: device.path, detail: "the space map cannot cover \(onDisk.count) blocks")
        }
        var out: [(UInt64, BlockBuffer)] = []
        for (page, place) in pageBlocks {
            let buffer = BlockBuffer()
            onDisk.copyPage(page, into: buffer)
            tree.setPayload(page, TreeEntry(block: place.block, checksum: buffer.checksum, birth: birth, copy: place.copy))
            out.append((place.block, buffer))
            if place.copy != 0 { out.append((place.copy, buffer)) }
        }
        let root = tree.finalize(birth: birth)
        for node in tree.allNodes {
            out.append((node.block, node.buffer))
            if node.copy != 0 { out.append((node.copy, node.buffer)) }
        }
        return (root, levels, out)
    }

    /// Reads the space map of a superblock.
    func loadSpaceMap(_ state: Superblock) throws(StoreError) -> Bitmap {
        var map = Bitmap(count: state.deviceBlocks)
        // A state may cover more blocks than a truncated device holds, when
        // the missing tail was free (open checks that); reads beyond the end fail.
        guard state.deviceBlocks >= format.reservedBlocks else {
            throw .corrupt(path: device.path, detail: "commit \(state.sequence) covers \(state.deviceBlocks) blocks but the device has \(device.size >> Layout.blockShift)")
        }
        let buffer = BlockBuffer()
        let pages = (state.deviceBlocks + Layout.blocksPerBitmapPage - 1) / Layout.blocksPerBitmapPage
        var failure: StoreError? = nil
        try walk(root: state.spaceMapRoot, snapshot: nil, kind: .spaceMap, levels: state.spaceMapLevels) { page, entry throws(StoreError) in
            guard page < pages else {
                failure = .corrupt(path: device.path, detail: "space map page \(page) lies beyond the device")
                return
            }
            try readBlock(entry, into: buffer, snapshot: nil, what: "space map page \(page)")
            map.loadPage(page, from: buffer)
        }
        if let failure { throw failure }
        for block in 0..<format.reservedBlocks { map.set(block) }
        return map
    }

    /// The blocks at or above `limit` that a state uses (its data trees,
    /// freed lists and space-map tree, both copies), found without reading
    /// any block at or above `limit`. Damage inside the device is left to
    /// the checks that follow.
    func liveBlocks(of state: Superblock, from limit: UInt64) -> [UInt64] {
        var found = Set<UInt64>()
        /// Notes an entry's blocks; true when one of them can be read.
        func note(_ entry: TreeEntry) -> Bool {
            var readable = false
            for block in entry.blocks {
                if block >= limit { found.insert(block) } else { readable = true }
            }
            return readable
        }
        for record in state.snapshots {
            do throws(StoreError) {
                try walk(root: record.root, snapshot: record.id, levels: state.dataLevels, visitNode: { note($0) }) { _, entry in
                    _ = note(entry)
                }
            } catch {}  // damage inside the device: the fallback at open deals with it
            var entry = record.freedHead
            var steps = 0
            let buffer = BlockBuffer()
            while !entry.isHole && steps <= Int(max(entry.birth, 1)) && steps < 1 << 20 {
                guard note(entry) else { break }
                do throws(StoreError) { try readBlock(entry, into: buffer, snapshot: record.id, what: "freed list") } catch { break }
                entry = nextFreedEntry(buffer)
                steps += 1
            }
        }
        do throws(StoreError) {
            try walk(root: state.spaceMapRoot, snapshot: nil, kind: .spaceMap, levels: state.spaceMapLevels, visitNode: { note($0) }) { _, entry in
                _ = note(entry)
            }
        } catch {}
        return found.sorted()
    }

    /// Recomputes the space map from the retained snapshots (after a
    /// fallback or a rollback). Reads every tree node: O(metadata).
    func rebuildSpaceMap() throws(StoreError) {
        var reachable = Bitmap(count: onDisk.count)
        for block in 0..<format.reservedBlocks { reachable.set(block) }
        func mark(_ entry: TreeEntry) {
            for block in entry.blocks where block < reachable.count { reachable.set(block) }
        }
        for record in superblock.snapshots {
            try walk(root: record.root, snapshot: record.id, visitNode: { entry in
                guard entry.block < reachable.count else { return false }
                if reachable[entry.block] { return false }
                mark(entry)
                return true
            }) { _, entry throws(StoreError) in
                mark(entry)
            }
            if !record.freedHead.isHole {
                mark(record.freedHead)
                if let list = try? readFreedList(record.freedHead, snapshot: record.id) {
                    for block in list.listBlocks where block < reachable.count { reachable.set(block) }
                }
            }
        }
        // Everything the durable states used stays busy until the next commit
        // after this one is durable.
        let held = onDisk.setBits(notIn: reachable)
        busy.formUnion(onDisk)
        busy.formUnion(reachable)
        onDisk = reachable
        blocksInUse = reachable.population
        quarantine.append((tag: superblock.sequence + 1, blocks: held))
        rewriteWholeSpaceMap = true
    }

    /// Blocks the space map covers.
    var spaceMapBlockCount: UInt64 { onDisk.count }

    /// Compares the blocks `verify` found in use with the space map: a
    /// problem for each used block marked free, and the number of blocks
    /// marked in use that nothing references.
    func compareSpaceMap(_ seen: Bitmap) -> (problems: [String], leaked: UInt64) {
        var problems: [String] = []
        var leaked: UInt64 = 0
        for block in 0..<onDisk.count {
            if seen[block] && !onDisk[block] {
                problems.append("block \(block) is in use but the space map marks it free")
            } else if onDisk[block] && !seen[block] {
                leaked += 1
            }
        }
        return (problems, leaked)
    }
}
