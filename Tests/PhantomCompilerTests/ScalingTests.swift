// The compiler's work grows with the program, not with its square (issue 10
// F13): huge classes, deep inheritance chains and cycles end in a result or a
// diagnostic, never in a hang or a stack overflow. No timing: the symbol
// table counts what its lookups look at (`CompileResult.lookupWork`).

import Testing
@testable import PhantomCompiler

@Suite struct ScalingTests {
    /// A class of `members` methods and `members` fields; each method reads a
    /// field and calls the method before it (past the VM's limits: errors).
    func wideClass(_ members: Int) -> String {
        var text = "class wide { "
        for index in 0..<members { text += "var f\(index) : int; " }
        for index in 0..<members {
            text += "int m\(index)() { return f\(index)\(index > 0 ? " + m\(index - 1)()" : ""); } "
        }
        return text + "void run(var boot) { } };"
    }

    @Test func lookupWorkGrowsLinearlyWithTheMembersOfAClass() {
        let small = Compiler.compile(wideClass(2_000))
        let large = Compiler.compile(wideClass(8_000))
        #expect(!small.succeeded && !large.succeeded)
        #expect(small.lookupWork > 0)
        // Four times the members: about four times the work (quadratic would be 16x).
        let ratio = Double(large.lookupWork) / Double(small.lookupWork)
        #expect(ratio < 5.0, "lookup work \(small.lookupWork) -> \(large.lookupWork)")
    }

    @Test func hugeClassesAreReportedAtTheVMsLimits() {
        let methods = "class a { " + (0..<70_000).map { "int m\($0)() { return \($0); } " }.joined() + " void run(var b) { } };"
        #expect(errors(methods) == ["1:7: class a needs method ordinals up to 70008; the VM's call reaches at most 255"])
        let fields = "class a { " + (0..<70_000).map { "var f\($0) : int; " }.joined() + " void run(var b) { } };"
        #expect(errors(fields) == ["1:7: class a has 70000 fields; the VM reaches at most 256"])
    }

    @Test func aTenThousandDeepInheritanceChainCompiles() throws {
        var source = ""
        for index in 0..<10_000 { source += "class c\(index)\(index > 0 ? " extends c\(index - 1)" : "") { };\n" }
        source += "class main { void run(var boot) { var x = new c9999(); boot.print(x.hashCode() != 0, \"\\n\"); } };\n"
        let result = Compiler.compile(source)
        #expect(result.succeeded, "\(result.errors.prefix(3))")
        #expect(result.classes.count == 10_001)
        #expect(result.classes.first?.name == "c0" && result.classes[9_999].parent == "c9998")
    }

    @Test func lookupWorkGrowsLinearlyWithTheDepthOfAChain() {
        // Each class reads the root's field and overrides the root's method.
        func chain(_ depth: Int) -> String {
            var source = "class c0 { var f : int; int g() { return f; } };\n"
            for index in 1..<depth { source += "class c\(index) extends c\(index - 1) { int g() { return f + \(index); } };\n" }
            return source + "class main { void run(var boot) { var x = new c\(depth - 1)(); boot.print(x.g(), \"\\n\"); } };\n"
        }
        let small = Compiler.compile(chain(1_000))
        let large = Compiler.compile(chain(4_000))
        #expect(small.succeeded && large.succeeded, "\(large.errors.prefix(3))")
        let ratio = Double(large.lookupWork) / Double(small.lookupWork)
        #expect(ratio < 5.0, "lookup work \(small.lookupWork) -> \(large.lookupWork)")
    }

    @Test func aTenThousandDeepInterfaceChainCompiles() {
        var source = "interface i0 { int f(); };\n"
        for index in 1..<10_000 { source += "interface i\(index) extends i\(index - 1) { };\n" }
        source += "class main implements i9999 { int f() { return 1; } void run(var boot) { var x : i0 = this; x.f(); } };\n"
        let result = Compiler.compile(source)
        #expect(result.succeeded, "\(result.errors.prefix(3))")
    }

    @Test func interfaceCyclesAreAnErrorNotAHang() {
        #expect(errors("""
            interface i1 extends i2 { void f(); };
            interface i2 extends i1 { void g(); };
            class main implements i1 { void f() { } void g() { } void run(var boot) { var x : i1 = this; x.g(); } };
            """) == ["1:11: interface i1 extends itself"])
        #expect(errors("interface i extends i { }; class main implements i { void run(var boot) { } };")
                == ["1:11: interface i extends itself"])
    }

    @Test func inheritanceCyclesAreReportedOnce() {
        #expect(errors("class a extends b { }; class b extends c { }; class c extends a { }; class d extends a { void run(var boot) { } };")
                == ["1:7: class a inherits from itself"])
    }

    @Test func moreThan255ParametersOrArgumentsAreAnError() {
        let parameters = (0..<256).map { "var p\($0) : int" }.joined(separator: ", ")
        #expect(errors("class a { int f(\(parameters)) { return p255; } void run(var boot) { } };")
                == ["1:15: method 'f' has 256 parameters; the VM passes at most 255 arguments"])
        #expect(errors("class a { a(\(parameters)) { } void run(var boot) { } };")
                == ["1:11: the constructor has 256 parameters; the VM passes at most 255 arguments"])
        let arguments = (0..<300).map(String.init).joined(separator: ", ")
        #expect(errors("class a { void run(var boot) { boot.print(\(arguments)); } };")
                == ["1:37: a call passes at most 255 arguments (the VM's limit); this one passes 300"])
        // 255 is allowed.
        let most = (0..<255).map { "var p\($0) : int" }.joined(separator: ", ")
        let values = (0..<255).map(String.init).joined(separator: ", ")
        #expect(errors("class a { int f(\(most)) { return p254; } void run(var boot) { f(\(values)); } };") == [])
    }

    @Test func aDiagnosticShowsAtMost120BytesOfItsLine() throws {
        let line = "class a { " + (0..<2_000).map { "var f\($0) : int; " }.joined() + " void run(var b) { x = 1; } };"
        let result = Compiler.compile(line)
        let error = try #require(result.errors.first { $0.message.contains("unknown name 'x'") })
        let shown = error.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(shown.count == 3)
        #expect(shown[1].utf8.count <= 120 + 6 && shown[1].hasPrefix("...") && shown[1].contains("x = 1"))
        // The caret is under the x.
        let caret = try #require(shown[2].utf8.firstIndex(of: UInt8(ascii: "^")))
        let column = shown[2].utf8.distance(from: shown[2].utf8.startIndex, to: caret)
        #expect(Array(shown[1].utf8)[column] == UInt8(ascii: "x"))
        // Short lines are shown whole.
        let short = try #require(Compiler.compile("class a { void run(var b) { y = 1; } };").errors.first)
        #expect(short.sourceLine == "class a { void run(var b) { y = 1; } };")
    }
}
