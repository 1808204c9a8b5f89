// Host files for `fio:` connections: only inside the directory the image is
// granted with `--share DIR`. A name is a path relative to that directory
// ("fio:notes.txt" or "fio:/notes.txt"); "..", and symbolic links that lead
// out of the directory, are refused.

import Foundation

struct ShareProblem: Error, CustomStringConvertible {
    let description: String
}

enum FileShare {
    /// The host path for `name` inside `share`, or why there is none.
    static func resolve(_ name: String, in share: String?) -> Result<String, ShareProblem> {
        guard let share else { return .failure(ShareProblem(description: "no directory is shared with this system (phantom run --share DIR)")) }
        let parts = name.split(separator: "/", omittingEmptySubsequences: true)
        guard !parts.isEmpty else { return .failure(ShareProblem(description: "no file name")) }
        guard !parts.contains(where: { $0 == ".." || $0 == "." }) else {
            return .failure(ShareProblem(description: "'.' and '..' are not allowed: files stay inside the shared directory"))
        }
        guard let root = realPath(share) else { return .failure(ShareProblem(description: "the shared directory \(share) does not exist")) }
        let path = root + "/" + parts.joined(separator: "/")
        // Symbolic links must not lead out: the directory the file is in
        // must resolve inside the share, and the file itself must not be a
        // symbolic link (a dangling one could point anywhere); it is opened
        // with O_NOFOLLOW too.
        let parent = parts.count == 1 ? root : root + "/" + parts.dropLast().joined(separator: "/")
        guard let resolvedParent = realPath(parent) else {
            return .failure(ShareProblem(description: "no such directory in the shared directory"))
        }
        guard resolvedParent == root || resolvedParent.hasPrefix(root + "/") else {
            return .failure(ShareProblem(description: "the path leads out of the shared directory"))
        }
        var info = stat()
        if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK {
            return .failure(ShareProblem(description: "the file is a symbolic link, which may lead out of the shared directory"))
        }
        return .success(resolvedParent + "/" + String(parts.last!))
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// The file's text, nil if it does not exist.
    static func read(_ path: String) -> Result<String?, ShareProblem> {
        guard FileManager.default.fileExists(atPath: path) else { return .success(nil) }
        guard let data = FileManager.default.contents(atPath: path) else { return .failure(ShareProblem(description: "cannot read")) }
        return .success(String(decoding: data, as: UTF8.self))
    }

    static func write(_ path: String, _ text: String, append: Bool) -> Result<Void, ShareProblem> {
        let flags = O_WRONLY | O_CREAT | O_NOFOLLOW | (append ? O_APPEND : O_TRUNC)
        let descriptor = systemOpen(path, flags, 0o644)
        guard descriptor >= 0 else { return .failure(ShareProblem(description: "cannot open: \(String(cString: strerror(errno)))")) }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress! + written, bytes.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                return .failure(ShareProblem(description: "cannot write: \(String(cString: strerror(errno)))"))
            }
            written += result
        }
        return .success(())
    }
}

#if canImport(Glibc)
import Glibc
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Glibc.open(path, flags, mode) }
#elseif canImport(Darwin)
import Darwin
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { Darwin.open(path, flags, mode) }
#endif
