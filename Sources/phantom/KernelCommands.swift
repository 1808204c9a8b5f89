// The commands of a running Phantom system: run, install, start, ps, kill,
// snapshots, rollback, inspect. Every one takes `--image PATH` (default
// ./phantom.img). These names and their JSON keys are a contract.

import ArgumentParser
import Foundation
import Logging
import PhantomHost
import PhantomKernel
import PhantomMemory
import PhantomStore
import PhantomVM

/// `--image PATH`, shared by every command that works on an image.
struct ImageOption: ParsableArguments {
    @Option(help: "The system image.") var image: String = "./phantom.img"
}

/// Parses "100ms", "1s", "2m", "500us", "250ns"; a bare number is seconds.
func parseDuration(_ text: String) -> UInt64? {
    let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9)]
    for (suffix, scale) in units where text.hasSuffix(suffix) {
        let number = text.dropLast(suffix.count)
        // "ms" also ends in "s": take the longest unit that leaves a number.
        if let value = Double(number) { return nanoseconds(value * scale) }
    }
    if let value = Double(text) { return nanoseconds(value * 1e9) }
    return nil
}

/// The longest duration a command takes: 100 years, far below UInt64.max ns
/// (584 years), so that adding it to a clock reading cannot overflow.
let longestDuration: Double = 100 * 365.25 * 86_400 * 1e9

/// A non-negative, finite number of nanoseconds up to `longestDuration`, or nil.
private func nanoseconds(_ value: Double) -> UInt64? {
    guard value >= 0, value.isFinite, value <= longestDuration else { return nil }
    return UInt64(value)
}

/// Loads the classes of a program file: `.pc` (a class file), `.pa`
/// (assembler) or `.ph` (Phantom source, compiled on the fly).
func loadProgram(_ path: String) throws -> [ClassFile] {
    guard let data = FileManager.default.contents(atPath: path) else { throw UserError("cannot read \(path)") }
    if path.hasSuffix(".pc") {
        do { return [try ClassFile(decoding: Array(data))] } catch { throw UserError("\(path): \(error)") }
    }
    let text = String(decoding: data, as: UTF8.self)
    if path.hasSuffix(".pa") {
        do { return try Assembler.assemble(text, file: path) } catch { throw UserError("\(error)") }
    }
    if path.hasSuffix(".ph") { return try compileSources([path]) }
    throw UserError("\(path): expected a .ph, .pa or .pc file")
}

func bootKernel(_ image: String, readOnly: Bool = false, mustExist: Bool = false, configure: (inout Kernel.Options) -> Void = { _ in }) throws -> Kernel {
    try refuseDirectory(image)
    var options = Kernel.Options(imagePath: image)
    options.readOnly = readOnly
    options.mustExist = mustExist
    options.fault = (try? injectedFault.get()) ?? nil
    configure(&options)
    do {
        return try Kernel(options)
    } catch let error as KernelError where error.description.contains("in use by another") || error.description.hasPrefix("no image") {
        throw UserError(error.description)
    } catch {
        let text = "\(error)"
        var hint = "\n(if the newest snapshot is damaged, `phantom snapshots --image \(image)` lists the others and `phantom rollback --image \(image) --to ID` goes back to one)"
        if text.contains("checksum mismatch in page") {
            // A damaged data page is often shared by every snapshot: a rollback cannot help then.
            hint = "\n(`phantom image verify \(image)` lists the damaged pages and the snapshots that hold them; `phantom image salvage \(image)` says what replacing them by zero pages would cost, or `phantom rollback --image \(image) --to ID` goes back to a snapshot without them)"
        }
        // The rollback hint only where a snapshot is damaged (not for a full
        // disk, a heap too small to boot, an image that is not one).
        let damaged = ["checksum", "damaged", "unreadable", "not readable"].contains { text.contains($0) } && !text.contains("cut short")
        throw UserError((text.contains(image) ? text : "\(image): \(text)") + (damaged && !text.contains("not a Phantom image") ? hint : ""))
    }
}

