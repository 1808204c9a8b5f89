import ArgumentParser
import Foundation
import PhantomHost
import PhantomStore

/// `phantom image ...`: create, inspect, verify and roll back images.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Create, inspect, verify, salvage and roll back Phantom images.",
        subcommands: [Create.self, Info.self, Verify.self, Salvage.self, Rollback.self, WriteTest.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a new, empty image.")
        @Argument(help: "Path of the image file (or raw block device) to create.") var path: String
        @Option(help: "Logical size of the persistent space (sparse), e.g. 64G, 1T.") var size: String = "1T"
        @Option(help: "How many snapshots stay readable (1-\(Layout.maxKeep)).") var keep: Int = Layout.defaultKeep
        @Option(help: "Image format version: 2 (every metadata block written twice, a boot log) or 1 (readable by builds before format 2).")
        var format: UInt32 = Layout.formatVersion

        func validate() throws {
            guard let bytes = parseSize(size), bytes >= 4096 else {
                throw ValidationError("'\(size)' is not a size of at least 4 KiB (examples: 64M, 1G, 1T)")
            }
            guard (1...Layout.maxKeep).contains(keep) else { throw ValidationError("--keep must be between 1 and \(Layout.maxKeep)") }
            guard (Layout.oldestFormatVersion...Layout.formatVersion).contains(format) else {
                throw ValidationError("--format must be \(Layout.oldestFormatVersion) or \(Layout.formatVersion)")
            }
        }

        func run() throws {
            try reportingErrors {
                let bytes = parseSize(size)!
                var info = stat()
                let store: Store
                if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFBLK {
                    store = try Store.create(on: try FileBlockDevice(path: path, mode: .readWrite), logicalSize: bytes, keep: keep, formatVersion: format)
                } else {
                    if access(path, F_OK) == 0 {
                        throw UserError("\(path) already exists; remove it or choose another path (an existing file is never overwritten)")
                    }
                    store = try FileBlockDevice.createAtomically(path: path) { device in
                        try Store.create(on: device, logicalSize: bytes, keep: keep, formatVersion: format)
                    }.made
                }
                print("created \(path): \(formatBytes(store.pageCount * UInt64(Layout.blockSize))) logical space, keeps \(keep) snapshots, format version \(store.formatVersion)")
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an image's format, space and snapshots.")
        @Argument(help: "Path of the image.") var path: String
        @Flag(help: "Print JSON for tools.") var json = false

        func run() throws {
            try reportingErrors {
                let store = try openImage(path, readOnly: true)
                let report = ImageReport(path: path, store: store)
                if json {
                    try printJSON(report)
                    return
                }
                print("image       \(path)")
                print("format      version \(report.formatVersion), page size \(report.pageSize) bytes")
                print("space       \(formatBytes(report.logicalBytes)) logical, \(report.mappedPages) pages mapped")
                print("device      \(formatBytes(report.deviceBytes)): \(formatBytes(report.usedBytes)) used, \(formatBytes(report.freeBytes)) free")
                print("history     keeps \(report.keep) snapshots; last commit \(report.commit)")
                if report.formatVersion >= 2 {
                    let boots = store.bootRecords
                    let last = boots.last.map { "; last: boot \($0.sequence) from snapshot \($0.snapshot), \(formatTime(Int64($0.startedNanos))), \($0.outcome)" } ?? ""
                    print("boots       \(boots.count) recorded\(last)")
                }
                for note in report.openNotes { print("note        \(note)") }
                if report.snapshots.isEmpty {
                    print("snapshots   none")
                    return
                }
                print("snapshots")
                print("  \("ID".leftPad(8))  \("TIME (UTC)".rightPad(24))  \("PAGES".leftPad(10))  \("BYTES".leftPad(10))")
                for snapshot in report.snapshots {
                    print("  \(String(snapshot.id).leftPad(8))  \(snapshot.time.rightPad(24))  \(String(snapshot.pages).leftPad(10))  \(formatBytes(snapshot.bytes).leftPad(10))")
                }
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every retained block and check every checksum.",
            discussion: """
                Reads both copies of every metadata block (format 2) and every data page of every retained snapshot. \
                Exits with status 1 and a report when anything is damaged: the damaged pages (page, block, snapshots) \
                and what to do. A damaged metadata block whose copy is intact loses nothing: it is reported, and the \
                exit status stays 0.
                """)
        @Argument(help: "Path of the image.") var path: String
        @Flag(help: "Print JSON for tools.") var json = false

        func run() throws {
            try reportingErrors {
                let store = try openImage(path, readOnly: true)
                var problems: [String] = []
                for (id, reason) in store.openReport.discardedSnapshots {
                    problems.append("snapshot \(id) is damaged and was skipped: \(reason)")
                }
                if store.openReport.fellBack && store.openReport.discardedSnapshots.isEmpty {
                    problems.append("the newest commit is damaged or incomplete; the image opens at an older one")
                }
                let report = store.verify { bytes_page, snapshot, bytes in
                    WriteTestPattern.check(bytes, page: bytes_page, snapshot: snapshot)
                }
                problems += report.problems
                var notes: [String] = []
                for note in store.openReport.notes {
                    if store.openReport.fellBack { problems.append(note) } else { notes.append(note) }
                }
                let warnings = report.warnings + store.warnings
                let ids = store.snapshots.map { String($0.id) }.joined(separator: ", ")
                let newestIntact = store.snapshots.last(where: { !report.damagedSnapshots.contains($0.id) })?.id
                var advice = ""
                if !problems.isEmpty {
                    advice = " No intact snapshot is left."
                    if let newestIntact, newestIntact == store.newestSnapshot?.id, !store.openReport.fellBack {
                        advice = " The newest snapshot, \(newestIntact), is intact: the damage is in older snapshots only, and goes with them as they leave the history (the image keeps \(store.keep))."
                    } else if let newestIntact {
                        advice = " The newest intact snapshot is \(newestIntact); 'phantom image rollback \(path) --to \(newestIntact) --yes' makes it the newest and discards the damage."
                    }
                    if let newest = store.newestSnapshot?.id, report.damagedPages.contains(where: { $0.snapshots.contains(newest) }) {
                        advice += " 'phantom image salvage \(path)' says what zeroing the damaged pages of snapshot \(newest) would cost, and with --yes does it."
                    }
                }
                if json {
                    try printJSON(VerifyJSON(
                        path: path, healthy: problems.isEmpty, blocksChecked: report.blocksChecked, snapshots: store.snapshots.map(\.id),
                        damagedSnapshots: report.damagedSnapshots.sorted(), newestIntact: newestIntact, problems: problems,
                        damagedPages: report.damagedPages, damagedCopies: report.damagedCopies.map(CopyJSON.init),
                        warnings: warnings, notes: notes, advice: advice.trimmingCharacters(in: .whitespaces)))
                    if !problems.isEmpty { throw ExitCode.failure }
                    return
                }
                // The verdict comes first (scripts read the first line); the
                // notes, warnings and repaired copies that explain it follow.
                func printDetails() {
                    for note in notes { print("note: \(note)") }
                    for warning in warnings { print("warning: \(warning)") }
                    for copy in report.damagedCopies { print("copy: \(copy)") }
                }
                if problems.isEmpty {
                    let state = report.damagedCopies.isEmpty ? "every checksum valid"
                        : "every snapshot intact; \(report.damagedCopies.count) damaged metadata block(s) were read from their copy, nothing is lost"
                    print("ok: \(path): \(store.snapshots.count) snapshots (\(ids.isEmpty ? "none" : ids)), \(report.blocksChecked) blocks checked, \(state)")
                    printDetails()
                    return
                }
                printDetails()
                for problem in problems { printError("damage: \(problem)") }
                for page in report.damagedPages {
                    printError("damaged page \(page.page) (block \(page.block)) in snapshot\(page.snapshots.count == 1 ? "" : "s") \(page.snapshots.map(String.init).joined(separator: ", ")): \(page.reason)")
                }
                throw UserError("\(path) is damaged: \(problems.count) problem(s) found.\(advice)")
            }
        }
    }

    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make an older snapshot the newest again.")
        @Argument(help: "Path of the image.") var path: String
        @Option(parsing: .unconditional, help: "Id of the snapshot to return to.", transform: parseSnapshotID) var to: UInt64
        @Flag(help: "Confirm that the newer snapshots are discarded.") var yes = false

        func run() throws {
            try reportingErrors {
                let store = try openImage(path, readOnly: !yes)
                guard store.snapshots.contains(where: { $0.id == to }) else {
                    throw StoreError.noSuchSnapshot(id: to, retained: store.snapshots.map(\.id))
                }
                var newer = store.snapshots.filter { $0.id > to }.map { String($0.id) }
                newer += store.openReport.discardedSnapshots.map { "\($0.id) (damaged)" }.reversed()
                if newer.isEmpty && !store.isFallenBack {
                    print("snapshot \(to) is already the newest; nothing to do")
                    return
                }
                let discarded = newer.isEmpty ? "the damaged newest commit" : "snapshots \(newer.joined(separator: ", "))"
                guard yes else {
                    throw UserError("rolling back to snapshot \(to) discards \(discarded); run again with --yes to do it")
                }
                try store.rollback(to: to)
                print("rolled back \(path) to snapshot \(to); discarded \(discarded)")
            }
        }
    }

    struct WriteTest: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "write-test",
            abstract: "Write synthetic snapshots whose content 'verify' can check.",
            discussion: "Snapshot k changes N distinct pages out of the first 4N. Prints a line when each snapshot is durable.")
        @Argument(help: "Path of an existing image.") var path: String
        @Option(help: "Pages changed in each snapshot.") var pages: Int
        @Option(help: "Number of snapshots to write.") var snapshots: Int
        @Flag(help: "Confirm overwriting an image that holds something other than write-test pages (a Phantom system).")
        var yes = false

        func validate() throws {
            guard pages >= 1, pages <= 1 << 24 else { throw ValidationError("--pages must be between 1 and 16777216") }
            guard snapshots >= 1 else { throw ValidationError("--snapshots must be at least 1") }
        }

        func run() throws {
            try reportingErrors {
                let store = try openImage(path, readOnly: false)
                guard UInt64(pages) <= store.pageCount else {
                    throw UserError("--pages \(pages) is more than the image's \(store.pageCount) pages")
                }
                if !yes, let foreign = try firstForeignPage(store) {
                    throw UserError("\(path) holds data that write-test did not write (page \(foreign) of snapshot \(store.newestSnapshot?.id ?? 0)): "
                        + "write-test would overwrite it; run again with --yes to do it")
                }
                let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: pages * Layout.blockSize, alignment: 4096)
                defer { memory.deallocate() }
                for _ in 0..<snapshots {
                    let expected = store.nextSnapshotID
                    let numbers = WriteTestPattern.pages(snapshot: expected, count: pages, pageCount: store.pageCount)
                    var writes: [PageWrite] = []
                    for (index, page) in numbers.enumerated() {
                        let slice = UnsafeMutableRawBufferPointer(rebasing: memory[(index * Layout.blockSize)..<((index + 1) * Layout.blockSize)])
                        WriteTestPattern.fill(slice, snapshot: expected, page: page)
                        writes.append(PageWrite(page: page, bytes: UnsafeRawBufferPointer(slice)))
                    }
                    let info = try store.commit(writes)
                    printNow("committed snapshot \(info.id): \(info.pagesWritten) pages, \(info.bytesWritten) bytes")
                }
            }
        }

        /// The first page of the newest snapshot that is not a write-test
        /// page (a Phantom system's object memory, say), or nil.
        private func firstForeignPage(_ store: Store) throws -> UInt64? {
            for page in try store.mappedPages() {
                let bytes = try store.read(page: page)
                let magic = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
                if magic != WriteTestPattern.magic { return page }
            }
            return nil
        }
    }
}

