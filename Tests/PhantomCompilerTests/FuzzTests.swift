// The compiler never crashes: random bytes, random token soup and mutated
// valid programs either compile (and then verify) or give diagnostics.

import Foundation
import Testing
@testable import PhantomCompiler
@testable import PhantomVM

/// SplitMix64: a small seeded generator, so a failing input can be reproduced.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Compiles; a success must produce classes the verifier accepts, a failure must say why.
func expectCompilesOrDiagnoses(_ bytes: [UInt8], _ label: @autoclosure () -> String) {
    let result = Compiler.compile([SourceFile(name: "fuzz.ph", bytes: bytes)])
    if result.succeeded {
        var fields: [String: Int] = [:]
        for cls in result.classes {
            let inherited = cls.parent.isEmpty ? 0 : fields[cls.parent] ?? 0
            fields[cls.name] = inherited + cls.fields.count
            do { try Verifier.verify(cls, inheritedFields: inherited) } catch {
                Issue.record("\(label()): verifier rejects \(error)")
            }
        }
    } else if result.errors.isEmpty {
        Issue.record("\(label()): failed without an error message")
    }
}

@Suite struct FuzzTests {
    static let tokens = [
        "class", "interface", "extends", "implements", "var", "int", "long", "string", "void", "new", "this", "super", "null",
        "return", "if", "else", "while", "do", "for", "switch", "case", "default", "break", "continue", "throw", "try",
        "catch", "finally", "instanceof", "synchronized", "package", "import", "attribute", "static",
        "a", "b", "c", "run", "boot", ".internal.directory", ".internal.string", "x", "16", "0", "1", "2147483648", "3L", "1.5",
        "\"s\"", "'c'", "(", ")", "{", "}", "[", "]", ";", ",", ".", ":", "?", "@const", "+", "-", "*", "/", "%", "&", "|",
        "^", "~", "!", "=", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "<<", ">>", ">>>", "++", "--", "+=", "-=", "};",
    ]

    @Test func randomBytesNeverCrashTheCompiler() {
        var generator = SeededGenerator(seed: 1)
        for round in 0..<1500 {
            let count = Int.random(in: 0..<300, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            expectCompilesOrDiagnoses(bytes, "random bytes round \(round)")
        }
    }

    @Test func tokenSoupNeverCrashesTheCompiler() {
        var generator = SeededGenerator(seed: 2)
        for round in 0..<2000 {
            let count = Int.random(in: 0..<120, using: &generator)
            var text = Int.random(in: 0..<2, using: &generator) == 0 ? "class t { void run(var boot) { " : ""
            for _ in 0..<count { text += Self.tokens.randomElement(using: &generator)! + " " }
            expectCompilesOrDiagnoses(Array(text.utf8), "token soup round \(round): \(text)")
        }
    }

    @Test func mutatedExamplesNeverCrashTheCompiler() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: examplesDirectory).filter { $0.hasSuffix(".ph") }.sorted()
        let sources = try names.map { Array(try example($0).utf8) }
        var generator = SeededGenerator(seed: 3)
        for round in 0..<2500 {
            var bytes = sources[round % sources.count]
            let edits = Int.random(in: 1...4, using: &generator)
            for _ in 0..<edits where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<5, using: &generator) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(Array("(){};.,=+\"'0a@[]".utf8).randomElement(using: &generator)!, at: at)
                case 2: bytes[at] = UInt8.random(in: 32...126, using: &generator)
                case 3:
                    // Delete a run (lines, a whole statement).
                    let end = min(bytes.count, at + Int.random(in: 1...40, using: &generator))
                    bytes.removeSubrange(at..<end)
                default:
                    // Duplicate a run somewhere else.
                    let end = min(bytes.count, at + Int.random(in: 1...60, using: &generator))
                    let piece = bytes[at..<end]
                    bytes.insert(contentsOf: piece, at: Int.random(in: 0...bytes.count, using: &generator))
                }
            }
            expectCompilesOrDiagnoses(bytes, "mutated \(names[round % names.count]) round \(round)")
        }
    }
}
