// `phantom bench kernel`: what the snapshot daemon costs running programs.
// The counter (examples/counter.ph) and a two-thread ledger run in the
// kernel for the same time with a snapshot every second and with snapshots
// off, alternately, in the same run; the figure is the instruction rate.

import ArgumentParser
import Foundation
import PhantomHost
import PhantomKernel
import PhantomVM

struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Programs' speed in the kernel with a snapshot every second vs. snapshots off.")

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Seconds each measurement runs.") var seconds: Double = 4
    @Option(help: "Measurements of each setting (alternating; the median counts).") var runs: Int = 3
    @Option(help: "Directory for the images (its disk is what is measured).") var dir: String = "."

    func validate() throws {
        guard seconds >= 0.5, seconds <= 600 else { throw ValidationError("--seconds must be between 0.5 and 600") }
        guard runs >= 1, runs <= 50 else { throw ValidationError("--runs must be between 1 and 50") }
    }

    struct Results: Encodable {
        struct Program: Encodable {
            let name: String
            let snapshots_off_ips: Double
            let snapshots_1s_ips: Double
            let slowdown_pct: Double
            let snapshots: Int
        }
        var programs: [Program] = []
    }

    func run() throws {
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: dir)
            defer { removeTree(work) }
            let counter = StarterClass.adding(to: try loadProgram(examplesPath("counter.ph")))
            let ledgerFile = "\(work)/ledger.pa"
            try kernelBenchLedger.write(toFile: ledgerFile, atomically: true, encoding: .utf8)
            let ledger = try loadProgram(ledgerFile)
            var results = Results()
            for (name, classes, main) in [("counter.ph", counter, "counter"), ("ledger (2 threads)", ledger, "ledger")] {
                var off: [Double] = [], on: [Double] = []
                var snapshots = 0
                for round in 0..<runs {
                    off.append(try measure(classes, main: main, interval: 0, image: "\(work)/\(round)-off.img").rate)
                    let measured = try measure(classes, main: main, interval: 1_000_000_000, image: "\(work)/\(round)-on.img")
                    on.append(measured.rate)
                    snapshots += measured.snapshots
                }
                let offRate = median(off), onRate = median(on)
                let row = Results.Program(name: name, snapshots_off_ips: offRate, snapshots_1s_ips: onRate,
                                          slowdown_pct: (1 - onRate / offRate) * 100, snapshots: snapshots)
                results.programs.append(row)
                if !json {
                    print("\(name): \(Int(offRate)) instructions/s without snapshots, \(Int(onRate)) with one every second "
                          + "(\(String(format: "%.1f", row.slowdown_pct))% slower; \(snapshots) snapshots)")
                }
            }
            if json { try printJSON(results) }
        }
    }

    /// Instructions per second over `seconds` of the kernel's run loop.
    func measure(_ classes: [ClassFile], main: String, interval: UInt64, image: String) throws -> (rate: Double, snapshots: Int) {
        var options = Kernel.Options(imagePath: image)
        options.snapshotInterval = interval
        options.console = { _ in }
        let snapshots = SnapshotCounter()
        options.snapshotLog = { _ in snapshots.add() }
        let kernel = try Kernel(options)
        try kernel.install(classes)
        try kernel.start(className: main)
        let start = HostClock.monotonicNanos()
        let end = start + UInt64(seconds * 1e9)
        try kernel.run { HostClock.monotonicNanos() >= end }
        let elapsed = Double(HostClock.monotonicNanos() - start) / 1e9
        let instructions = kernel.vm.threads.reduce(0) { $0 + kernel.vm.instructions(of: $1) }
        unlink(image)
        return (Double(instructions) / elapsed, snapshots.value - 1)  // the final snapshot is not counted
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}

final class SnapshotCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

/// examples/NAME next to the executable's package, or in the current directory.
func examplesPath(_ name: String) -> String {
    let candidates = [URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                        .deletingLastPathComponent().appendingPathComponent("examples/\(name)").path, "examples/\(name)"]
    return candidates.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[1]
}

/// Two threads move money between two fields under a mutex, forever.
let kernelBenchLedger = """
    class ledger
    field a
    field b
    field lock
    method run 1
        iconst 1000000
        i2o
        os_save 0
        iconst 0
        i2o
        os_save 1
        summon_by_name ".internal.mutex"
        new
        os_save 2
        summon_this
        sconst "backward"
        os_get 0
        call 17 2
        os_drop
    loop:
        os_load 2
        general_lock
        os_load 0
        o2i
        iconst 7
        isublu
        i2o
        os_save 0
        os_load 1
        o2i
        iconst 7
        isum
        i2o
        os_save 1
        os_load 2
        general_unlock
        jmp loop
    end
    method backward 1
    loop:
        os_load 2
        general_lock
        os_load 1
        o2i
        iconst 5
        isublu
        i2o
        os_save 1
        os_load 0
        o2i
        iconst 5
        isum
        i2o
        os_save 0
        os_load 2
        general_unlock
        jmp loop
    end
    """
