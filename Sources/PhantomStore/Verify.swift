// `Store.verify`: read every block the retained state uses, both copies of
// every metadata block, and check every checksum; then check the space map
// against what the snapshots use. Also `damagedPages`, the scan that
// `phantom image salvage` uses.

import PhantomHost

extension Store {
    /// Reads every retained block and checks every checksum (both copies of
    /// each metadata block), and checks the space map against what the
    /// snapshots use. `content` may check each page's bytes and return a problem.
    public func verify(content: ((_ page: UInt64, _ snapshot: UInt64, _ bytes: UnsafeRawBufferPointer) -> String?)? = nil) -> VerifyReport {
        ensureSpaceMap()
        var report = VerifyReport()
        if let spaceMapDamage { report.problems.append(spaceMapDamage) }
        report.damagedCopies += superblockCopyDamage
        var seen = Bitmap(count: spaceMapBlockCount)
        for block in 0..<format.reservedBlocks { seen.set(block) }
        let buffer = BlockBuffer()
        let twin = BlockBuffer()
        func note(_ block: UInt64) { if block < seen.count { seen.set(block) } }

        /// Reads a metadata block into `target`, and its second copy; true
        /// when at least one copy is intact. A damaged copy is a
        /// `damagedCopies` entry; both damaged, a problem.
        func readBoth(_ entry: TreeEntry, into target: BlockBuffer, snapshot: UInt64?, what: String) -> Bool {
            note(entry.block)
            report.blocksChecked += 1
            var firstError: StoreError? = nil
            do throws(StoreError) {
                try readChecked(entry.block, checksum: entry.checksum, into: target, snapshot: snapshot, what: what)
            } catch {
                firstError = error
            }
            guard entry.copy != 0 else {
                if let firstError { report.problems.append(firstError.description) }
                return firstError == nil
            }
            note(entry.copy)
            report.blocksChecked += 1
            do throws(StoreError) {
                try readChecked(entry.copy, checksum: entry.checksum, into: firstError == nil ? twin : target, snapshot: snapshot, what: what)
            } catch {
                if let firstError {
                    report.problems.append("\(firstError.description), and its copy: \(error.description)")
                    return false
                }
                report.damagedCopies.append(RedundantRead(block: entry.copy, servedBy: entry.block, what: what, snapshot: snapshot, reason: error.briefReason))
                return true
            }
            if let firstError {
                report.damagedCopies.append(RedundantRead(block: entry.block, servedBy: entry.copy, what: what, snapshot: snapshot, reason: firstError.briefReason))
            }
            return true
        }

        // Each node and page is read once, however many snapshots share it.
        // What a subtree holds of damage is remembered (whether it is
        // damaged, and which damaged pages lie under it), so that every
        // snapshot sharing a damaged block is named.
        let shape = format.dataTree
        var subtrees: [UInt64: (damaged: Bool, pages: [UInt64])] = [:]
        var damagedPageIndex: [UInt64: Int] = [:]  // data block -> index in report.damagedPages
        func pageDamaged(_ block: UInt64, page: UInt64, snapshot: UInt64, reason: String) {
            if let index = damagedPageIndex[block] {
                report.damagedPages[index].snapshots.append(snapshot)
            } else {
                damagedPageIndex[block] = report.damagedPages.count
                report.damagedPages.append(DamagedPage(page: page, block: block, snapshots: [snapshot], reason: reason))
            }
        }
        func checkSubtree(_ entry: TreeEntry, level: Int, base: UInt64, snapshot: UInt64) -> (damaged: Bool, pages: [UInt64]) {
            if let known = subtrees[entry.block] {
                for block in known.pages { report.damagedPages[damagedPageIndex[block]!].snapshots.append(snapshot) }
                return known
            }
            let node = BlockBuffer()
            guard readBoth(entry, into: node, snapshot: snapshot, what: "tree node (level \(level))") else {
                subtrees[entry.block] = (true, [])
                return (true, [])
            }
            var damaged = false
            var pages: [UInt64] = []
            let wide = shape.wide(level)
            let shift = UInt64(shape.shift(level))
            for slot in 0..<shape.slots(level) {
                let child = node.entry(slot, wide: wide)
                if child.isHole { continue }
                let index = base | (UInt64(slot) << shift)
                if level > 0 {
                    let below = checkSubtree(child, level: level - 1, base: index, snapshot: snapshot)
                    damaged = damaged || below.damaged
                    pages += below.pages
                    continue
                }
                if child.block < seen.count && seen[child.block] {
                    // A page another snapshot shares through a different node.
                    if let known = damagedPageIndex[child.block] {
                        report.damagedPages[known].snapshots.append(snapshot)
                        damaged = true
                        pages.append(child.block)
                    }
                    continue
                }
                note(child.block)
                report.blocksChecked += 1
                do throws(StoreError) {
                    try readChecked(child.block, checksum: child.checksum, into: buffer, snapshot: snapshot, what: "page \(index)")
                    if let problem = content?(index, snapshot, buffer.raw) {
                        report.problems.append("snapshot \(snapshot), page \(index), block \(child.block): \(problem)")
                        pageDamaged(child.block, page: index, snapshot: snapshot, reason: problem)
                        damaged = true
                        pages.append(child.block)
                    }
                } catch {
                    report.problems.append(error.description)
                    pageDamaged(child.block, page: index, snapshot: snapshot, reason: error.briefReason)
                    damaged = true
                    pages.append(child.block)
                }
            }
            subtrees[entry.block] = (damaged, pages)
            return (damaged, pages)
        }
        for record in superblock.snapshots.reversed() {
            if !record.root.isHole,
               checkSubtree(record.root, level: superblock.dataLevels - 1, base: 0, snapshot: record.id).damaged {
                report.damagedSnapshots.insert(record.id)
            }
            // The freed list, both copies of every block.
            var entry = record.freedHead
            var links = 0
            while !entry.isHole {
                guard links < max(Int(record.freedHead.birth), 1) else {
                    report.problems.append("freed list of snapshot \(record.id) is longer than recorded")
                    break
                }
                guard readBoth(entry, into: buffer, snapshot: record.id, what: "freed list") else { break }
                links += 1
                do throws(StoreError) {
                    for (start, length) in try freedExtents(buffer, block: entry.block, snapshot: record.id)
                    where start < format.reservedBlocks || start > spaceMapBlockCount || length > spaceMapBlockCount - start {
                        report.problems.append("freed list of snapshot \(record.id) names blocks \(start)..<\(start &+ length) outside the device")
                    }
                } catch {
                    report.problems.append(error.description)
                    break
                }
                entry = nextFreedEntry(buffer)
            }
        }
        for page in report.damagedPages.indices { report.damagedPages[page].snapshots.sort() }
        report.damagedPages.sort { ($0.page, $0.block) < ($1.page, $1.block) }

        // The space map itself (unless it is to be written whole: then the
        // old one is not part of the state).
        if !rewriteWholeSpaceMap && !superblock.spaceMapRoot.isHole {
            let mapShape = format.mapTree
            func checkMap(_ entry: TreeEntry, level: Int, base: UInt64) {
                let node = BlockBuffer()
                guard readBoth(entry, into: node, snapshot: nil, what: "space map node (level \(level))") else { return }
                for slot in 0..<mapShape.slots(level) {
                    let child = node.entry(slot, wide: mapShape.wide(level))
                    if child.isHole { continue }
                    let index = base | (UInt64(slot) << UInt64(mapShape.shift(level)))
                    if level > 0 {
                        checkMap(child, level: level - 1, base: index)
                    } else {
                        _ = readBoth(child, into: buffer, snapshot: nil, what: "space map page \(index)")
                    }
                }
            }
            checkMap(superblock.spaceMapRoot, level: superblock.spaceMapLevels - 1, base: 0)
        }
        let (problems, leaked) = compareSpaceMap(seen)
        report.problems += problems
        if leaked > 0 && !rewriteWholeSpaceMap {
            report.warnings.append("\(leaked) blocks are marked in use but nothing references them (leaked space)")
        }
        return report
    }

