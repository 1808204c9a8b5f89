/// What a user sees of a retained snapshot.
public struct SnapshotInfo: Equatable, Sendable, Codable {
    /// Snapshot id: increases with every snapshot and is never reused.
    public let id: UInt64
    /// When it was taken, ns since the Unix epoch.
    public let timeNanos: Int64
    /// Pages written by this snapshot (its increment).
    public let pagesWritten: UInt64
    /// Bytes written to the device by this snapshot: pages and metadata.
    public let bytesWritten: UInt64
    /// Pages mapped in the whole space as of this snapshot.
    public let pagesMapped: UInt64

    init(_ record: SnapshotRecord) {
        id = record.id
        timeNanos = record.timeNanos
        pagesWritten = record.pagesWritten
        bytesWritten = record.bytesWritten
        pagesMapped = record.pagesMapped
    }
}

/// One page to write in a snapshot: its number and its 4 KiB of contents.
/// The buffer must stay valid for the duration of the `commit` call.
public struct PageWrite {
    public var page: UInt64
    public var bytes: UnsafeRawBufferPointer

    public init(page: UInt64, bytes: UnsafeRawBufferPointer) {
        self.page = page
        self.bytes = bytes
    }
}

/// How much checking `Store.open` does before it trusts the newest snapshot.
public enum OpenVerification: Sendable {
    /// Superblocks, the space map and the root node of the newest snapshot:
    /// cost independent of the amount of data.
    case metadata
    /// Also every node and page written by the newest snapshot (its
    /// increment): what to use after an unclean shutdown.
    case newestSnapshot
}

/// What `Store.open` had to do to open the image.
public struct OpenReport: Sendable {
    /// Snapshots that were found damaged and are not used, newest first, with why.
    public var discardedSnapshots: [(id: UInt64, reason: String)] = []
    /// Other repairs and observations, in plain words.
    public var notes: [String] = []
    /// Set when the state opened is older than the newest commit on the
    /// device (a damaged or incomplete commit was skipped): the next commit,
    /// or `rollback(to:)` of the newest snapshot, makes it permanent.
    public var fellBack = false
    /// Set when a superblock slot is unreadable and may have held a commit
    /// newer than the one in use (a damaged slot cannot say which it held):
    /// that commit, and the snapshot it may have added, are lost.
    public var lostCommit: LostCommit? = nil
    /// The commit sequence number of the superblock in use.
    public var commitSequence: UInt64 = 0
    /// True when nothing had to be repaired or discarded.
    public var isClean: Bool { discardedSnapshots.isEmpty && notes.isEmpty }
}

/// A commit whose superblock is damaged and that may have been the newest.
public struct LostCommit: Sendable, Equatable {
    /// The superblock slot (0 or 1) that is damaged.
    public let slot: UInt64
    /// The sequence number the lost commit had (one more than the one in use).
    public let sequence: UInt64
    /// The id the snapshot it may have added had; it is never given out again.
    public let snapshotID: UInt64
    /// True when what remains of the slot still names that commit; false
    /// when the slot is unreadable and may as well have held the older one.
    public let certain: Bool
}

/// Space on the device.
public struct SpaceUsage: Sendable, Codable {
    /// Size of the device, in bytes.
    public let deviceBytes: UInt64
    /// Bytes in blocks that hold data or metadata of the image.
    public let usedBytes: UInt64
    /// Bytes in blocks free for new snapshots.
    public let freeBytes: UInt64
}

/// The result of `Store.verify`.
public struct VerifyReport: Sendable {
    /// Blocks read and checked.
    public var blocksChecked: UInt64 = 0
    /// Damage: each entry a sentence naming the block and the snapshot.
    public var problems: [String] = []
    /// Harmless findings (e.g. leaked blocks).
    public var warnings: [String] = []
    /// Retained snapshots with a damaged node or page (shared blocks count for every sharer).
    public var damagedSnapshots = Set<UInt64>()
    /// Data pages that are unreadable or fail their checksum (or `content`'s
    /// check), ascending by page, each with the snapshots that hold it.
    public var damagedPages: [DamagedPage] = []
    /// Metadata copies that are damaged while their other copy is intact
    /// (format 2): nothing is lost, but that block has one copy left until
    /// the snapshots that use it leave the history.
    public var damagedCopies: [RedundantRead] = []
    /// True when no problem was found.
    public var isHealthy: Bool { problems.isEmpty }
}
