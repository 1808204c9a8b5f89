import Testing
@testable import PhantomVM

/// long, float and double through assembled programs: arithmetic under a
/// prefix, comparisons, conversions, boxing, printing.
@Suite struct NumericTests {
    static func long(_ value: Int64) -> String { "prefix_long\niconst_64 \(value)" }
    static func double(_ value: Double) -> String { "prefix_double\niconst_64 \(Int64(bitPattern: value.bitPattern))" }
    static func float(_ value: Float) -> String { "prefix_float\niconst \(Int32(bitPattern: value.bitPattern))" }

    /// Runs `body` (which leaves one value of `type` on the integer stack)
    /// and prints it boxed.
    func printed(_ body: String, as type: String) throws -> String {
        let box = type == "int" ? "i2o" : "prefix_\(type)\ni2o"
        let source = """
            class t
            method run 1
            \(body)
            \(box)
            os_get 0
            call 16 1
            os_drop
            ret
            end
            """
        return try runProgram(source, className: "t").output
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let body: String
        let type: String
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // long
        Case(name: "long add beyond 32 bits", body: "\(long(4_000_000_000))\n\(long(5_000_000_000))\nprefix_long\nisum", type: "long", expected: "9000000000"),
        Case(name: "long multiply", body: "\(long(3_000_000))\n\(long(3_000_000))\nprefix_long\nimul", type: "long", expected: "9000000000000"),
        Case(name: "long isublu", body: "\(long(10))\n\(long(3))\nprefix_long\nisublu", type: "long", expected: "7"),
        Case(name: "long isubul", body: "\(long(10))\n\(long(3))\nprefix_long\nisubul", type: "long", expected: "-7"),
        Case(name: "long idivlu", body: "\(long(-9_000_000_000))\n\(long(4))\nprefix_long\nidivlu", type: "long", expected: "-2250000000"),
        Case(name: "long iremlu", body: "\(long(9_000_000_001))\n\(long(1000))\nprefix_long\niremlu", type: "long", expected: "1"),
        Case(name: "long wraps", body: "\(long(Int64.max))\n\(long(1))\nprefix_long\nisum", type: "long", expected: "\(Int64.min)"),
        Case(name: "long min / -1 wraps", body: "\(long(Int64.min))\n\(long(-1))\nprefix_long\nidivlu", type: "long", expected: "\(Int64.min)"),
        Case(name: "long and", body: "\(long(0x0F0F_0000_0000))\n\(long(0x0FF0_0000_0000))\nprefix_long\niand", type: "long", expected: "\(0x0F00_0000_0000)"),
        Case(name: "long or", body: "\(long(1 << 40))\n\(long(1))\nprefix_long\nior", type: "long", expected: "\((1 << 40) + 1)"),
        Case(name: "long xor", body: "\(long(-1))\n\(long(1 << 33))\nprefix_long\nixor", type: "long", expected: "\(-1 ^ (1 << 33))"),
        Case(name: "long not", body: "\(long(1 << 35))\nprefix_long\ninot", type: "long", expected: "\(~(Int64(1) << 35))"),
        Case(name: "long shift left", body: "iconst 40\n\(long(3))\nprefix_long\nishl", type: "long", expected: "\(Int64(3) << 40)"),
        Case(name: "long shift right", body: "iconst 4\n\(long(-256))\nprefix_long\nishr", type: "long", expected: "-16"),
        Case(name: "long unsigned shift", body: "iconst 60\n\(long(-1))\nprefix_long\nushr", type: "long", expected: "15"),
        Case(name: "long compare", body: "\(long(5_000_000_000))\n\(long(4_000_000_000))\nprefix_long\nigt", type: "int", expected: "1"),
        Case(name: "long compare beyond 32 bits", body: "\(long(1 << 32))\n\(long(0))\nprefix_long\nieq", type: "int", expected: "0"),
        Case(name: "long ineq", body: "\(long(7))\n\(long(7))\nprefix_long\nineq", type: "int", expected: "0"),
        Case(name: "int to long", body: "iconst -5\nprefix_long\nfromi", type: "long", expected: "-5"),
        Case(name: "long to int truncates", body: "\(long(0x1_0000_0007))\nfroml", type: "int", expected: "7"),
        // double
        Case(name: "double add", body: "\(double(0.1))\n\(double(0.2))\nprefix_double\nisum", type: "double", expected: "\(0.1 + 0.2)"),
        Case(name: "double divide", body: "\(double(1))\n\(double(4))\nprefix_double\nidivlu", type: "double", expected: "0.25"),
        Case(name: "double divide by zero", body: "\(double(1))\n\(double(0))\nprefix_double\nidivlu", type: "double", expected: "inf"),
        Case(name: "double remainder", body: "\(double(7.5))\n\(double(2))\nprefix_double\niremlu", type: "double", expected: "1.5"),
        Case(name: "double compare", body: "\(double(1.5))\n\(double(2.5))\nprefix_double\nilt", type: "int", expected: "1"),
        Case(name: "NaN is not equal to itself", body: "\(double(.nan))\n\(double(.nan))\nprefix_double\nieq", type: "int", expected: "0"),
        Case(name: "int to double", body: "iconst 3\nprefix_double\nfromi", type: "double", expected: "3.0"),
        Case(name: "double to int truncates", body: "\(double(-2.75))\nfromd", type: "int", expected: "-2"),
        Case(name: "double to int saturates", body: "\(double(1e20))\nfromd", type: "int", expected: "\(Int32.max)"),
        Case(name: "NaN to long is 0", body: "\(double(.nan))\nprefix_long\nfromd", type: "long", expected: "0"),
        Case(name: "long to double", body: "\(long(1 << 53))\nprefix_double\nfroml", type: "double", expected: "\(Double(Int64(1) << 53))"),
        // float
        Case(name: "float multiply rounds to float", body: "\(float(0.1))\n\(float(3))\nprefix_float\nimul", type: "float", expected: "\(Float(0.1) * 3)"),
        Case(name: "float to double", body: "\(float(0.1))\nprefix_double\nfromf", type: "double", expected: "\(Double(Float(0.1)))"),
        Case(name: "double to float", body: "\(double(2.5))\nprefix_float\nfromd", type: "float", expected: "2.5"),
        Case(name: "float subtract", body: "\(float(1))\n\(float(0.25))\nprefix_float\nisublu", type: "float", expected: "0.75"),
        Case(name: "float compare", body: "\(float(2))\n\(float(2))\nprefix_float\nige", type: "int", expected: "1"),
        // int equality
        Case(name: "int ieq", body: "iconst 5\niconst 5\nieq", type: "int", expected: "1"),
        Case(name: "int ineq", body: "iconst 5\niconst -5\nineq", type: "int", expected: "1"),
        Case(name: "prefixed is_dup", body: "\(long(1 << 40))\nprefix_long\nis_dup\nprefix_long\nisum", type: "long", expected: "\(Int64(1) << 41)"),
    ]

