// The persistent address space: the store's pages mapped into this process,
// with a write barrier and snapshots whose pause does not grow with the heap.
//
// Page p of the space lives at `base + p * 4096` and is page p of the store.
// Addresses inside the space are 64-bit offsets from `base` (0 is null), so
// an image opens at any base address.
//
// Every page has a 32-bit state, `epoch << 2 | phase`:
// ```
// phase 0  clean: saved by the snapshot of `epoch` (or never written)
// phase 1  dirty: written during `epoch`
// phase 2  locked: being copied for the snapshot of `epoch`
// ```
// The mutator's barrier (`willWrite`) is one load and compare when the page
// is already dirty in the current epoch. A snapshot starts at a safepoint by
// ending the epoch (`beginSnapshot`, O(1)): every page dirty in the ended
// epoch now belongs to that snapshot. A background writer copies those pages
// and commits them to the store; if the mutator writes such a page first,
// the barrier copies it aside before the write (copy-on-write in software).
// Either way the snapshot holds every page as it was at the safepoint.

import CPhantomSupport
import PhantomHost
import PhantomStore

/// A persistent, snapshotted address space of pages.
///
/// The mutator (one thread) reads and writes through `base`, calling
/// `willWrite` before every store. Snapshots are written by `writeSnapshot`,
/// which may run on another thread while the mutator goes on.
public final class PersistentSpace: @unchecked Sendable {
    /// Start of the mapping.
    public let base: UnsafeMutableRawPointer
    /// Pages the mapping can hold.
    public let capacityPages: Int
    /// The store the snapshots go to.
    public let store: Store

    @usableFromInline let states: UnsafeMutablePointer<UInt32>
    /// The current epoch (mutator side).
    public private(set) var epoch: UInt32 = 1
    /// `epoch << 2 | 1`: the state of a page already dirty in this epoch.
    @usableFromInline private(set) var dirtyState: UInt32 = 1 << 2 | 1
    /// Highest page touched + 1: the writer scans `0..<usedPages`.
    private let usedPagesCell: UnsafeMutablePointer<UInt32>
    /// The epoch whose snapshot is being written, or 0 (set by the mutator,
    /// cleared by the writer: atomic).
    private let pendingEpochCell: UnsafeMutablePointer<UInt32>
    private let sideLock = Lock()
    private var sideCopies: [(page: UInt64, bytes: UnsafeMutableRawPointer)] = []
    /// Buffers for the copies of pages (PageBufferPool.swift).
    let copies = PageBufferPool()

    /// Maps a space of `capacity` bytes over `store` and loads every page
    /// of the store's newest snapshot into it, except the pages in
    /// `skipping`, which stay zero (`phantom image salvage` puts what it
    /// can read of damaged pages there itself).
    public init(store: Store, capacity: UInt64, skipping: Set<UInt64> = []) throws(MemoryError) {
        let pages = Int(min(capacity, store.pageCount << 12) >> 12)
        guard pages >= 2 else { throw .invalidArgument("the space needs at least 2 pages, not \(pages)") }
        let bytes = pages << 12
        guard let mapping = VirtualMemory.reserve(bytes) else {
            throw .outOfAddressSpace(requested: UInt64(bytes))
        }
        base = mapping
        capacityPages = pages
        self.store = store
        // Page states, zero (clean) until touched: fresh anonymous memory
        // costs nothing for the pages never used.
        guard let stateMemory = VirtualMemory.reserve(Self.stateBytes(pages)) else {
            VirtualMemory.release(mapping, bytes: bytes)
            throw .outOfAddressSpace(requested: UInt64(Self.stateBytes(pages)))
        }
        states = stateMemory.bindMemory(to: UInt32.self, capacity: pages)
        usedPagesCell = .allocate(capacity: 1)
        usedPagesCell.initialize(to: 1)
        pendingEpochCell = .allocate(capacity: 1)
        pendingEpochCell.initialize(to: 0)
        // Bring the image in at disk speed: one walk of the tree for the
        // pages' blocks and checksums, then large reads in device order,
        // every page checked (see `Store.readPages`).
        var locations: PageLocations
        do { locations = try store.pageLocations() } catch { throw .store(error) }
        if !skipping.isEmpty {
            locations = PageLocations(snapshot: locations.snapshot, pages: locations.pages.filter { !skipping.contains($0.page) })
        }
        if let beyond = locations.pages.first(where: { $0.page >= UInt64(pages) }) {
            throw .imageTooLarge(page: beyond.page, capacityPages: UInt64(pages))
        }
        do { try store.readPages(locations, into: base) } catch { throw .store(error) }
        let used = UInt32(locations.pages.last.map { $0.page + 1 } ?? 1)
        usedPagesCell.pointee = used
    }

