// Helpers of the opcode-coverage tests (OpcodeCoverageTests*.swift) and of
// the program runner (OpcodeProgramTests.swift): the assembler macros, a run,
// masking of heap offsets.

import Foundation
import Testing
import PhantomMemory
@testable import PhantomVM


/// Expands the `print`, `printi` and `say` macros.
func expand(_ source: String) -> String {
    source.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
        let text = trimmed(line)
        let code = trimmed(text.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0])
        if code == "print" {
            return "    sconst \"|\"\n    os_get 0\n    call 16 2\n    os_drop"
        }
        if code == "printi" {
            return "    i2o\n    sconst \"|\"\n    os_get 0\n    call 16 2\n    os_drop"
        }
        if text.hasPrefix("say ") {
            return "    sconst \(text.dropFirst(4))\n    os_get 0\n    call 16 1\n    os_drop"
        }
        return String(line)
    }.joined(separator: "\n")
}

func trimmed(_ line: Substring) -> Substring {
    var text = line
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
    return text
}

/// One finished (or stopped) run of an assembled program.
struct Run {
    let output: String
    let machine: TestMachine
    let thread: ObjectRef
    var vm: VirtualMachine { machine.vm }
    var state: ThreadState { machine.vm.state(of: thread) }
    /// The output with heap offsets masked (`@0x?`) and stack-trace lines removed.
    var masked: String { mask(output) }
    /// The receiver of the thread's bottom frame (the object `run` ran on).
    var runReceiver: ObjectRef { machine.memory.reference(machine.memory.reference(thread, 0), 2) }
    /// The program counter and stack depths saved in the thread's current frame.
    var registers: (pc: Int, objects: Int, integers: Int) {
        let frame = machine.memory.reference(thread, 0)
        let first = machine.memory.word(frame, at: 0), second = machine.memory.word(frame, at: 8)
        return (Int(first & 0xFFFF_FFFF), Int(first >> 32), Int(second & 0xFFFF_FFFF))
    }
}

/// Assembles (after macro expansion), installs and runs `className`.run.
func run(_ source: String, className: String = "t") throws -> Run {
    let (output, machine, thread) = try runProgram(expand(source), className: className)
    return Run(output: output, machine: machine, thread: thread)
}

/// Masks heap offsets and drops the `    at …` lines of stack traces.
func mask(_ text: String) -> String {
    text.replacing(#/\n    at [^\n|]*/#, with: "").replacing(#/@0x[0-9a-f]+/#, with: "@0x?")
}

/// A program that runs `body` under a catch-all catcher and prints the
/// exception (or "no exception").
func catching(_ body: String, fields: String = "", extra: String = "") -> String {
    #"""
    \#(extra)
    class t
    \#(fields)
    method run 1
        summon_null
        push_catcher caught
    \#(body)
        say "no exception"
        ret
    caught:
        print
        ret
    end
    """#
}

/// The first line of a guest exception's text (its message).
func firstLine(_ text: String) -> String { String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }

func fnv1aHash(_ text: String) -> Int32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return Int32(bitPattern: hash)
}

/// The heap offset in the first `@0x…` of `text`.
func firstOffset(_ text: String) -> UInt64? {
    guard let match = text.firstMatch(of: #/@0x([0-9a-f]+)/#) else { return nil }
    return UInt64(match.1, radix: 16)
}

/// A guest error case: code run under a catch-all catcher, and the message
/// the exception must start with (its first line, exactly).
struct CoverageErrorCase: Sendable, CustomTestStringConvertible {
    let name: String
    let body: String
    var fields = ""
    var extra = ""
    let message: String
    var testDescription: String { name }
}
