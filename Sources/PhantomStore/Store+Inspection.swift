// Inspection: facts about where pages and tree roots lie on the device,
// for `image verify`, `image salvage`, the fuzzers and the tests.

extension Store {
    /// The id the next snapshot will get.
    public var nextSnapshotID: UInt64 { superblock.nextSnapshotID }
}

extension Store {
    /// The device block holding page `page` as of `snapshot` (nil: a hole).
    /// For tests and inspection tools.
    public func physicalBlock(page: UInt64, snapshot: UInt64? = nil) throws(StoreError) -> UInt64? {
        guard let record = try record(for: snapshot) else { return nil }
        let entry = try lookup(root: record.root, levels: superblock.dataLevels, index: page, snapshot: record.id)
        return entry.isHole ? nil : entry.block
    }

    /// The device block of the root node of a snapshot's tree (its first
    /// copy; nil: empty).
    public func rootBlock(snapshot: UInt64? = nil) throws(StoreError) -> UInt64? {
        guard let record = try record(for: snapshot) else { return nil }
        return record.root.isHole ? nil : record.root.block
    }

    /// The device blocks of every copy of the root node of a snapshot's
    /// tree (one in format 1, two in format 2; empty: no root).
    public func rootBlocks(snapshot: UInt64? = nil) throws(StoreError) -> [UInt64] {
        guard let record = try record(for: snapshot), !record.root.isHole else { return [] }
        return record.root.blocks
    }
}

extension Store {
    /// The root of the space-map tree of the commit in use (for tests and tools).
    var spaceMapRootEntry: TreeEntry { superblock.spaceMapRoot }

    /// The root entry of a snapshot's data tree (for tests).
    func rootEntry(snapshot: UInt64? = nil) throws(StoreError) -> TreeEntry {
        try record(for: snapshot)?.root ?? .hole
    }

    /// The head of a snapshot's freed list (for tests).
    func freedHead(snapshot: UInt64? = nil) throws(StoreError) -> TreeEntry {
        try record(for: snapshot)?.freedHead ?? .hole
    }

    /// The entry of the data-tree node at `level` on the path to `page`
    /// (level `dataLevels - 1` is the root; for tests).
    func nodeEntry(page: UInt64, level: Int, snapshot: UInt64? = nil) throws(StoreError) -> TreeEntry {
        guard let record = try record(for: snapshot) else { return .hole }
        let shape = format.dataTree
        var entry = record.root
        var current = superblock.dataLevels - 1
        while current > level && !entry.isHole {
            let node = try loadNode(entry, snapshot: record.id, what: "tree node (level \(current))")
            entry = node.entry(shape.slot(of: page, level: current), wide: shape.wide(current))
            current -= 1
        }
        return entry
    }

    /// The blocks of every copy of superblock slot `slot` (for tests).
    func superblockBlocks(slot: Int) -> [UInt64] { format.slotBlocks[slot] }
}

extension Store {
    /// Where every mapped page of a snapshot (default: the newest) lives,
    /// ascending by page: one walk of its tree, every node checked. For the
    /// bulk loader (`readPages`); the pages themselves are not read.
    public func pageLocations(snapshot: UInt64? = nil) throws(StoreError) -> PageLocations {
        guard let record = try record(for: snapshot) else { return PageLocations(snapshot: nil, pages: []) }
        var pages: [PageLocation] = []
        // The record's count is informational: a hint, capped.
        pages.reserveCapacity(Int(min(record.pagesMapped, 1 << 20)))
        try walk(root: record.root, snapshot: record.id) { page, entry in
            pages.append(PageLocation(page: page, block: entry.block, checksum: entry.checksum))
        }
        return PageLocations(snapshot: record.id, pages: pages)
    }
}
