// Page-sized buffers for the copies a snapshot takes (the writer's copies
// and the mutator's copies aside), reused from one snapshot to the next.
//
// Allocating and freeing a fresh buffer per page cost a page fault and a
// zeroed page for every copy, and the mutator paid it in the barrier's
// slow path whenever it wrote a page before the writer had copied it
// (docs/benchmarks.md, snapshot slowdown). Buffers come from 1 MiB chunks,
// faulted in at once, and go back to the pool after the commit; the pool
// keeps what the largest snapshot so far needed.

import PhantomHost

final class PageBufferPool: @unchecked Sendable {
    static let chunkPages = 256
    private var free: [UnsafeMutableRawPointer] = []
    private var chunks: [UnsafeMutableRawPointer] = []
    private let lock = Lock()

    init() {}

    deinit {
        for chunk in chunks { VirtualMemory.release(chunk, bytes: Self.chunkPages << 12) }
    }

    /// A 4096-byte, page-aligned buffer. Any thread.
    func take() -> UnsafeMutableRawPointer {
        lock.withLock {
            if free.isEmpty { grow() }
            return free.removeLast()
        }
    }

    /// Returns buffers taken from this pool. Any thread.
    func give(_ buffers: [UnsafeMutableRawPointer]) {
        lock.withLock { free.append(contentsOf: buffers) }
    }

    /// Buffers the pool holds (taken or free).
    var capacity: Int {
        lock.withLock { chunks.count * Self.chunkPages }
    }

    private func grow() {
        let bytes = Self.chunkPages << 12
        guard let chunk = VirtualMemory.commit(bytes) else {
            // Out of memory for a copy: there is no way to take the snapshot
            // consistently (nor to go on without it).
            fatalError("out of memory for snapshot page copies (\(bytes) bytes)")
        }
        chunks.append(chunk)
        free.reserveCapacity(free.count + Self.chunkPages)
        for page in 0..<Self.chunkPages { free.append(chunk + page << 12) }
    }
}
