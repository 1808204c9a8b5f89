// Helpers shared by the block device tests: byte-array reads and writes, and
// temporary directories for the file-backed device.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PhantomHost

extension BlockDevice {
    /// Writes `bytes` at `offset` as one buffer.
    func write(bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { buffer in try write(buffer, at: offset) }
    }

    /// Reads `count` bytes at `offset`.
    func readBytes(_ count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { buffer in try read(into: buffer, at: offset) }
        return bytes
    }
}

/// `count` copies of `value`.
func filled(_ value: UInt8, _ count: Int) -> [UInt8] {
    [UInt8](repeating: value, count: count)
}

/// `image` with `bytes` copied in at `offset`: the model the tests compare against.
func applying(_ bytes: [UInt8], at offset: Int, to image: [UInt8]) -> [UInt8] {
    var result = image
    result.replaceSubrange(offset ..< offset + bytes.count, with: bytes)
    return result
}

/// nil if the two byte sequences are equal, else where they first differ
/// (a short message instead of a dump of two whole images).
func firstDifference(_ actual: some Collection<UInt8>, _ expected: some Collection<UInt8>) -> String? {
    // Compare as arrays first: the standard library's == is fast even in a debug build.
    let actual = Array(actual), expected = Array(expected)
    if actual == expected { return nil }
    for (index, (a, e)) in zip(actual, expected).enumerated() where a != e {
        return "byte \(index) is \(a), expected \(e)"
    }
    if actual.count != expected.count { return "\(actual.count) bytes, expected \(expected.count)" }
    return nil
}

/// Runs `body` with the path of a new, empty directory under /tmp, and
/// removes the directory and its files afterwards.
func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/phantom-host-tests-XXXXXX".utf8CString)
    let path = try template.withUnsafeMutableBufferPointer { buffer -> String in
        guard let result = mkdtemp(buffer.baseAddress!) else {
            throw BlockDeviceError.cannotOpen(path: "/tmp/phantom-host-tests-XXXXXX", errno: errno)
        }
        return String(cString: result)
    }
    defer { removeDirectory(path) }
    try body(path)
}

/// Removes a directory that holds only regular files.
private func removeDirectory(_ path: String) {
    if let directory = opendir(path) {
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { unlink(path + "/" + name) }
        }
        closedir(directory)
    }
    rmdir(path)
}
