// `phantom compile` and `phantom run` through the real binary.

import Foundation
import Testing

@Suite struct CompileCommandTests {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path

    @Test func runCompilesAndRunsAProgram() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try phantom("run", "--image", dir.file("hello.img"), "\(Self.examples)/hello.ph")
        #expect(result.exitedWith0, "\(result)")
        #expect(result.stdout == "hello, world\nhello again, 2026\n")
    }

    @Test func compileWritesClassFilesThatExecRuns() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let compiled = try phantom("compile", "\(Self.examples)/fib.ph", "-o", dir.file("classes"))
        #expect(compiled.exitedWith0, "\(compiled)")
        #expect(compiled.stdout.contains("examples.fib.pc"))
        #expect(fileBytes(dir.file("classes/examples.fib.pc")) != nil)
        let ran = try phantom("exec", dir.file("classes"), ".examples.fib")
        #expect(ran.exitedWith0, "\(ran)")
        #expect(ran.stdout.hasPrefix("fib(0) = 0\nfib(1) = 1\n") && ran.stdout.hasSuffix("fib(20) = 6765\n"))
    }

    @Test func twoTellerThreadsShareTheLedger() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let result = try phantom("run", "--image", dir.file("bank.img"), "\(Self.examples)/bank.ph")
        #expect(result.exitedWith0, "\(result)")
        #expect(result.stdout.hasSuffix("transfers: 6000, closing total: 400000\n"), "\(result)")
    }

    @Test func compileErrorsAreAllReportedWithExitStatus1() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = "class bad {\n    void run(var boot) {\n        boot.16(x);\n        var s : string = 1;\n        n = 1\n    }\n};\n"
        try source.write(toFile: dir.file("bad.ph"), atomically: true, encoding: .utf8)
        let result = try phantom("compile", dir.file("bad.ph"), "-o", dir.file("out"))
        #expect(result.exited(1), "\(result)")
        let path = dir.file("bad.ph")
        #expect(result.stderr == """
            \(path):3:17: error: unknown name 'x'
                    boot.16(x);
                            ^
            \(path):4:26: error: the initial value of 's' needs string, found int
                    var s : string = 1;
                                     ^
            \(path):5:14: error: expected ';' after expression, found '}'
                    n = 1
                         ^
            3 errors; nothing written

            """, "\(result)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out")))
    }

    @Test func badArgumentsExit64() throws {
        let none = try phantom("compile")
        #expect(none.exited(64), "\(none)")
        #expect(none.stderr.contains("give at least one source file"))
        let missing = try phantom("run", "/nonexistent/file.ph")
        #expect(missing.exited(64), "\(missing)")
        #expect(missing.stderr.contains("no such file: /nonexistent/file.ph"))
    }

    @Test func anUncaughtExceptionExits2WithTheSourceLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try "class crash {\n  void run(var boot) {\n    throw \"boom\";\n  }\n};\n".write(toFile: dir.file("crash.ph"), atomically: true, encoding: .utf8)
        let result = try phantom("run", "--image", dir.file("crash.img"), dir.file("crash.ph"))
        #expect(result.exited(2), "\(result)")
        #expect(result.stdout.contains("thread failed with an uncaught exception: boom"), "\(result)")
    }

    @Test func compileBenchmarkReportsLinesPerSecond() throws {
        let result = try phantom("bench", "compile", "--json", "--lines", "5000", "--runs", "1")
        #expect(result.exitedWith0, "\(result)")
        struct Figures: Decodable { let lines: Int; let seconds: Double; let lines_per_s: Double }
        let figures = try JSONDecoder().decode(Figures.self, from: Data(result.stdout.utf8))
        #expect(figures.lines > 4000 && figures.seconds > 0 && figures.lines_per_s > 0)
    }
}
