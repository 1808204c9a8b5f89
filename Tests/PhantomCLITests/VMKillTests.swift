import Foundation
import Testing

/// A persistent VM program in a real process, killed with SIGKILL at random
/// moments and restarted on the same image: it continues where its last
/// snapshot left it, never from the beginning, never skipping a number.
@Suite struct VMKillTests {
    static let kills = 20

    @Test func aCounterKilledWithSIGKILLContinuesFromItsLastSnapshot() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let assembled = try phantom("asm", "\(VMCommandTests.examples)/counter.pa", "-o", dir.file("classes"))
        try #require(assembled.exitedWith0, "\(assembled)")
        let image = dir.file("counter.img")
        var generator = SystemRandomNumberGenerator()
        var lastConfirmed = 0   // the value at the last "#snapshot" line seen
        var lastPrinted = 0
        var resumedRuns = 0
        for round in 0..<Self.kills {
            let child = try Child(["exec", dir.file("classes"), "counter", "--image", image, "--snapshot-every", "20000"])
            usleep(UInt32.random(in: 80_000...300_000, using: &generator))
            _ = child.kill()
            let result = child.wait()
            #expect(result.signaled, "round \(round): the child was not killed: \(result)")
            // Complete lines only: the kill may cut the last one.
            var lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.removeLast()
            var previous: Int? = nil
            for line in lines {
                if line == "#snapshot" {
                    if let previous { lastConfirmed = previous }
                    continue
                }
                guard let value = Int(line) else { Issue.record("round \(round): unexpected line \(line)"); break }
                if let previous {
                    #expect(value == previous + 1, "round \(round): \(value) after \(previous)")
                } else {
                    // The first number of a run: right after a durable snapshot,
                    // not before the last confirmed one, not past what was printed.
                    #expect(value - 1 >= lastConfirmed && value - 1 <= lastPrinted,
                            "round \(round): resumed at \(value); last confirmed snapshot \(lastConfirmed), last printed \(lastPrinted)")
                    if value > 1 { resumedRuns += 1 }
                }
                previous = value
                lastPrinted = value
            }
        }
        #expect(lastPrinted > 10_000, "the counter barely ran: \(lastPrinted)")
        #expect(resumedRuns >= Self.kills - 2, "only \(resumedRuns) runs resumed a previous state")
    }
}
