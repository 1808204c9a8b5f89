import Testing
@testable import PhantomVM

/// Random and mutated class files must never crash the loader, the verifier
/// or, once verified, the interpreter.
@Suite struct LoaderFuzzTests {
    struct Mix {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(max(bound, 1)))
        }
    }

    @Test func randomBytesAreRejectedCleanly() {
        var random = Mix(state: 1)
        for length in [0, 1, 3, 4, 10, 100, 1000, 5000] {
            for _ in 0..<50 {
                var bytes = (0..<length).map { _ in UInt8(random.next(256)) }
                if length >= 6 && random.next(2) == 0 { bytes.replaceSubrange(0..<6, with: [0x50, 0x48, 0x43, 0x4C, 0, 1]) }
                if let file = try? ClassFile(decoding: bytes) { _ = try? Verifier.verify(file) }
            }
        }
    }

    @Test func mutatedClassFilesNeverCrashAnythingAndVerifiedOnesRunSafely() throws {
        let sources = [helloSource, fibSource, counterSource]
        let originals = try sources.flatMap { try Assembler.assemble($0) }.map { $0.encoded() }
        var random = Mix(state: 2)
        var decoded = 0, verified = 0, ran = 0
        for round in 0..<3000 {
            var bytes = originals[round % originals.count]
            switch random.next(4) {
            case 0:  // flip bytes
                for _ in 0..<(1 + random.next(4)) { bytes[random.next(bytes.count)] ^= UInt8(1 + random.next(255)) }
            case 1:  // truncate
                bytes = Array(bytes.prefix(random.next(bytes.count)))
            case 2:  // insert garbage
                let at = random.next(bytes.count)
                bytes.insert(contentsOf: (0..<(1 + random.next(8))).map { _ in UInt8(random.next(256)) }, at: at)
            default:  // set a byte to an interesting value
                bytes[random.next(bytes.count)] = [0, 0xFF, 0x7F, 0x80, 0x0D, 0x06, 0x1E][random.next(7)]
            }
            guard let file = try? ClassFile(decoding: bytes) else { continue }
            decoded += 1
            guard (try? Verifier.verify(file)) != nil else { continue }
            verified += 1
            // Verified code must be safe to run: it may fail, never crash.
            let machine = try TestMachine()
            guard (try? machine.vm.install(file)) != nil else { continue }
            guard let entry = file.methods.first(where: { $0.name == "run" }),
                  (try? machine.vm.startThread(className: file.name, method: entry.name)) != nil else { continue }
            machine.vm.run(budget: 200_000)
            ran += 1
        }
        #expect(decoded > 100 && verified > 20 && ran > 10, "decoded \(decoded), verified \(verified), ran \(ran)")
    }
}
