// Page-sized buffers for the copies a snapshot takes (the writer's copies
// and the mutator's copies aside), reused from one snapshot to the next.
//
// Allocating and freeing a fresh buffer per page cost a page fault and a
// zeroed page for every copy, and the mutator paid it in the barrier's
// slow path whenever it wrote a page before the writer had copied it
// (docs/benchmarks.md, snapshot slowdown). Buffers come from 1 MiB chunks,
// faulted in at once, and go back to the pool after the commit; the pool
// keeps what the largest snapshot so far needed.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class PageBufferPool: @unchecked Sendable {
    static let chunkPages = 256
    private var free: [UnsafeMutableRawPointer] = []
    private var chunks: [UnsafeMutableRawPointer] = []
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }

    deinit {
        for chunk in chunks { munmap(chunk, Self.chunkPages << 12) }
        pthread_mutex_destroy(&lock)
    }

    /// A 4096-byte, page-aligned buffer. Any thread.
    func take() -> UnsafeMutableRawPointer {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if free.isEmpty { grow() }
        return free.removeLast()
    }

    /// Returns buffers taken from this pool. Any thread.
    func give(_ buffers: [UnsafeMutableRawPointer]) {
        pthread_mutex_lock(&lock)
        free.append(contentsOf: buffers)
        pthread_mutex_unlock(&lock)
    }

    /// Buffers the pool holds (taken or free).
    var capacity: Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return chunks.count * Self.chunkPages
    }

    private func grow() {
        let bytes = Self.chunkPages << 12
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #endif
        guard let chunk = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0), chunk != MAP_FAILED else {
            // Out of memory for a copy: there is no way to take the snapshot
            // consistently (nor to go on without it).
            fatalError("out of memory for snapshot page copies (\(bytes) bytes)")
        }
        chunks.append(chunk)
        free.reserveCapacity(free.count + Self.chunkPages)
        for page in 0..<Self.chunkPages { free.append(chunk + page << 12) }
    }
}