// MARK: - run

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot an image and run its threads until stopped (SIGINT/SIGTERM take a final snapshot).",
        discussion: "With FILE (.ph, .pa or .pc) the program is installed and its class's run method starts in a new persistent thread, unless the image already has a live thread started from that class: then it resumes. It stops by itself when no thread can run any more (exit 2 if a thread failed during the run, 3 on a deadlock).")

    @OptionGroup var imageOption: ImageOption
    @Option(help: "Time between snapshots, e.g. 100ms, 1s (0 turns periodic snapshots off).") var snapshotInterval: String = "1s"
    @Option(help: "A host directory that fio: connections may use.") var share: String?
    @Flag(help: "Log every snapshot (id, pages, bytes, pause, write time).") var verbose = false
    @Flag(help: .hidden) var markSnapshots = false
    @Option(help: "A boot is healthy once it has run this long and a snapshot taken after that has committed, e.g. 10s, 500ms.") var healthyAfter: String = "10s"
    @Option(help: ArgumentHelp("After this many failed boots in a row from one snapshot, boot from the newest older one (1...64).", valueName: "K"))
    var crashLoopBoots: String = "3"
    @Flag(help: "Record boots and warn of a crash loop, but never roll back by itself.") var noAutoRollback = false
    @Argument(help: "A program to install and start.") var file: String?

    /// K, if it is a whole number in range.
    var failedBoots: Int? {
        guard crashLoopBoots.allSatisfy({ $0.isASCII && $0.isNumber }), let k = Int(crashLoopBoots),
              Kernel.CrashLoopPolicy.failedBootsRange.contains(k) else { return nil }
        return k
    }

    func validate() throws {
        if let file, !FileManager.default.fileExists(atPath: file) { throw ValidationError("no such file: \(file)") }
        guard parseDuration(snapshotInterval) != nil else { throw ValidationError("--snapshot-interval: expected a duration such as 100ms or 1s (at most 100 years), not \(snapshotInterval)") }
        guard parseDuration(healthyAfter) != nil else { throw ValidationError("--healthy-after: expected a duration such as 100ms or 10s (at most 100 years), not \(healthyAfter)") }
        guard failedBoots != nil else {
            let range = Kernel.CrashLoopPolicy.failedBootsRange
            throw ValidationError("--crash-loop-boots: expected a whole number from \(range.lowerBound) to \(range.upperBound) (the boot log keeps 64 boots), not \(crashLoopBoots)")
        }
        if let share {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: share, isDirectory: &isDirectory) else { throw ValidationError("--share: \(share) does not exist") }
            guard isDirectory.boolValue else { throw ValidationError("--share: \(share) is not a directory") }
        }
    }

    func run() throws {
        try reportingErrors {
            StandardOutput.ignoreBrokenPipe()
            let program = try file.map { file in
                do { return try Kernel.Program(classes: try loadProgram(file), file: file) } catch let error as KernelError { throw UserError(error.description) }
            }
            let marks = markSnapshots
            let verbose = self.verbose
            let logger = SnapshotLogger(verbose: verbose)
            let kernel = try bootKernel(imageOption.image) { options in
                options.snapshotInterval = parseDuration(snapshotInterval) ?? 1_000_000_000
                options.share = share
                var policy = Kernel.CrashLoopPolicy()
                policy.failedBoots = failedBoots ?? 3
                policy.healthyAfter = parseDuration(healthyAfter) ?? 10_000_000_000
                policy.autoRollback = !noAutoRollback
                options.crashLoop = policy
                options.snapshotLog = { report in
                    logger.log(report)
                    if marks { StandardOutput.write("#durable \(report.id)\n") }
                }
            }
            // What the store opened, before this run adds snapshots.
            let bootedFrom = kernel.store.newestSnapshot.map { String($0.id) } ?? "none"
            let nextID = kernel.store.nextSnapshotID
            if let program {
                // A program whose thread still lives resumes; one that has
                // ended (or was never started) is installed and started anew.
                switch try kernel.launch(program) {
                case .started: if verbose { logger.info("started \(program.className).run in a new thread") }
                case .resumed: if verbose { logger.info("\(program.className) already runs in this image: resuming it") }
                }
            }
            // A damaged newest snapshot: the store booted from the newest intact one.
            let report = kernel.store.openReport
            if let lost = report.lostCommit, report.discardedSnapshots.isEmpty {
                printError("phantom: warning: superblock \(lost.slot) of \(imageOption.image) is damaged; \(lost.certain ? "it held" : "it may have held") the newest commit, with snapshot \(lost.snapshotID), which is lost. Booted from snapshot \(bootedFrom) (the previous commit); the next snapshot gets id \(nextID), never \(lost.snapshotID) again.")
            } else if report.fellBack {
                let dropped = report.discardedSnapshots.map { "\($0.id) (\($0.reason))" }.joined(separator: ", ")
                let booted = kernel.store.newestSnapshot.map { String($0.id) } ?? "none"
                printError("phantom: warning: damaged snapshot(s) \(dropped.isEmpty ? "at the top of the history" : dropped); booted from snapshot \(booted), the newest intact one. `phantom rollback --image \(imageOption.image) --to \(booted)` makes that permanent; running on does too, with the next snapshot.")
            }
            StopSignal.install(waking: kernel.wakeup)
            if verbose { logger.info("booted \(imageOption.image) (boot \(kernel.vm.bootCount), \(kernel.vm.threads.count) threads)") }
            if marks { kernel.onSnapshotBegin = { StandardOutput.write("#snapshot\n") } }
            let threadsBefore = Set(kernel.vm.threads.filter { kernel.vm.state(of: $0) == .failed })
            let reason = try kernel.run { StopSignal.isRequested }
            switch reason {
            case .requested: if verbose { logger.info("stopped; final snapshot taken") }
            case .allEnded: if verbose { logger.info("every thread has ended; final snapshot taken") }
            case .outputClosed:
                printError("phantom: standard output was closed; stopped after a final snapshot")
            case .deadlock:
                printError("phantom: every remaining thread waits for another (deadlock); stopped after a final snapshot")
                throw ExitCode(3)
            }
            // A thread that failed during this run makes the exit status 2.
            if kernel.vm.threads.contains(where: { kernel.vm.state(of: $0) == .failed && !threadsBefore.contains($0) }) {
                throw ExitCode(2)
            }
        }
    }
}

