// Reading many pages at disk speed: the loader of a restart.
//
// `pageLocations` walks a snapshot's tree once and returns, for every
// mapped page, the device block that holds it and the CRC32C that its parent
// entry records. `readPages` sorts those by block, reads runs of adjacent
// blocks with one device read each (up to `maxReadBytes`), straight into the
// destination when the pages of a run are also adjacent there, and checks
// every page against its checksum; two threads share the runs. A page that
// fails its checksum is an error, as for `read(page:)`.

import Dispatch
import PhantomHost

import Synchronization
#if canImport(Glibc)
import Glibc  // madvise, until PhantomHost has the virtual-memory adapter
#endif

/// Where one page of a snapshot lives: its device block and the checksum
/// recorded for that block in the tree entry that points to it.
public struct PageLocation: Equatable, Sendable {
    /// The page number in the persistent space.
    public var page: UInt64
    /// The device block holding the page's 4096 bytes.
    public var block: UInt64
    /// CRC32C of the block, from the parent entry.
    public var checksum: UInt32

    public init(page: UInt64, block: UInt64, checksum: UInt32) {
        self.page = page
        self.block = block
        self.checksum = checksum
    }
}

/// Every mapped page of one snapshot, from one walk of its tree.
public struct PageLocations: Sendable {
    /// The snapshot they belong to (nil: the image has no snapshot; no pages).
    public let snapshot: UInt64?
    /// Ascending by page number.
    public let pages: [PageLocation]

    public init(snapshot: UInt64?, pages: [PageLocation]) {
        self.snapshot = snapshot
        self.pages = pages
    }
}

/// What a bulk read did.
public struct BulkReadStats: Equatable, Sendable {
    /// Pages read and checked.
    public var pages = 0
    /// Device reads issued.
    public var reads = 0
    /// Pages that went through the bounce buffer (adjacent on the device,
    /// scattered in memory) and were copied.
    public var pagesCopied = 0

    public init() {}
}

extension Store {
    /// Default size of one device read of `readPages`.
    public static let defaultBulkReadBytes = 4 << 20
    /// Below this many pages one thread does all the work.
    static let parallelVerifyThreshold = 512

    /// Reads every page of `locations` (from `pageLocations`) to
    /// `base + page * 4096` and checks each against its checksum.
    ///
    /// The memory at `base` must hold the highest page of `locations`; pages
    /// not named are not touched. Device reads are large and in device order
    /// (runs of adjacent blocks, up to `maxReadBytes` each). With `parallel`
    /// the calling thread and one more share the runs: one reads while the
    /// other prefaults and checks. On a thrown error (a checksum mismatch, a
    /// block outside the device, a device error) some pages may have been
    /// written; the error is that of the first run, in device order, that
    /// failed.
    @discardableResult
    public func readPages(_ locations: PageLocations, into base: UnsafeMutableRawPointer,
                          maxReadBytes: Int = Store.defaultBulkReadBytes,
                          parallel: Bool = true) throws(StoreError) -> BulkReadStats {
        try bulkRead(locations.pages, snapshot: locations.snapshot, into: base,
                     maxBlocks: max(1, maxReadBytes >> Layout.blockShift), parallel: parallel)
    }

    /// Reads and checks pages without keeping them (open's check of a
    /// snapshot's increment): large reads into a bounce buffer.
    func verifyPages(_ pages: [PageLocation], snapshot: UInt64?) throws(StoreError) {
        try bulkRead(pages, snapshot: snapshot, into: nil,
                     maxBlocks: Self.defaultBulkReadBytes >> Layout.blockShift, parallel: true)
    }

