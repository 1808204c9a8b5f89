// Writing a whole buffer to a descriptor, for the console and `fio:` files.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes all of `text` to `descriptor`, retrying short writes, EINTR and
/// EAGAIN; nil when done, else the `errno` of the write that failed.
public func writeAll(_ descriptor: Int32, _ text: String) -> Int32? {
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let count = bytes.withUnsafeBytes { buffer in systemWrite(descriptor, buffer.baseAddress! + done, buffer.count - done) }
        if count < 0 {
            if errno == EINTR || errno == EAGAIN { continue }
            return errno
        }
        done += count
    }
    return nil
}

#if canImport(Glibc)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
#elseif canImport(Darwin)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
#endif
