// A block device backed by a host file or a raw disk: pread/pwritev, and
// fdatasync (F_FULLFSYNC on Darwin) as the durability barrier.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `BlockDevice` on a regular file (which grows on demand) or on a raw
/// block device path (fixed size). The file is locked with `flock`: shared
/// for read-only opens, exclusive for writers, so two writers never meet.
public final class FileBlockDevice: BlockDevice {
    /// How to open the device.
    public enum Mode: Sendable {
        /// Read only; other readers may be present, no writer.
        case readOnly
        /// Read and write an existing file or device.
        case readWrite
        /// Create a new regular file; fails if it exists.
        case create
    }

    public let path: String
    public private(set) var size: UInt64
    /// True when the path is a raw block device (which cannot grow).
    public let isRawDevice: Bool
    private var fd: Int32

    /// Opens (or creates) the device at `path` and takes its lock.
    public convenience init(path: String, mode: Mode) throws(BlockDeviceError) {
        try self.init(opening: path, namedAs: path, mode: mode)
    }

    /// Opens the file at `file`, calling it `path` in every message.
    private init(opening file: String, namedAs path: String, mode: Mode) throws(BlockDeviceError) {
        self.path = path
        let path = file
        var flags = O_CLOEXEC
        switch mode {
        case .readOnly: flags |= O_RDONLY
        case .readWrite: flags |= O_RDWR
        case .create: flags |= O_RDWR | O_CREAT | O_EXCL
        }
        let descriptor = open(path, flags, 0o644)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, errno: errno) }
        // A file this call created is removed again if it cannot be used.
        func abandon(_ code: Int32) {
            _ = Glibc_or_Darwin_close(descriptor)
            if mode == .create { unlink(path) }
        }
        // A process killed a moment ago may still hold the lock for about
        // 100 ms after its parent reaped it (finding F15 of the reliability
        // probe; the cause is not proven: our guess is that the kernel drops
        // the dead process's last reference to the file, and with it the
        // lock, only when I/O it had under way ends). So that a supervisor's
        // immediate restart does not fail, wait up to
        // `lockPatienceMicroseconds` for the lock before reporting `.locked`.
        var waited: UInt32 = 0
        while flock(descriptor, (mode == .readOnly ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK && waited < Self.lockPatienceMicroseconds {
                usleep(10_000)
                waited += 10_000
                continue
            }
            abandon(code)
            if code == EWOULDBLOCK { throw .locked(path: path) }
            throw .cannotOpen(path: path, errno: code)
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let code = errno
            abandon(code)
            throw .cannotOpen(path: path, errno: code)
        }
        fd = descriptor
        if (info.st_mode & S_IFMT) == S_IFBLK {
            isRawDevice = true
            size = UInt64(max(0, lseek(descriptor, 0, SEEK_END)))
        } else {
            isRawDevice = false
            size = UInt64(info.st_size)
        }
    }

    deinit { close() }

    /// How long opening waits for a lock that another process holds before
    /// it reports `.locked`.
    static let lockPatienceMicroseconds: UInt32 = 500_000

    /// Creates a new file at `path` all at once: `initialize` fills a
    /// temporary file beside it, which then takes the name `path` by a hard
    /// link (an existing file is never replaced). If anything fails (a full
    /// disk, say), nothing is left at `path` or beside it. Returns the
    /// device and what `initialize` made on it.
    public static func createAtomically<Made>(path: String, initialize: (FileBlockDevice) throws -> Made) throws -> (device: FileBlockDevice, made: Made) {
        let temporary = path + ".creating-\(getpid())"
        unlink(temporary)  // left by a killed process that had our pid
        let device = try FileBlockDevice(opening: temporary, namedAs: path, mode: .create)
        let made: Made
        do {
            made = try initialize(device)
            try device.flush()
            guard link(temporary, path) == 0 else { throw BlockDeviceError.cannotOpen(path: path, errno: errno) }
        } catch {
            device.close()
            unlink(temporary)
            throw error
        }
        unlink(temporary)
        // The new name must survive a power cut too.
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let handle = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if handle >= 0 { _ = fsync(handle); _ = Glibc_or_Darwin_close(handle) }
        return (device, made)
    }

    /// Releases the lock and the descriptor. Further calls fail with EBADF.
    public func close() {
        if fd >= 0 {
            _ = Glibc_or_Darwin_close(fd)
            fd = -1
        }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        let (end, overflow) = offset.addingReportingOverflow(UInt64(buffer.count))
        guard !overflow, end <= size else {
            throw .outOfRange(path: path, offset: offset, length: buffer.count, size: size)
        }
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, operation: "read", errno: errno)
            }
            if n == 0 { throw .outOfRange(path: path, offset: offset, length: buffer.count, size: size) }
            done += n
        }
    }

    public func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(total))
        guard !overflow, end <= UInt64(Int64.max) else {
            throw .outOfRange(path: path, offset: offset, length: total, size: size)
        }
        guard !isRawDevice || end <= size else {
            throw .noSpace(path: path, requestedBytes: end - size)
        }
        var position = off_t(offset)
        // Regular files grow to fit a write past their end.
        defer { if position > off_t(size) { size = UInt64(position) } }
        var vectors = buffers.map { iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count) }
        var index = 0
        while index < vectors.count && vectors[index].iov_len == 0 { index += 1 }
        let maxVectors = 1024
        while index < vectors.count {
            let count = min(maxVectors, vectors.count - index)
            let n = vectors.withUnsafeMutableBufferPointer { all in
                pwritev(fd, all.baseAddress! + index, Int32(count), position)
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == ENOSPC || code == EDQUOT { throw .noSpace(path: path, requestedBytes: UInt64(total)) }
                throw .io(path: path, operation: "write", errno: code)
            }
            if n == 0 { throw .io(path: path, operation: "write", errno: EIO) }
            position += off_t(n)
            // Skip the fully written vectors; trim a partially written one.
            var remaining = n
            while remaining > 0 && index < vectors.count {
                if remaining >= vectors[index].iov_len {
                    remaining -= vectors[index].iov_len
                    index += 1
                } else {
                    vectors[index].iov_base = vectors[index].iov_base! + remaining
                    vectors[index].iov_len -= remaining
                    remaining = 0
                }
            }
            while index < vectors.count && vectors[index].iov_len == 0 { index += 1 }
        }
    }

    public func flush() throws(BlockDeviceError) {
        #if canImport(Darwin)
        let result = fcntl(fd, F_FULLFSYNC)
        #else
        let result = fdatasync(fd)
        #endif
        if result != 0 {
            let code = errno
            if code == ENOSPC || code == EDQUOT { throw .noSpace(path: path, requestedBytes: 0) }
            throw .io(path: path, operation: "flush", errno: code)
        }
    }

    public func grow(to newSize: UInt64) throws(BlockDeviceError) {
        guard newSize > size else { return }
        if isRawDevice { throw .noSpace(path: path, requestedBytes: newSize - size) }
        // Reserve the space now, so that running out of disk shows up here
        // and not as a failed write in the middle of a snapshot.
        #if canImport(Glibc)
        let result = posix_fallocate(fd, off_t(size), off_t(newSize - size))
        if result != 0 && result != EOPNOTSUPP && result != EINVAL {
            if result == ENOSPC || result == EDQUOT { throw .noSpace(path: path, requestedBytes: newSize - size) }
            throw .io(path: path, operation: "grow", errno: result)
        }
        if result != 0, ftruncate(fd, off_t(newSize)) != 0 {
            throw .io(path: path, operation: "grow", errno: errno)
        }
        #else
        if ftruncate(fd, off_t(newSize)) != 0 {
            let code = errno
            if code == ENOSPC { throw .noSpace(path: path, requestedBytes: newSize - size) }
            throw .io(path: path, operation: "grow", errno: code)
        }
        #endif
        size = newSize
    }
}

@inline(__always)
private func Glibc_or_Darwin_close(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}