    /// The data pages of a snapshot (default: the newest) whose block cannot
    /// be read or fails its checksum, ascending by page. Every node of the
    /// tree must be readable (from one of its copies); a node that is not
    /// throws, since the pages under it are unknown.
    public func damagedPages(snapshot: UInt64? = nil) throws(StoreError) -> [DamagedPage] {
        let locations = try pageLocations(snapshot: snapshot)
        guard let id = locations.snapshot else { return [] }
        var damaged: [DamagedPage] = []
        let buffer = BlockBuffer()
        for location in locations.pages {
            do throws(StoreError) {
                try readChecked(location.block, checksum: location.checksum, into: buffer, snapshot: id, what: "page \(location.page)")
            } catch {
                damaged.append(DamagedPage(page: location.page, block: location.block, snapshots: [id], reason: error.briefReason))
            }
        }
        return damaged
    }
}

extension Store {
    /// The bytes of data block `block`, whatever its checksum says: what is
    /// left of a damaged page, for reports (`phantom image salvage` names the
    /// objects that lay on it). Never use them as the page.
    public func readUnchecked(block: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) {
        precondition(buffer.count >= Layout.blockSize, "a page buffer must hold 4096 bytes")
        guard block >= format.reservedBlocks, block < device.size >> Layout.blockShift else {
            throw .corrupt(path: device.path, detail: "block \(block) is outside the device")
        }
        let target = UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: Layout.blockSize)
        do throws(BlockDeviceError) { try device.read(into: target, at: block << Layout.blockShift) } catch { throw StoreError(error) }
    }
}

/// A metadata block that failed its check while its second copy was intact
/// (format 2): nothing is lost, one copy is.
public struct RedundantRead: Sendable, Equatable, CustomStringConvertible {
    /// The damaged copy.
    public let block: UInt64
    /// The intact copy, which served the read.
    public let servedBy: UInt64
    /// What the block is ("tree node (level 1)", "space map page 0", "freed list", "superblock 1").
    public let what: String
    /// The snapshot it was read for, if any.
    public let snapshot: UInt64?
    /// Why the copy is unusable ("checksum mismatch", ...).
    public let reason: String

    public var description: String {
        let owner = snapshot.map { " of snapshot \($0)" } ?? ""
        return "block \(block) (\(what)\(owner)) is damaged (\(reason)); its copy at block \(servedBy) is intact and served"
    }
}

/// A data page whose block is unreadable or fails its checksum.
public struct DamagedPage: Sendable, Equatable, Codable {
    /// The page number in the persistent space.
    public let page: UInt64
    /// The device block that holds it.
    public let block: UInt64
    /// The retained snapshots that hold this block as the page, ascending.
    public var snapshots: [UInt64]
    /// What is wrong with it.
    public let reason: String
}

extension StoreError {
    /// A few words on what went wrong with one block (for lists).
    var briefReason: String {
        switch self {
        case .checksumMismatch: return "checksum mismatch"
        case let .corrupt(_, detail): return detail
        case let .device(error): return error.description
        default: return description
        }
    }
}
