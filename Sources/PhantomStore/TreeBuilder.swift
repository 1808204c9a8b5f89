/// Builds the new version of a copy-on-write radix tree during one commit.
///
/// A tree of `levels` levels maps a payload index (a page number, or a
/// space-map page number) to a `TreeEntry`. Level 0 nodes hold the payload
/// entries; the single node at level `levels - 1` is the root. `shape` says
/// which index bits each level takes and how wide its entries are.
///
/// Nodes on the path to a changed payload are copied (never changed in
/// place); the blocks of the copied originals (both copies, in format 2)
/// are collected in `replaced`. Use: `touchPayload` for every changed index,
/// assign a block (and a copy block) to every node in `allNodes` without
/// one, `setPayload`, then `finalize` computes the checksums bottom-up and
/// returns the new root entry.
final class TreeBuilder {
    final class PendingNode {
        let buffer: BlockBuffer
        var block: UInt64 = 0
        /// The block of the node's second copy (format 2), or 0.
        var copy: UInt64 = 0
        init(_ buffer: BlockBuffer) { self.buffer = buffer }
    }

    let levels: Int
    let shape: TreeShape
    private let oldLevels: Int
    private let oldRoot: TreeEntry
    private var nodes: [[UInt64: PendingNode]]
    /// Blocks of original nodes that were copied (they belong to the previous tree).
    private(set) var replaced: [UInt64] = []
    private let load: (TreeEntry) throws(StoreError) -> BlockBuffer

    /// - Parameters:
    ///   - levels: height of the new tree (at least `oldLevels`).
    ///   - shape: the tree's shape (format and kind of tree).
    ///   - oldRoot: the previous tree's root (a hole for an empty tree).
    ///   - oldLevels: the previous tree's height; a taller new tree keeps the
    ///     old one as the subtree at index 0.
    ///   - load: reads and checks an existing node.
    init(levels: Int, shape: TreeShape, oldRoot: TreeEntry, oldLevels: Int,
         load: @escaping (TreeEntry) throws(StoreError) -> BlockBuffer) throws(StoreError) {
        precondition(levels >= oldLevels)
        self.levels = levels
        self.shape = shape
        self.oldLevels = oldLevels
        self.oldRoot = oldRoot
        self.load = load
        nodes = Array(repeating: [:], count: levels)
        if levels > oldLevels && !oldRoot.isHole {
            _ = try node(level: oldLevels, index: 0)
        }
    }

    /// Every pending node, by level, then by index: a deterministic order,
    /// so that the same commit allocates the same blocks every time.
    var allNodes: [PendingNode] {
        nodes.flatMap { level in level.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The previous version of node (level, index), copied for change.
    func node(level: Int, index: UInt64) throws(StoreError) -> PendingNode {
        if let existing = nodes[level][index] { return existing }
        let original: TreeEntry
        let innerBits = UInt64(shape.innerBits)
        if level >= oldLevels {
            original = .hole
        } else if level == levels - 1 {
            original = oldRoot
        } else {
            let parent = try node(level: level + 1, index: index >> innerBits)
            original = parent.buffer.entry(Int(index & ((1 << innerBits) - 1)), wide: shape.wide(level + 1))
        }
        let pending: PendingNode
        if original.isHole {
            pending = PendingNode(BlockBuffer())
            if level == oldLevels && index == 0 && levels > oldLevels { pending.buffer.setEntry(0, oldRoot, wide: shape.wide(level)) }
        } else {
            pending = PendingNode(BlockBuffer(copying: try load(original)))
            replaced.append(contentsOf: original.blocks)
        }
        if level < levels - 1 { _ = try node(level: level + 1, index: index >> innerBits) }
        nodes[level][index] = pending
        return pending
    }

    /// The leaf used last: pages come sorted, so most lookups hit it.
    private var lastLeaf: (index: UInt64, node: PendingNode)?

    private func leaf(_ index: UInt64) throws(StoreError) -> PendingNode {
        if let lastLeaf, lastLeaf.index == index { return lastLeaf.node }
        let found = try node(level: 0, index: index)
        lastLeaf = (index, found)
        return found
    }

    /// Makes the path to payload `index` writable; returns the entry it held.
    func touchPayload(_ index: UInt64) throws(StoreError) -> TreeEntry {
        try leaf(index >> UInt64(shape.leafBits)).buffer.entry(shape.slot(of: index, level: 0), wide: shape.wideLeaves)
    }

    /// Sets payload `index` (after `touchPayload`).
    func setPayload(_ index: UInt64, _ entry: TreeEntry) {
        let leafIndex = index >> UInt64(shape.leafBits)
        let node: PendingNode
        if let lastLeaf, lastLeaf.index == leafIndex { node = lastLeaf.node } else { node = nodes[0][leafIndex]! }
        node.buffer.setEntry(shape.slot(of: index, level: 0), entry, wide: shape.wideLeaves)
    }

    /// Hands out the replaced blocks collected since the last call.
    func takeReplaced() -> [UInt64] {
        defer { replaced.removeAll(keepingCapacity: true) }
        return replaced
    }

    /// Computes checksums bottom-up, links children into parents and returns
    /// the new root. Every node must have a block by now.
    func finalize(birth: UInt32) -> TreeEntry {
        var root = oldRoot
        let innerBits = UInt64(shape.innerBits)
        for level in 0..<levels {
            for (index, pending) in nodes[level] {
                precondition(pending.block != 0, "tree node without a block")
                let entry = TreeEntry(block: pending.block, checksum: pending.buffer.checksum, birth: birth, copy: pending.copy)
                if level == levels - 1 {
                    root = entry
                } else {
                    nodes[level + 1][index >> innerBits]!.buffer.setEntry(Int(index & ((1 << innerBits) - 1)), entry,
                                                                          wide: shape.wide(level + 1))
                }
            }
        }
        return root
    }
}
