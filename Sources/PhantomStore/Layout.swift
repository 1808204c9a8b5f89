// The fixed numbers of the image format (version 1); docs/image-format.md
// draws the layouts out byte by byte.

/// Constants of the on-disk format.
public enum Layout {
    /// Size of a page of the persistent space and of a device block.
    public static let blockSize = 4096
    /// `blockSize` as a shift.
    public static let blockShift: UInt64 = 12
    /// The format version this build writes and the newest it reads.
    public static let formatVersion: UInt32 = 1
    /// "PHNTMIMG" read as a little-endian integer, at offset 0 of a superblock.
    public static let superblockMagic: UInt64 = 0x474D_494D_544E_4850
    /// Device blocks of the two alternating superblocks.
    public static let superblockSlots: [UInt64] = [0, 1]
    /// Entries in a tree node: 16 bytes each, no header (the parent holds the node's checksum).
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
    /// Extents in one freed-list block.
    static let extentsPerFreedBlock = (blockSize - 16) / 16
}

/// One 16-byte tree entry: where a child (node or page) lives, its checksum,
/// and the low 32 bits of the id of the snapshot that wrote it.
///
/// ```
/// 0        8        12       16
/// | block  | crc32c | birth  |
/// ```
/// `block == 0` is a hole: the page reads as zeros (block 0 is a superblock,
/// so it is never a child).
public struct TreeEntry: Equatable, Sendable {
    public var block: UInt64
    public var checksum: UInt32
    public var birth: UInt32

    public static let hole = TreeEntry(block: 0, checksum: 0, birth: 0)
    public var isHole: Bool { block == 0 }
}

extension BlockBuffer {
    @inline(__always) func entry(_ slot: Int) -> TreeEntry {
        let offset = slot * 16
        return TreeEntry(block: u64(offset), checksum: u32(offset + 8), birth: u32(offset + 12))
    }
    @inline(__always) func setEntry(_ slot: Int, _ entry: TreeEntry) {
        let offset = slot * 16
        setU64(offset, entry.block)
        setU32(offset + 8, entry.checksum)
        setU32(offset + 12, entry.birth)
    }
}

/// The number of tree levels needed to address `count` leaf payloads.
func treeLevels(forPayloads count: UInt64) -> Int {
    var levels = 1
    var capacity = UInt64(Layout.entriesPerNode)
    while capacity < count {
        levels += 1
        capacity = capacity.multipliedReportingOverflow(by: UInt64(Layout.entriesPerNode)).overflow ? UInt64.max : capacity * 256
    }
    return levels
}
