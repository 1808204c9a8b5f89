// The persistent page store: a sparse space of 4 KiB pages kept on a block
// device as a history of copy-on-write snapshots.
//
// Device layout (docs/image-format.md has every byte):
// ```
// format 1                          format 2
// block 0, 1   superblocks          block 0, 1     superblocks (first copies)
// block 2...   everything else      block 2..9     the boot log (two copies)
//                                   block 10, 11   superblocks (second copies)
//                                   block 12...    everything else
// ```
// "Everything else" is allocated from the space map: data pages, data-tree
// nodes, space-map pages and nodes, freed lists. In format 2 every block
// but a data page is written twice, to blocks at least
// `Layout.copyDistance` apart, and the entry pointing to it names both.
// A commit writes every new block (sorted, coalesced into large gather
// writes), flushes, writes the superblock slot `sequence % 2` (both of its
// copies), flushes. Nothing reachable from either superblock is ever
// overwritten: blocks freed by commit N become allocatable only once commit
// N+1 is durable, so both superblocks always describe intact states.

import Dispatch
import PhantomHost


/// A persistent space of pages with a history of snapshots.
///
/// Not thread-safe: one thread at a time (the kernel's snapshot daemon owns it).
public final class Store {
    /// The device under the store.
    public let device: any BlockDevice
    /// True when opened without write access.
    public let isReadOnly: Bool
    /// What opening the image found and did.
    public internal(set) var openReport = OpenReport()
    /// Problems met after open that cost space but not data (e.g. an unreadable freed list).
    public internal(set) var warnings: [String] = []
    /// True while the state in use is older than the newest commit on the
    /// device (open skipped a damaged or incomplete one). The next commit,
    /// or `rollback(to:)` the newest snapshot, makes the older state permanent.
    public internal(set) var isFallenBack = false
    /// Metadata blocks found damaged whose second copy served instead
    /// (format 2), each block once, in the order met.
    public internal(set) var redundantReads: [RedundantRead] = []
    var redundantBlocks = Set<UInt64>()

    /// The image's format (fixed at creation).
    let format: ImageFormat
    var superblock: Superblock
    /// The space map as it will be written: blocks in use by the current state.
    var onDisk = Bitmap()
    /// Blocks that must not be allocated: `onDisk`, plus blocks still
    /// referenced by the previous commit (quarantine) or by this one.
    var busy = Bitmap()
    var blocksInUse: UInt64 = 0
    /// Blocks freed by commit `tag`, allocatable once commit `tag + 1` is durable.
    var quarantine: [(tag: UInt64, blocks: [UInt64])] = []
    /// No clear bit in `busy` below this.
    var firstFreeHint: UInt64
    /// Write every space-map page at the next commit (after a rebuild).
    var rewriteWholeSpaceMap = false
    var nodeCache: [UInt64: (checksum: UInt32, buffer: BlockBuffer)] = [:]
    /// False until the space map has been read (see `ensureSpaceMap`).
    var spaceMapLoaded = false
    /// The other valid superblock at open, whose blocks stay held.
    var olderSuperblock: Superblock?
    /// Set when the space map on the device was found damaged.
    var spaceMapDamage: String?
    /// Superblock copies found unusable at open while their twin was intact.
    var superblockCopyDamage: [RedundantRead] = []
    /// The boot log (format 2; BootLog.swift).
    var bootLog = BootLog()
    static let nodeCacheLimit = 16384
    let scratch = BlockBuffer()

    init(device: any BlockDevice, readOnly: Bool, superblock: Superblock) {
        self.device = device
        self.isReadOnly = readOnly
        self.superblock = superblock
        self.format = superblock.format
        self.firstFreeHint = superblock.format.reservedBlocks
    }

    // MARK: - Facts

    /// Retained snapshots, oldest first.
    public var snapshots: [SnapshotInfo] { superblock.snapshots.map(SnapshotInfo.init) }
    /// The newest retained snapshot: the current state of the space.
    public var newestSnapshot: SnapshotInfo? { superblock.snapshots.last.map(SnapshotInfo.init) }
    /// Pages in the logical space.
    public var pageCount: UInt64 { superblock.pageCount }
    /// How many snapshots are retained.
    public var keep: Int { superblock.keep }
    /// The number of the last durable commit.
    public var commitSequence: UInt64 { superblock.sequence }
    /// When the image was created, ns since the Unix epoch.
    public var createdNanos: Int64 { superblock.createdNanos }
    /// The image format version (1: no metadata copies and no boot log; 2).
    public var formatVersion: UInt32 { format.version }
    /// Space on the device.
    public var usage: SpaceUsage {
        ensureSpaceMap()
        let used = blocksInUse << Layout.blockShift
        return SpaceUsage(deviceBytes: device.size, usedBytes: used, freeBytes: device.size - min(device.size, used))
    }


