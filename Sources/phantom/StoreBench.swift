// `phantom bench store`: the store against the raw device, in one run, on
// one disk. Every figure is a median over repeated runs; the peer runs
// interleaved with Phantom so that both see the same machine state.

import ArgumentParser
import Foundation
import PhantomHost
import PhantomStore

struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Benchmark snapshots, commit latency and open time against the raw disk.",
        discussion: """
            Measures, in one run and in one directory (so on one disk):
              - snapshot throughput for each size vs. a sequential write + fdatasync of the same bytes;
              - latency of a 1-page snapshot vs. one 4 KiB write + fdatasync;
              - open time of an image holding 1 GiB of data vs. one holding 10 MiB.
            With --commit-bytes, only the bytes and writes one commit of each of --commit-pages sizes
            issues, in image format 1 and format 2 (an in-memory device: no disk traffic).
            """)

    @Flag(help: "Print JSON for tools.") var json = false
    @Flag(help: "Print every run's time.") var verbose = false
    @Option(help: "Directory to run in (its disk is what is measured).") var dir: String = "."
    @Option(help: "Snapshot sizes to measure, comma-separated.") var sizes: String = "1M,64M,1G"
    @Option(help: "Repetitions of each throughput measurement.") var runs: Int = 3
    @Option(help: "1-page commits timed for the latency figure.") var commits: Int = 300
    @Option(help: "Size of the large image for the open-time figure.") var openLarge: String = "1G"
    @Option(help: "Image format version of the images measured (1 or 2).") var format: UInt32 = Layout.formatVersion
    @Flag(help: "Only measure the bytes each commit writes, format 1 vs format 2.") var commitBytes = false
    @Option(help: "Snapshot sizes in pages for --commit-bytes, comma-separated (at most 16384).") var commitPages: String = "1,100,1000,10000"

    func validate() throws {
        for size in sizes.split(separator: ",") {
            guard let bytes = parseSize(String(size)), bytes >= 4096, bytes % 4096 == 0 else {
                throw ValidationError("'\(size)' is not a size in whole 4 KiB pages")
            }
        }
        guard let large = parseSize(openLarge), large >= 16 << 20 else { throw ValidationError("--open-large must be at least 16M") }
        guard runs >= 1, commits >= 10 else { throw ValidationError("--runs must be at least 1 and --commits at least 10") }
        guard (Layout.oldestFormatVersion...Layout.formatVersion).contains(format) else { throw ValidationError("--format must be 1 or 2") }
        for size in commitPages.split(separator: ",") {
            guard let pages = Int(size), pages >= 1, pages <= CommitBytesBench.heapPages else {
                throw ValidationError("--commit-pages: '\(size)' is not a number of pages between 1 and \(CommitBytesBench.heapPages)")
            }
        }
    }

    func run() throws {
        try reportingErrors {
            if commitBytes {
                let source = PageSource(bytes: CommitBytesBench.heapPages * 4096)
                defer { source.deallocate() }
                var rows: [CommitBytes] = []
                for pages in commitPages.split(separator: ",").map({ Int($0)! }) {
                    for format in [UInt32(1), 2] {
                        rows.append(try CommitBytesBench.measure(format: format, pages: pages, source: source))
                    }
                }
                if json { try printJSON(rows) } else { CommitBytesBench.printTable(rows) }
                return
            }
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            let sizeList = sizes.split(separator: ",").map { parseSize(String($0))! }
            let largest = max(sizeList.max()!, parseSize(openLarge)!)
            let source = PageSource(bytes: Int(largest))
            defer { source.deallocate() }

            var results = StoreBenchResults()
            for size in sizeList {
                var phantom: [Double] = []
                var raw: [Double] = []
                for run in 0..<runs {
                    // Alternate who goes first, and let the disk settle before
                    // each measurement, so that neither inherits the other's
                    // write-back.
                    for turn in [run % 2, 1 - run % 2] {
                        settle()
                        if turn == 0 {
                            raw.append(try timeRawWrite(source, bytes: size, path: "\(work)/raw-\(run)"))
                            unlink("\(work)/raw-\(run)")
                        } else {
                            phantom.append(try timeSnapshot(source, bytes: size, path: "\(work)/img-\(run)"))
                            unlink("\(work)/img-\(run)")
                        }
                    }
                }
                if verbose {
                    printNow("  runs: raw \(raw.map { fmt($0 * 1e3) }.joined(separator: " ")) ms; phantom \(phantom.map { fmt($0 * 1e3) }.joined(separator: " ")) ms")
                }
                let p = median(phantom), r = median(raw)
                results.throughput.append(.init(bytes: size, phantomSeconds: p, rawSeconds: r,
                                                phantomMBps: Double(size) / p / 1e6, rawMBps: Double(size) / r / 1e6, ratio: r / p))
                if !json { printNow("throughput \(formatBytes(size)): phantom \(fmt(Double(size) / p / 1e6)) MB/s, raw \(fmt(Double(size) / r / 1e6)) MB/s") }
            }

            results.commitLatency = try measureCommitLatency(source, work: work)
            if !json { printNow("1-page commit: phantom p50 \(fmt(results.commitLatency.phantomP50Microseconds)) µs, raw p50 \(fmt(results.commitLatency.rawP50Microseconds)) µs") }

            results.openTime = try measureOpenTime(source, work: work, largeBytes: parseSize(openLarge)!)

            if json {
                try printJSON(results)
            } else {
                printTable(results)
            }
        }
    }

    // MARK: Measurements

    /// Writes `bytes` sequentially in 4 MiB pwrites, then fdatasync.
    func timeRawWrite(_ source: PageSource, bytes: UInt64, path: String) throws -> Double {
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UserError("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let start = monotonicSeconds()
        var offset = 0
        while offset < Int(bytes) {
            let chunk = min(4 << 20, Int(bytes) - offset)
            let written = pwrite(fd, source.base + offset, chunk, off_t(offset))
            guard written > 0 else { throw UserError("write to \(path) failed: \(String(cString: strerror(errno)))") }
            offset += written
        }
        guard fdatasync(fd) == 0 else { throw UserError("fdatasync of \(path) failed") }
        return monotonicSeconds() - start
    }

    /// Commits `bytes` of pages as one snapshot into a new image.
    func timeSnapshot(_ source: PageSource, bytes: UInt64, path: String) throws -> Double {
        let device = try FileBlockDevice(path: path, mode: .create)
        let store = try Store.create(on: device, logicalSize: 1 << 40, formatVersion: format)
        let writes = source.writes(pages: Int(bytes / 4096))
        let start = monotonicSeconds()
        try store.commit(writes)
        return monotonicSeconds() - start
    }

    func measureCommitLatency(_ source: PageSource, work: String) throws -> StoreBenchResults.Latency {
        // Phantom: an image with 4 MiB of data, then 1-page snapshots.
        let path = "\(work)/latency.img"
        let device = try FileBlockDevice(path: path, mode: .create)
        let store = try Store.create(on: device, logicalSize: 1 << 40, formatVersion: format)
        try store.commit(source.writes(pages: 1024))
        // Raw: one 4 KiB write + fdatasync into an existing 4 MiB file.
        let rawPath = "\(work)/latency.raw"
        let fd = open(rawPath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw UserError("cannot create \(rawPath)") }
        defer { close(fd); unlink(rawPath); unlink(path) }
        for chunk in 0..<4 { _ = pwrite(fd, source.base + chunk << 20, 1 << 20, off_t(chunk << 20)) }
        _ = fdatasync(fd)

        var phantom: [Double] = []
        var raw: [Double] = []
        let warmUp = 20
        for index in 0..<(commits + warmUp) {
            let page = UInt64(index % 1024)
            let write = PageWrite(page: page, bytes: UnsafeRawBufferPointer(start: source.base + (index % 1024) * 4096, count: 4096))
            var start = monotonicSeconds()
            try store.commit([write])
            let p = monotonicSeconds() - start
            start = monotonicSeconds()
            guard pwrite(fd, source.base + (index % 1024) * 4096, 4096, off_t((index % 1024) * 4096)) == 4096, fdatasync(fd) == 0 else {
                throw UserError("raw write failed")
            }
            let r = monotonicSeconds() - start
            if index >= warmUp {
                phantom.append(p)
                raw.append(r)
            }
        }
        let p50 = percentile(phantom, 0.5), r50 = percentile(raw, 0.5)
        return .init(commits: commits, phantomP50Microseconds: p50 * 1e6, phantomP99Microseconds: percentile(phantom, 0.99) * 1e6,
                     rawP50Microseconds: r50 * 1e6, rawP99Microseconds: percentile(raw, 0.99) * 1e6, ratio: p50 / r50)
    }

    func measureOpenTime(_ source: PageSource, work: String, largeBytes: UInt64) throws -> StoreBenchResults.Open {
        let smallBytes: UInt64 = 10 << 20
        var paths: [String] = []
        for bytes in [smallBytes, largeBytes] {
            let path = "\(work)/open-\(bytes).img"
            let device = try FileBlockDevice(path: path, mode: .create)
            let store = try Store.create(on: device, logicalSize: 1 << 40, formatVersion: format)
            // Several snapshots, as a running system makes them.
            let pages = Int(bytes / 4096)
            let step = max(1, pages / 8)
            var first = 0
            while first < pages {
                let count = min(step, pages - first)
                let writes = (0..<count).map { index in
                    PageWrite(page: UInt64(first + index), bytes: UnsafeRawBufferPointer(start: source.base + (first + index) * 4096, count: 4096))
                }
                try store.commit(writes)
                first += count
            }
            device.close()
            paths.append(path)
        }
        defer { paths.forEach { unlink($0) } }
        var small: [Double] = []
        var large: [Double] = []
        for _ in 0..<50 {
            for (index, path) in paths.enumerated() {
                let start = monotonicSeconds()
                let device = try FileBlockDevice(path: path, mode: .readWrite)
                let store = try Store.open(device)
                precondition(store.newestSnapshot != nil)
                let elapsed = monotonicSeconds() - start
                device.close()
                if index == 0 { small.append(elapsed) } else { large.append(elapsed) }
            }
        }
        let s = median(small), l = median(large)
        return .init(smallBytes: smallBytes, largeBytes: largeBytes, smallMilliseconds: s * 1e3, largeMilliseconds: l * 1e3, ratio: l / s)
    }

    func printTable(_ results: StoreBenchResults) {
        print("")
        print("Snapshot throughput (median of \(runs) runs; raw = sequential write + fdatasync of the same bytes)")
        print("  \("size".rightPad(10)) \("phantom".leftPad(12)) \("raw".leftPad(12)) \("phantom/raw".leftPad(12))")
        for row in results.throughput {
            print("  \(formatBytes(row.bytes).rightPad(10)) \((fmt(row.phantomMBps) + " MB/s").leftPad(12)) \((fmt(row.rawMBps) + " MB/s").leftPad(12)) \(fmt(row.ratio * 100).leftPad(11))%")
        }
        let l = results.commitLatency
        print("1-page snapshot latency (\(l.commits) commits; raw = one 4 KiB write + fdatasync)")
        print("  phantom p50 \(fmt(l.phantomP50Microseconds)) µs, p99 \(fmt(l.phantomP99Microseconds)) µs; raw p50 \(fmt(l.rawP50Microseconds)) µs, p99 \(fmt(l.rawP99Microseconds)) µs; ratio \(fmt(l.ratio))x")
        let o = results.openTime
        print("Open time (median of 50 opens)")
        print("  \(formatBytes(o.smallBytes)) image \(fmt(o.smallMilliseconds)) ms, \(formatBytes(o.largeBytes)) image \(fmt(o.largeMilliseconds)) ms; ratio \(fmt(o.ratio))x")
    }
}

