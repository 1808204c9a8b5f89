// The superblock: the commit record of the image. Two slots alternate:
// commit number N writes slot N % 2, so the other slot always holds the
// previous commit. Recovery reads both and takes the valid one with the
// higher commit number (LMDB's two meta pages). In format 2 each slot has
// two copies (slot 0 at blocks 0 and 10, slot 1 at blocks 1 and 11).
//
// Layout (4096 bytes, little-endian):
// ```
// off  size  field
//   0     8  magic "PHNTMIMG"
//   8     4  format version (1 or 2)
//  12     4  block size (4096)
//  16     8  commit sequence number (first commit is 1)
//  24     8  logical size in pages
//  32     4  data tree levels
//  36     4  keep: snapshots retained
//  40     8  next snapshot id
//  48     8  device size in blocks (what the space map covers)
//  56    16  space map root: tree entry (block, crc32c, birth)
//  72     4  space map tree levels
//  76     4  snapshot count (entries in the catalog below)
//  80     8  blocks in use (bits set in the space map)
//  88     8  image creation time, ns since the Unix epoch
//  96    16  image id (random)
// 112     4  flags: bit 0 "single flush": this commit's blocks and this
//            superblock were flushed together, so open must check every
//            block the commit wrote (at most `Layout.singleFlushLimit`);
//            bit 1: this commit added the newest snapshot
// 116     4  reserved (0)
// 120     8  blocks written by this commit
// format 1:
// 128  80*n  snapshot catalog, oldest first (n <= 32), see SnapshotRecord
// format 2:
// 128     8  space map root: block of the second copy
// 136     8  boot sequence floor: the boot log's next sequence at this commit
// 144    16  reserved (0)
// 160  96*n  snapshot catalog, oldest first (n <= 32), see SnapshotRecord
// both:
// 4092    4  crc32c of bytes 0..<4092
// ```

/// The decoded commit record.
struct Superblock: Equatable {
    var version: UInt32 = Layout.formatVersion
    var sequence: UInt64
    var pageCount: UInt64
    var dataLevels: Int
    var keep: Int
    var nextSnapshotID: UInt64
    var deviceBlocks: UInt64
    var spaceMapRoot: TreeEntry
    var spaceMapLevels: Int
    var blocksInUse: UInt64
    var createdNanos: Int64
    var imageID: (UInt64, UInt64)
    var flags: UInt32 = 0
    var commitBlocks: UInt64 = 0
    /// Format 2: no boot record with a sequence at or above this existed
    /// when the commit was made (so none is reused if the log is lost).
    var bootSequenceFloor: UInt64 = 0
    var snapshots: [SnapshotRecord]

    /// Flag: the commit was made durable with one flush; check its blocks at open.
    static let singleFlush: UInt32 = 1
    /// Flag: the commit added the newest snapshot.
    static let addedSnapshot: UInt32 = 2

    var format: ImageFormat { ImageFormat(version: version) }

    static func == (a: Superblock, b: Superblock) -> Bool {
        a.version == b.version && a.sequence == b.sequence && a.pageCount == b.pageCount && a.dataLevels == b.dataLevels
            && a.keep == b.keep && a.nextSnapshotID == b.nextSnapshotID && a.deviceBlocks == b.deviceBlocks
            && a.spaceMapRoot == b.spaceMapRoot && a.spaceMapLevels == b.spaceMapLevels
            && a.blocksInUse == b.blocksInUse && a.createdNanos == b.createdNanos
            && a.imageID == b.imageID && a.snapshots == b.snapshots
            && a.flags == b.flags && a.commitBlocks == b.commitBlocks && a.bootSequenceFloor == b.bootSequenceFloor
    }

    static let checksumOffset = Layout.blockSize - 4

    func encode(into buffer: BlockBuffer) {
        let format = self.format
        buffer.zero()
        buffer.setU64(0, Layout.superblockMagic)
        buffer.setU32(8, version)
        buffer.setU32(12, UInt32(Layout.blockSize))
        buffer.setU64(16, sequence)
        buffer.setU64(24, pageCount)
        buffer.setU32(32, UInt32(dataLevels))
        buffer.setU32(36, UInt32(keep))
        buffer.setU64(40, nextSnapshotID)
        buffer.setU64(48, deviceBlocks)
        buffer.setU64(56, spaceMapRoot.block)
        buffer.setU32(64, spaceMapRoot.checksum)
        buffer.setU32(68, spaceMapRoot.birth)
        buffer.setU32(72, UInt32(spaceMapLevels))
        buffer.setU32(76, UInt32(snapshots.count))
        buffer.setU64(80, blocksInUse)
        buffer.setU64(88, UInt64(bitPattern: createdNanos))
        buffer.setU64(96, imageID.0)
        buffer.setU64(104, imageID.1)
        buffer.setU32(112, flags)
        buffer.setU64(120, commitBlocks)
        if format.hasCopies {
            buffer.setU64(128, spaceMapRoot.copy)
            buffer.setU64(136, bootSequenceFloor)
        }
        for (index, record) in snapshots.enumerated() {
            record.encode(into: buffer, at: format.catalogOffset + index * format.recordSize, format: format)
        }
        let crc = crc32c(UnsafeRawBufferPointer(start: buffer.bytes, count: Self.checksumOffset))
        buffer.setU32(Self.checksumOffset, crc)
    }

    /// Why a slot could not be used.
    enum SlotProblem: Error, Equatable {
        case wrongMagic
        case badChecksum
        case newerVersion(UInt32)
        case inconsistent(String)
        /// The block lies beyond the end of the device (format 2's second copies).
        case missing
    }