    // MARK: - Reading

    /// Reads page `page` as of snapshot `snapshot` (default: the newest).
    /// A page never written reads as zeros.
    public func read(page: UInt64, snapshot: UInt64? = nil, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        precondition(buffer.count >= Layout.blockSize, "a page buffer must hold 4096 bytes")
        guard page < superblock.pageCount else { throw .pageOutOfRange(page: page, pageCount: superblock.pageCount) }
        let record = try self.record(for: snapshot)
        guard let record else {
            buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: Layout.blockSize)
            return
        }
        let entry = try lookup(root: record.root, levels: superblock.dataLevels, index: page, snapshot: record.id)
        if entry.isHole {
            buffer.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: Layout.blockSize)
            return
        }
        let target = UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: Layout.blockSize)
        do throws(BlockDeviceError) { try device.read(into: target, at: entry.block << Layout.blockShift) } catch { throw StoreError(error) }
        guard crc32c(UnsafeRawBufferPointer(target)) == entry.checksum else {
            throw .checksumMismatch(path: device.path, block: entry.block, snapshot: record.id, what: "page \(page)")
        }
    }

    /// Reads page `page` as of snapshot `snapshot` (default: the newest) into a new array.
    public func read(page: UInt64, snapshot: UInt64? = nil) throws(StoreError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Layout.blockSize)
        var failure: StoreError? = nil
        bytes.withUnsafeMutableBytes { buffer in
            do throws(StoreError) { try read(page: page, snapshot: snapshot, into: buffer) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    /// The pages mapped (written at least once) as of a snapshot, ascending.
    public func mappedPages(snapshot: UInt64? = nil) throws(StoreError) -> [UInt64] {
        guard let record = try self.record(for: snapshot) else { return [] }
        var pages: [UInt64] = []
        try walk(root: record.root, snapshot: record.id) { index, _ in pages.append(index) }
        return pages
    }

    func record(for snapshot: UInt64?) throws(StoreError) -> SnapshotRecord? {
        guard let snapshot else { return superblock.snapshots.last }
        guard let record = superblock.snapshots.first(where: { $0.id == snapshot }) else {
            throw .noSuchSnapshot(id: snapshot, retained: superblock.snapshots.map(\.id))
        }
        return record
    }

    /// Reads and checks a tree node (cached).
    func loadNode(_ entry: TreeEntry, snapshot: UInt64?, what: String) throws(StoreError) -> BlockBuffer {
        if let cached = nodeCache[entry.block], cached.checksum == entry.checksum { return cached.buffer }
        let buffer = BlockBuffer()
        try readBlock(entry, into: buffer, snapshot: snapshot, what: what)
        if nodeCache.count >= Self.nodeCacheLimit { nodeCache.removeAll(keepingCapacity: true) }
        nodeCache[entry.block] = (entry.checksum, buffer)
        return buffer
    }

    /// Reads one block and checks it against `checksum`.
    func readChecked(_ block: UInt64, checksum: UInt32, into buffer: BlockBuffer, snapshot: UInt64?, what: String) throws(StoreError) {
        guard block >= format.reservedBlocks, block < device.size >> Layout.blockShift else {
            throw .corrupt(path: device.path, detail: "\(what) points to block \(block), outside the device")
        }
        do throws(BlockDeviceError) { try device.read(into: buffer.mutableRaw, at: block << Layout.blockShift) } catch { throw StoreError(error) }
        guard buffer.checksum == checksum else {
            throw .checksumMismatch(path: device.path, block: block, snapshot: snapshot, what: what)
        }
    }

    /// Reads the block an entry points to. A metadata block whose first
    /// copy is unreadable or fails its checksum is read from its second
    /// copy (format 2); the damaged copy is remembered in `redundantReads`.
    func readBlock(_ entry: TreeEntry, into buffer: BlockBuffer, snapshot: UInt64?, what: String) throws(StoreError) {
        do throws(StoreError) {
            try readChecked(entry.block, checksum: entry.checksum, into: buffer, snapshot: snapshot, what: what)
        } catch {
            guard entry.copy != 0 else { throw error }
            do throws(StoreError) {
                try readChecked(entry.copy, checksum: entry.checksum, into: buffer, snapshot: snapshot, what: what)
            } catch let second {
                if case .checksumMismatch = error, case .checksumMismatch = second {
                    throw .checksumMismatch(path: device.path, block: entry.block, snapshot: snapshot,
                                            what: "both copies (blocks \(entry.block) and \(entry.copy)) of \(what)")
                }
                throw error
            }
            noteRedundantRead(RedundantRead(block: entry.block, servedBy: entry.copy, what: what, snapshot: snapshot, reason: error.briefReason))
        }
    }

    func noteRedundantRead(_ read: RedundantRead) {
        guard redundantBlocks.insert(read.block).inserted else { return }
        redundantReads.append(read)
    }

    /// The shape of the data trees or of the space-map tree.
    enum TreeKind { case data, spaceMap }

    func shape(_ kind: TreeKind) -> TreeShape { kind == .data ? format.dataTree : format.mapTree }

    func lookup(root: TreeEntry, levels: Int, index: UInt64, snapshot: UInt64?) throws(StoreError) -> TreeEntry {
        let shape = format.dataTree
        var entry = root
        var level = levels - 1
        while level >= 0 {
            if entry.isHole { return .hole }
            let node = try loadNode(entry, snapshot: snapshot, what: "tree node (level \(level))")
            entry = node.entry(shape.slot(of: index, level: level), wide: shape.wide(level))
            level -= 1
        }
        return entry
    }

    /// Visits every payload entry of a tree in index order. `visitNode`
    /// sees each node's entry before it is read and may skip the subtree.
    func walk(root: TreeEntry, snapshot: UInt64?, kind: TreeKind = .data, levels: Int? = nil,
              visitNode: ((TreeEntry) -> Bool)? = nil,
              _ visit: (UInt64, TreeEntry) throws(StoreError) -> Void) throws(StoreError) {
        let shape = shape(kind)
        let what = kind == .data ? "tree node" : "space map node"
        func descend(_ entry: TreeEntry, level: Int, base: UInt64) throws(StoreError) {
            if entry.isHole { return }
            if let visitNode, !visitNode(entry) { return }
            let node = try loadNode(entry, snapshot: snapshot, what: "\(what) (level \(level))")
            let wide = shape.wide(level)
            let shift = UInt64(shape.shift(level))
            for slot in 0..<shape.slots(level) {
                let child = node.entry(slot, wide: wide)
                if child.isHole { continue }
                let index = base | (UInt64(slot) << shift)
                if level == 0 {
                    try visit(index, child)
                } else {
                    try descend(child, level: level - 1, base: index)
                }
            }
        }
        try descend(root, level: (levels ?? (kind == .data ? superblock.dataLevels : superblock.spaceMapLevels)) - 1, base: 0)
    }

}

func describe(_ problem: Superblock.SlotProblem) -> String {
    switch problem {
    case .wrongMagic: return "no superblock magic"
    case .badChecksum: return "checksum mismatch"
    case let .newerVersion(version): return "format version \(version) is newer than \(Layout.formatVersion)"
    case let .inconsistent(reason): return reason
    case .missing: return "beyond the end of the device"
    }
}

/// True if the 4 KiB page holds only zero bytes (most pages that are not
/// differ in their first words, so the loop usually ends at once).
func isZeroPage(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let start = bytes.baseAddress!
    @inline(__always) func word(_ index: Int) -> UInt64 { start.loadUnaligned(fromByteOffset: index << 3, as: UInt64.self) }
    var index = 0
    while index < Layout.blockSize / 8 {
        if word(index) | word(index + 1) | word(index + 2) | word(index + 3)
            | word(index + 4) | word(index + 5) | word(index + 6) | word(index + 7) != 0 { return false }
        index += 8
    }
    return true
}

/// Wall-clock time in ns since the Unix epoch.
func nowNanos() -> Int64 { HostClock.wallNanos() }

/// Fills a buffer from the host's entropy source.
func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) {
    var generator = SystemRandomNumberGenerator()
    for index in 0..<buffer.count { buffer[index] = UInt8.random(in: 0...255, using: &generator) }
}
