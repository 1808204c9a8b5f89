// The code the compiler makes is as tight as hand-written assembly: the
// fib, loop and call programs of `phantom bench vm`, written in Phantom,
// execute at most 1.2x the instructions of the hand-assembled versions (the
// instruction counts are exact, unlike times on a shared machine).

import Testing
@testable import PhantomCompiler
@testable import PhantomVM

/// Runs a class's run(boot) to its end; returns the instructions executed.
func instructions(of classes: [ClassFile], className: String) throws -> UInt64 {
    let machine = try CompilerTestMachine()
    try machine.install(classes)
    let thread = try machine.vm.startThread(className: className)
    machine.vm.run()
    #expect(machine.vm.state(of: thread) == .finished)
    return machine.vm.instructions(of: thread)
}

@Suite struct CodeQualityTests {
    static let handFib = """
        class bench
        method run 1
            iconst 25
            i2o
            summon_this
            call 9 1
            os_get 0
            call 16 1
            os_drop
            ret
        end
        method fib 1
            os_get 0
            o2i
            iconst 2
            ilt
            jz recurse
            os_get 0
            ret
        recurse:
            os_get 0
            o2i
            iconst 1
            isublu
            i2o
            summon_this
            call 9 1
            o2i
            os_get 0
            o2i
            iconst 2
            isublu
            i2o
            summon_this
            call 9 1
            o2i
            isum
            i2o
            ret
        end
        """

    static let handLoop = """
        class bench
        method run 1
            stack_reserve 0 1
            iconst 1000000
        loop:
            is_get 1
            is_get 0
            isum
            is_set 0
            djnz loop
            is_drop
            ret
        end
        """

    static let handCalls = """
        class bench
        method run 1
            stack_reserve 1 0
            iconst 0
            i2o
            os_set 1
            iconst 100000
        loop:
            os_get 1
            summon_this
            call 9 1
            os_set 1
            djnz loop
            is_drop
            ret
        end
        method inc 1
            os_get 0
            o2i
            iconst 1
            isum
            i2o
            ret
        end
        """

    func compare(_ phantom: String, _ assembly: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let compiled = try instructions(of: try compileVerified(phantom), className: "bench")
        let hand = try instructions(of: try Assembler.assemble(assembly), className: "bench")
        #expect(Double(compiled) <= 1.2 * Double(hand), "compiled \(compiled) vs hand-assembled \(hand) instructions", sourceLocation: sourceLocation)
    }

    @Test func recursiveFibIsAsTightAsHandAssembly() throws {
        try compare("""
            class bench {
                int fib(var n : int) {
                    if (n < 2) return n;
                    return fib(n - 1) + fib(n - 2);
                }
                void run(var boot) { boot.16(fib(25)); }
            };
            """, Self.handFib)
    }

    @Test func countingLoopIsAsTightAsHandAssembly() throws {
        try compare("""
            class bench {
                void run(var boot) {
                    var s : int = 0;
                    for (var i : int = 1000000; i > 0; i--) s = s + i;
                }
            };
            """, Self.handLoop)
    }

    @Test func callLoopIsAsTightAsHandAssembly() throws {
        try compare("""
            class bench {
                int inc(var x : int) { return x + 1; }
                void run(var boot) {
                    var acc : int = 0;
                    for (var i : int = 100000; i != 0; i--) acc = inc(acc);
                }
            };
            """, Self.handCalls)
    }

    @Test func intLocalsStayOnTheIntegerStack() throws {
        let classes = try compileVerified("""
            class t { void run(var boot) { var a : int = 1; var b : int = a * 2 + 3; boot.16(b); } };
            """)
        let code = try #require(classes.first?.methods.first?.code)
        // No boxing until the value goes to print: one i2o.
        #expect(code.filter { $0 == Opcode.i2o.rawValue }.count == 1)
        #expect(code.filter { $0 == Opcode.o2i.rawValue }.isEmpty)
    }

    @Test func lineTableMapsCodeToSourceLines() throws {
        let classes = try compileVerified("class t {\n  void run(var boot) {\n    boot.16(1);\n\n    boot.16(2);\n  }\n};\n")
        let method = try #require(classes.first?.methods.first)
        #expect(method.lines.map(\.line) == [3, 5])
        #expect(method.lines.first?.ip == 0)
        #expect(method.line(at: method.code.count - 1) == 5)
    }
}
