import Testing
import CPhantomSupport
@testable import PhantomStore

@Suite struct ChecksumTests {
    @Test func knownAnswer() {
        #expect(crc32c(Array("123456789".utf8)) == 0xE306_9283)
        #expect(crc32c([UInt8]()) == 0)
    }

    @Test func hardwarePathAgreesWithTablesForEveryLengthAndAlignment() {
        var generator = SplitMix(seed: 99)
        let bytes = (0..<20000).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        bytes.withUnsafeBytes { raw in
            for length in [0, 1, 7, 8, 31, 33, 1359, 4079, 4080, 4081, 4096, 8191, 12288, 19990] {
                for offset in [0, 1, 3, 8] where offset + length <= raw.count {
                    let start = raw.baseAddress! + offset
                    let fast = phantom_crc32c(0, start, length)
                    let slow = phantom_crc32c_portable(0, start, length)
                    #expect(fast == slow, "length \(length), offset \(offset)")
                    // Chaining: crc(a + b) from crc(a).
                    let half = length / 2
                    #expect(phantom_crc32c(phantom_crc32c(0, start, half), start + half, length - half) == slow)
                }
            }
        }
    }
}
