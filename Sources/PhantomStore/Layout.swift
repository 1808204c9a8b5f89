// The fixed numbers of the image formats (versions 1 and 2);
// docs/image-format.md draws the layouts out byte by byte.

/// Constants of the on-disk format.
public enum Layout {
    /// Size of a page of the persistent space and of a device block.
    public static let blockSize = 4096
    /// `blockSize` as a shift.
    public static let blockShift: UInt64 = 12
    /// The format version this build writes for new images and the newest it reads.
    public static let formatVersion: UInt32 = 2
    /// The oldest format version this build reads (and keeps writing, for
    /// an image of that version).
    public static let oldestFormatVersion: UInt32 = 1
    /// "PHNTMIMG" read as a little-endian integer, at offset 0 of a superblock.
    public static let superblockMagic: UInt64 = 0x474D_494D_544E_4850
    /// Device blocks of the two alternating superblocks (their first copies
    /// in format 2, the only ones in format 1).
    public static let superblockSlots: [UInt64] = [0, 1]
    /// Entries in a format-1 tree node: 16 bytes each, no header (the parent holds the node's checksum).
    public static let entriesPerNode = 256
    /// Blocks covered by one space-map page (one bit a block).
    public static let blocksPerBitmapPage: UInt64 = UInt64(blockSize * 8)
    /// The most snapshots an image can retain (the catalog lives in the superblock).
    public static let maxKeep = 32
    /// Default number of retained snapshots.
    public static let defaultKeep = 8
    /// Default logical size of a new image: 1 TiB (sparse).
    public static let defaultLogicalSize: UInt64 = 1 << 40
    /// Commits of at most this many blocks are made durable with a single
    /// flush (blocks and superblock together); open then re-reads and checks
    /// them, which this limit keeps cheap. Larger commits flush twice.
    public static let singleFlushLimit = 64
    /// Format 2: the second copy of a metadata block is at least this many
    /// blocks (1 MiB) away from the first, so that one bad extent of the
    /// disk does not hold both (unless the device cannot grow and has no
    /// such block free; then any other free block).
    public static let copyDistance: UInt64 = 256
    /// Format 2: the boot log's two copies, each `bootLogBlocks` blocks from here.
    static let bootLogCopies: [UInt64] = [2, 6]
    /// Format 2: blocks in one copy of the boot log.
    static let bootLogBlocks = 4
}

/// What an image format version fixes: where the superblocks are, how a
/// tree entry looks, and whether metadata is written twice.
struct ImageFormat: Equatable, Sendable {
    let version: UInt32

    static let v1 = ImageFormat(version: 1)
    static let v2 = ImageFormat(version: 2)

    /// Every metadata block (tree nodes, space-map pages, freed-list
    /// blocks, superblocks) has a second copy.
    var hasCopies: Bool { version >= 2 }
    /// The blocks holding slot 0's and slot 1's superblock (first copy first).
    var slotBlocks: [[UInt64]] { version == 1 ? [[0], [1]] : [[0, 10], [1, 11]] }
    /// Blocks `0 ..< reservedBlocks` have fixed roles (superblocks, the boot
    /// log); the space map marks them in use and allocation starts above.
    var reservedBlocks: UInt64 { version == 1 ? 2 : 12 }
    /// The shape of the data trees (page number -> data page).
    var dataTree: TreeShape { version == 1 ? .v1 : .v2Data }
    /// The shape of the space-map tree (map page number -> map page).
    var mapTree: TreeShape { version == 1 ? .v1 : .v2Map }
    /// Where the snapshot catalog starts in the superblock.
    var catalogOffset: Int { version == 1 ? 128 : 160 }
    /// Bytes of one catalog record.
    var recordSize: Int { version == 1 ? 80 : 96 }
    /// Where a freed-list block's extents start.
    var freedListHeader: Int { version == 1 ? 16 : 32 }
    /// Extents in one freed-list block.
    var extentsPerFreedBlock: Int { (Layout.blockSize - freedListHeader) / 16 }
}

