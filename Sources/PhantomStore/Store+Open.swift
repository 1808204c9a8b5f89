// Creating a store on a device and opening one: reading both superblock
// slots (and their copies), choosing the newest intact state, falling back
// when the newest is damaged or incomplete (Store.swift has the layout).

import PhantomHost

extension Store {
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
    struct SlotRead {
        let slot: UInt64
        let result: Result<Superblock, Superblock.SlotProblem>
        /// Sequence and next snapshot id of a damaged slot (untrusted, for reports).
        let hint: (sequence: UInt64, nextSnapshotID: UInt64)?
    }

    /// Reads and decodes the superblock at `block`; refuses a newer format.
    /// `hint` is what a block with the magic says, valid or not.
    static func readSuperblock(_ device: any BlockDevice, block: UInt64, into buffer: BlockBuffer)
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
    static func readSlots(_ device: any BlockDevice)
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
}