/// `--verbose` logging (swift-log, to standard error): boot, stop, and every
/// snapshot with its id, pages, bytes, pause and write time.
final class SnapshotLogger: Sendable {
    let verbose: Bool
    let logger: Logger

    init(verbose: Bool) {
        self.verbose = verbose
        var logger = Logger(label: "phantom") { label in StreamLogHandler.standardError(label: label) }
        logger.logLevel = verbose ? .info : .warning
        self.logger = logger
    }

    func log(_ report: Kernel.SnapshotReport) {
        guard verbose else { return }
        logger.info("snapshot", metadata: [
            "id": "\(report.id)", "pages": "\(report.pages)", "bytes": "\(report.bytes)",
            "pause_ms": "\(String(format: "%.3f", Double(report.pauseNanos) / 1e6))",
            "write_ms": "\(String(format: "%.2f", Double(report.writeNanos) / 1e6))",
        ])
    }

    func info(_ line: String) { if verbose { logger.info("\(line)") } }
}

// MARK: - install / start / kill

struct InstallCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "install", abstract: "Install programs into an image without starting them.")
    @OptionGroup var imageOption: ImageOption
    @Argument(help: "Programs (.ph, .pa or .pc).") var files: [String]

    func validate() throws { guard !files.isEmpty else { throw ValidationError("name at least one program file") } }

    func run() throws {
        try reportingErrors {
            let classes = StarterClass.adding(to: try files.flatMap(loadProgram))
            let kernel = try bootKernel(imageOption.image)
            try kernel.install(classes)
            try kernel.finalSnapshot()
            print("installed \(classes.map(\.name).joined(separator: ", "))")
        }
    }
}