/// One tree entry: where a child (node or page) lives, its checksum, the low
/// 32 bits of the id of the writer that wrote it and, in format 2, where the
/// second copy of a metadata child lives.
///
/// ```
/// format 1 (16 bytes), and format-2 data-tree leaves:
/// 0        8        12       16
/// | block  | crc32c | birth  |
/// format 2, every other entry (32 bytes):
/// 0        8        12       16       24       32
/// | block  | crc32c | birth  | copy   | 0      |
/// ```
/// `block == 0` is a hole: the page reads as zeros (block 0 is a superblock,
/// so it is never a child). `copy == 0`: there is no second copy.
public struct TreeEntry: Equatable, Sendable {
    public var block: UInt64
    public var checksum: UInt32
    public var birth: UInt32
    /// The block of the second copy (format-2 metadata), or 0.
    public var copy: UInt64

    public init(block: UInt64, checksum: UInt32, birth: UInt32, copy: UInt64 = 0) {
        self.block = block
        self.checksum = checksum
        self.birth = birth
        self.copy = copy
    }

    public static let hole = TreeEntry(block: 0, checksum: 0, birth: 0)
    public var isHole: Bool { block == 0 }
    /// The blocks that hold the child: one, or two with a copy.
    var blocks: [UInt64] { copy == 0 ? [block] : [block, copy] }
}

extension BlockBuffer {
    /// Entry `slot` of a node whose entries are 16 bytes (`wide` false) or 32.
    @inline(__always) func entry(_ slot: Int, wide: Bool = false) -> TreeEntry {
        let offset = slot << (wide ? 5 : 4)
        return TreeEntry(block: u64(offset), checksum: u32(offset + 8), birth: u32(offset + 12),
                         copy: wide ? u64(offset + 16) : 0)
    }
    @inline(__always) func setEntry(_ slot: Int, _ entry: TreeEntry, wide: Bool = false) {
        let offset = slot << (wide ? 5 : 4)
        setU64(offset, entry.block)
        setU32(offset + 8, entry.checksum)
        setU32(offset + 12, entry.birth)
        if wide {
            setU64(offset + 16, entry.copy)
            setU64(offset + 24, 0)
        }
    }
}

/// The shape of a radix tree: how many index bits a leaf and an inner node
/// take, and whether their entries are 16 or 32 bytes.
///
/// Digit `l` of a payload index selects the slot at level `l`: the leaf
/// (level 0) takes the low `leafBits` bits, each level above the next
/// `innerBits`. So a node at level `l` has index `payload >> shift(l + 1)`,
/// and its parent is node `index >> innerBits` at level `l + 1`.
struct TreeShape: Equatable, Sendable {
    let leafBits: Int
    let innerBits: Int
    let wideLeaves: Bool
    let wideInner: Bool

    /// Format 1: 256 entries of 16 bytes everywhere.
    static let v1 = TreeShape(leafBits: 8, innerBits: 8, wideLeaves: false, wideInner: false)
    /// Format-2 data tree: leaves point to data pages (one copy) with 256
    /// entries of 16 bytes; inner nodes hold 128 entries of 32 bytes.
    static let v2Data = TreeShape(leafBits: 8, innerBits: 7, wideLeaves: false, wideInner: true)
    /// Format-2 space-map tree: every entry points to metadata: 128 of 32 bytes.
    static let v2Map = TreeShape(leafBits: 7, innerBits: 7, wideLeaves: true, wideInner: true)

    @inline(__always) func bits(_ level: Int) -> Int { level == 0 ? leafBits : innerBits }
    @inline(__always) func slots(_ level: Int) -> Int { 1 << bits(level) }
    @inline(__always) func wide(_ level: Int) -> Bool { level == 0 ? wideLeaves : wideInner }
    /// The lowest index bit of level `level`'s digit.
    @inline(__always) func shift(_ level: Int) -> Int { level == 0 ? 0 : leafBits + (level - 1) * innerBits }
    /// The slot of payload `index` in its node at level `level`.
    @inline(__always) func slot(of index: UInt64, level: Int) -> Int {
        Int((index >> UInt64(shift(level))) & UInt64(slots(level) - 1))
    }

    /// Payloads a tree of `levels` levels addresses (saturating).
    func capacity(levels: Int) -> UInt64 {
        let bits = shift(levels)
        return bits >= 64 ? UInt64.max : UInt64(1) << UInt64(bits)
    }

    /// The number of levels needed to address `count` payloads.
    func levels(forPayloads count: UInt64) -> Int {
        var levels = 1
        while capacity(levels: levels) < count { levels += 1 }
        return levels
    }
}
