// Every opcode and every internal-class method, through assembled programs
// whose printed output is checked exactly against docs/bytecode.md and
// docs/internal-classes.md. A program whose output (and end state) is all
// there is to check is a file in Programs/FAMILY/ (NAME.pa, its output in
// NAME.out), run by OpcodeProgramTests.swift; the tests here check more
// (registers, several threads, tables of error cases). The families are
// split over OpcodeCoverageTests+*.swift; helpers: OpcodeCoverageSupport.swift.
//
// The programs use three assembler macros, expanded by `expand`
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

@Suite struct OpcodeCoverageTests {

    // MARK: - Coverage bookkeeping

    /// The opcodes the programs of these files and of Programs/ (and NumericTests.swift, for
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

    // MARK: - call and ret

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

    // MARK: - new

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

}
