// Checks run at open (the depth the caller asked for): a snapshot's tree
// and the newest increment of the space map.


extension Store {
    // MARK: - Checking

    /// Checks a snapshot at open: its root, or (for `.newestSnapshot`) every
    /// node and page it wrote itself.
    func check(snapshot record: SnapshotRecord, depth: OpenVerification) throws(StoreError) {
        if record.root.isHole { return }
        _ = try loadNode(record.root, snapshot: record.id, what: "root node")
        guard depth == .newestSnapshot else { return }
        let birth = UInt32(truncatingIfNeeded: record.id)
        var pages: [PageLocation] = []
        try walk(root: record.root, snapshot: record.id, visitNode: { $0.birth == birth }) { page, entry in
            guard entry.birth == birth else { return }
            pages.append(PageLocation(page: page, block: entry.block, checksum: entry.checksum))
        }
        // Large sequential reads: a big increment is checked at disk speed.
        try verifyPages(pages, snapshot: record.id)
    }

    /// Checks the space-map nodes and pages a commit wrote (their birth is
    /// its sequence number).
    func checkSpaceMapIncrement(of state: Superblock) throws(StoreError) {
        let birth = UInt32(truncatingIfNeeded: state.sequence)
        guard !state.spaceMapRoot.isHole, state.spaceMapRoot.birth == birth else { return }
        let buffer = BlockBuffer()
        try walk(root: state.spaceMapRoot, snapshot: nil, kind: .spaceMap, levels: state.spaceMapLevels,
                 visitNode: { $0.birth == birth }) { page, entry throws(StoreError) in
            guard entry.birth == birth else { return }
            try readBlock(entry, into: buffer, snapshot: nil, what: "space map page \(page)")
        }
    }
}
