// The shared directory (host service of the `fio:` driver): host files: only inside the directory the image is
// granted with `--share DIR`. A name is a path relative to that directory
// ("fio:notes.txt" or "fio:/notes.txt"); "." and "..", NUL bytes and
// symbolic links anywhere on the way are refused.
//
// Every open walks the path one component at a time from a descriptor of
// the share, with `openat(..., O_NOFOLLOW)`: there is no check-then-open,
// so a host process that swaps a directory for a symbolic link while a
// program runs cannot lead an operation outside the share (finding F8 of
// the reliability probe of 2026-12-02).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a `fio:` operation is refused or failed, in words for the guest exception.
public struct ShareProblem: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// The shared directory adapter behind `fio:` connections: every
/// operation walks from a descriptor of the share (see the top of the file).
public enum FileShare {
    /// The components of `name`, or why it is refused (no share, no name,
    /// `.`/`..`, a NUL byte). Checks the text only, not the host.
    public static func components(_ name: String, in share: String?) -> Result<[String], ShareProblem> {
        guard share != nil else { return .failure(ShareProblem(description: "no directory is shared with this system (phantom run --share DIR)")) }
        guard !name.utf8.contains(0) else { return .failure(ShareProblem(description: "a NUL byte is not allowed in a file name")) }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else { return .failure(ShareProblem(description: "no file name")) }
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            return .failure(ShareProblem(description: "'.' and '..' are not allowed: files stay inside the shared directory"))
        }
        return .success(parts)
    }

    /// Checks `name` as `connect` does: its text, and that the directory it
    /// would be in exists inside the share with no symbolic link on the way.
    public static func check(_ name: String, in share: String?) -> Result<Void, ShareProblem> {
        components(name, in: share).flatMap { parts in
            directory(of: parts, in: share!).map { close($0) }
        }
    }

    /// The file's text, nil if it does not exist.
    public static func read(_ name: String, in share: String?) -> Result<String?, ShareProblem> {
        open(name, in: share, flags: O_RDONLY).flatMap { descriptor -> Result<String?, ShareProblem> in
            guard let descriptor else { return .success(nil) }
            defer { close(descriptor) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress!, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    return .failure(ShareProblem(description: "cannot read"))
                }
                if count == 0 { break }
                bytes += chunk[0..<count]
            }
            return .success(String(decoding: bytes, as: UTF8.self))
        }
    }

    /// Appends `text` to the file, or replaces its contents; creates it.
    public static func write(_ name: String, in share: String?, _ text: String, append: Bool) -> Result<Void, ShareProblem> {
        let flags = O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC)
        return open(name, in: share, flags: flags).flatMap { descriptor -> Result<Void, ShareProblem> in
            guard let descriptor else { return .failure(ShareProblem(description: "cannot open: \(String(cString: strerror(ENOENT)))")) }
            defer { close(descriptor) }
            if let code = writeAll(descriptor, text) {
                return .failure(ShareProblem(description: "cannot write: \(String(cString: strerror(code)))"))
            }
            return .success(())
        }
    }

    // MARK: - The walk

    /// Opens the file `name` inside the share: a descriptor of a regular
    /// file, nil if it does not exist (and `flags` do not create it).
    private static func open(_ name: String, in share: String?, flags: Int32) -> Result<Int32?, ShareProblem> {
        components(name, in: share).flatMap { parts in
            directory(of: parts, in: share!).flatMap { parent -> Result<Int32?, ShareProblem> in
                defer { close(parent) }
                // O_NONBLOCK: a FIFO must not hang the open; it is refused below.
                let descriptor = openat(parent, parts.last!, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0o644)
                if descriptor < 0 {
                    let code = errno
                    if code == ENOENT && flags & O_CREAT == 0 { return .success(nil) }
                    if code == ELOOP { return .failure(ShareProblem(description: "the file is a symbolic link, which may lead out of the shared directory")) }
                    return .failure(ShareProblem(description: "cannot open: \(String(cString: strerror(code)))"))
                }
                var info = stat()
                guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                    close(descriptor)
                    return .failure(ShareProblem(description: flags & O_WRONLY != 0 ? "cannot open: not a regular file" : "cannot read"))
                }
                return .success(descriptor)
            }
        }
    }

    /// A descriptor of the directory the file `parts` names is in, reached
    /// from the share one component at a time without following a link.
    private static func directory(of parts: [String], in share: String) -> Result<Int32, ShareProblem> {
        // The share itself was named by the user: a link to it is followed.
        var current = systemOpen(share, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        guard current >= 0 else {
            let reason = errno == ENOTDIR ? "is not a directory" : "does not exist"
            return .failure(ShareProblem(description: "the shared directory \(share) \(reason)"))
        }
        for part in parts.dropLast() {
            let next = openat(current, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            let code = errno
            close(current)
            guard next >= 0 else {
                if code == ELOOP || code == ENOTDIR {
                    return .failure(ShareProblem(description: "the path leads through a symbolic link or a file, which may lead out of the shared directory"))
                }
                return .failure(ShareProblem(description: "no such directory in the shared directory"))
            }
            current = next
        }
        return .success(current)
    }
}

#if canImport(Glibc)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
#elseif canImport(Darwin)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
#endif