    @Test(arguments: cases)
    func numericInstruction(_ c: Case) throws {
        #expect(try printed(c.body, as: c.type) == c.expected)
    }

    @Test func longDivisionByZeroIsAGuestException() throws {
        let output = try printed("\(Self.long(1))\n\(Self.long(0))\nprefix_long\nidivlu", as: "long")
        #expect(output.contains("division by zero"))
        #expect(output.contains("pc 20"))  // the prefix's offset: two 10-byte constants before it
    }

    @Test func unboxingChecksTheType() throws {
        // A boxed long is not a double, nor an int.
        var output = try printed("\(Self.long(7))\nprefix_long\ni2o\nprefix_double\no2i", as: "double")
        #expect(output.contains("o2i: 7 is not a double"))
        output = try printed("\(Self.long(7))\nprefix_long\ni2o\no2i", as: "int")
        #expect(output.contains("o2i: 7 is not an integer"))
        output = try printed("\(Self.long(1 << 40))\nprefix_long\ni2o\nprefix_long\no2i", as: "long")
        #expect(output == "\(Int64(1) << 40)")
    }

    @Test func boxedValuesAreObjectsWithUniversalMethods() throws {
        // toString, equals (same type and bits), hashCode, getClass.
        let source = """
            class t
            method run 1
            \(Self.double(2.5))
            prefix_double
            i2o
            call 5 0
            os_get 0
            call 16 1
            os_drop
            sconst " "
            os_get 0
            call 16 1
            os_drop
            \(Self.long(9))
            prefix_long
            i2o
            \(Self.long(9))
            prefix_long
            i2o
            call 4 1
            os_get 0
            call 16 1
            os_drop
            \(Self.long(9))
            prefix_long
            i2o
            \(Self.double(9))
            prefix_double
            i2o
            call 4 1
            os_get 0
            call 16 1
            os_drop
            \(Self.double(1))
            prefix_double
            i2o
            call 2 0
            summon_by_name ".internal.double"
            os_eq
            i2o
            os_get 0
            call 16 1
            os_drop
            sconst "x="
            \(Self.long(-3))
            prefix_long
            i2o
            os_get 0
            call 16 2
            os_drop
            ret
            end
            """
        let output = try runProgram(source, className: "t").output
        #expect(output == "2.5 101x=-3")
    }

