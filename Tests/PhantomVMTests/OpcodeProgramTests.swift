// The runner of Programs/FAMILY/NAME.pa: each program is assembled (after
// the macros of OpcodeCoverageSupport.swift), installed and run from
// `t.run`; its output must equal NAME.out to the byte. Directives in
// comments after the program (so that line numbers stay the source's):
//   ;! compare: output | masked | first-line
//       what is compared: the output as it is, with heap offsets masked
//       (`@0x?`) and stack-trace lines dropped, or its first line only
//   ;! state: finished | failed | ...   the thread's state at the end
// A new program is a new file pair; nothing here changes.

import Foundation
import Testing
@testable import PhantomVM

/// One program file and what its directives ask.
struct CoverageProgram: Sendable, CustomTestStringConvertible {
    let family: String
    let name: String
    let source: String
    let expected: String
    let compare: String
    let state: String?
    var testDescription: String { "\(family)/\(name)" }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Programs")

    /// Every program, sorted by family and name. A .pa without its .out, an
    /// unknown directive or an empty directory is an error, not a skip.
    static func all() throws -> [CoverageProgram] {
        let files = FileManager.default
        var programs: [CoverageProgram] = []
        for family in try files.contentsOfDirectory(atPath: directory.path).sorted() {
            let folder = directory.appendingPathComponent(family)
            for file in try files.contentsOfDirectory(atPath: folder.path).sorted() where file.hasSuffix(".pa") {
                let name = String(file.dropLast(3))
                let source = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
                let expected = try String(contentsOf: folder.appendingPathComponent(name + ".out"), encoding: .utf8)
                var compare = "output", state: String?
                for line in source.split(separator: "\n") where line.hasPrefix(";! ") {
                    let parts = line.dropFirst(3).split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2 else { throw ProgramFileError(file: "\(family)/\(file)", problem: "bad directive \(line)") }
                    switch parts[0] {
                    case "compare" where ["output", "masked", "first-line"].contains(parts[1]): compare = parts[1]
                    case "state": state = parts[1]
                    default: throw ProgramFileError(file: "\(family)/\(file)", problem: "unknown directive \(line)")
                    }
                }
                programs.append(CoverageProgram(family: family, name: name, source: source, expected: expected,
                                                compare: compare, state: state))
            }
        }
        return programs
    }
}

struct ProgramFileError: Error, CustomStringConvertible {
    let file: String
    let problem: String
    var description: String { "\(file): \(problem)" }
}

@Suite struct OpcodeProgramTests {
    @Test func theProgramsAreThere() throws {
        let programs = try CoverageProgram.all()
        #expect(programs.count >= 32)
        #expect(Set(programs.map(\.family)).count >= 10)
    }

    @Test(arguments: try CoverageProgram.all())
    func programPrintsItsExpectedOutput(_ program: CoverageProgram) throws {
        let r = try run(program.source)
        switch program.compare {
        case "masked": #expect(r.masked == program.expected)
        case "first-line": #expect(firstLine(r.output) == program.expected)
        default: #expect(r.output == program.expected)
        }
        if let state = program.state {
            #expect("\(r.state)" == state)
        }
    }
}