/// What `phantom bench store --json` prints.
struct StoreBenchResults: Encodable {
    struct Throughput: Encodable {
        let bytes: UInt64
        let phantomSeconds: Double
        let rawSeconds: Double
        let phantomMBps: Double
        let rawMBps: Double
        /// phantom throughput / raw throughput.
        let ratio: Double
        enum CodingKeys: String, CodingKey {
            case bytes, ratio
            case phantomSeconds = "phantom_s"
            case rawSeconds = "raw_s"
            case phantomMBps = "phantom_mb_s"
            case rawMBps = "raw_mb_s"
        }
    }
    struct Latency: Encodable {
        let commits: Int
        let phantomP50Microseconds: Double
        let phantomP99Microseconds: Double
        let rawP50Microseconds: Double
        let rawP99Microseconds: Double
        /// phantom p50 / raw p50.
        let ratio: Double
        enum CodingKeys: String, CodingKey {
            case commits, ratio
            case phantomP50Microseconds = "phantom_p50_us"
            case phantomP99Microseconds = "phantom_p99_us"
            case rawP50Microseconds = "raw_p50_us"
            case rawP99Microseconds = "raw_p99_us"
        }
    }
    struct Open: Encodable {
        let smallBytes: UInt64
        let largeBytes: UInt64
        let smallMilliseconds: Double
        let largeMilliseconds: Double
        /// large / small.
        let ratio: Double
        enum CodingKeys: String, CodingKey {
            case ratio
            case smallBytes = "small_bytes"
            case largeBytes = "large_bytes"
            case smallMilliseconds = "small_ms"
            case largeMilliseconds = "large_ms"
        }
    }
    var throughput: [Throughput] = []
    var commitLatency = Latency(commits: 0, phantomP50Microseconds: 0, phantomP99Microseconds: 0, rawP50Microseconds: 0, rawP99Microseconds: 0, ratio: 0)
    var openTime = Open(smallBytes: 0, largeBytes: 0, smallMilliseconds: 0, largeMilliseconds: 0, ratio: 0)
    enum CodingKeys: String, CodingKey {
        case throughput
        case commitLatency = "commit_latency"
        case openTime = "open"
    }
}