/// What `phantom image verify --json` prints.
struct VerifyJSON: Encodable {
    let path: String
    let healthy: Bool
    let blocksChecked: UInt64
    let snapshots: [UInt64]
    let damagedSnapshots: [UInt64]
    let newestIntact: UInt64?
    let problems: [String]
    let damagedPages: [DamagedPage]
    let damagedCopies: [CopyJSON]
    let warnings: [String]
    let notes: [String]
    let advice: String
    enum CodingKeys: String, CodingKey {
        case path, healthy, snapshots, problems, warnings, notes, advice
        case blocksChecked = "blocks_checked"
        case damagedSnapshots = "damaged_snapshots"
        case newestIntact = "newest_intact"
        case damagedPages = "damaged_pages"
        case damagedCopies = "damaged_copies"
    }
}

/// A damaged metadata copy, for JSON.
struct CopyJSON: Encodable {
    let block: UInt64
    let servedBy: UInt64
    let what: String
    let snapshot: UInt64?
    let reason: String
    init(_ read: RedundantRead) {
        block = read.block
        servedBy = read.servedBy
        what = read.what
        snapshot = read.snapshot
        reason = read.reason
    }
    enum CodingKeys: String, CodingKey {
        case block, what, snapshot, reason
        case servedBy = "served_by"
    }
}