struct StartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Start a thread running CLASS.run in an image.",
                                                    discussion: "ARGS, if any, are bound as an array of strings at /args/CLASS in the image's name space.")
    @OptionGroup var imageOption: ImageOption
    @Argument(help: "An installed class.") var className: String
    @Argument(help: "Arguments for the program.") var args: [String] = []

    func run() throws {
        try reportingErrors {
            let kernel = try bootKernel(imageOption.image, mustExist: true)
            guard kernel.vm.classNamed(className) != nil else { throw UserError("no class named \(className) is installed in \(imageOption.image)") }
            if !args.isEmpty { try kernel.bind(path: "/args/\(className)", strings: args) }
            let thread = try kernel.start(className: className)
            try kernel.finalSnapshot()
            print("started thread \(kernel.threadNumber(thread)): \(className).run")
        }
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "End a persistent thread (it fails with \"killed by phantom kill\").")
    @OptionGroup var imageOption: ImageOption
    // Taken as text, so that "-1" reaches `validate` instead of being read
    // as an unknown flag ("Missing expected argument" was the message).
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("A thread number, as phantom ps shows it.", valueName: "thread"))
    var threadText: [String] = []

    var thread: Int { Int(threadText.first ?? "") ?? 0 }

    func validate() throws {
        if let flag = threadText.first(where: { $0.hasPrefix("--") }) { throw ValidationError("unknown option '\(flag)'") }
        guard threadText.count == 1 else {
            throw ValidationError(threadText.isEmpty ? "name the thread to end: phantom kill [--image IMAGE] THREAD (phantom ps lists them)"
                                                     : "one thread at a time: \(threadText.joined(separator: " "))")
        }
        guard let number = Int(threadText[0]), number >= 1 else {
            throw ValidationError("'\(threadText[0])' is not a thread number: they count from 1, as phantom ps shows them")
        }
    }

    func run() throws {
        try reportingErrors {
            let kernel = try bootKernel(imageOption.image, mustExist: true)
            let threads = kernel.vm.threads
            guard thread >= 1 && thread <= threads.count else { throw UserError("no thread \(thread) (the image has \(threads.count))") }
            let target = threads[thread - 1]
            guard kernel.vm.state(of: target) != .finished && kernel.vm.state(of: target) != .failed else {
                throw UserError("thread \(thread) has already ended")
            }
            try kernel.vm.kill(target, reason: "killed by phantom kill")
            try kernel.finalSnapshot()
            print("killed thread \(thread)")
        }
    }
}

// MARK: - ps / snapshots / rollback

