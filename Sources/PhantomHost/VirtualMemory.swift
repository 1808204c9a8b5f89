// Virtual memory of the host: the persistent space, its page states, the
// collector's mark bits and the snapshot's page copies are large anonymous
// mappings. Reserved address space costs nothing until a page is touched
// (then the host commits it, zero-filled); `discard` hands pages back.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Anonymous memory mappings (reserve, commit, protect, discard, release).
public enum VirtualMemory {
    /// The host's page size, bytes.
    public static let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// Reserves `bytes` of readable and writable address space, committed
    /// lazily page by page as it is touched (zero-filled); nil if the host
    /// has no room.
    public static func reserve(_ bytes: Int) -> UnsafeMutableRawPointer? {
        map(bytes, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)
    }

    /// Maps `bytes` and commits them at once (every page faulted in where
    /// the host can: Linux `MAP_POPULATE`); nil if the host has no memory.
    public static func commit(_ bytes: Int) -> UnsafeMutableRawPointer? {
        #if os(Linux)
        return map(bytes, flags: MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)
        #else
        return map(bytes, flags: MAP_PRIVATE | MAP_ANONYMOUS)
        #endif
    }

    /// What a protected range allows.
    public enum Access: Sendable {
        case none, read, readWrite
    }

    /// Changes what `bytes` from `start` (page-aligned) allow; false if the
    /// host refused.
    @discardableResult
    public static func protect(_ start: UnsafeMutableRawPointer, bytes: Int, _ access: Access) -> Bool {
        let flags: Int32
        switch access {
        case .none: flags = PROT_NONE
        case .read: flags = PROT_READ
        case .readWrite: flags = PROT_READ | PROT_WRITE
        }
        return mprotect(start, bytes, flags) == 0
    }

    /// Hands `bytes` from `start` (page-aligned) back to the host: they read
    /// as zero and cost no memory until touched again. False where the host
    /// cannot (then the caller clears them itself).
    public static func discard(_ start: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        #if os(Linux)
        return madvise(start, bytes, MADV_DONTNEED) == 0
        #else
        return false
        #endif
    }

    /// Unmaps what `reserve` or `commit` mapped.
    public static func release(_ start: UnsafeMutableRawPointer, bytes: Int) {
        munmap(start, bytes)
    }

    private static func map(_ bytes: Int, flags: Int32) -> UnsafeMutableRawPointer? {
        guard let mapping = mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0), mapping != MAP_FAILED else { return nil }
        return mapping
    }
}