    static func decode(_ buffer: BlockBuffer) -> Result<Superblock, SlotProblem> {
        guard buffer.u64(0) == Layout.superblockMagic else { return .failure(.wrongMagic) }
        let crc = crc32c(UnsafeRawBufferPointer(start: buffer.bytes, count: checksumOffset))
        guard crc == buffer.u32(checksumOffset) else { return .failure(.badChecksum) }
        let version = buffer.u32(8)
        guard version <= Layout.formatVersion else { return .failure(.newerVersion(version)) }
        guard version >= Layout.oldestFormatVersion else { return .failure(.inconsistent("format version \(version)")) }
        let format = ImageFormat(version: version)
        guard buffer.u32(12) == UInt32(Layout.blockSize) else {
            return .failure(.inconsistent("block size \(buffer.u32(12)), expected \(Layout.blockSize)"))
        }
        let count = Int(buffer.u32(76))
        let keep = Int(buffer.u32(36))
        let dataLevels = Int(buffer.u32(32))
        let mapLevels = Int(buffer.u32(72))
        guard count <= Layout.maxKeep, keep >= 1, keep <= Layout.maxKeep,
              (1...8).contains(dataLevels), (1...8).contains(mapLevels) else {
            return .failure(.inconsistent("field out of range (snapshots \(count), keep \(keep), levels \(dataLevels)/\(mapLevels))"))
        }
        var snapshots: [SnapshotRecord] = []
        for index in 0..<count {
            snapshots.append(SnapshotRecord.decode(buffer, at: format.catalogOffset + index * format.recordSize, format: format))
        }
        return .success(Superblock(
            version: version,
            sequence: buffer.u64(16),
            pageCount: buffer.u64(24),
            dataLevels: dataLevels,
            keep: keep,
            nextSnapshotID: buffer.u64(40),
            deviceBlocks: buffer.u64(48),
            spaceMapRoot: TreeEntry(block: buffer.u64(56), checksum: buffer.u32(64), birth: buffer.u32(68),
                                    copy: format.hasCopies ? buffer.u64(128) : 0),
            spaceMapLevels: mapLevels,
            blocksInUse: buffer.u64(80),
            createdNanos: Int64(bitPattern: buffer.u64(88)),
            imageID: (buffer.u64(96), buffer.u64(104)),
            flags: buffer.u32(112),
            commitBlocks: buffer.u64(120),
            bootSequenceFloor: format.hasCopies ? buffer.u64(136) : 0,
            snapshots: snapshots))
    }
}

/// One retained snapshot in the catalog.
///
/// Layout (80 bytes in format 1, 96 in format 2):
/// ```
///  0  8  snapshot id
///  8  8  time taken, ns since the Unix epoch
/// 16 16  data tree root: tree entry (block, crc32c, birth)
/// 32  8  pages written by this snapshot
/// 40  8  bytes written by this snapshot (pages and metadata)
/// 48  8  pages mapped in the whole space at this snapshot
/// 56 16  freed list head: tree entry (block, crc32c, number of list blocks)
/// 72  8  blocks on the freed list
/// format 2:
/// 80  8  data tree root: block of the second copy
/// 88  8  freed list head: block of the second copy
/// ```
/// The freed list names the blocks of the previous snapshot that this one
/// replaced; they become free when the previous snapshot leaves the history.
struct SnapshotRecord: Equatable {
    var id: UInt64
    var timeNanos: Int64
    var root: TreeEntry
    var pagesWritten: UInt64
    var bytesWritten: UInt64
    var pagesMapped: UInt64
    var freedHead: TreeEntry
    var freedBlocks: UInt64

    func encode(into buffer: BlockBuffer, at offset: Int, format: ImageFormat) {
        buffer.setU64(offset, id)
        buffer.setU64(offset + 8, UInt64(bitPattern: timeNanos))
        buffer.setU64(offset + 16, root.block)
        buffer.setU32(offset + 24, root.checksum)
        buffer.setU32(offset + 28, root.birth)
        buffer.setU64(offset + 32, pagesWritten)
        buffer.setU64(offset + 40, bytesWritten)
        buffer.setU64(offset + 48, pagesMapped)
        buffer.setU64(offset + 56, freedHead.block)
        buffer.setU32(offset + 64, freedHead.checksum)
        buffer.setU32(offset + 68, freedHead.birth)
        buffer.setU64(offset + 72, freedBlocks)
        if format.hasCopies {
            buffer.setU64(offset + 80, root.copy)
            buffer.setU64(offset + 88, freedHead.copy)
        }
    }

    static func decode(_ buffer: BlockBuffer, at offset: Int, format: ImageFormat) -> SnapshotRecord {
        let copies = format.hasCopies
        return SnapshotRecord(
            id: buffer.u64(offset),
            timeNanos: Int64(bitPattern: buffer.u64(offset + 8)),
            root: TreeEntry(block: buffer.u64(offset + 16), checksum: buffer.u32(offset + 24), birth: buffer.u32(offset + 28),
                            copy: copies ? buffer.u64(offset + 80) : 0),
            pagesWritten: buffer.u64(offset + 32),
            bytesWritten: buffer.u64(offset + 40),
            pagesMapped: buffer.u64(offset + 48),
            freedHead: TreeEntry(block: buffer.u64(offset + 56), checksum: buffer.u32(offset + 64), birth: buffer.u32(offset + 68),
                                 copy: copies ? buffer.u64(offset + 88) : 0),
            freedBlocks: buffer.u64(offset + 72))
    }
}