struct PsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List the persistent threads of an image.")
    @OptionGroup var imageOption: ImageOption
    @Flag(help: "Print JSON for tools.") var json = false

    func run() throws {
        try reportingErrors {
            let kernel = try bootKernel(imageOption.image, readOnly: true, mustExist: true)
            let rows = kernel.threadReports()
            if json {
                let objects = rows.map { row -> [String: Any] in
                    ["id": row.id, "class": row.className, "method": row.method, "state": row.state, "waiting_on": row.waitingOn as Any,
                     "instructions": row.instructions, "failure": row.failure.map(failureJSON) as Any]
                }
                try printJSON(["threads": objects])
                return
            }
            print(pad("ID", 4) + pad("STATE", 10) + pad("INSTRUCTIONS", 14) + pad("CLASS.METHOD", 32) + "WAITING ON")
            for row in rows {
                print(pad("\(row.id)", 4) + pad(row.state, 10) + pad("\(row.instructions)", 14) + pad("\(row.className).\(row.method)", 32) + (row.waitingOn ?? ""))
                if let failure = row.failure { printFailure(failure, thread: row.id, image: imageOption.image) }
            }
        }
    }

    /// A failure in `ps --json`: the keys docs/kernel.md lists.
    func failureJSON(_ failure: ThreadFailure) -> [String: Any] {
        ["exception": failure.exception,
         "trace": failure.trace.map { frame -> [String: Any] in
             ["class": frame.className, "method": frame.method, "pc": frame.pc, "line": frame.line as Any]
         },
         "frames_left_out": failure.framesLeftOut, "instructions": failure.instructions,
         "failed_at_ns": failure.wallNanos, "before_snapshot": failure.durableSnapshot]
    }

    /// A failure under its thread's line: the exception's first line (the
    /// whole text is in --json), the trace, when, and how to go back.
    func printFailure(_ failure: ThreadFailure, thread: Int, image: String) {
        let indent = "    "
        print(indent + "exception: " + (failure.exception.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""))
        for frame in failure.trace {
            print(indent + "at \(frame.className).\(frame.method) (pc \(frame.pc)" + (frame.line.map { ", line \($0)" } ?? "") + ")")
        }
        if failure.framesLeftOut > 0 { print(indent + "... \(failure.framesLeftOut) more frames") }
        let snapshot = failure.durableSnapshot == 0
            ? "no snapshot was durable yet"
            : "snapshot \(failure.durableSnapshot) was the newest durable one (`phantom rollback --image \(image) --before-failure \(thread)` goes back to before the failure)"
        print(indent + "failed at \(formatTime(failure.wallNanos)), after \(failure.instructions) instructions; \(snapshot)")
    }
}

struct SnapshotsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List the snapshots an image keeps.")
    @OptionGroup var imageOption: ImageOption
    @Flag(help: "Print JSON for tools.") var json = false

    func run() throws {
        try reportingErrors {
            let device: FileBlockDeviceHandle
            do { device = try FileBlockDeviceHandle(path: imageOption.image) } catch { throw UserError("\(error)") }
            let snapshots = device.store.snapshots
            // Format 1 has no boot log: no boots, and the output is as before.
            let hasBootLog = device.store.formatVersion >= 2
            let boots = device.store.bootRecords
            func bootJSON(_ boot: BootRecord, snapshot: Bool) -> [String: Any] {
                var object: [String: Any] = ["sequence": boot.sequence, "started_ns": boot.startedNanos, "outcome": outcomeName(boot.outcome), "note": boot.note]
                if snapshot { object["snapshot"] = boot.snapshot }
                return object
            }
            if json {
                var top: [String: Any] = ["snapshots": snapshots.map { snapshot -> [String: Any] in
                    var object: [String: Any] = ["id": snapshot.id, "time_ns": snapshot.timeNanos, "pages_written": snapshot.pagesWritten,
                                                 "bytes_written": snapshot.bytesWritten, "pages_mapped": snapshot.pagesMapped]
                    if hasBootLog { object["boots"] = boots.filter { $0.snapshot == snapshot.id }.map { bootJSON($0, snapshot: false) } }
                    return object
                }]
                if hasBootLog { top["boots"] = boots.map { bootJSON($0, snapshot: true) } }
                try printJSON(top)
                return
            }
            func bootLine(_ boot: BootRecord) -> String {
                "    boot \(boot.sequence)  \(formatTime(Int64(clamping: boot.startedNanos)))  \(outcomeName(boot.outcome))" + (boot.note.isEmpty ? "" : "  \(boot.note)")
            }
            print(pad("ID", 8) + pad("TAKEN (UTC)", 26) + pad("PAGES WRITTEN", 15) + "PAGES MAPPED")
            for snapshot in snapshots {
                print(pad("\(snapshot.id)", 8) + pad(formatTime(snapshot.timeNanos), 26) + pad("\(snapshot.pagesWritten)", 15) + "\(snapshot.pagesMapped)")
                for boot in boots where boot.snapshot == snapshot.id { print(bootLine(boot)) }
            }
            let kept = Set(snapshots.map(\.id))
            let others = boots.filter { !kept.contains($0.snapshot) }
            if !others.isEmpty {
                print("boots from snapshots no longer kept (or from none):")
                for boot in others { print(bootLine(boot) + "  (from \(boot.snapshot == 0 ? "no snapshot" : "snapshot \(boot.snapshot)"))") }
            }
        }
    }
}

