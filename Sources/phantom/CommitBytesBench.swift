// `phantom bench store --commit-bytes`: what one commit writes to the
// device, in format 1 and format 2, in the same run. Counts every byte and
// write the store issues (pages, tree nodes, freed lists, space map,
// superblocks) on an in-memory device, so the figures do not depend on the
// disk and the run costs no disk traffic.

import Foundation
import PhantomHost
import PhantomStore

/// A block device in memory that counts what is written to it.
final class CountingMemoryDevice: BlockDevice {
    let path = "memory"
    private var bytes: [UInt8] = []
    /// Bytes written, writes issued (each gather write counts once) and flushes.
    private(set) var bytesWritten: UInt64 = 0
    private(set) var writes = 0
    private(set) var flushes = 0

    var size: UInt64 { UInt64(bytes.count) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws(BlockDeviceError) {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw .outOfRange(path: path, offset: offset, length: buffer.count, size: size)
        }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[Int(offset)..<Int(offset) + buffer.count]))
        }
    }

    func write(_ buffers: [UnsafeRawBufferPointer], at offset: UInt64) throws(BlockDeviceError) {
        let total = buffers.reduce(0) { $0 + $1.count }
        guard offset <= size, UInt64(total) <= size - offset else {
            throw .outOfRange(path: path, offset: offset, length: total, size: size)
        }
        var at = Int(offset)
        for buffer in buffers {
            bytes.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[at..<at + buffer.count]).copyMemory(from: buffer)
            }
            at += buffer.count
        }
        bytesWritten += UInt64(total)
        writes += 1
    }

    func flush() throws(BlockDeviceError) { flushes += 1 }

    func grow(to newSize: UInt64) throws(BlockDeviceError) {
        if newSize > size { bytes.append(contentsOf: repeatElement(0, count: Int(newSize - size))) }
    }
}

/// What commits of one size wrote, on average.
struct CommitBytes: Encodable {
    let format: UInt32
    let pages: Int
    let bytesPerCommit: Double
    let metadataBytesPerCommit: Double
    let writesPerCommit: Double
    let flushesPerCommit: Double
    enum CodingKeys: String, CodingKey {
        case format, pages
        case bytesPerCommit = "bytes_per_commit"
        case metadataBytesPerCommit = "metadata_bytes_per_commit"
        case writesPerCommit = "writes_per_commit"
        case flushesPerCommit = "flushes_per_commit"
    }
}

enum CommitBytesBench {
    /// Pages of the heap the commits change pages of (64 MiB).
    static let heapPages = 16384

    /// An image (1 TiB logical, keep 8) holding a 64 MiB heap, then
    /// `warmUp` commits of `pages` random distinct pages of it (so freed
    /// lists are written and released as in a running system), then
    /// `measured` more, counted.
    static func measure(format: UInt32, pages: Int, source: PageSource, warmUp: Int = 10, measured: Int = 10) throws -> CommitBytes {
        let device = CountingMemoryDevice()
        let store = try Store.create(on: device, logicalSize: Layout.defaultLogicalSize, keep: Layout.defaultKeep, formatVersion: format)
        try store.commit(source.writes(pages: heapPages))
        var generator = SystemRandomNumberGenerator()
        var all = Array(0..<heapPages)
        var counted = (bytes: UInt64(0), writes: 0, flushes: 0)
        for round in 0..<(warmUp + measured) {
            all.shuffle(using: &generator)
            let chosen = all.prefix(pages).sorted()
            let writes = chosen.map { PageWrite(page: UInt64($0), bytes: UnsafeRawBufferPointer(start: source.base + $0 * 4096, count: 4096)) }
            let before = (device.bytesWritten, device.writes, device.flushes)
            try store.commit(writes)
            if round >= warmUp {
                counted.bytes += device.bytesWritten - before.0
                counted.writes += device.writes - before.1
                counted.flushes += device.flushes - before.2
            }
        }
        let n = Double(measured)
        let perCommit = Double(counted.bytes) / n
        return CommitBytes(format: format, pages: pages, bytesPerCommit: perCommit,
                           metadataBytesPerCommit: perCommit - Double(pages * 4096),
                           writesPerCommit: Double(counted.writes) / n, flushesPerCommit: Double(counted.flushes) / n)
    }

    static func printTable(_ rows: [CommitBytes]) {
        print("Bytes written per commit (mean of 10 commits after 10 warm-up ones; random distinct pages of a 64 MiB heap; keep 8; superblocks included)")
        print("  \("pages".leftPad(6))  \("format 1".leftPad(12))  \("format 2".leftPad(12))  \("2 / 1".leftPad(7))  \("metadata 1".leftPad(11))  \("metadata 2".leftPad(11))  \("writes 1/2".leftPad(11))")
        for pages in Set(rows.map(\.pages)).sorted() {
            guard let one = rows.first(where: { $0.pages == pages && $0.format == 1 }),
                  let two = rows.first(where: { $0.pages == pages && $0.format == 2 }) else { continue }
            print("  \(String(pages).leftPad(6))  \(formatBytes(UInt64(one.bytesPerCommit)).leftPad(12))  \(formatBytes(UInt64(two.bytesPerCommit)).leftPad(12))  \(fmt(two.bytesPerCommit / one.bytesPerCommit).leftPad(6))x  \(formatBytes(UInt64(one.metadataBytesPerCommit)).leftPad(11))  \(formatBytes(UInt64(two.metadataBytesPerCommit)).leftPad(11))  \((fmt(one.writesPerCommit) + "/" + fmt(two.writesPerCommit)).leftPad(11))")
        }
    }
}