    deinit {
        VirtualMemory.release(base, bytes: capacityPages << 12)
        VirtualMemory.release(UnsafeMutableRawPointer(states), bytes: Self.stateBytes(capacityPages))
        usedPagesCell.deallocate()
        pendingEpochCell.deallocate()
    }

    private static func stateBytes(_ pages: Int) -> Int { (pages * 4 + 4095) & ~4095 }

    /// Pages in use (the highest written page + 1).
    public var usedPages: Int { Int(phantom_atomic_load_u32(usedPagesCell)) }

    // MARK: - The barrier

    /// Must be called before every store into page `page`.
    @inlinable @inline(__always)
    public func willWrite(page: Int) {
        // Relaxed: the writer thread never stores the current epoch's dirty
        // state, so a stale value only sends us to the slow path, which
        // synchronizes properly.
        let state = phantom_atomic_load_relaxed_u32(states + page)
        if state == dirtyState { return }
        slowWillWrite(page: page, state: state)
    }

    /// True if page `page` may take stores without `willWrite` now (it is
    /// dirty in the current epoch). A pure check, for callers that keep the
    /// slow path out of line.
    @inlinable @inline(__always)
    public func isWritable(page: Int) -> Bool {
        phantom_atomic_load_relaxed_u32(states + page) == dirtyState
    }

    /// Must be called before a store of `length` bytes at `offset`.
    @inlinable @inline(__always)
    public func willWrite(offset: UInt64, length: Int) {
        var page = Int(offset >> 12)
        let last = Int((offset + UInt64(max(length, 1)) - 1) >> 12)
        while page <= last {
            willWrite(page: page)
            page += 1
        }
    }

    @usableFromInline @inline(never)
    func slowWillWrite(page: Int, state initial: UInt32) {
        precondition(page < capacityPages, "write outside the persistent space")
        var state = initial
        while true {
            let phase = state & 3
            let owner = state >> 2
            if phase == 1 && owner < epoch {
                // Dirty in an ended epoch: it belongs to the snapshot being
                // written. Copy it aside before the mutator changes it.
                if phantom_atomic_cas_u32(states + page, state, owner << 2 | 2) {
                    let copy = copies.take()
                    copy.copyMemory(from: base + page << 12, byteCount: 4096)
                    sideLock.withLock { sideCopies.append((UInt64(page), copy)) }
                    phantom_atomic_store_u32(states + page, epoch << 2 | 1)
                    break
                }
            } else if phase == 2 {
                // The writer is copying it right now (a few hundred ns).
                HostThread.yield()
            } else if phantom_atomic_cas_u32(states + page, state, epoch << 2 | 1) {
                break
            }
            state = phantom_atomic_load_u32(states + page)
        }
        if UInt32(page) >= phantom_atomic_load_u32(usedPagesCell) {
            phantom_atomic_store_u32(usedPagesCell, UInt32(page) + 1)
        }
    }

    // MARK: - Giving pages back

    /// Makes the whole pages `first ..< first + count` read as zero, for
    /// memory the heap has freed. In a small range, a page that reads as
    /// zero already is left alone (a clean one stays clean: nothing to write); any other goes
    /// through the barrier and is zeroed, and the next snapshot records it
    /// as a hole (the store keeps no block for a page of zeros). Returns the
    /// pages cleared.
    @discardableResult
    public func clearPages(_ first: Int, count: Int) -> Int {
        precondition(first >= 0 && count >= 0 && first + count <= capacityPages, "pages outside the persistent space")
        if count >= Self.discardPages {
            // Large: no page is read (reading one that went back to the host
            // would fault it in); every page goes through the barrier.
            for page in first..<(first + count) { willWrite(page: page) }
            discard(base + first << 12, bytes: count << 12)
            return count
        }
        var cleared = 0
        var runStart = -1
        func flush(_ end: Int) {
            guard runStart >= 0 else { return }
            discard(base + runStart << 12, bytes: (end - runStart) << 12)
            runStart = -1
        }
        for page in first..<(first + count) {
            if Self.isZero(base + page << 12) {
                flush(page)
                continue
            }
            willWrite(page: page)
            if runStart < 0 { runStart = page }
            cleared += 1
        }
        flush(first + count)
        return cleared
    }