/// A boot outcome as `snapshots` prints it (text and JSON).
func outcomeName(_ outcome: BootOutcome) -> String {
    switch outcome {
    case .running: "running"
    case .healthy: "healthy"
    case .failed: "failed"
    }
}

struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Make an older snapshot the newest: the system restarts from it.",
        discussion: "--to ID names the snapshot; --before-failure THREAD takes the newest kept snapshot from before that thread failed (phantom ps shows failed threads and their traces).")
    @OptionGroup var imageOption: ImageOption
    // `.unconditional`: "--to -1" gets a message about the id, not "Missing value".
    @Option(parsing: .unconditional, help: "The snapshot id (phantom snapshots lists them).", transform: parseSnapshotID) var to: UInt64?
    @Option(name: .customLong("before-failure"), parsing: .unconditional,
            help: ArgumentHelp("A failed thread, as phantom ps numbers it: go back to the newest kept snapshot from before it failed.", valueName: "thread"),
            transform: parseThreadNumber)
    var beforeFailure: Int?

    func validate() throws {
        if to != nil && beforeFailure != nil {
            throw ValidationError("--to and --before-failure exclude each other: give one (--to ID names a snapshot, --before-failure THREAD finds the one before that thread failed)")
        }
        if to == nil && beforeFailure == nil {
            throw ValidationError("name the snapshot to go back to: --to ID (phantom snapshots lists them) or --before-failure THREAD (phantom ps shows the failed threads)")
        }
    }

    func run() throws {
        try reportingErrors {
            let image = imageOption.image
            // The failure record is in the newest snapshot: read it first,
            // read-only, and let the image go before opening it to write.
            let failure = try beforeFailure.map { thread in (thread: thread, snapshot: try snapshotBeforeFailure(of: thread)) }
            let device: FileBlockDeviceHandle
            do { device = try FileBlockDeviceHandle(path: image, writable: true) } catch { throw UserError("\(error)") }
            let kept = device.store.snapshots.map(\.id)
            let keptText = kept.map(String.init).joined(separator: ", ")
            let target: UInt64
            if let failure {
                guard let found = kept.filter({ $0 <= failure.snapshot }).max() else {
                    let when = failure.snapshot == 0 ? "before the image had a durable snapshot"
                                                     : "when snapshot \(failure.snapshot) was the newest durable one"
                    throw UserError("no snapshot that \(image) keeps is from before thread \(failure.thread) failed: it failed \(when), and the image keeps \(keptText.isEmpty ? "none" : keptText). (`phantom rollback --image \(image) --to ID` goes back to one of those anyway; every kept one holds the failure)")
                }
                target = found
            } else {
                target = to ?? 0
                guard kept.contains(target) else {
                    throw UserError("no snapshot \(target) in \(image) (kept: \(keptText))")
                }
            }
            let newer = kept.filter { $0 > target }
            do { try device.store.rollback(to: target) } catch { throw UserError("rollback failed: \(error)") }
            print("rolled back to snapshot \(target)" + (newer.isEmpty ? "" : "; dropped \(newer.map(String.init).joined(separator: ", "))"))
            if let failure {
                print("snapshot \(target) is from before thread \(failure.thread) failed; `phantom run --image \(image)` resumes the system from there")
            }
        }
    }

    /// The newest snapshot id that was durable when thread `number` failed,
    /// from its failure record; errors say why there is none.
    func snapshotBeforeFailure(of number: Int) throws -> UInt64 {
        let image = imageOption.image
        let kernel = try bootKernel(image, readOnly: true, mustExist: true)
        // Let the image go at once: the rollback opens it to write.
        defer { kernel.device.close() }
        let threads = kernel.threadReports()
        guard number <= threads.count else { throw UserError("no thread \(number) (the image has \(threads.count); phantom ps --image \(image) lists them)") }
        let thread = threads[number - 1]
        guard thread.state == "failed" else {
            throw UserError("thread \(number) has not failed (it is \(thread.state)): --before-failure goes back to before a thread failed; phantom ps --image \(image) shows which did")
        }
        guard let failure = thread.failure else {
            throw UserError("thread \(number) failed, but the image holds no record of when (it failed under an older phantom, or memory ran out), so no snapshot is known to be from before it: `phantom snapshots --image \(image)` lists them and `phantom rollback --image \(image) --to ID` goes back to one")
        }
        return failure.durableSnapshot
    }
}

