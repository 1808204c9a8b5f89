import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// PHANTOM_FAULT (docs/kernel.md, *Fault injection*): the real binary aborts
/// where a test asks, and the image opens, verifies and runs on afterwards.
@Suite(.serialized) struct FaultInjectionTests {
    /// Prints 1, 2, ... 5000, one per line, in exactly 20 instructions a
    /// number after 3 to begin: number v is printed by instruction
    /// 3 + 20 (v - 1) + 9 and its newline by instruction 3 + 20 (v - 1) + 13.
    static let spinner = """
        class spinner
        field n
        method run 1
            iconst 0
            i2o
            os_save 0
        loop:
            os_load 0
            o2i
            iconst 1
            isum
            i2o
            os_save 0
            os_load 0
            os_get 0
            call 16 1
            os_drop
            sconst "\\n"
            os_get 0
            call 16 1
            os_drop
            os_load 0
            o2i
            iconst 5000
            ilt
            jz done
            jmp loop
        done:
            ret
        end
        """

    func phantom(_ arguments: String..., fault: String? = nil) throws -> CommandResult {
        try Child(arguments, environment: fault.map { ["PHANTOM_FAULT": $0] } ?? [:]).wait()
    }

    func numbers(_ stdout: String) -> [Int] { stdout.split(separator: "\n").compactMap { Int($0) } }

    /// The image verifies, and a run without the fault finishes the count,
    /// resuming from a durable snapshot (at or before where the abort was).
    func expectRecovers(_ image: String, abortedAfter printed: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verified = try phantom("image", "verify", image)
        #expect(verified.exitedWith0, "\(verified)", sourceLocation: sourceLocation)
        let resumed = try phantom("run", "--image", image)
        #expect(resumed.exitedWith0, "\(resumed)", sourceLocation: sourceLocation)
        let values = numbers(resumed.stdout)
        let first = values.first ?? 0
        #expect(values == Array(first...5000) && first <= printed + 1, "\(resumed)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [(20_003, 1_000, "1s"), (80_003, 4_000, "1ms")])
    func abortAfterInstructionsDiesWithSIGABRTAtExactlyThatCount(count: Int, printed: Int, interval: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("spinner.pa")
        try Self.spinner.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("spin.img")
        // With 1 ms between snapshots the abort may come while one is being written.
        let result = try phantom("run", "--image", image, "--snapshot-interval", interval, program, fault: "abort-after-instructions=\(count)")
        #expect(result.signaled && result.status == SIGABRT, "\(result)")
        #expect(result.stderr.contains("PHANTOM_FAULT: aborting after \(count) instructions"), "\(result)")
        #expect(!result.stderr.contains("Backtracing"), "no crash report: \(result)")
        #expect(numbers(result.stdout) == Array(1...printed) && result.stdout.hasSuffix("\(printed)\n"), "\(result)")
        try expectRecovers(image, abortedAfter: printed)
    }

    @Test func abortAtBootRunsNoInstructionAndWritesNothing() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("spinner.pa")
        try Self.spinner.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("boot.img")
        #expect(try phantom("install", "--image", image, program).exitedWith0)
        #expect(try phantom("start", "--image", image, "spinner").exitedWith0)
        let before = try #require(fileBytes(image))
        let result = try phantom("run", "--image", image, fault: "abort-at-boot")
        #expect(result.signaled && result.status == SIGABRT, "\(result)")
        #expect(result.stdout.isEmpty && result.stderr.contains("PHANTOM_FAULT: aborting at boot"), "\(result)")
        // The boot's record (the boot log, blocks 2-9) is the one write.
        let after = try #require(fileBytes(image))
        #expect(after.count == before.count && after[..<(2 * 4096)] == before[..<(2 * 4096)] && after[(10 * 4096)...] == before[(10 * 4096)...],
                "the image is as it was, but for the boot log")
        #expect(after[(2 * 4096)..<(10 * 4096)] != before[(2 * 4096)..<(10 * 4096)], "the boot was recorded")
        let ps = try phantom("ps", "--image", image, "--json")
        #expect(ps.stdout.contains("\"instructions\":0") && ps.stdout.contains("\"state\":\"runnable\""), "\(ps)")
        try expectRecovers(image, abortedAfter: 0)

        // On a new image: made, then the abort; it opens and runs afterwards.
        let fresh = dir.file("fresh.img")
        let first = try phantom("run", "--image", fresh, program, fault: "abort-at-boot")
        #expect(first.signaled && first.status == SIGABRT && first.stdout.isEmpty, "\(first)")
        #expect(try phantom("image", "verify", fresh).exitedWith0)
        let second = try phantom("run", "--image", fresh, program)
        #expect(second.exitedWith0 && numbers(second.stdout) == Array(1...5000), "\(second)")
    }

    @Test(arguments: ["bogus", "ABORT-AT-BOOT", "abort-at-boot=1", "abort-after-instructions", "abort-after-instructions=",
                      "abort-after-instructions=0", "abort-after-instructions=-3", "abort-after-instructions=+3",
                      "abort-after-instructions=12x", "abort-after-instructions=99999999999999999999"])
    func aBadFaultIsRefusedByEveryCommandAndChangesNothing(value: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let program = dir.file("spinner.pa")
        try Self.spinner.write(toFile: program, atomically: true, encoding: .utf8)
        let image = dir.file("bad.img")
        #expect(try phantom("install", "--image", image, program).exitedWith0)
        let before = try #require(fileBytes(image))
        for command in [["run", "--image", image], ["ps", "--image", image], ["snapshots", "--image", image], ["image", "verify", image]] {
            let result = try Child(command, environment: ["PHANTOM_FAULT": value]).wait()
            #expect(result.exited(64) && result.stderr.contains("error: PHANTOM_FAULT=\(value)"), "\(command): \(result)")
            #expect(result.stdout.isEmpty, "\(command): \(result)")
        }
        #expect(fileBytes(image) == before)
    }
}