    /// Zero-fills whole pages. A run of at least `discardPages` goes back
    /// to the host (Linux: `madvise(MADV_DONTNEED)` on the private anonymous
    /// mapping: it reads as zero and costs no memory until touched), so that
    /// freeing or reusing a large object costs page-table work, not a clear
    /// of every byte, and the clearing happens as the pages are touched
    /// again (as for fresh memory). Smaller runs are cleared in place: they
    /// are reused soon, and a fault per page (on transparent huge pages a
    /// 2 MiB clear) would cost more than the memset (`phantom bench
    /// safepoint` on the starve program spent half its time there when
    /// every run was handed back).
    private func discard(_ start: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= Self.discardPages << 12 && VirtualMemory.discard(start, bytes: bytes) { return }
        start.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
    }

    /// Runs of at least this many pages are handed back to the host.
    static let discardPages = 512

    /// True if the page at `page` holds only zeros (a page that does not
    /// usually differs in its first word).
    @inline(__always)
    static func isZero(_ page: UnsafeMutableRawPointer) -> Bool {
        let words = page.assumingMemoryBound(to: UInt64.self)
        var index = 0
        while index < 512 {
            if words[index] | words[index + 1] | words[index + 2] | words[index + 3]
                | words[index + 4] | words[index + 5] | words[index + 6] | words[index + 7] != 0 { return false }
            index += 8
        }
        return true
    }

    // MARK: - Snapshots

    /// True while a snapshot is being written.
    public var isWritingSnapshot: Bool { phantom_atomic_load_u32(pendingEpochCell) != 0 }

    /// Ends the current epoch at a safepoint: the snapshot will hold every
    /// page as it is now. O(1). Returns nil if the previous snapshot is still
    /// being written. Mutator thread only.
    public func beginSnapshot() -> SnapshotTicket? {
        guard phantom_atomic_load_u32(pendingEpochCell) == 0 else { return nil }
        let ended = epoch
        phantom_atomic_store_u32(pendingEpochCell, ended)
        epoch += 1
        dirtyState = epoch << 2 | 1
        return SnapshotTicket(epoch: ended)
    }

    /// Writes the snapshot that `beginSnapshot` started and commits it to the
    /// store; may run on another thread while the mutator goes on.
    @discardableResult
    public func writeSnapshot(_ ticket: SnapshotTicket) throws(MemoryError) -> SnapshotInfo {
        let owner = ticket.epoch
        var pages: [(page: UInt64, bytes: UnsafeMutableRawPointer)] = []
        defer {
            copies.give(pages.map(\.bytes))
            finish()
        }
        let used = usedPages
        for page in 0..<used {
            while true {
                let state = phantom_atomic_load_u32(states + page)
                if state == owner << 2 | 1 {
                    guard phantom_atomic_cas_u32(states + page, state, owner << 2 | 2) else { continue }
                    let copy = copies.take()
                    copy.copyMemory(from: base + page << 12, byteCount: 4096)
                    phantom_atomic_store_u32(states + page, owner << 2)
                    pages.append((UInt64(page), copy))
                } else if state == owner << 2 | 2 {
                    HostThread.yield()  // the mutator is copying it aside
                    continue
                }
                break
            }
        }
        // Pages the mutator copied aside before it wrote them.
        sideLock.withLock {
            pages.append(contentsOf: sideCopies)
            sideCopies.removeAll()
        }
        let writes = pages.map { PageWrite(page: $0.page, bytes: UnsafeRawBufferPointer(start: $0.bytes, count: 4096)) }
        do {
            return try store.commit(writes)
        } catch {
            // The pages stay owed to the next snapshot: mark them dirty again.
            for copy in pages { markDirtyAgain(page: Int(copy.page), next: owner + 1) }
            throw .store(error)
        }
    }

    /// A failed snapshot's pages must go into the next one.
    /// The epoch after the failed one is still the mutator's current epoch
    /// (no snapshot can begin meanwhile), so this makes the page dirty now.
    private func markDirtyAgain(page: Int, next: UInt32) {
        while true {
            let state = phantom_atomic_load_u32(states + page)
            if state == next << 2 | 1 { return }  // dirty again already
            if phantom_atomic_cas_u32(states + page, state, next << 2 | 1) { return }
        }
    }

    /// Lets the mutator begin the next snapshot.
    private func finish() {
        phantom_atomic_store_u32(pendingEpochCell, 0)
    }

    /// Takes a snapshot synchronously (begin + write). Mutator thread only.
    @discardableResult
    public func takeSnapshot() throws(MemoryError) -> SnapshotInfo {
        guard let ticket = beginSnapshot() else { throw .snapshotInProgress }
        return try writeSnapshot(ticket)
    }
}

/// A snapshot started at a safepoint and not yet written.
public struct SnapshotTicket: Sendable {
    /// The epoch it captures.
    public let epoch: UInt32
}