    /// The loader. `destination` nil: read into bounce buffers and check only.
    ///
    /// The runs of adjacent blocks are shared out to `workers` threads (the
    /// caller and one more): each takes the next run, prefaults its
    /// destination (Linux: one `MADV_POPULATE_WRITE` instead of a page
    /// fault per page, the main cost of loading from the page cache), reads
    /// it (device reads are serialized: a device serves one thread at a
    /// time) and checks its checksums. The error reported is that of the
    /// lowest run that failed.
    @discardableResult
    func bulkRead(_ pages: [PageLocation], snapshot: UInt64?, into destination: UnsafeMutableRawPointer?,
                  maxBlocks: Int, parallel: Bool) throws(StoreError) -> BulkReadStats {
        guard !pages.isEmpty else { return BulkReadStats() }
        let path = device.path
        let deviceBlocks = device.size >> Layout.blockShift
        let pageSize = Layout.blockSize
        let reserved = format.reservedBlocks
        // Device order. A snapshot written in one go is already in it.
        var sorted = pages
        var inOrder = true
        for index in 1..<sorted.count where sorted[index].block < sorted[index - 1].block {
            inOrder = false
            break
        }
        if !inOrder { sorted.sort { $0.block < $1.block } }
        // Runs of adjacent blocks, at most `maxBlocks` long.
        var runs: [Range<Int>] = []
        var index = 0
        while index < sorted.count {
            var end = index + 1
            while end < sorted.count && end - index < maxBlocks && sorted[end].block == sorted[end - 1].block + 1 { end += 1 }
            runs.append(index..<end)
            index = end
        }
        let runBlocks = runs.map(\.count).max() ?? 1
        let workers = parallel && sorted.count >= Self.parallelVerifyThreshold && runs.count > 1 ? 2 : 1

        final class Shared: Sendable {
            struct Progress {
                var next = 0
                var failure: (run: Int, error: StoreError)?
                var stats = BulkReadStats()
            }
            let progress = Mutex(Progress())
            /// Held around each device read (a device is not thread-safe).
            let deviceLock = Mutex(())
            /// The next run to do, or nil when done or after a failure.
            func take(_ count: Int) -> Int? {
                progress.withLock { state in
                    guard state.failure == nil, state.next < count else { return nil }
                    state.next += 1
                    return state.next - 1
                }
            }
            func fail(_ run: Int, _ error: StoreError) {
                progress.withLock { state in
                    if state.failure == nil || run < state.failure!.run { state.failure = (run, error) }
                }
            }
            func add(_ more: BulkReadStats) {
                progress.withLock { state in
                    state.stats.pages += more.pages
                    state.stats.reads += more.reads
                    state.stats.pagesCopied += more.pagesCopied
                }
            }
        }
        let shared = Shared()
        nonisolated(unsafe) let target = destination
        nonisolated(unsafe) let store = self
        let all = sorted
        let allRuns = runs

        /// One worker: takes runs until none is left.
        @Sendable func work() {
            var stats = BulkReadStats()
            var bounce: UnsafeMutableRawPointer?
            defer {
                bounce?.deallocate()
                shared.add(stats)
            }
            func read(_ buffer: UnsafeMutableRawPointer, count: Int, block: UInt64) throws(StoreError) {
                let outcome: Result<Void, BlockDeviceError> = shared.deviceLock.withLock { _ in
                    do throws(BlockDeviceError) {
                        try store.device.read(into: UnsafeMutableRawBufferPointer(start: buffer, count: count * pageSize), at: block << Layout.blockShift)
                        return .success(())
                    } catch {
                        return .failure(error)
                    }
                }
                if case let .failure(error) = outcome { throw StoreError(error) }
                stats.reads += 1
            }
            func bounceBuffer() -> UnsafeMutableRawPointer {
                if let bounce { return bounce }
                let memory = UnsafeMutableRawPointer.allocate(byteCount: runBlocks * pageSize, alignment: pageSize)
                bounce = memory
                return memory
            }
            while let number = shared.take(allRuns.count) {
                let run = allRuns[number]
                let first = all[run.lowerBound]
                let last = all[run.upperBound - 1]
                do throws(StoreError) {
                    guard first.block >= reserved, last.block < deviceBlocks else {
                        let bad = first.block < reserved ? first : all[run].first { $0.block >= deviceBlocks }!
                        throw .corrupt(path: path, detail: "page \(bad.page) points to block \(bad.block), outside the device")
                    }
                    // Where each page of the run is now.
                    let location: (Int) -> UnsafeMutableRawPointer
                    if let target {
                        var pieces = 1
                        for k in run.dropFirst() where all[k].page != all[k - 1].page + 1 { pieces += 1 }
                        if pieces == 1 || run.count / pieces >= 8 {
                            // Straight into place, one read per piece adjacent in memory too.
                            var start = run.lowerBound
                            while start < run.upperBound {
                                var end = start + 1
                                while end < run.upperBound && all[end].page == all[end - 1].page + 1 { end += 1 }
                                let piece = target + Int(all[start].page) * pageSize
                                prefault(piece, count: end - start)
                                try read(piece, count: end - start, block: all[start].block)
                                start = end
                            }
                        } else {
                            // Scattered in memory: one read, then copies.
                            let buffer = bounceBuffer()
                            try read(buffer, count: run.count, block: first.block)
                            for k in run {
                                (target + Int(all[k].page) * pageSize).copyMemory(from: buffer + (k - run.lowerBound) * pageSize, byteCount: pageSize)
                            }
                            stats.pagesCopied += run.count
                        }
                        location = { target + Int(all[$0].page) * pageSize }
                    } else {
                        let buffer = bounceBuffer()
                        try read(buffer, count: run.count, block: first.block)
                        location = { buffer + ($0 - run.lowerBound) * pageSize }
                    }
                    for k in run where crc32c(UnsafeRawBufferPointer(start: location(k), count: pageSize)) != all[k].checksum {
                        throw .checksumMismatch(path: path, block: all[k].block, snapshot: snapshot, what: "page \(all[k].page)")
                    }
                    stats.pages += run.count
                } catch {
                    shared.fail(number, error)
                    return
                }
            }
        }

        if workers == 1 {
            work()
        } else {
            DispatchQueue.concurrentPerform(iterations: workers) { _ in work() }
        }
        let outcome = shared.progress.withLock { $0 }
        if let failure = outcome.failure { throw failure.error }
        return outcome.stats
    }
}

/// Makes `count` pages at `address` present and writable at once (Linux
/// 5.14+), so that reading into them takes no page fault per page. Only
/// worth a system call for more than a few pages; errors are ignored (the
/// read then faults the pages in as usual).
@inline(__always)
private func prefault(_ address: UnsafeMutableRawPointer, count: Int) {
    #if os(Linux)
    guard count >= 16 else { return }
    let populateWrite: Int32 = 23  // MADV_POPULATE_WRITE
    _ = madvise(address, count * Layout.blockSize, populateWrite)
    #endif
}