    @Test func newMakesZeroValues() throws {
        for (name, expected) in [("long", "0"), ("float", "0.0"), ("double", "0.0")] {
            let source = """
                class t
                method run 1
                summon_by_name ".internal.\(name)"
                new
                os_get 0
                call 16 1
                os_drop
                ret
                end
                """
            #expect(try runProgram(source, className: "t").output == expected)
        }
    }

    @Test func thePrefixAndItsInstructionAreOneInstructionForTheVerifier() throws {
        // A prefix before an instruction it cannot modify, at the end, and
        // a jump between a prefix and its instruction are rejected.
        let bad = [
            "prefix_long\nos_dup",
            "prefix_float\niand",
            "prefix_double\nishl",
            "prefix_long\nprefix_long\nisum",
        ]
        for body in bad {
            let source = "class t\nmethod run 1\niconst 1\niconst 1\n\(body)\nret\nend\n"
            #expect(throws: (any Error).self) { _ = try Assembler.assemble(source, file: "t.pa") }
        }
        let intoPrefix = "class t\nmethod run 1\n\(Self.long(1))\n\(Self.long(2))\njmp inside\nprefix_long\ninside:\nisum\nret\nend\n"
        #expect(throws: (any Error).self) { _ = try Assembler.assemble(intoPrefix, file: "t.pa") }
        let atEnd = MethodFile(name: "run", ordinal: 8, arguments: 0, maxObjectStack: 1, maxIntegerStack: 1, code: [0x5C], constants: [], lines: [])
        #expect(throws: VerifyError.self) { _ = try Verifier.analyze(atEnd, className: "t", fieldCount: 0) }
    }

    @Test func conversionsAgreeWithSwift() {
        let doubles: [Double] = [0, -0.0, 1.5, -1.5, 2_147_483_647.9, -2_147_483_648.9, 1e300, -1e300, .infinity, -.infinity, .nan, 9.223372036854775807e18]
        for value in doubles {
            let slot = VirtualMachine.slot(double: value)
            let asLong = VirtualMachine.convert(slot, from: .double, to: .long)
            let asInt = VirtualMachine.convert(slot, from: .double, to: nil)
            if value.isNaN {
                #expect(asLong == 0 && asInt == 0)
            } else {
                let clampedLong = value >= 9.223372036854775807e18 ? Int64.max : value <= -9.223372036854775808e18 ? Int64.min : Int64(value)
                let clampedInt = value >= 2147483647 ? Int32.max : value <= -2147483648 ? Int32.min : Int32(value)
                #expect(asLong == clampedLong)
                #expect(asInt == Int64(clampedInt))
            }
        }
    }
}
