// `phantom bench compile`: the compiler's speed on a large generated program
// (classes with fields, constructors, loops, switches, string building,
// calls across classes, try/catch), in source lines per second. The whole
// pipeline is timed: lexing, parsing, checking, code generation and the PVM
// verifier's check of every generated class.
//
// The scaling case (`--members N`) compiles one class of N methods and one
// of N fields: both are past the VM's limits (255 ordinals, 256 fields), so
// what is timed is the way to that error; it must grow with N, not N².

import ArgumentParser
import Foundation
import PhantomCompiler

struct CompileBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Measure the compiler's speed (source lines per second) on a large generated program.")

    @Flag(help: "Print JSON for tools (keys: lines, seconds, lines_per_s, scaling).") var json = false
    @Option(help: "Approximate number of source lines to generate.") var lines: Int = 200_000
    @Option(help: "Compilations to time (the median counts).") var runs: Int = 3
    @Flag(help: "Skip the verifier's check of the generated code.") var noVerify = false
    @Option(help: "Members of the scaling case's classes: one with this many methods, one with this many fields (0: skip it).")
    var members: Int = 70_000

    func validate() throws {
        guard lines >= 100 else { throw ValidationError("--lines must be at least 100") }
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        guard members >= 0 && members <= 10_000_000 else { throw ValidationError("--members must be between 0 and 10000000") }
    }

    /// A program of about `lines` lines: classes of ~50 lines each.
    static func generate(lines: Int) -> String {
        var text = "package .bench.generated;\n\nimport .internal.directory;\n\n"
        let classes = max(1, lines / 50)
        for index in 0..<classes {
            let parent = index > 0 && index % 4 != 0 ? " extends c\(index - 1)" : ""
            text += """
                // Generated class \(index).
                class c\(index)\(parent) {
                    var count\(index) : int;
                    var name\(index) : string = "c\(index)";
                    var items\(index) : void [];

                    c\(index)() {
                        \(parent.isEmpty ? "" : "super();\n            ")count\(index) = \(index);
                        items\(index) = new void[]();
                    }

                    int sum\(index)(var n : int) {
                        var total : int = 0;
                        for (var i : int = 0; i < n; i++) {
                            if (i % 3 == 0) total += i * 2;
                            else if (i % 3 == 1) total -= 1;
                            else total = total + (i << 1) - (i >> 2);
                        }
                        return total + count\(index);
                    }

                    string describe\(index)(var k : int) {
                        var text = new .internal.string_builder();
                        switch (k & 3) {
                        case 0: text.append("zero"); break;
                        case 1: text.append("one");
                        case 2: text.append("two"); break;
                        default: text.append(k);
                        }
                        return name\(index) + ":" + text.toString() + "/" + sum\(index)(k);
                    }

                    void fill\(index)(var d : directory) {
                        var i : int = 10;
                        while (i > 0) {
                            items\(index)[i] = describe\(index)(i);
                            d.put(name\(index) + i, items\(index)[i]);
                            i = i - 1;
                        }
                        try {
                            if (d.size() > 1000) throw "too many";
                        } catch (var e : string) {
                            count\(index) = -1;
                        }
                    }
                };


                """
        }
        text += """
            class main {
                void run(var boot) {
                    var d = new directory();
                    var first = new c0();
                    first.fill0(d);
                    boot.print(d.size(), "\\n");
                }
            };

            """
        return text
    }

    /// One class with `members` methods (`methods: true`) or fields, on one line, as a generator would write it.
    static func generateScaling(members: Int, methods: Bool) -> String {
        var text = "class wide { "
        for index in 0..<members {
            text += methods ? "int m\(index)() { return \(index); } " : "var f\(index) : int; "
        }
        return text + "void run(var boot) { } };\n"
    }

    /// The median time to compile `text` (to its errors: the class is too wide for the VM).
    func timeScaling(_ text: String, name: String) -> Double {
        let file = SourceFile(name: name, text: text)
        var times: [Double] = []
        for _ in 0..<runs {
            let start = monotonicSeconds()
            _ = Compiler.compile([file], options: CompileOptions(verify: !noVerify))
            times.append(monotonicSeconds() - start)
        }
        return times.sorted()[times.count / 2]
    }

    func run() throws {
        try reportingErrors {
            let source = Self.generate(lines: lines)
            let lineCount = source.utf8.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            let file = SourceFile(name: "generated.ph", text: source)
            var times: [Double] = []
            var classes = 0
            for _ in 0..<runs {
                let start = monotonicSeconds()
                let result = Compiler.compile([file], options: CompileOptions(verify: !noVerify))
                times.append(monotonicSeconds() - start)
                guard result.succeeded else {
                    throw UserError("the generated program does not compile: \(result.errors.prefix(3).map(\.description).joined(separator: "\n"))")
                }
                classes = result.classes.count
            }
            let seconds = times.sorted()[times.count / 2]
            var scaling: CompileScalingResults? = nil
            if members > 0 {
                scaling = CompileScalingResults(
                    members: members,
                    methodsSeconds: timeScaling(Self.generateScaling(members: members, methods: true), name: "methods.ph"),
                    fieldsSeconds: timeScaling(Self.generateScaling(members: members, methods: false), name: "fields.ph"))
            }
            let results = CompileBenchResults(lines: lineCount, seconds: seconds, linesPerSecond: Double(lineCount) / seconds, scaling: scaling)
            if json {
                try printJSON(results)
            } else {
                printNow("compiled \(lineCount) lines (\(classes) classes) in \(fmt(seconds)) s: \(Int(results.linesPerSecond)) lines/s (median of \(runs)\(noVerify ? ", without the verifier" : ""))")
                if let scaling {
                    printNow("a class of \(members) methods: \(fmt(scaling.methodsSeconds)) s; of \(members) fields: \(fmt(scaling.fieldsSeconds)) s (to the VM-limit error)")
                }
            }
        }
    }
}

/// What `phantom bench compile --json` prints (a contract: keep the keys).
struct CompileBenchResults: Encodable {
    let lines: Int
    let seconds: Double
    let linesPerSecond: Double
    /// The scaling case (absent with `--members 0`).
    let scaling: CompileScalingResults?
    enum CodingKeys: String, CodingKey {
        case lines
        case seconds
        case linesPerSecond = "lines_per_s"
        case scaling
    }
}

/// `scaling` in `phantom bench compile --json`: seconds to compile a class of
/// `members` methods and one of `members` fields.
struct CompileScalingResults: Encodable {
    let members: Int
    let methodsSeconds: Double
    let fieldsSeconds: Double
    enum CodingKeys: String, CodingKey {
        case members
        case methodsSeconds = "methods_seconds"
        case fieldsSeconds = "fields_seconds"
    }
}