/// What `phantom image info --json` prints.
struct ImageReport: Encodable {
    struct Snapshot: Encodable {
        let id: UInt64
        let time: String
        let timeNanos: Int64
        let pages: UInt64
        let bytes: UInt64
        let mappedPages: UInt64
        enum CodingKeys: String, CodingKey {
            case id, time, pages, bytes
            case timeNanos = "time_ns"
            case mappedPages = "mapped_pages"
        }
    }
    let path: String
    let formatVersion: UInt32
    let pageSize: Int
    let logicalPages: UInt64
    let logicalBytes: UInt64
    let mappedPages: UInt64
    let keep: Int
    let commit: UInt64
    let deviceBytes: UInt64
    let usedBytes: UInt64
    let freeBytes: UInt64
    let snapshots: [Snapshot]
    let openNotes: [String]

    enum CodingKeys: String, CodingKey {
        case path, keep, commit, snapshots
        case formatVersion = "format_version"
        case pageSize = "page_size"
        case logicalPages = "logical_pages"
        case logicalBytes = "logical_bytes"
        case mappedPages = "mapped_pages"
        case deviceBytes = "device_bytes"
        case usedBytes = "used_bytes"
        case freeBytes = "free_bytes"
        case openNotes = "open_notes"
    }

    init(path: String, store: Store) {
        self.path = path
        formatVersion = store.formatVersion
        pageSize = Layout.blockSize
        logicalPages = store.pageCount
        logicalBytes = store.pageCount * UInt64(Layout.blockSize)
        mappedPages = store.newestSnapshot?.pagesMapped ?? 0
        keep = store.keep
        commit = store.commitSequence
        let usage = store.usage
        deviceBytes = usage.deviceBytes
        usedBytes = usage.usedBytes
        freeBytes = usage.freeBytes
        snapshots = store.snapshots.map {
            Snapshot(id: $0.id, time: formatTime($0.timeNanos), timeNanos: $0.timeNanos,
                     pages: $0.pagesWritten, bytes: $0.bytesWritten, mappedPages: $0.pagesMapped)
        }
        openNotes = store.openReport.discardedSnapshots.map { "snapshot \($0.id) is damaged and is not used: \($0.reason)" }
            + store.openReport.notes + store.redundantReads.map(\.description)
    }
}

/// Throws the one message every command gives for a directory named as an image.
func refuseDirectory(_ path: String) throws {
    var info = stat()
    if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { throw UserError("\(path) is a directory, not an image") }
}

/// Opens an image file, with a clear message when there is none.
func openImage(_ path: String, readOnly: Bool) throws -> Store {
    var info = stat()
    guard stat(path, &info) == 0 else {
        throw UserError("no image at \(path) (create one with 'phantom image create \(path)')")
    }
    try refuseDirectory(path)
    let device = try FileBlockDevice(path: path, mode: readOnly ? .readOnly : .readWrite)
    return try Store.open(device, readOnly: readOnly)
}

/// Runs `body`; prints any error as "error: ..." on standard error and exits 1.
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("error: \(error)")
        throw ExitCode.failure
    }
}

/// Writes a line to standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
    func rightPad(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
