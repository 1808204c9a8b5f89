// Negative tests: each kind of error is reported with the right message at
// the right line and column, several in one run, and nothing is produced.

import Testing
@testable import PhantomCompiler

@Suite struct DiagnosticTests {
    @Test func reportsFileLineColumnTheSourceLineAndACaret() {
        let source = """
            class counter {
                var n : int;
                void run(var boot) {
                    n = n + 1
                    boot.16(n);
                }
            };
            """
        let result = Compiler.compile(source, file: "counter.ph")
        #expect(!result.succeeded && result.classes.isEmpty)
        let first = try! #require(result.errors.first)
        #expect(first.description == """
            counter.ph:4:18: error: expected ';' after expression, found 'boot'
                    n = n + 1
                             ^
            """)
    }

    @Test func reportsSeveralErrorsInOneRun() {
        let source = """
            class c {
                void run(var boot) {
                    var s : string = 5;
                    foo(1);
                    unknown = 3;
                    if (1 > ) { }
                    return 5;
                }
                int get() { }
            };
            """
        #expect(errors(source) == [
            "3:26: the initial value of 's' needs string, found int",
            "4:9: class c has no method 'foo'",
            "5:9: unknown name 'unknown'",
            "6:17: expected an expression, found ')'",
            "7:16: method 'run' is void and cannot return a value",
            "9:15: missing return statement in method 'get', which returns int",
        ])
    }

    @Test func syntaxErrors() {
        #expect(errors("class c { void f() { x = ; } };") == ["1:26: expected an expression, found ';'"])
        #expect(errors("class c { void f() { while (1 { } } };") == ["1:30: expected ')' after the condition, found '{'"])
        #expect(errors("class c { void f() { f(1, ; } };") == ["1:27: expected an expression, found ';'"])
        #expect(errors("class c { var x : ; };") == ["1:19: expected a type after ':', found ';'"])
        #expect(errors("class c { void f() { } ") == ["1:24: expected '}' to end the body of c, found end of file"])
        #expect(errors("clas c { };") == ["1:1: expected 'class' or 'interface', found 'clas'"])
        #expect(errors("class c { void f() { else x = 1; } };") == ["1:22: 'else' without 'if'"])
        #expect(errors("class c { void f() { 1 = 2; } };") == ["1:22: the left side of '=' must be a variable, a field or an array element"])
        #expect(errors("class c { void f() { switch (1) { x = 1; } } };") == ["1:35: expected 'case' or 'default' in the switch body, found 'x'"])
        #expect(errors("class c { void f() { try { } } };") == ["1:30: expected 'catch' or 'finally' after the try block"])
    }

    @Test func lexicalErrors() {
        #expect(errors("class c { void f() { var s = \"abc; } };") == ["1:30: unterminated string: expected '\"' before the end of the line"])
        #expect(errors("class c { void f() { var s = \"\\q\"; } };") == ["1:31: unknown escape '\\q'; expected \\n, \\t, \\r, \\0, \\\\, \\\" or \\'"])
        #expect(errors("class c { void f() { var i = 12abc; } };") == ["1:30: malformed number '12abc'"])
        #expect(errors("class c { void f() { var i = 3000000000; } };") == ["1:30: number is too large for int; add 'L' for a long"])
        #expect(errors("class c { void f() { var i = 1 # 2; } };") == ["1:32: unexpected character '#'"])
        #expect(errors("class c { /* never closed };") == ["1:11: unterminated comment: expected '*/'"])
    }

    @Test func typeErrors() {
        #expect(errors(program("var i : int = \"x\";")) == ["4:15: the initial value of 'i' needs int, found string"])
        #expect(errors(program("var s : string = 1 - \"x\";")) == ["4:20: '-' needs numbers, found int and string"])
        #expect(errors(program("if (\"x\") { }")) == ["4:5: a condition must be an int (or a comparison), found string; compare with null"])
        #expect(errors(program("var x : test = new .internal.directory();")) == ["4:16: the initial value of 'x' needs test, found .internal.directory (use a cast)"])
        #expect(errors(program("var x = boot.nothing();")) == ["4:14: .internal.boot has no method 'nothing'"])
        #expect(errors(program("var s = \"a\"; s.length(1);")) == ["4:16: .internal.string.length takes 0 arguments, not 1"])
        #expect(errors(program("new .internal.thread();")) == ["4:1: .internal.thread objects are made by the VM, not with new"])
        #expect(errors(program("var x : nothing;")) == ["4:5: unknown class 'nothing'"])
        #expect(errors(program("var a = 1; var a = 2;")) == ["4:16: variable 'a' is already declared in this method"])
        #expect(errors(program("break;")) == ["4:1: 'break' outside a loop or switch"])
        #expect(errors(program("continue;")) == ["4:1: 'continue' outside a loop"])
        #expect(errors(program("var d; d.frobnicate();")) == ["4:10: no class has a method 'frobnicate' with 0 arguments"])
        #expect(errors(program("switch (1) { case 1: case 1: break; }")) == ["4:27: duplicate case 1"])
        #expect(errors(program("var x : int = 5; var y : int = x.foo;")) == ["4:34: int has no field 'foo'"])
    }

    @Test func declarationErrors() {
        #expect(errors("class a { }; class a { };") == ["1:20: class a is declared twice (see the first declaration)"])
        #expect(errors("class a extends b { };") == ["1:17: unknown class 'b'"])
        #expect(errors("class a extends b { }; class b extends a { };") == ["1:7: class a inherits from itself"])
        #expect(errors("class a { void f() { } void f() { } };") == ["1:29: method 'f' with 0 arguments is declared twice in a"])
        #expect(errors("class a { var x; var x; };") == ["1:22: field 'x' is declared twice"])
        #expect(errors("interface i { void f(); }; class a implements i { };") == ["1:34: class a does not implement f(0 arguments) of interface i"])
        #expect(errors("class a { static var x; };") == ["1:11: static members are not supported: Phantom objects are persistent, use a field of an object instead"])
        #expect(errors("class .internal.mine { };") == ["1:7: class names starting with .internal. belong to the VM"])
        #expect(errors("class a extends .internal.string { };") == ["1:17: cannot extend .internal.string: the VM's internal classes pass on no methods to subclasses"])
        #expect(errors("class a { a(var x) { } }; class b extends a { };") == ["1:33: class b needs a constructor that calls super(...): the constructor of a takes arguments"])
    }

    @Test func errorsInSeveralFilesNameTheirFile() {
        let result = Compiler.compile([
            SourceFile(name: "one.ph", text: "class one { void f() { x = 1; } };"),
            SourceFile(name: "two.ph", text: "class two extends one { void g() { f(2); } };"),
        ])
        #expect(result.errors.map(\.summary) == [
            "one.ph:1:24: error: unknown name 'x'",
            "two.ph:1:36: error: one.f takes 0 arguments, not 1",
        ])
    }

    @Test func warnsAboutUnusedValuesWithoutFailing() {
        let result = Compiler.compile(program("1 + 2;"))
        #expect(result.succeeded)
        #expect(result.diagnostics.map { "\($0.severity) \($0.line):\($0.column): \($0.message)" } == ["warning 4:3: the value of this expression is not used"])
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = program("var x = " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + ";")
        #expect(errors(deep).first?.contains("nesting is too deep") == true)
        let long = program("var x = 1" + String(repeating: " + 1", count: 5000) + ";")
        #expect(errors(long).first?.contains("too long") == true)
        let blocks = program(String(repeating: "{", count: 3000) + String(repeating: "}", count: 3000))
        #expect(errors(blocks).first?.contains("nesting is too deep") == true)
    }

    @Test func errorCountIsCappedButCounted() {
        let source = "class c { void f() {" + String(repeating: " x = 1;", count: 300) + " } };"
        let result = Compiler.compile(source)
        #expect(result.errorCount == 300)
        #expect(result.diagnostics.count == 100)
    }
}