/// A large page-aligned buffer of distinct pages to snapshot from.
struct PageSource {
    let base: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
        base = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 4096)
        var state: UInt64 = 0x1234_5678
        let words = base.bindMemory(to: UInt64.self, capacity: bytes / 8)
        for index in 0..<(bytes / 8) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            words[index] = state
        }
    }

    func writes(pages: Int) -> [PageWrite] {
        (0..<pages).map { PageWrite(page: UInt64($0), bytes: UnsafeRawBufferPointer(start: base + $0 * 4096, count: 4096)) }
    }

    func deallocate() { base.deallocate() }
}

/// Flushes everything the system has buffered and waits a moment, so that a
/// measurement starts from a quiet disk.
func settle() {
    sync()
    usleep(200_000)
}

func monotonicSeconds() -> Double { HostClock.monotonicSeconds() }

func median(_ values: [Double]) -> Double { percentile(values, 0.5) }

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let position = fraction * Double(sorted.count - 1)
    let low = Int(position.rounded(.down)), high = Int(position.rounded(.up))
    return sorted[low] + (sorted[high] - sorted[low]) * (position - Double(low))
}

func fmt(_ value: Double) -> String { String(format: value >= 100 ? "%.0f" : "%.2f", value) }

/// Makes `DIR/phantom-bench-XXXXXX`.
func makeTemporaryDirectory(in dir: String) throws -> String {
    var template = Array("\(dir)/phantom-bench-XXXXXX".utf8CString)
    guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
        throw UserError("cannot make a directory in \(dir): \(String(cString: strerror(errno)))")
    }
    return String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
}

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}
