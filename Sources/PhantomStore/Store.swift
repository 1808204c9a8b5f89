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

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    public private(set) var isFallenBack = false
    /// Metadata blocks found damaged whose second copy served instead
    /// (format 2), each block once, in the order met.
    public private(set) var redundantReads: [RedundantRead] = []
    private var redundantBlocks = Set<UInt64>()

    /// The image's format (fixed at creation).
    let format: ImageFormat
    var superblock: Superblock
    /// The space map as it will be written: blocks in use by the current state.
    private var onDisk = Bitmap()
    /// Blocks that must not be allocated: `onDisk`, plus blocks still
    /// referenced by the previous commit (quarantine) or by this one.
    private var busy = Bitmap()
    private var blocksInUse: UInt64 = 0
    /// Blocks freed by commit `tag`, allocatable once commit `tag + 1` is durable.
    private var quarantine: [(tag: UInt64, blocks: [UInt64])] = []
    /// No clear bit in `busy` below this.
    private var firstFreeHint: UInt64
    /// Write every space-map page at the next commit (after a rebuild).
    var rewriteWholeSpaceMap = false
    private var nodeCache: [UInt64: (checksum: UInt32, buffer: BlockBuffer)] = [:]
    /// False until the space map has been read (see `ensureSpaceMap`).
    private var spaceMapLoaded = false
    /// The other valid superblock at open, whose blocks stay held.
    private var olderSuperblock: Superblock?
    /// Set when the space map on the device was found damaged.
    var spaceMapDamage: String?
    /// Superblock copies found unusable at open while their twin was intact.
    var superblockCopyDamage: [RedundantRead] = []
    /// The boot log (format 2; BootLog.swift).
    var bootLog = BootLog()
    private static let nodeCacheLimit = 16384
    private let scratch = BlockBuffer()

    private init(device: any BlockDevice, readOnly: Bool, superblock: Superblock) {
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

    // MARK: - Create and open

    /// Formats `device` as a new, empty image.
    /// - Parameters:
    ///   - logicalSize: size of the page space in bytes (sparse; rounded up to pages).
    ///   - keep: how many snapshots stay readable (1...32).
    ///   - formatVersion: 2 (the default: every metadata block written
    ///     twice, a boot log), or 1 (what builds before format 2 read).
    public static func create(on device: any BlockDevice, logicalSize: UInt64 = Layout.defaultLogicalSize,
                              keep: Int = Layout.defaultKeep,
                              formatVersion: UInt32 = Layout.formatVersion) throws(StoreError) -> Store {
        guard (1...Layout.maxKeep).contains(keep) else {
            throw .invalidArgument("keep must be between 1 and \(Layout.maxKeep), not \(keep)")
        }
        guard (Layout.oldestFormatVersion...Layout.formatVersion).contains(formatVersion) else {
            throw .invalidArgument("this build writes image format versions \(Layout.oldestFormatVersion) to \(Layout.formatVersion), not \(formatVersion)")
        }
        let format = ImageFormat(version: formatVersion)
        let pages = (logicalSize + UInt64(Layout.blockSize) - 1) >> Layout.blockShift
        guard pages >= 1, pages <= 1 << 52 else {
            throw .invalidArgument("logical size must be between 4 KiB and 16 EiB, not \(logicalSize) bytes")
        }
        var id: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &id) { fillRandom($0) }
        let reserved = format.reservedBlocks
        let initial = Superblock(
            version: formatVersion, sequence: 0, pageCount: pages, dataLevels: format.dataTree.levels(forPayloads: pages),
            keep: keep, nextSnapshotID: 1, deviceBlocks: reserved, spaceMapRoot: .hole, spaceMapLevels: 1,
            blocksInUse: reserved, createdNanos: nowNanos(), imageID: id, snapshots: [])
        let store = Store(device: device, readOnly: false, superblock: initial)
        store.spaceMapLoaded = true
        store.onDisk = Bitmap(allSet: reserved)
        store.busy = store.onDisk
        store.blocksInUse = reserved
        do throws(BlockDeviceError) {
            // Wipe the superblocks (and the boot log) first: a raw device may hold an older image.
            try device.grow(to: reserved << Layout.blockShift)
            let zeros = BlockBuffer()
            try device.write(Array(repeating: zeros.raw, count: Int(reserved)), at: 0)
            try device.flush()
        } catch {
            throw StoreError(error)
        }
        try store.commitInternal(writes: [], makeSnapshot: false)
        return store
    }

    /// One superblock slot as open found it: its newest intact copy, or why
    /// none can be used (with what a damaged copy still seems to say).
    private struct SlotRead {
        let slot: UInt64
        let result: Result<Superblock, Superblock.SlotProblem>
        /// Sequence and next snapshot id of a damaged slot (untrusted, for reports).
        let hint: (sequence: UInt64, nextSnapshotID: UInt64)?
    }

    /// Reads and decodes the superblock at `block`; refuses a newer format.
    /// `hint` is what a block with the magic says, valid or not.
    private static func readSuperblock(_ device: any BlockDevice, block: UInt64, into buffer: BlockBuffer)
        throws(StoreError) -> (result: Result<Superblock, Superblock.SlotProblem>, hint: (sequence: UInt64, nextSnapshotID: UInt64)?) {
        guard (block + 1) << Layout.blockShift <= device.size else { return (.failure(.missing), nil) }
        do throws(BlockDeviceError) { try device.read(into: buffer.mutableRaw, at: block << Layout.blockShift) } catch { throw StoreError(error) }
        let result = Superblock.decode(buffer)
        // A newer format's valid superblock: never read or overwrite its state.
        if case let .failure(.newerVersion(version)) = result {
            throw .unsupportedVersion(path: device.path, found: version, supported: Layout.formatVersion)
        }
        return (result, buffer.u64(0) == Layout.superblockMagic ? (buffer.u64(16), buffer.u64(40)) : nil)
    }

    /// Reads the superblock slots and finds the image's format. A format-1
    /// image has one copy of each slot (blocks 0 and 1); a format-2 image
    /// has two (0 and 10, 1 and 11), and a slot is the newest intact copy.
    /// Blocks 10 and 11 are read as superblocks only when blocks 0 and 1
    /// hold no format-1 superblock (in a format-1 image they are data).
    private static func readSlots(_ device: any BlockDevice)
        throws(StoreError) -> (format: ImageFormat, slots: [SlotRead], damaged: [RedundantRead], notes: [String]) {
        let buffer = BlockBuffer()
        var reads: [UInt64: (result: Result<Superblock, Superblock.SlotProblem>, hint: (sequence: UInt64, nextSnapshotID: UInt64)?)] = [:]
        var claimsVersion1 = false
        for block in Layout.superblockSlots {
            reads[block] = try readSuperblock(device, block: block, into: buffer)
            if buffer.u64(0) == Layout.superblockMagic && buffer.u32(8) == 1 { claimsVersion1 = true }
        }
        var format = ImageFormat.v1
        if let version = Layout.superblockSlots.compactMap({ try? reads[$0]!.result.get().version }).max() {
            format = ImageFormat(version: version)
        } else if !claimsVersion1 {
            // Both first copies unusable: a format-2 image still has the second
            // ones. (Not when a damaged block 0 or 1 still says version 1.)
            for block in ImageFormat.v2.slotBlocks.map({ $0[1] }) {
                let read = try readSuperblock(device, block: block, into: buffer)
                reads[block] = read
                if (try? read.result.get())?.version == 2 { format = .v2 }
            }
        }
        var slots: [SlotRead] = []
        var damaged: [RedundantRead] = []
        var notes: [String] = []
        for (slot, blocks) in format.slotBlocks.enumerated() {
            var copies: [(block: UInt64, result: Result<Superblock, Superblock.SlotProblem>, hint: (sequence: UInt64, nextSnapshotID: UInt64)?)] = []
            for block in blocks {
                var read: (result: Result<Superblock, Superblock.SlotProblem>, hint: (sequence: UInt64, nextSnapshotID: UInt64)?)
                if let known = reads[block] { read = known } else { read = try readSuperblock(device, block: block, into: buffer) }
                if case let .success(found) = read.result, found.version != format.version {
                    read.result = .failure(.inconsistent("a format-\(found.version) superblock in a format-\(format.version) image"))
                }
                copies.append((block, read.result, read.hint))
            }
            let intact = copies.compactMap { copy in (try? copy.result.get()).map { (block: copy.block, superblock: $0) } }
            if let best = intact.max(by: { $0.superblock.sequence < $1.superblock.sequence }) {
                for copy in copies where copy.block != best.block {
                    switch copy.result {
                    case let .success(other) where other.sequence != best.superblock.sequence:
                        notes.append("superblock \(slot): the copy at block \(copy.block) holds commit \(other.sequence), the one at block \(best.block) the newer commit \(best.superblock.sequence) (an interrupted write); the next commit to this slot rewrites both")
                    case .success:
                        break
                    case let .failure(problem):
                        damaged.append(RedundantRead(block: copy.block, servedBy: best.block, what: "superblock \(slot)", snapshot: nil, reason: describe(problem)))
                    }
                }
                slots.append(SlotRead(slot: UInt64(slot), result: .success(best.superblock),
                                      hint: (best.superblock.sequence, best.superblock.nextSnapshotID)))
            } else {
                // The most telling problem: a damaged block says more than an empty one.
                var problem = Superblock.SlotProblem.wrongMagic
                for copy in copies {
                    if case let .failure(found) = copy.result, found != .missing, problem == .wrongMagic { problem = found }
                }
                slots.append(SlotRead(slot: UInt64(slot), result: .failure(problem), hint: copies.lazy.compactMap(\.hint).first))
            }
        }
        return (format, slots, damaged, notes)
    }

    /// Opens an existing image at its newest intact committed state.
    ///
    /// A damaged superblock, space map or newest snapshot makes the store fall
    /// back to the newest intact older state; `openReport` says what it did.
    /// A format-2 metadata block whose first copy is damaged is read from
    /// its second (`redundantReads` lists them).
    public static func open(_ device: any BlockDevice, readOnly: Bool = false,
                            verification: OpenVerification = .metadata) throws(StoreError) -> Store {
        let path = device.path
        guard device.size >= 2 * UInt64(Layout.blockSize) else {
            throw .notAnImage(path: path, reason: "it is \(device.size) bytes, smaller than the two superblocks")
        }
        let (format, slots, damagedCopies, copyNotes) = try readSlots(device)
        var valid = slots.compactMap { try? $0.result.get() }.sorted { $0.sequence > $1.sequence }
        // Snapshot ids are never reused, even after falling back to an older commit.
        let highestNextID = valid.map(\.nextSnapshotID).max() ?? 1
        if valid.isEmpty {
            let problems = slots.map { entry -> Superblock.SlotProblem in
                if case let .failure(problem) = entry.result { return problem }
                return .wrongMagic
            }
            if problems.allSatisfy({ $0 == .wrongMagic }) {
                throw .notAnImage(path: path, reason: "no Phantom superblock (magic \"PHNTMIMG\") at block 0 or 1")
            }
            let detail = zip(slots, problems).map { "superblock \($0.0.slot): \(describe($0.1))" }.joined(separator: "; ")
            throw .corrupt(path: path, detail: "no valid superblock (\(detail))")
        }
        var report = OpenReport()
        report.notes += copyNotes
        var lostNextID: UInt64? = nil
        for read in slots {
            // A new image has written only slot 1; an empty slot 0 is normal then.
            guard case let .failure(problem) = read.result, !(problem == .wrongMagic && valid[0].sequence <= 1) else { continue }
            // The damaged slot held commit S-1 or S+1 (S: the valid one). Its
            // sequence field, if still there, tells which; it is a hint only.
            let slot = read.slot
            let hint = read.hint
            let newest = valid[0]
            if let hint, hint.sequence == newest.sequence &- 1, hint.nextSnapshotID <= newest.nextSnapshotID {
                report.notes.append("superblock \(slot) is unusable (\(describe(problem))); it held the older commit \(hint.sequence), so nothing is lost")
                continue
            }
            let hinted = hint?.sequence
            // It may have held the newest commit, which may have added a
            // snapshot (one at most): that id is never given out again.
            let lost = newest.nextSnapshotID
            lostNextID = lost + 1
            let lostSequence = newest.sequence + 1
            let booted = newest.snapshots.last.map { "snapshot \($0.id)" } ?? "no snapshot"
            report.lostCommit = LostCommit(slot: slot, sequence: lostSequence, snapshotID: lost, certain: hinted == lostSequence)
            report.notes.append("superblock \(slot) is unusable (\(describe(problem))); \(hinted == lostSequence ? "it held" : "it may have held") the newest commit \(lostSequence) (with snapshot \(lost), if that commit took one), which is lost; the image opens at commit \(newest.sequence) (\(booted)), and snapshot id \(lost) is not used again")
            report.fellBack = true
        }

        // The newest valid superblock whose commit is complete. The space map
        // is not read here: it is loaded at the first commit (or `usage`,
        // `verify`), so that opening costs the same for any amount of data.
        var chosen: Superblock? = nil
        var probe: Store? = nil
        var truncation: String? = nil
        while !valid.isEmpty {
            let candidate = valid.removeFirst()
            let store = Store(device: device, readOnly: readOnly, superblock: candidate)
            let available = device.size >> Layout.blockShift
            guard candidate.deviceBlocks >= format.reservedBlocks else { continue }
            if candidate.deviceBlocks > available {
                // Cut short: fine if the missing tail held no block of this
                // state (the next commit grows the file back); else say what
                // is missing and how to get at the rest.
                let missing = store.liveBlocks(of: candidate, from: available)
                if !missing.isEmpty {
                    let needed = candidate.deviceBlocks << Layout.blockShift
                    let shown = missing.prefix(8).map(String.init).joined(separator: ", ") + (missing.count > 8 ? ", ..." : "")
                    truncation = "\(path) is \(device.size) bytes but commit \(candidate.sequence) covers \(needed) bytes, and the missing tail held \(missing.count) live block(s) (\(shown)): the file was cut short. Restore it from a copy, or run `truncate -s \(needed) \(path)` to open what is left (the snapshots that used the missing blocks are then reported damaged)"
                    report.notes.append("commit \(candidate.sequence) needs blocks beyond the end of the device (truncated); using the previous commit")
                    report.fellBack = true
                    continue
                }
                report.notes.append("\(path) is \(device.size) bytes, shorter than the \(candidate.deviceBlocks << Layout.blockShift) bytes commit \(candidate.sequence) covers; the missing tail held only free blocks, and the next commit grows the file back")
            }
            if candidate.flags & Superblock.singleFlush != 0 {
                // Blocks and superblock were flushed together: check that
                // every block of the commit made it (in format 2 one intact
                // copy of each metadata block is enough: the state is whole).
                let added = candidate.flags & Superblock.addedSnapshot != 0 ? candidate.snapshots.last : nil
                do throws(StoreError) {
                    if let added {
                        try store.check(snapshot: added, depth: .newestSnapshot)
                        if !added.freedHead.isHole { _ = try store.readFreedList(added.freedHead, snapshot: added.id) }
                    }
                    try store.checkSpaceMapIncrement(of: candidate)
                } catch {
                    let why = "commit \(candidate.sequence) is incomplete (a crash during the commit) or damaged: \(error)"
                    if let added { report.discardedSnapshots.append((added.id, why)) }
                    report.notes.append(why + "; using the previous commit")
                    report.fellBack = true
                    continue
                }
            }
            chosen = candidate
            probe = store
            break
        }
        guard let current = chosen, let store = probe else {
            throw .corrupt(path: path, detail: truncation ?? "no superblock describes a complete commit that fits the device")
        }
        store.superblock.nextSnapshotID = max(store.superblock.nextSnapshotID, highestNextID, lostNextID ?? 0)
        store.olderSuperblock = valid.first
        // A damaged superblock copy loses nothing: it is a read its twin served.
        store.superblockCopyDamage = damagedCopies
        for copy in damagedCopies { store.noteRedundantRead(copy) }
        report.commitSequence = current.sequence

        // The newest snapshot must be intact; fall back snapshot by snapshot.
        var discarded = false
        while let newest = store.superblock.snapshots.last {
            do throws(StoreError) {
                try store.check(snapshot: newest, depth: verification)
                break
            } catch {
                report.discardedSnapshots.append((newest.id, error.description))
                report.fellBack = true
                store.superblock.snapshots.removeLast()
                discarded = true
            }
        }
        if discarded {
            if store.superblock.snapshots.isEmpty {
                report.notes.append("no intact snapshot is left; the image opens empty")
            }
            store.ensureSpaceMap()
            try store.rebuildSpaceMap()
        }
        if format.hasCopies { store.loadBootLog(into: &report) }
        store.openReport = report
        store.isFallenBack = report.fellBack
        return store
    }

    // MARK: - Reading

    /// Reads page `page` as of snapshot `snapshot` (default: the newest).
    /// A page never written reads as zeros.
    public func read(page: UInt64, snapshot: UInt64? = nil, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        precondition(buffer.count >= Layout.blockSize, "a page buffer must hold 4096 bytes")
        guard page < superblock.pageCount else { throw .pageOutOfRange(page: page, pageCount: superblock.pageCount) }
        let record = try self.record(for: snapshot)
        guard let record else {
            memset(buffer.baseAddress!, 0, Layout.blockSize)
            return
        }
        let entry = try lookup(root: record.root, levels: superblock.dataLevels, index: page, snapshot: record.id)
        if entry.isHole {
            memset(buffer.baseAddress!, 0, Layout.blockSize)
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

    fileprivate func lookup(root: TreeEntry, levels: Int, index: UInt64, snapshot: UInt64?) throws(StoreError) -> TreeEntry {
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
    private struct Transaction {
        var setInMap: [UInt64] = []
        var clearedInMap: [UInt64] = []
        var allocated: [UInt64] = []
        var freed: [UInt64] = []
        var dirtyMapPages = Set<UInt64>()
    }

    /// Grows the device by 1/8 (at least 1 MiB), and to at least `minimum`
    /// blocks. A device that cannot grow that far (a raw disk) is used up
    /// to its end; throws when not one block could be added.
    private func grow(toAtLeast minimum: UInt64) throws(StoreError) {
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
    private func take(_ block: UInt64, _ txn: inout Transaction) {
        busy.set(block)
        onDisk.set(block)
        blocksInUse += 1
        txn.allocated.append(block)
        txn.setInMap.append(block)
        txn.dirtyMapPages.insert(block / Layout.blocksPerBitmapPage)
        nodeCache.removeValue(forKey: block)
    }

    /// The lowest free block (first fit).
    private func allocate(_ txn: inout Transaction) throws(StoreError) -> UInt64 {
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
    private func allocateCopy(awayFrom first: UInt64, _ txn: inout Transaction) throws(StoreError) -> UInt64 {
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
    private func allocateMetadata(_ txn: inout Transaction) throws(StoreError) -> (block: UInt64, copy: UInt64) {
        let block = try allocate(&txn)
        return (block, format.hasCopies ? try allocateCopy(awayFrom: block, &txn) : 0)
    }

    /// Frees a block that no snapshot of the new state references; it stays
    /// busy until the next commit is durable.
    private func free(_ block: UInt64, _ txn: inout Transaction) {
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
                    for block in replaced { free(block, &txn) }
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
    private func writeRuns(_ blocks: [(block: UInt64, bytes: UnsafeRawPointer)]) throws(StoreError) {
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
    private func writeOverlappingChecksums(_ writes: [PageWrite], blocks: [UInt64]) throws(StoreError) -> [UInt32] {
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

    private func undo(_ txn: Transaction, tag: UInt64) {
        for block in txn.clearedInMap.reversed() { onDisk.set(block); blocksInUse += 1 }
        for block in txn.setInMap.reversed() { onDisk.clear(block); blocksInUse -= 1 }
        // The failed commit may have reached the disk in part, even its
        // superblock: keep its blocks away from the next commit.
        quarantine.append((tag: tag, blocks: txn.allocated))
    }

    private func releaseQuarantine(upTo tag: UInt64) {
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
    private func buildFreedList(_ blocks: [UInt64], birth: UInt32, _ txn: inout Transaction)
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
    private func release(_ record: inout SnapshotRecord, _ txn: inout Transaction) throws(StoreError) {
        guard !record.freedHead.isHole else { return }
        do throws(StoreError) {
            let list = try readFreedList(record.freedHead, snapshot: record.id)
            for (start, length) in list.extents {
                guard start >= format.reservedBlocks, start + length <= onDisk.count else { continue }
                for block in start..<(start + length) { free(block, &txn) }
            }
            for block in list.listBlocks { free(block, &txn) }
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
    private func buildSpaceMap(_ txn: inout Transaction, birth: UInt32)
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
                if !old.isHole { for block in old.blocks { free(block, &txn) } }
                pageBlocks[page] = try allocateMetadata(&txn)
            }
            for block in tree.takeReplaced() { free(block, &txn) }
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
    private func loadSpaceMap(_ state: Superblock) throws(StoreError) -> Bitmap {
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
    fileprivate func liveBlocks(of state: Superblock, from limit: UInt64) -> [UInt64] {
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

    // MARK: - Checking

    /// Checks a snapshot at open: its root, or (for `.newestSnapshot`) every
    /// node and page it wrote itself.
    fileprivate func check(snapshot record: SnapshotRecord, depth: OpenVerification) throws(StoreError) {
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
    fileprivate func checkSpaceMapIncrement(of state: Superblock) throws(StoreError) {
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

/// Wall-clock time in ns since the Unix epoch.
func nowNanos() -> Int64 { HostClock.wallNanos() }

/// Fills a buffer from the host's entropy source.
func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) {
    var generator = SystemRandomNumberGenerator()
    for index in 0..<buffer.count { buffer[index] = UInt8.random(in: 0...255, using: &generator) }
}

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
