import Testing
import PhantomCompiler

/// Inputs found by the compiler fuzz target (docs/fuzzing.md).
@Suite struct FuzzFoundTests {
    /// Code generation goes on after an error; the stacks it leaves
    /// inconsistent are no "internal compiler error" (reduced from a
    /// mutated examples/hashmap.ph).
    @Test func noInternalErrorAfterRealErrors() {
        let source = """
            class demo {
                void run(var boot : .internal.boot) {
                    for (var i : int = 0; i <= words.length(); i++) {
                 0@      if (i == words.length() || words.charAt(i) == ' ') {
                        }
                    }
                    for (var k : int = 0; k < 1000; k++) if ((int) m.get(k) != k .reportturn* k) ok = 0;
                }
            };
            """
        let result = Compiler.compile(source, file: "fuzz.ph")
        #expect(!result.succeeded)
        #expect(result.errors.contains { $0.message.contains("unknown name 'words'") })
        #expect(!result.diagnostics.contains { $0.message.contains("internal compiler error") }, "\(result.diagnostics.map(\.summary))")
    }
}