/// An image's store opened without the VM (for snapshots and rollback).
struct FileBlockDeviceHandle {
    let store: Store
    init(path: String, writable: Bool = false) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw UserError("no image at \(path)") }
        try refuseDirectory(path)
        let device = try FileBlockDevice(path: path, mode: writable ? .readWrite : .readOnly)
        store = try Store.open(device, readOnly: !writable)
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func printJSON(_ object: Any) throws {
    let data: Data
    do { data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) } catch {
        throw UserError("cannot write JSON: \(error)")
    }
    print(String(decoding: data, as: UTF8.self))
}

// MARK: - inspect

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Browse the persistent object graph, from the world (the root) down.",
                                                    discussion: "REF is @0xOFFSET (as inspect prints references), a decimal offset, a name-space path such as /apps/counter, or world (the default).")
    @OptionGroup var imageOption: ImageOption
    @Argument(help: "The object to show.") var ref: String?
    @Flag(help: "Print JSON for tools.") var json = false

    func run() throws {
        try reportingErrors {
            let kernel = try bootKernel(imageOption.image, readOnly: true, mustExist: true)
            let object: ObjectRef
            do { object = try kernel.resolve(ref) } catch let error as KernelError { throw UserError(error.description) }
            let report = kernel.inspect(object)
            if json {
                try printJSON(["ref": report.ref, "class": report.className, "size": report.size, "summary": report.summary as Any,
                           "bytes_hex": report.bytesHex,
                           "references": report.slots.map { slot -> [String: Any] in
                               ["slot": slot.index, "name": slot.name, "value": slot.value, "class": slot.className, "text": slot.text as Any]
                           }] as [String: Any])
                return
            }
            print("\(report.ref)  \(report.className)  \(report.size) bytes")
            if let summary = report.summary { print("  \(summary)") }
            for slot in report.slots {
                let label = slot.name.isEmpty ? "[\(slot.index)]" : "\(slot.name) [\(slot.index)]"
                var line = "  " + pad(label, 20) + slot.value
                if !slot.className.isEmpty && slot.className != ".internal.int" { line += "  " + slot.className }
                if let text = slot.text, slot.className == ".internal.string" { line += "  " + text.debugDescription }
                print(line)
            }
        }
    }
}

/// A snapshot id from the command line: a whole number from 1.
func parseSnapshotID(_ text: String) throws -> UInt64 {
    guard let id = UInt64(text), id >= 1 else {
        throw ValidationError("'\(text)' is not a snapshot id: ids are whole numbers from 1 (phantom snapshots lists them)")
    }
    return id
}

/// A thread number from the command line: a whole number from 1, as
/// phantom ps shows it.
func parseThreadNumber(_ text: String) throws -> Int {
    guard let number = Int(text), number >= 1 else {
        throw ValidationError("'\(text)' is not a thread number: they count from 1, as phantom ps shows them")
    }
    return number
}
