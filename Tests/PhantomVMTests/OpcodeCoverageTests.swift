// Every opcode and every internal-class method, through assembled programs
// whose printed output is checked exactly against docs/bytecode.md and
// docs/internal-classes.md.
//
// The programs use three assembler macros, expanded by `expand` below
// (only in the `run` method, whose slot 0 holds the boot object):
//   print        prints the top object followed by "|" and pops it
//   printi       the same for the top integer
//   say "TEXT"   prints TEXT as it is
// Tests that check stack traces (pc and source line) are written without
// macros, so that their line numbers are the source's.

import Foundation
import Testing
import PhantomMemory
@testable import PhantomVM

// MARK: - Helpers

/// Expands the `print`, `printi` and `say` macros.
private func expand(_ source: String) -> String {
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

private func trimmed(_ line: Substring) -> Substring {
    var text = line
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
    return text
}

/// One finished (or stopped) run of an assembled program.
private struct Run {
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
private func run(_ source: String, className: String = "t") throws -> Run {
    let (output, machine, thread) = try runProgram(expand(source), className: className)
    return Run(output: output, machine: machine, thread: thread)
}

/// Masks heap offsets and drops the `    at …` lines of stack traces.
private func mask(_ text: String) -> String {
    text.replacing(#/\n    at [^\n|]*/#, with: "").replacing(#/@0x[0-9a-f]+/#, with: "@0x?")
}

/// A program that runs `body` under a catch-all catcher and prints the
/// exception (or "no exception").
private func catching(_ body: String, fields: String = "", extra: String = "") -> String {
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
private func firstLine(_ text: String) -> String { String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "") }

private func fnv1aHash(_ text: String) -> Int32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return Int32(bitPattern: hash)
}

/// The heap offset in the first `@0x…` of `text`.
private func firstOffset(_ text: String) -> UInt64? {
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

@Suite struct OpcodeCoverageTests {

    // MARK: - Coverage bookkeeping

    /// The opcodes the programs of this file (and NumericTests.swift, for
    /// the prefixes, conversions and ieq/ineq) exercise. A new opcode in
    /// Opcode.swift makes this test fail until it is tested.
    static let covered: Set<String> = [
        "prefix_long", "prefix_float", "prefix_double", "fromi", "froml", "fromf", "fromd", "ieq", "ineq",
        "nop", "djnz", "jz", "jmp", "ret", "call", "is_dup", "is_drop", "os_dup", "os_drop", "os_load", "os_save",
        "new", "os_get", "os_set", "iconst_0", "iconst_1", "iconst_8", "iconst", "sconst", "iconst_64", "is_get",
        "is_set", "const_pool", "stack_reserve", "push_catcher", "pop_catcher", "throw", "summon_thread",
        "summon_this", "summon_null", "summon_class_class", "summon_int_class", "summon_string_class",
        "summon_by_name", "i2o", "o2i", "isum", "imul", "isubul", "isublu", "idivul", "idivlu", "ior", "iand",
        "ixor", "inot", "log_or", "log_and", "log_xor", "log_not", "is_load", "is_save", "ige", "ile", "igt", "ilt",
        "iremul", "iremlu", "os_eq", "os_neq", "os_isnull", "general_lock", "general_unlock", "ishl", "ishr", "ushr",
    ]

    @Test func everyOpcodeIsCovered() {
        let all = Set(Opcode.allCases.map(\.mnemonic))
        #expect(all.subtracting(Self.covered).isEmpty, "untested opcodes: \(all.subtracting(Self.covered).sorted())")
        #expect(Self.covered.subtracting(all).isEmpty, "not opcodes: \(Self.covered.subtracting(all).sorted())")
    }

    // MARK: - The example of docs/bytecode.md

    @Test func theDocumentedExampleRunsAsDocumented() throws {
        // The program of "A complete example", taken from the docs, so that
        // the docs and the VM cannot drift apart.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/bytecode.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.range(of: "### A complete example"))
        let blocks = text[section.upperBound...].components(separatedBy: "```")
        try #require(blocks.count >= 2)
        let source = String(blocks[1].drop(while: { $0 != "\n" }).dropFirst())
        #expect(source.hasPrefix("; demo.pa"))
        let r = try run(source, className: ".demo.sum")
        #expect(r.output == "sum 1..10 = 55\n100/5 = 20\ndivision by zero\n    at .demo.sum.safediv (pc 17 line 57)\n    at .demo.sum.run (pc 109 line 43)")
        #expect(r.state == .finished)
        #expect(r.vm.result(of: r.thread) == .null)
    }

    // MARK: - Control: nop, jz, jmp, djnz

    @Test func nopDoesNothing() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 5
            nop
            nop
            printi
            ret
        end
        """#)
        #expect(r.output == "5|")
        #expect(r.state == .finished)
    }

    @Test func jzPopsAndJumpsOnlyOnZero() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 7
            iconst 0
            jz z1
            say "fell0,"
        z1:
            printi              ; 7: jz popped only its own operand
            iconst -1
            jz z2
            say "fell-1,"
        z2:
            iconst 1
            jz z3
            say "fell1,"
        z3:
            iconst -2147483648
            jz z4
            say "fellmin"
        z4:
            ret
        end
        """#)
        #expect(r.output == "7|fell-1,fell1,fellmin")
    }

    @Test func jmpGoesForwardAndBackward() throws {
        let r = try run(#"""
        class t
        method run 1
            jmp fwd
            say "skipped"
        back:
            say "back"
            ret
        fwd:
            say "fwd,"
            jmp back
        end
        """#)
        #expect(r.output == "fwd,back")
    }

    @Test func djnzDecrementsInPlaceAndKeepsTheCounter() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 3
        loop:
            say "x"
            djnz loop
            printi                  ; the counter stays: 0
            iconst_1
            djnz never1             ; 1 -> 0: falls through
            printi
            iconst_0
            djnz wrap0              ; 0 -> -1: non-zero, jumps
            say "bad0"
            ret
        wrap0:
            printi
            iconst -2147483648
            djnz wrapmin            ; wraps to Int32.max
            say "badmin"
            ret
        wrapmin:
            printi
            ret
        never1:
            say "bad1"
            ret
        end
        """#)
        #expect(r.output == "xxx0|0|-1|2147483647|")
    }

    @Test func djnzLoopSumsOneToTen() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst_0                ; islot 0: total
            iconst 10               ; islot 1: n
        loop:
            is_dup
            is_get 0
            isum
            is_set 0                ; total += n
            djnz loop
            is_drop
            printi
            ret
        end
        """#)
        #expect(r.output == "55|")
    }

    // MARK: - call and ret

    @Test func callPassesArgumentsInPushOrderAndRetReturnsTheTop() throws {
        let r = try run(#"""
        class callee
        field v
        method set 1 20
            os_get 0
            os_save 0
            summon_this
            ret
        end
        method get 0 21
            os_load 0
            ret
        end
        class t
        method run 1
            iconst 1
            i2o
            iconst 2
            i2o
            iconst 3
            i2o
            summon_this
            call 20 3               ; three(1, 2, 3) = 100*a0 + 10*a1 + a2
            print
            summon_this
            call 21 0               ; ret with an empty stack: null
            print
            sconst "x"
            sconst "y"
            summon_this
            call 22 2               ; pushes nothing: returns its last argument
            print
            summon_this
            call 23 0               ; pushes "a" "b": returns the top
            print
            iconst 42
            sconst "below"
            sconst "arg"
            summon_this
            call 24 1               ; id(arg); the caller's stacks below survive
            print
            print
            printi
            summon_by_name "callee"
            new                     ; slot 1: another object
            sconst "payload"
            os_get 1
            call 20 1               ; set: this is the receiver, returns this
            os_get 1
            os_eq
            printi
            os_get 1
            call 21 0               ; get: the receiver's field
            print
            summon_by_name "callee"
            new
            call 21 0               ; a fresh object's field is its own (null)
            print
            os_drop
            ret
        end
        method three 3 20
            os_get 0
            o2i
            iconst 100
            imul
            os_get 1
            o2i
            iconst 10
            imul
            isum
            os_get 2
            o2i
            isum
            i2o
            ret
        end
        method empty 0 21
            ret
        end
        method last 2 22
            ret
        end
        method top 0 23
            sconst "a"
            sconst "b"
            ret
        end
        method id 1 24
            os_get 0
            ret
        end
        """#)
        #expect(r.output == "123|null|y|b|arg|below|42|1|payload|null|")
        #expect(r.state == .finished)
    }

    @Test func retInTheBottomFrameFinishesTheThreadWithItsResult() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst -7
            i2o
            ret
        end
        """#)
        #expect(r.output == "")
        #expect(r.state == .finished)
        #expect(r.vm.result(of: r.thread) == VirtualMachine.box(-7))
        // run(boot) pushing nothing returns its argument, the boot object.
        let bare = try run("class t\nmethod run 1\n    ret\nend\n")
        #expect(bare.state == .finished)
        #expect(bare.vm.result(of: bare.thread) == bare.vm.bootObject)
    }

    @Test func methodsAreFoundThroughParentsAndCanBeOverridden() throws {
        let r = try run(#"""
        class base
        method who 0 20
            sconst "base.who"
            ret
        end
        method only 0 21
            sconst "base.only"
            ret
        end
        method hashCode 0 6
            iconst 77
            i2o
            ret
        end
        class child extends base
        method who 0 20
            sconst "child.who"
            ret
        end
        method toString 0 5
            sconst "child.toString"
            ret
        end
        class t
        method run 1
            summon_by_name "child"
            new
            os_get 1
            call 20 0
            print
            os_get 1
            call 21 0
            print
            os_get 1
            call 5 0                ; a user class may override a universal ordinal
            print
            os_get 1
            call 6 0                ; a parent's override of a universal ordinal
            print
            os_get 1
            call 2 0                ; the others stay: getClass
            summon_by_name "child"
            os_eq
            printi
            summon_by_name "base"
            new
            call 20 0
            print
            summon_by_name "base"
            new
            call 5 0
            print
            os_drop
            ret
        end
        """#)
        #expect(r.masked == "child.who|base.only|child.toString|77|1|base.who|<base @0x?>|")
    }

    static let callErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "too few arguments", body: "iconst 1\ni2o\nsummon_this\ncall 20 1",
                       extra: "", message: "t.two takes 2 arguments, called with 1"),
        CoverageErrorCase(name: "too many arguments", body: "summon_null\nsummon_null\nsummon_null\nsummon_this\ncall 20 3",
                       message: "t.two takes 2 arguments, called with 3"),
        CoverageErrorCase(name: "null receiver", body: "sconst \"a\"\nsummon_null\ncall 5 1",
                       message: "null reference: method 5 called on null"),
        CoverageErrorCase(name: "unknown ordinal of a user class", body: "summon_this\ncall 42 0", message: "t has no method 42"),
        CoverageErrorCase(name: "reserved ordinal 7", body: "summon_this\ncall 7 0", message: "t has no method 7"),
        CoverageErrorCase(name: "an int has no method 8", body: "iconst 1\ni2o\ncall 8 0", message: ".internal.int has no method 8"),
    ]

    @Test(arguments: callErrors)
    func callErrorsAreGuestExceptions(_ c: CoverageErrorCase) throws {
        // Every case program also has t.two (2 arguments, ordinal 20).
        let source = catching(c.body, fields: c.fields) + "\nmethod two 2 20\n    ret\nend\n"
        let r = try run(source)
        #expect(firstLine(r.output) == c.message)
        #expect(r.output.contains("\n    at t.run (pc "))
        #expect(r.state == .finished)
    }

    @Test func aWrongArgumentCountIsReportedAtTheCallInstruction() throws {
        // Exact trace: pc of the failing `call`, source lines of test.pa.
        let r = try run("""
        class t
        method run 1
            summon_null
            push_catcher caught
            iconst 5
            i2o
            summon_this
            call 9 1
            ret
        caught:
            os_get 0
            call 16 1
            ret
        end
        method two 2
            ret
        end
        """)
        #expect(r.output == "t.two takes 2 arguments, called with 1\n    at t.run (pc 13 line 8)")
    }

    // MARK: - Stacks and locals

    @Test func integerAndObjectDupAndDrop() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 3
            iconst 4
            is_dup
            printi
            printi
            printi
            iconst 3
            iconst 4
            is_drop
            printi
            sconst "x"
            sconst "y"
            os_dup
            print
            print
            print
            sconst "x"
            sconst "y"
            os_drop
            print
            sconst "same"
            os_dup
            os_eq                   ; a copy of the same reference
            printi
            ret
        end
        """#)
        #expect(r.output == "4|4|3|3|y|y|x|x|1|")
    }

    @Test func osGetAndOsSetAddressAbsoluteSlots() throws {
        let r = try run(#"""
        class t
        method run 1
            stack_reserve 2 0       ; slots 1 and 2: null
            sconst "A"
            os_set 2
            os_get 2
            print
            os_get 1
            print
            sconst "p"
            sconst "q"
            summon_this
            call 20 2
            print
            sconst "p"
            sconst "q"
            summon_this
            call 21 2
            print
            ret
        end
        method copy 2 20            ; slot 1 = slot 0, returns slot 1
            os_get 0
            os_set 1
            os_get 1
            ret
        end
        method second 2 21
            os_get 1
            ret
        end
        """#)
        #expect(r.output == "A|null|p|q|")
    }

    @Test func isGetAndIsSetAddressAbsoluteSlots() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 10
            iconst 20
            iconst 30
            is_get 0
            printi
            iconst 99
            is_set 1                ; is: 10 99 30
            printi
            printi
            printi
            ret
        end
        """#)
        #expect(r.output == "10|30|99|10|")
    }

    @Test func stackReservePushesNullsAndZerosAboveWhatIsThere() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 9
            sconst "s"
            stack_reserve 2 3
            is_get 0
            printi                  ; 9: below the reserved slots
            printi
            printi
            printi                  ; 0 0 0
            printi                  ; 9
            os_get 1
            print                   ; s
            os_get 2
            print
            os_get 3
            print                   ; null null
            iconst 1
            iconst 5
            stack_reserve 0 1
            isum                    ; 5 + 0
            printi
            printi
            sconst "arg"
            summon_this
            call 20 1
            print
            ret
        end
        method m 1 20               ; reserved after the argument slot
            stack_reserve 1 0
            os_get 0
            ret
        end
        """#)
        #expect(r.output == "9|0|0|0|9|s|null|null|5|1|arg|")
    }

    // MARK: - Fields

    @Test func fieldLoadsAndSavesAndIntegerViews() throws {
        let r = try run(#"""
        class t
        field a
        field b
        method run 1
            os_load 0
            print                   ; null
            is_load 0
            printi                  ; a null field reads as 0
            sconst "s"
            os_save 0
            os_load 0
            print
            is_load 0
            printi                  ; an object field reads as 0
            iconst -5
            is_save 1
            os_load 1
            print                   ; a tagged integer
            os_load 1
            o2i
            printi
            is_load 1
            printi
            iconst 42
            i2o
            os_save 0
            is_load 0
            printi
            iconst -2147483648
            is_save 0
            is_load 0
            printi
            os_load 1
            print                   ; b untouched
            ret
        end
        """#)
        #expect(r.output == "null|0|s|0|-5|-5|-5|42|-2147483648|-5|")
    }

    @Test func inheritedFieldsComeFirst() throws {
        let r = try run(#"""
        class base
        field x
        method setx 1 20
            os_get 0
            os_save 0
            ret
        end
        class t extends base
        field y
        method run 1
            sconst "X"
            summon_this
            call 20 1               ; base code writes field 0
            os_drop
            sconst "Y"
            os_save 1               ; t's own field
            os_load 0
            print
            os_load 1
            print
            ret
        end
        """#)
        #expect(r.output == "X|Y|")
    }

    // MARK: - new

    @Test func newOfAUserClassHasNullFieldsAndCallsNoConstructor() throws {
        let r = try run(#"""
        class base
        field x
        class obj extends base
        field y
        method construct 0 0
            iconst 1
            is_save 0
            iconst 1
            is_save 1
            summon_null
            ret
        end
        method nulls 0 20
            os_load 0
            os_isnull
            os_load 1
            os_isnull
            iand
            i2o
            ret
        end
        class t
        method run 1
            summon_by_name "obj"
            new
            os_get 1
            call 20 0
            print                   ; 1: both fields null, construct not run
            os_get 1
            call 2 0
            summon_by_name "obj"
            os_eq
            printi
            os_get 1
            call 0 0                ; the user's construct, called explicitly
            print
            os_get 1
            call 20 0
            print                   ; 0 now
            summon_by_name "obj"
            new
            os_get 1
            os_eq                   ; a new object each time
            printi
            ret
        end
        """#)
        #expect(r.output == "1|1|null|0|0|")
    }

    @Test func newOfInternalClasses() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_string_class
            new                     ; ""
            os_dup
            call 8 0
            print                   ; length 0
            os_dup
            call 2 0
            summon_string_class
            os_eq
            printi
            print                   ; the empty string
            summon_by_name ".internal.array"
            new
            os_dup
            call 10 0
            print                   ; size 0
            call 2 0
            summon_by_name ".internal.array"
            os_eq
            printi
            summon_int_class
            new
            os_dup
            o2i
            printi                  ; the integer 0
            iconst_0
            i2o
            os_eq
            printi
            summon_by_name ".internal.mutex"
            new
            os_dup
            call 2 0
            summon_by_name ".internal.mutex"
            os_eq
            printi
            os_dup
            general_lock            ; free: can be taken
            general_unlock
            say "mutex ok|"
            summon_by_name ".internal.object"
            new
            os_dup
            call 2 0
            summon_by_name ".internal.object"
            os_eq
            printi
            print
            sconst "printed by a new boot object|"
            summon_by_name ".internal.boot"
            new
            os_dup
            call 2 0
            summon_by_name ".internal.boot"
            os_eq
            printi
            call 16 1
            print
            ret
        end
        """#)
        #expect(r.masked == "0|1||0|1|0|1|1|mutex ok|1|<.internal.object @0x?>|1|printed by a new boot object|null|")
    }

    static let newErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "class", body: "summon_class_class\nnew",
                       message: "new: .internal.class objects are made by the VM, not with new"),
        CoverageErrorCase(name: "code", body: "summon_by_name \".internal.code\"\nnew",
                       message: "new: .internal.code objects are made by the VM, not with new"),
        CoverageErrorCase(name: "thread", body: "summon_by_name \".internal.thread\"\nnew",
                       message: "new: .internal.thread objects are made by the VM, not with new"),
        CoverageErrorCase(name: "call_frame", body: "summon_by_name \".internal.call_frame\"\nnew",
                       message: "new: .internal.call_frame objects are made by the VM, not with new"),
        CoverageErrorCase(name: "null", body: "summon_null\nnew", message: "new: the operand is not a class"),
        CoverageErrorCase(name: "integer", body: "iconst 3\ni2o\nnew", message: "new: the operand is not a class"),
        CoverageErrorCase(name: "string", body: "sconst \".internal.string\"\nnew", message: "new: the operand is not a class"),
        CoverageErrorCase(name: "user object", body: "summon_this\nnew", message: "new: the operand is not a class"),
    ]

    @Test(arguments: newErrors)
    func newErrorsAreGuestExceptions(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body, fields: c.fields, extra: c.extra))
        #expect(firstLine(r.output) == c.message)
        #expect(r.state == .finished)
    }

    @Test func internalKindsAreNotInherited() throws {
        let r = try run(catching(#"""
            summon_by_name "mystring"
            new
            os_dup
            os_dup
            call 4 1                ; equals by identity
            print
            os_dup
            call 5 0
            print
            call 8 0                ; no length: only universal methods
        """#, extra: "class mystring extends .internal.string\n"))
        #expect(r.masked == "1|<mystring @0x?>|mystring has no method 8|")
    }

    // MARK: - Constants

    @Test func integerConstants() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst_0
            printi
            iconst_1
            printi
            iconst_8 -128
            printi
            iconst_8 -1
            printi
            iconst_8 0
            printi
            iconst_8 127
            printi
            iconst -2147483648
            printi
            iconst 2147483647
            printi
            iconst -1
            printi
            iconst 0x7FFFFFFF
            printi
            iconst_64 0x123456789       ; low 32 bits: 0x23456789
            printi
            iconst_64 0x80000000
            printi
            iconst_64 0xFFFFFFFF00000005
            printi
            iconst_64 0x7FFFFFFFFFFFFFFF
            printi
            iconst_64 4294967296
            printi
            iconst_64 -1
            printi
            ret
        end
        """#)
        #expect(r.output == "0|1|-128|-1|0|127|-2147483648|2147483647|-1|2147483647|591751049|-2147483648|5|-1|0|-1|")
    }

    @Test func sconstMakesANewStringEachTimeAndConstPoolTheSameObject() throws {
        let r = try run(#"""
        class t
        method run 1
            const "first"
            const "second"
            sconst "hé \"q\" \\ tab\tend\n"
            print
            sconst ""
            call 8 0
            print
            stack_reserve 1 0       ; slot 1: the previous string
            iconst 2
        s_loop:
            os_get 1
            sconst "x"
            os_dup
            os_set 1
            os_eq                   ; the same instruction, a new object: 0 0
            printi
            djnz s_loop
            is_drop
            summon_null
            os_set 1
            iconst 2
        c_loop:
            os_get 1
            const_pool 0
            os_dup
            os_set 1
            os_eq                   ; the same constant object: 0 then 1
            printi
            djnz c_loop
            is_drop
            const_pool 1
            print
            const_pool 0
            print
            summon_this
            call 20 0
            summon_this
            call 20 0
            os_eq                   ; across calls too
            printi
            summon_this
            call 21 0
            print                   ; another method's pool
            ret
        end
        method k 0 20
            const "K"
            const_pool 0
            ret
        end
        method other 0 21
            const "other pool"
            const_pool 0
            ret
        end
        """#)
        #expect(r.output == "hé \"q\" \\ tab\tend\n|0|0|0|0|1|second|first|1|other pool|")
    }

    // MARK: - Summons

    @Test func summons() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_thread
            summon_thread
            os_eq
            printi
            summon_thread
            summon_this
            call 20 0               ; the same thread in a callee
            os_eq
            printi
            summon_thread
            call 2 0
            summon_by_name ".internal.thread"
            os_eq
            printi
            summon_thread
            print
            summon_this
            call 2 0
            summon_by_name "t"
            os_eq
            printi
            summon_this
            print
            summon_null
            os_isnull
            printi
            summon_null
            print
            summon_class_class
            call 2 0
            summon_class_class      ; the class of classes is its own class
            os_eq
            printi
            summon_class_class
            summon_by_name ".internal.class"
            os_eq
            printi
            summon_int_class
            summon_by_name ".internal.int"
            os_eq
            printi
            iconst 5
            i2o
            call 2 0
            summon_int_class
            os_eq
            printi
            summon_int_class
            call 2 0
            summon_class_class
            os_eq
            printi
            summon_string_class
            summon_by_name ".internal.string"
            os_eq
            printi
            sconst "s"
            call 2 0
            summon_string_class
            os_eq
            printi
            summon_class_class
            print
            ret
        end
        method thread 0 20
            summon_thread
            ret
        end
        """#)
        let thread = String(describing: r.thread)
        let this = String(describing: r.runReceiver)
        #expect(r.masked == "1|1|1|<.internal.thread @0x?>|1|<t @0x?>|1|null|1|1|1|1|1|1|1|<.internal.class @0x?>|")
        #expect(r.output.contains("|<.internal.thread \(thread)>|1|<t \(this)>|"))
    }

    @Test func summonThisInACalleeIsItsReceiver() throws {
        let r = try run(#"""
        class other
        method me 0 20
            summon_this
            ret
        end
        class t
        method run 1
            summon_by_name "other"
            new
            os_get 1
            call 20 0
            os_get 1
            os_eq
            printi
            summon_this
            os_get 1
            os_eq
            printi
            ret
        end
        """#)
        #expect(r.output == "1|0|")
    }

    @Test func summonByNameFindsEveryInternalClassAndTheNewestInstall() throws {
        let machine = try TestMachine()
        try machine.install("class .cov.ver\nmethod v 0 20\n    sconst \"v1\"\n    ret\nend\n")
        try machine.install("class .cov.ver\nmethod v 0 20\n    sconst \"v2\"\n    ret\nend\n")
        try machine.install(expand(#"""
        class t
        method run 1
            summon_by_name ".cov.ver"
            new
            call 20 0
            print
            summon_by_name ".internal.int"
            summon_int_class
            os_eq
            printi
            summon_by_name ".internal.boot"
            os_get 0
            call 2 0
            os_eq
            printi
            summon_by_name ".internal.object"
            os_isnull
            printi
            summon_by_name ".internal.mutex"
            os_isnull
            printi
            summon_by_name ".internal.array"
            os_isnull
            printi
            summon_by_name ".internal.code"
            os_isnull
            printi
            summon_by_name ".internal.call_frame"
            os_isnull
            printi
            ret
        end
        """#))
        let thread = try machine.vm.startThread(className: "t")
        machine.vm.run()
        #expect(machine.output == "v2|1|1|0|0|0|0|0|")
        #expect(machine.vm.state(of: thread) == .finished)
    }

    @Test func summonByNameOfAMissingClassIsAGuestError() throws {
        let r = try run(catching("summon_by_name \".cov.no.such.class\""))
        #expect(firstLine(r.output) == "no class named .cov.no.such.class")
    }

    // MARK: - i2o and o2i

    @Test func boxingRoundTrips() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst -7
            i2o
            os_dup
            print
            o2i
            printi
            iconst -2147483648
            i2o
            o2i
            printi
            iconst 2147483647
            i2o
            o2i
            printi
            iconst 12
            i2o
            call 2 0
            summon_int_class
            os_eq
            printi
            ret
        end
        """#)
        #expect(r.output == "-7|-7|-2147483648|2147483647|1|")
    }

    static let o2iErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "null", body: "summon_null\no2i", message: "o2i: null is not an integer"),
        CoverageErrorCase(name: "string", body: "sconst \"12\"\no2i", message: "o2i: 12 is not an integer"),
        CoverageErrorCase(name: "object", body: "summon_this\no2i", message: "o2i: <t @0x?> is not an integer"),
        CoverageErrorCase(name: "class", body: "summon_int_class\no2i", message: "o2i: <.internal.class @0x?> is not an integer"),
    ]

    @Test(arguments: o2iErrors)
    func o2iOfANonIntegerIsAGuestError(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(mask(r.output)) == c.message + "|")
    }

    // MARK: - Integer arithmetic and logic

    /// (operation, pushed first, pushed second (top), result).
    static let binaryCases: [(String, Int32, Int32, Int32)] = [
        ("isum", 7, 5, 12), ("isum", -7, 5, -2), ("isum", .max, 1, .min), ("isum", .min, -1, .max), ("isum", -1, -1, -2),
        ("imul", 7, -5, -35), ("imul", -6, -7, 42), ("imul", 65536, 65536, 0), ("imul", .max, 2, -2),
        ("imul", .min, -1, .min), ("imul", 65537, 65537, 131073),
        // isubul: top minus below; isublu: below minus top.
        ("isubul", 7, 5, -2), ("isubul", 5, 7, 2), ("isubul", -3, 4, 7), ("isubul", 1, .min, .max),
        ("isublu", 7, 5, 2), ("isublu", -3, 4, -7), ("isublu", .min, 1, .max), ("isublu", 0, .min, .min),
        // idivul: top / below; idivlu: below / top; truncated toward zero.
        ("idivul", 5, 17, 3), ("idivul", 2, -7, -3), ("idivul", -2, 7, -3), ("idivul", -2, -7, 3),
        ("idivul", -1, .min, .min), ("idivul", 3, 2, 0), ("idivul", 5, 0, 0),
        ("idivlu", 17, 5, 3), ("idivlu", -7, 2, -3), ("idivlu", 7, -2, -3), ("idivlu", -7, -2, 3),
        ("idivlu", .min, -1, .min), ("idivlu", .min, 2, -1_073_741_824), ("idivlu", 0, 5, 0),
        // Remainders: the sign follows the dividend.
        ("iremul", 5, 17, 2), ("iremul", 2, -7, -1), ("iremul", -2, 7, 1), ("iremul", -2, -7, -1), ("iremul", -1, .min, 0),
        ("iremlu", 17, 5, 2), ("iremlu", -7, 2, -1), ("iremlu", 7, -2, 1), ("iremlu", -7, -2, -1), ("iremlu", .min, -1, 0),
        ("iremlu", 3, 5, 3),
        ("ior", 12, 3, 15), ("ior", -8, 3, -5), ("ior", .min, .max, -1),
        ("iand", 12, 10, 8), ("iand", -1, 0x5A, 0x5A), ("iand", -8, 7, 0), ("iand", .min, -1, .min),
        ("ixor", 12, 10, 6), ("ixor", -1, 5, -6), ("ixor", .min, .max, -1), ("ixor", 7, 7, 0),
        ("log_or", 0, 0, 0), ("log_or", 0, 3, 1), ("log_or", -5, 0, 1), ("log_or", 2, 3, 1),
        ("log_and", 0, 0, 0), ("log_and", 2, 0, 0), ("log_and", 0, -1, 0), ("log_and", 2, -3, 1),
        ("log_xor", 0, 0, 0), ("log_xor", 2, 3, 0), ("log_xor", 0, -1, 1), ("log_xor", 5, 0, 1),
        // Comparisons: lower OP top.
        ("ige", 5, 5, 1), ("ige", 4, 5, 0), ("ige", 6, 5, 1), ("ige", -1, 0, 0), ("ige", .min, .max, 0), ("ige", .max, .min, 1),
        ("ile", 5, 5, 1), ("ile", 6, 5, 0), ("ile", 4, 5, 1), ("ile", -1, 0, 1), ("ile", .min, .max, 1), ("ile", .max, .min, 0),
        ("igt", 6, 5, 1), ("igt", 5, 5, 0), ("igt", -1, -2, 1), ("igt", .min, .max, 0), ("igt", 0, -1, 1),
        ("ilt", 6, 5, 0), ("ilt", 5, 6, 1), ("ilt", 5, 5, 0), ("ilt", -2, -1, 1), ("ilt", .min, .max, 1), ("ilt", .max, .min, 0),
        // Shifts: the count below, the value on top; the count is taken modulo 32.
        ("ishl", 3, 1, 8), ("ishl", 0, 5, 5), ("ishl", 31, 1, .min), ("ishl", 32, 1, 1), ("ishl", 33, 1, 2),
        ("ishl", -1, 1, .min), ("ishl", 4, -1, -16), ("ishl", 1, 0x4000_0000, .min), ("ishl", 1, .min, 0),
        ("ishr", 2, -16, -4), ("ishr", 31, .min, -1), ("ishr", 1, 7, 3), ("ishr", 32, -16, -16), ("ishr", 35, -16, -2),
        ("ishr", 4, .max, 134_217_727), ("ishr", -1, -1, -1),
        ("ushr", 28, -16, 15), ("ushr", 1, -1, .max), ("ushr", 31, .min, 1), ("ushr", 32, -1, -1), ("ushr", 0, -8, -8),
        ("ushr", 4, 256, 16), ("ushr", -1, -1, 1),
    ]

    @Test func binaryIntegerOperations() throws {
        // One program; each case runs above a sentinel, which must still be
        // there after the operation (two popped, one pushed).
        var body = ""
        for (op, a, b, _) in Self.binaryCases {
            body += "    iconst 777\n    iconst \(a)\n    iconst \(b)\n    \(op)\n    printi\n    printi\n"
        }
        let r = try run("class t\nmethod run 1\n\(body)    ret\nend\n")
        let results = r.output.split(separator: "|", omittingEmptySubsequences: false).dropLast()
        #expect(results.count == 2 * Self.binaryCases.count)
        for (index, (op, a, b, expected)) in Self.binaryCases.enumerated() where 2 * index + 1 < results.count {
            #expect(results[2 * index] == "\(expected)", "\(a) \(b) \(op)")
            #expect(results[2 * index + 1] == "777", "\(a) \(b) \(op) disturbed the stack below")
        }
        #expect(r.state == .finished)
    }

    @Test func unaryIntegerOperations() throws {
        let cases: [(String, Int32, Int32)] = [
            ("inot", 0, -1), ("inot", -1, 0), ("inot", 5, -6), ("inot", .min, .max), ("inot", .max, .min),
            ("log_not", 0, 1), ("log_not", 1, 0), ("log_not", -1, 0), ("log_not", .min, 0), ("log_not", 2, 0),
        ]
        var body = ""
        for (op, a, _) in cases { body += "    iconst 777\n    iconst \(a)\n    \(op)\n    printi\n    printi\n" }
        let r = try run("class t\nmethod run 1\n\(body)    ret\nend\n")
        #expect(r.output == cases.map { "\($0.2)|777|" }.joined())
    }

    static let divisionErrors: [CoverageErrorCase] = [
        // The divisor is the lower value for idivul/iremul, the top for idivlu/iremlu.
        CoverageErrorCase(name: "idivul", body: "iconst 0\niconst 5\nidivul", message: "division by zero"),
        CoverageErrorCase(name: "idivlu", body: "iconst 5\niconst 0\nidivlu", message: "division by zero"),
        CoverageErrorCase(name: "iremul", body: "iconst 0\niconst 5\niremul", message: "division by zero"),
        CoverageErrorCase(name: "iremlu", body: "iconst 5\niconst 0\niremlu", message: "division by zero"),
        CoverageErrorCase(name: "iremlu 0 by 0", body: "iconst 0\niconst 0\niremlu", message: "division by zero"),
    ]

    @Test(arguments: divisionErrors)
    func divisionByZeroIsAGuestError(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
        #expect(r.state == .finished)
    }

    // MARK: - Object comparisons

    @Test func objectComparisons() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst "a"
            os_dup
            os_eq
            printi                  ; same reference: 1
            sconst "a"
            os_dup
            os_neq
            printi                  ; 0
            sconst "a"
            sconst "a"
            os_eq
            printi                  ; strings by identity: 0
            sconst "a"
            sconst "a"
            os_neq
            printi                  ; 1
            iconst 5
            i2o
            iconst 5
            i2o
            os_eq
            printi                  ; integers by value: 1
            iconst 5
            i2o
            iconst 6
            i2o
            os_eq
            printi                  ; 0
            iconst 5
            i2o
            iconst 6
            i2o
            os_neq
            printi                  ; 1
            iconst_0
            i2o
            summon_null
            os_eq
            printi                  ; integer 0 is not null: 0
            summon_null
            summon_null
            os_eq
            printi                  ; 1
            summon_null
            summon_null
            os_neq
            printi                  ; 0
            summon_this
            summon_this
            os_eq
            printi                  ; 1
            summon_this
            summon_by_name "t"
            new
            os_neq
            printi                  ; 1
            summon_null
            os_isnull
            printi                  ; 1
            iconst_0
            i2o
            os_isnull
            printi                  ; 0
            sconst ""
            os_isnull
            printi                  ; 0
            summon_this
            os_isnull
            printi                  ; 0
            ret
        end
        """#)
        #expect(r.output == "1|0|0|1|1|0|1|0|1|0|1|1|1|0|0|0|")
    }

    // MARK: - Exceptions

    @Test func aStringCatcherCatchesAThrownString() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_string_class
            push_catcher caught
            sconst "boom"
            throw
        caught:
            say "caught:"
            print
            ret
        end
        """#)
        #expect(r.output == "caught:boom|")
        #expect(r.state == .finished)
    }

    @Test func aCatcherForAnotherClassDoesNotCatch() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher outer
            summon_int_class
            push_catcher inner
            sconst "boom"
            throw
        inner:
            say "inner:"
            print
            ret
        outer:
            say "outer:"
            print
            ret
        end
        """#)
        #expect(r.output == "outer:boom|")
    }

    @Test func catchersMatchSubclassesAndAnyValueCanBeThrown() throws {
        let r = try run(#"""
        class exc
        class subexc extends exc
        class t
        method run 1
            summon_null
            push_catcher all1
            summon_by_name "exc"
            push_catcher parent
            summon_by_name "subexc"
            new
            throw
        parent:
            say "parent:"
            print
            summon_null
            push_catcher all2
            summon_by_name "subexc"
            push_catcher child
            summon_by_name "exc"
            new
            throw                   ; an exc is not a subexc
        child:
            say "child:"
            print
            ret
        all2:
            say "all2:"
            print
            summon_int_class
            push_catcher int
            iconst -3
            i2o
            throw
        int:
            say "int:"
            print
            summon_string_class
            push_catcher all3
            summon_null
            push_catcher nullcatch
            summon_null
            throw                   ; null: only a catch-all takes it
        nullcatch:
            say "null:"
            print
            summon_null
            push_catcher all3
            summon_string_class
            push_catcher wrong
            summon_null
            throw
        wrong:
            say "wrong"
            ret
        all3:
            say "all3:"
            print
            ret
        all1:
            say "all1:"
            print
            ret
        end
        """#)
        #expect(r.masked == "parent:<subexc @0x?>|all2:<exc @0x?>|int:-3|null:null|all3:null|")
    }

    @Test func everyCatcherLookedAtIsRemoved() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher a          ; C0: anything
            summon_string_class
            push_catcher b          ; C1: strings
            summon_int_class
            push_catcher c          ; C2: integers
            sconst "s"
            throw                   ; C2 looked at and removed, C1 catches
        a:
            say "A:"
            print
            ret
        b:
            say "B:"
            print
            iconst 7
            i2o
            throw                   ; only C0 is left
        c:
            say "C:"
            print
            ret
        end
        """#)
        #expect(r.output == "B:s|A:7|")
    }

    @Test func popCatcherRemovesTheNewestCatcherOfTheCurrentFrame() throws {
        let newest = try run(#"""
        class t
        method run 1
            pop_catcher             ; none: a no-op
            summon_null
            push_catcher a
            summon_null
            push_catcher b
            pop_catcher             ; removes b
            sconst "e"
            throw
        a:
            say "A:"
            print
            ret
        b:
            say "B:"
            print
            ret
        end
        """#)
        #expect(newest.output == "A:e|")

        let removed = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher a
            pop_catcher
            sconst "e"
            throw
        a:
            say "A:"
            print
            ret
        end
        """#)
        #expect(removed.output == "thread failed with an uncaught exception: e\n")
        #expect(removed.state == .failed)

        let callerKept = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher caught
            summon_this
            call 20 0
            ret
        caught:
            print
            ret
        end
        method m 0 20
            pop_catcher             ; this frame has none; the caller's stays
            sconst "x"
            throw
        end
        """#)
        #expect(callerKept.output == "x|")
    }

    @Test func exceptionsCrossFramesAndResetTheCatchersDepths() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 42
            sconst "keep"
            summon_null
            push_catcher caught
            iconst 99               ; left on the stacks when the exception comes
            sconst "junk"
            summon_this
            call 20 0
            say "not reached"
            ret
        caught:
            print                   ; the exception
            print                   ; "keep": the depths are the catcher's
            printi                  ; 42
            summon_this
            call 22 0               ; calls still work after the unwinding
            print
            ret
        end
        method m1 0 20
            summon_int_class
            push_catcher wrong      ; does not match: the frame is left
            iconst 1
            summon_this
            call 21 0
            ret
        wrong:
            sconst "m1 caught it"
            ret
        end
        method m2 0 21
            sconst "from m2"
            throw
        end
        method after 0 22
            sconst "after"
            ret
        end
        """#)
        #expect(r.output == "from m2|keep|42|after|")
    }

    @Test func catchersDieWithTheirFrame() throws {
        // A callee returns with its catcher still pushed; the caller's
        // exception must not go to it.
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher mine
            summon_this
            call 20 0
            print
            sconst "thrown by run"
            throw
        mine:
            say "run caught:"
            print
            ret
        end
        method leaves 0 20
            summon_null
            push_catcher stale
            sconst "returned"
            ret
        stale:
            sconst "stale catcher"
            ret
        end
        """#)
        #expect(r.output == "returned|run caught:thrown by run|")
    }

    @Test func internalObjectIsNotTheParentOfOtherClasses() throws {
        let r = try run(#"""
        class plain
        class t
        method run 1
            summon_null
            push_catcher all1
            summon_by_name ".internal.object"
            push_catcher wrong
            summon_by_name "plain"
            new
            throw
        all1:
            say "all1:"
            print
            summon_null
            push_catcher all2
            summon_by_name ".internal.object"
            push_catcher wrong
            sconst "text"
            throw
        all2:
            say "all2:"
            print
            summon_by_name ".internal.object"
            push_catcher object
            summon_by_name ".internal.object"
            new
            throw
        object:
            say "object:"
            print
            ret
        wrong:
            say "wrong:"
            print
            ret
        end
        """#)
        #expect(r.masked == "all1:<plain @0x?>|all2:text|object:<.internal.object @0x?>|")
    }

    @Test func runawayRecursionIsACatchableStackOverflow() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher caught
            summon_this
            call 20 0
            ret
        caught:
            print
            say "still running"
            ret
        end
        method down 0 20
            summon_this
            call 20 0
            ret
        end
        """#)
        #expect(firstLine(r.output) == "stack overflow: more than 100000 nested calls")
        #expect(r.output.hasSuffix("|still running"))
        #expect(r.state == .finished)
    }

    @Test func aGuestErrorInACalleeCarriesAStackTrace() throws {
        let r = try run("""
        class t
        method run 1
            summon_null
            push_catcher caught
            iconst 0
            i2o
            summon_this
            call 9 1
            ret
        caught:
            os_get 0
            call 16 1
            ret
        end
        method div 1
            iconst 100
            os_get 0
            o2i
            idivlu
            i2o
            ret
        end
        """)
        #expect(r.output == "division by zero\n    at t.div (pc 11 line 19)\n    at t.run (pc 13 line 8)")
    }

    @Test func aRethrowFromAHandlerGoesToAnOuterCatcher() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher outer
            summon_null
            push_catcher inner
            sconst "first"
            throw
        inner:
            say "inner:"
            print
            sconst "second"
            throw                   ; inner was used up
        outer:
            say "outer:"
            print
            ret
        end
        """#)
        #expect(r.output == "inner:first|outer:second|")
    }

    @Test func uncaughtExceptionsEndTheThread() throws {
        let thrown = try run(#"""
        class t
        method run 1
            sconst "boom"
            throw
        end
        """#)
        #expect(thrown.state == .failed)
        #expect(thrown.output == "thread failed with an uncaught exception: boom\n")
        #expect(thrown.vm.string(thrown.vm.result(of: thrown.thread)) == "boom")

        let null = try run("class t\nmethod run 1\n    summon_null\n    throw\nend\n")
        #expect(null.state == .failed)
        #expect(null.output == "thread failed with an uncaught exception: null\n")
        #expect(null.vm.result(of: null.thread) == .null)

        let error = try run("class t\nmethod run 1\n    iconst 1\n    iconst 0\n    idivlu\n    ret\nend\n")
        #expect(error.state == .failed)
        #expect(error.output == "thread failed with an uncaught exception: division by zero\n    at t.run (pc 10 line 5)\n")
    }

    /// (name, body of run, pc of the failing instruction, object depth, integer depth).
    static let faultingInstructions: [(String, String, Int, Int, Int)] = [
        ("idivlu", "iconst 1\niconst 0\nidivlu", 10, 1, 2),
        ("iremul", "iconst 0\niconst 1\niremul", 10, 1, 2),
        ("o2i", "summon_null\no2i", 1, 2, 0),
        ("call: argument count", "iconst 1\ni2o\nsummon_this\ncall 20 1", 7, 3, 0),
        ("call: internal method", "iconst 9\ni2o\nsconst \"ab\"\ncall 10 1", 13, 3, 0),
        ("call: null receiver", "sconst \"a\"\nsummon_null\ncall 5 1", 7, 3, 0),
        ("new", "iconst_1\ni2o\nnew", 2, 2, 0),
        ("summon_by_name", "iconst_1\nsummon_by_name \"nope\"", 1, 1, 1),
        ("general_lock", "summon_null\ngeneral_lock", 1, 2, 0),
        ("general_unlock", "summon_this\ngeneral_unlock", 1, 2, 0),
    ]

    @Test func aFaultingInstructionKeepsItsOperandsAndItsPc() throws {
        for (name, body, pc, objects, integers) in Self.faultingInstructions {
            let r = try run("class t\nmethod run 1\n\(body)\n    ret\nend\nmethod two 2 20\n    ret\nend\n")
            #expect(r.state == .failed, "\(name)")
            let registers = r.registers
            #expect(registers.pc == pc, "\(name)")
            #expect(registers.objects == objects, "\(name)")
            #expect(registers.integers == integers, "\(name)")
            #expect(r.output.contains("\n    at t.run (pc \(pc) line "), "\(name): \(r.output)")
        }
    }

    // MARK: - Mutexes

    static let mutexErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "lock null", body: "summon_null\ngeneral_lock", message: "general_lock: null is not a mutex"),
        CoverageErrorCase(name: "lock an int", body: "iconst 5\ni2o\ngeneral_lock", message: "general_lock: 5 is not a mutex"),
        CoverageErrorCase(name: "lock a string", body: "sconst \"s\"\ngeneral_lock", message: "general_lock: s is not a mutex"),
        CoverageErrorCase(name: "lock an object", body: "summon_this\ngeneral_lock", message: "general_lock: <t @0x?> is not a mutex"),
        CoverageErrorCase(name: "lock a subclass of mutex", body: "summon_by_name \"submutex\"\nnew\ngeneral_lock",
                       extra: "class submutex extends .internal.mutex\n", message: "general_lock: <submutex @0x?> is not a mutex"),
        CoverageErrorCase(name: "lock twice", body: "summon_by_name \".internal.mutex\"\nnew\nos_dup\ngeneral_lock\ngeneral_lock",
                       message: "general_lock: this thread already holds the mutex"),
        CoverageErrorCase(name: "unlock null", body: "summon_null\ngeneral_unlock",
                       message: "general_unlock: null is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock an int", body: "iconst 5\ni2o\ngeneral_unlock",
                       message: "general_unlock: 5 is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock a free mutex", body: "summon_by_name \".internal.mutex\"\nnew\ngeneral_unlock",
                       message: "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock twice", body: "summon_by_name \".internal.mutex\"\nnew\nos_dup\nos_dup\ngeneral_lock\ngeneral_unlock\ngeneral_unlock",
                       message: "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds"),
    ]

    @Test(arguments: mutexErrors)
    func mutexMisuseIsAGuestError(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body, extra: c.extra))
        #expect(firstLine(mask(r.output)) == c.message + "|")
        #expect(r.state == .finished)
    }

    @Test func aMutexStaysHeldAfterAFailedSecondLock() throws {
        let r = try run(#"""
        class t
        field m
        method run 1
            summon_by_name ".internal.mutex"
            new
            os_save 0
            os_load 0
            general_lock
            summon_null
            push_catcher caught
            os_load 0
            general_lock
            say "no error"
            ret
        caught:
            os_drop
            say "caught|"
            os_load 0
            general_unlock          ; still ours: the exception did not release it
            say "unlocked|"
            os_load 0
            general_lock            ; free again
            os_load 0
            general_unlock
            say "again"
            ret
        end
        """#)
        #expect(r.output == "caught|unlocked|again")
    }

    static let lockerSource = #"""
    class locker
    field m
    method hold 0 20
        os_load 0
        general_lock
        iconst 50
    spin:
        djnz spin
        is_drop
        os_load 0
        general_unlock
        sconst "A"
        ret
    end
    method grab 0 21
        os_load 0
        general_lock
        os_load 0
        general_unlock
        sconst "B"
        ret
    end
    method keep 0 22
        os_load 0
        general_lock
        sconst "kept"
        ret
    end
    method steal 0 23
        os_load 0
        general_unlock
        sconst "stolen"
        ret
    end
    """#

    private func makeLocker() throws -> (TestMachine, ObjectRef) {
        let machine = try TestMachine()
        try machine.install(Self.lockerSource)
        let locker = try machine.vm.instantiate(machine.vm.classNamed("locker")!)
        machine.memory.setReference(locker, 0, try machine.vm.instantiate(machine.vm.mutexClass))
        return (machine, locker)
    }

    @Test func aThreadBlocksOnAHeldMutexUntilItIsFree() throws {
        let (machine, locker) = try makeLocker()
        let vm = machine.vm
        let a = try vm.startThread(on: locker, method: "hold")
        let b = try vm.startThread(on: locker, method: "grab")
        vm.run(budget: 10, slice: 5)        // a takes the mutex, b's lock blocks
        #expect(vm.state(of: a) == .runnable)
        #expect(vm.state(of: b) == .blocked)
        #expect(vm.instructions(of: b) == 1)  // os_load; the blocked lock does not count
        // The mutex stays on b's stack, the pc on the lock, the mutex is recorded in the thread.
        let frame = machine.memory.reference(b, 0)
        #expect(machine.memory.word(frame, at: 0) == 2 | 1 << 32)  // pc 2 (general_lock), 1 object
        #expect(machine.memory.reference(frame, VirtualMachine.frameFixedRefs) == machine.memory.reference(locker, 0))
        #expect(machine.memory.reference(b, 2) == machine.memory.reference(locker, 0))
        vm.run()
        #expect(vm.state(of: a) == .finished && vm.state(of: b) == .finished)
        #expect(vm.string(vm.result(of: a)) == "A" && vm.string(vm.result(of: b)) == "B")
        #expect(machine.memory.reference(machine.memory.reference(locker, 0), 0) == .null)
    }

    @Test func aMutexIsReleasedWhenItsThreadEnds() throws {
        let (machine, locker) = try makeLocker()
        let vm = machine.vm
        let keeper = try vm.startThread(on: locker, method: "keep")
        let thief = try vm.startThread(on: locker, method: "steal")
        vm.run(budget: 200, slice: 100)
        // The keeper ended holding the mutex; nobody else may unlock it...
        #expect(vm.state(of: keeper) == .finished)
        #expect(vm.state(of: thief) == .failed)
        #expect(mask(firstLine(vm.string(vm.result(of: thief)))) == "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds")
        // ...but a thread that locks it gets it: its owner can never release it.
        let waiter = try vm.startThread(on: locker, method: "grab")
        vm.run()
        #expect(vm.state(of: waiter) == .finished)
        #expect(vm.string(vm.result(of: waiter)) == "B")
    }

    // MARK: - Universal methods (ordinals 0-6)

    struct Receiver: Sendable, CustomTestStringConvertible {
        let name: String
        /// Pushes the receiver.
        let push: String
        /// Pushes its class.
        let cls: String
        let className: String
        /// toString, offsets masked.
        let text: String
        /// hashCode; nil: the heap offset (from toString) shifted right by 4.
        let hash: Int32?
        /// equals() against a second `push`.
        let equalsAnother: Int
        var testDescription: String { name }
    }

    static let receivers: [Receiver] = [
        Receiver(name: "user object", push: "summon_by_name \"u\"\nnew", cls: "summon_by_name \"u\"", className: "u",
                 text: "<u @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "integer", push: "iconst -42\ni2o", cls: "summon_int_class", className: ".internal.int",
                 text: "-42", hash: -42, equalsAnother: 1),
        Receiver(name: "string", push: "sconst \"phantom\"", cls: "summon_string_class", className: ".internal.string",
                 text: "phantom", hash: fnv1aHash("phantom"), equalsAnother: 1),
        Receiver(name: "array", push: "summon_by_name \".internal.array\"\nnew", cls: "summon_by_name \".internal.array\"",
                 className: ".internal.array", text: "<.internal.array @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "mutex", push: "summon_by_name \".internal.mutex\"\nnew", cls: "summon_by_name \".internal.mutex\"",
                 className: ".internal.mutex", text: "<.internal.mutex @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "plain object", push: "summon_by_name \".internal.object\"\nnew", cls: "summon_by_name \".internal.object\"",
                 className: ".internal.object", text: "<.internal.object @0x?>", hash: nil, equalsAnother: 0),
        Receiver(name: "thread", push: "summon_thread", cls: "summon_by_name \".internal.thread\"", className: ".internal.thread",
                 text: "<.internal.thread @0x?>", hash: nil, equalsAnother: 1),
        Receiver(name: "class", push: "summon_int_class", cls: "summon_class_class", className: ".internal.class",
                 text: "<.internal.class @0x?>", hash: nil, equalsAnother: 1),
        Receiver(name: "boot", push: "os_get 0", cls: "summon_by_name \".internal.boot\"", className: ".internal.boot",
                 text: "<.internal.boot @0x?>", hash: nil, equalsAnother: 1),
    ]

    @Test(arguments: receivers)
    func universalMethods(_ c: Receiver) throws {
        let r = try run(#"""
        class u
        class t
        method run 1
            \#(c.push)
            sconst "ignored"
            iconst 3
            i2o
            os_get 1
            call 0 2                ; construct: null
            print
            os_get 1
            call 1 0                ; destruct: null
            print
            os_get 1
            call 2 0                ; getClass
            \#(c.cls)
            os_eq
            printi
            os_get 1
            os_get 1
            call 4 1                ; equals itself
            print
            \#(c.push)
            os_get 1
            call 4 1                ; equals another
            print
            os_get 1
            call 4 0                ; equals(missing) = equals(null)
            print
            summon_null
            os_get 1
            call 4 1
            print
            os_get 1
            call 5 0                ; toString
            print
            os_get 1
            call 6 0                ; hashCode
            print
            summon_null
            push_catcher c3
            os_get 1
            call 3 0                ; clone
            ret
        c3:
            print
            summon_null
            push_catcher c7
            os_get 1
            call 7 0                ; 7 is not universal
            ret
        c7:
            print
            ret
        end
        """#)
        let parts = r.output.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(parts.count == 12, "\(r.output)")
        guard parts.count == 12 else { return }
        #expect(parts[0...2] == ["null", "null", "1"])
        #expect(parts[3] == "1", "equals itself")
        #expect(parts[4] == "\(c.equalsAnother)", "equals another")
        #expect(parts[5...6] == ["0", "0"], "equals null")
        #expect(mask(parts[7]) == c.text)
        if let hash = c.hash {
            #expect(parts[8] == "\(hash)")
        } else {
            let offset = try #require(firstOffset(parts[7]))
            #expect(parts[8] == "\(Int32(truncatingIfNeeded: offset >> 4))")
        }
        #expect(firstLine(parts[9]) == "\(c.className) has no method 3")
        #expect(firstLine(parts[10]) == "\(c.className) has no method 7")
        #expect(parts[11] == "")
    }

    @Test func toStringAndHashCodeOfAnObjectUseItsHeapOffset() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_this
            call 5 0
            print
            summon_this
            call 6 0
            print
            os_get 0
            print                   ; boot.16 describes objects the same way
            ret
        end
        """#)
        let this = r.runReceiver
        let boot = r.vm.bootObject
        #expect(r.output == "<t @0x\(String(this.raw, radix: 16))>|\(Int32(truncatingIfNeeded: this.raw >> 4))|<.internal.boot @0x\(String(boot.raw, radix: 16))>|")
    }

    @Test func equalsComparesStringContentsAndEverythingElseByIdentity() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst "ab"
            sconst "ab"
            call 4 1
            print                   ; 1: contents
            sconst "ac"
            sconst "ab"
            call 4 1
            print                   ; 0
            iconst 5
            i2o
            sconst "5"
            call 4 1
            print                   ; 0: a string and an integer
            sconst "5"
            iconst 5
            i2o
            call 4 1
            print                   ; 0
            iconst 5
            i2o
            iconst 5
            i2o
            call 4 1
            print                   ; 1
            iconst 6
            i2o
            iconst 5
            i2o
            call 4 1
            print                   ; 0
            sconst ""
            summon_string_class
            new
            call 4 1
            print                   ; 1: two empty strings
            sconst "copy"
            os_dup
            call 5 0                ; toString of a string: a copy
            os_dup
            os_get 1
            os_eq
            printi                  ; 0: another object
            os_get 1
            os_get 2
            call 4 1
            print                   ; 1: the same text
            print
            os_drop
            ret
        end
        """#)
        #expect(r.output == "1|0|0|0|1|0|1|0|1|copy|")
    }

    // MARK: - .internal.string

    @Test func stringLength() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst ""
            call 8 0
            print
            sconst "abc"
            call 8 0
            print
            sconst "héllo"
            call 8 0
            print                   ; bytes, not characters
            sconst "日本"
            call 8 0
            print
            sconst "ignored"
            sconst "abc"
            call 8 1                ; extra arguments are ignored
            print
            ret
        end
        """#)
        #expect(r.output == "0|3|6|6|3|")
    }

    @Test func stringConcat() throws {
        let r = try run(catching(#"""
            sconst "b"
            sconst "a"
            call 9 1
            print
            iconst -42
            i2o
            sconst "a"
            call 9 1
            print
            summon_null
            sconst "a"
            call 9 1
            print
            summon_this
            sconst "a"
            call 9 1
            print
            sconst "c"
            sconst "b"
            sconst "a"
            call 9 2                ; "a".concat("c", "b"): the second is ignored
            print
            sconst "x"
            os_dup
            sconst "y"
            os_get 2
            call 9 1
            print
            print                   ; the receiver is unchanged
            sconst "a"
            call 9 0
        """#))
        #expect(r.masked == "ab|a-42|anull|a<t @0x?>|ac|xy|x|string.concat needs an argument|")
    }

    @Test func stringCharAt() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 0
            i2o
            sconst "héllo"
            call 10 1
            print
            iconst 1
            i2o
            sconst "héllo"
            call 10 1
            print                   ; 0xC3
            iconst 2
            i2o
            sconst "héllo"
            call 10 1
            print                   ; 0xA9
            iconst 5
            i2o
            sconst "héllo"
            call 10 1
            print
            ret
        end
        """#)
        #expect(r.output == "104|195|169|111|")
    }

    static let charAtErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "negative", body: "iconst -1\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "at the length", body: "iconst 3\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "empty string", body: "iconst 0\ni2o\nsconst \"\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "Int32.min", body: "iconst -2147483648\ni2o\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "a string index", body: "sconst \"0\"\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "a null index", body: "summon_null\nsconst \"abc\"\ncall 10 1", message: "string index out of range"),
        CoverageErrorCase(name: "no index", body: "sconst \"abc\"\ncall 10 0", message: "string index out of range"),
    ]

    @Test(arguments: charAtErrors)
    func stringCharAtErrors(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    @Test func stringSubstring() throws {
        let r = try run(#"""
        class t
        method run 1
            iconst 1
            i2o
            iconst 3
            i2o
            sconst "hello"
            call 11 2
            print
            iconst 0
            i2o
            iconst 5
            i2o
            sconst "hello"
            call 11 2
            print
            iconst 2
            i2o
            iconst 2
            i2o
            sconst "hello"
            call 11 2
            print
            iconst 5
            i2o
            iconst 5
            i2o
            sconst "hello"
            call 11 2
            print
            iconst 1
            i2o
            iconst 3
            i2o
            sconst "héllo"
            call 11 2
            print                   ; "é": whole bytes 1..<3
            iconst 0
            i2o
            iconst 2
            i2o
            sconst "héllo"
            call 11 2
            os_dup
            print                   ; "h" + U+FFFD
            call 8 0
            print
            iconst 2
            i2o
            iconst 3
            i2o
            sconst "héllo"
            call 11 2
            print                   ; U+FFFD
            ret
        end
        """#)
        #expect(r.output == "el|hello|||é|h\u{FFFD}|4|\u{FFFD}|")
    }

    static let substringErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "from > to", body: "iconst 3\ni2o\niconst 2\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "negative from", body: "iconst -1\ni2o\niconst 2\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "to past the end", body: "iconst 0\ni2o\niconst 6\ni2o\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
        CoverageErrorCase(name: "one argument", body: "iconst 0\ni2o\nsconst \"hello\"\ncall 11 1", message: "substring range out of bounds"),
        CoverageErrorCase(name: "no arguments", body: "sconst \"hello\"\ncall 11 0", message: "substring range out of bounds"),
        CoverageErrorCase(name: "a string bound", body: "iconst 0\ni2o\nsconst \"2\"\nsconst \"hello\"\ncall 11 2", message: "substring range out of bounds"),
    ]

    @Test(arguments: substringErrors)
    func stringSubstringErrors(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    // MARK: - .internal.array

    @Test func arrayMadeWithNewIsEmpty() throws {
        let r = try run(catching(#"""
            summon_by_name ".internal.array"
            new
            call 10 0
            print
            iconst 0
            i2o
            summon_by_name ".internal.array"
            new
            call 8 1
        """#))
        #expect(firstLine(r.output) == "0|array index out of range")
    }

    static let arrayGetErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "negative", body: "iconst -1\ni2o\nsummon_by_name \".internal.array\"\nnew\ncall 8 1", message: "array index out of range"),
        CoverageErrorCase(name: "no index", body: "summon_by_name \".internal.array\"\nnew\ncall 8 0", message: "array index out of range"),
        CoverageErrorCase(name: "a string index", body: "sconst \"0\"\nsummon_by_name \".internal.array\"\nnew\ncall 8 1", message: "array index out of range"),
    ]

    @Test(arguments: arrayGetErrors)
    func arrayGetFailsOutOfRange(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body))
        #expect(firstLine(r.output) == c.message)
    }

    // MARK: - .internal.boot

    @Test func bootPrintsEveryKindOfValue() throws {
        let r = try run(#"""
        class t
        method run 1
            sconst "text "
            iconst -2147483648
            i2o
            summon_null
            sconst " ünï\n"
            summon_this
            summon_int_class
            os_get 0
            call 16 6               ; concatenated in argument order, nothing added
            os_isnull               ; returns null
            printi
            os_get 0
            call 16 0               ; no arguments: prints nothing
            print
            ret
        end
        """#)
        let this = String(describing: r.runReceiver)
        #expect(r.masked == "text -2147483648null ünï\n<t @0x?><.internal.class @0x?>1|null|")
        #expect(r.output.contains("<t \(this)>"))
        #expect(r.state == .finished)
    }
}
