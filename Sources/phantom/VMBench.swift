// `phantom bench vm`: the interpreter against Lua 5.4 and CPython 3 running
// the same programs, in the same run. Each program runs as a process
// (`phantom exec`, `lua5.4`, `python3`); the figure is the median wall time
// of --runs runs.

import ArgumentParser
import Foundation

struct VMBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Benchmark the interpreter against lua5.4 and python3 on the same programs.")

    @Flag(help: "Print JSON for tools.") var json = false
    @Option(help: "Runs of each program (the median counts).") var runs: Int = 3
    @Option(help: "Only the benchmarks whose names contain this text.") var filter: String?

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    struct Program {
        let name: String
        let pa: String
        let lua: String
        let python: String
    }

    static let programs: [Program] = [
        Program(name: "fib(35) recursive", pa: """
            class bench
            method run 1
                iconst 35
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
            """,
            lua: "local function fib(n) if n < 2 then return n end return fib(n-1) + fib(n-2) end\nio.write(fib(35))\n",
            python: "import sys\nsys.setrecursionlimit(10000)\ndef fib(n):\n    return n if n < 2 else fib(n-1) + fib(n-2)\nprint(fib(35), end='')\n"),
        Program(name: "integer loop 100M", pa: """
            class bench
            method run 1
                stack_reserve 0 1
                iconst 100000000
            loop:
                is_get 1
                is_get 0
                isum
                is_set 0
                djnz loop
                is_drop
                ret
            end
            """,
            lua: "local s = 0\nfor i = 1, 100000000 do s = (s + i) & 0xFFFFFFFF end\n",
            python: "s = 0\nfor i in range(100000000):\n    s = (s + i) & 0xFFFFFFFF\n"),
        Program(name: "method calls 10M", pa: """
            class bench
            method run 1
                stack_reserve 1 0
                iconst 0
                i2o
                os_set 1
                iconst 10000000
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
            """,
            lua: "local C = {}\nfunction C.inc(self, x) return x + 1 end\nlocal acc = 0\nfor i = 1, 10000000 do acc = C:inc(acc) end\n",
            python: "class C:\n    def inc(self, x):\n        return x + 1\nc = C()\nacc = 0\nfor i in range(10000000):\n    acc = c.inc(acc)\n"),
        Program(name: "string building 1M", pa: """
            class bench
            method run 1
                summon_by_name ".internal.string_builder"
                new
                iconst 1000000
            loop:
                is_get 0
                i2o
                os_get 1
                call 8 1            ; append the counter
                os_drop
                djnz loop
                is_drop
                os_get 1
                call 10 0           ; length
                os_get 0
                call 16 1
                os_drop
                ret
            end
            """,
            lua: "local parts = {}\nfor i = 1000000, 1, -1 do parts[#parts + 1] = tostring(i) end\nio.write(#table.concat(parts))\n",
            python: "parts = []\nfor i in range(1000000, 0, -1):\n    parts.append(str(i))\nprint(len(''.join(parts)), end='')\n"),
        Program(name: "allocation 10M objects", pa: "",
            lua: "local last\nfor i = 1, 10000000 do last = {value = i} end\n",
            python: "class Cell:\n    __slots__ = ('value',)\n    def __init__(self, v):\n        self.value = v\nlast = None\nfor i in range(10000000):\n    last = Cell(i)\n"),
    ]

    /// The allocation program needs two classes.
    static let allocationSource = """
        class cell
        field value
        method set 1
            os_get 0
            os_save 0
            ret
        end
        class bench
        field last
        method run 1
            summon_by_name "cell"
            iconst 10000000
        loop:
            os_get 1
            new
            os_save 0
            djnz loop
            is_drop
            ret
        end
        """

    func run() throws {
        try reportingErrors {
            let work = try makeTemporaryDirectory(in: NSTemporaryDirectory())
            defer { removeTree(work) }
            let phantom = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().path
            let self_ = Bundle.main.executablePath ?? phantom
            var results = VMBenchResults()
            for program in Self.programs where filter.map({ program.name.contains($0) }) ?? true {
                let dir = "\(work)/\(results.benchmarks.count)"
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                let pa = program.name.hasPrefix("allocation") ? Self.allocationSource : program.pa
                try pa.write(toFile: "\(dir)/bench.pa", atomically: true, encoding: .utf8)
                try program.lua.write(toFile: "\(dir)/bench.lua", atomically: true, encoding: .utf8)
                try program.python.write(toFile: "\(dir)/bench.py", atomically: true, encoding: .utf8)
                let assembled = try runProcess(self_, ["asm", "\(dir)/bench.pa", "-o", "\(dir)/classes"])
                guard assembled.status == 0 else { throw UserError("assembling \(program.name) failed: \(assembled.output)") }
                var times: [[Double]] = [[], [], []]
                for _ in 0..<runs {
                    let phantomRun = try timed(self_, ["exec", "\(dir)/classes", "bench"], program.name)
                    let luaRun = try timed("/usr/bin/env", ["lua5.4", "\(dir)/bench.lua"], program.name)
                    let pythonRun = try timed("/usr/bin/env", ["python3", "\(dir)/bench.py"], program.name)
                    // The three must compute the same thing.
                    guard phantomRun.output == luaRun.output, phantomRun.output == pythonRun.output else {
                        throw UserError("\(program.name): results differ: phantom \(phantomRun.output.debugDescription), lua \(luaRun.output.debugDescription), python \(pythonRun.output.debugDescription)")
                    }
                    times[0].append(phantomRun.seconds)
                    times[1].append(luaRun.seconds)
                    times[2].append(pythonRun.seconds)
                }
                let row = VMBenchResults.Row(name: program.name, phantomSeconds: median(times[0]), luaSeconds: median(times[1]), pythonSeconds: median(times[2]))
                results.benchmarks.append(row)
                if !json {
                    printNow("\(program.name.rightPad(24)) phantom \(fmt(row.phantomSeconds)) s  lua \(fmt(row.luaSeconds)) s  python \(fmt(row.pythonSeconds)) s  (phantom speed: \(fmt(row.luaSeconds / row.phantomSeconds))x lua, \(fmt(row.pythonSeconds / row.phantomSeconds))x python)")
                }
            }
            if json { try printJSON(results) }
        }
    }

    func timed(_ executable: String, _ arguments: [String], _ name: String) throws -> (seconds: Double, output: String) {
        let start = monotonicSeconds()
        let result = try runProcess(executable, arguments)
        let elapsed = monotonicSeconds() - start
        guard result.status == 0 else {
            throw UserError("\(name): \(([executable] + arguments).joined(separator: " ")) failed (status \(result.status)): \(result.output.prefix(500))")
        }
        return (elapsed, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// What `phantom bench vm --json` prints (a contract: keep the keys).
struct VMBenchResults: Encodable {
    struct Row: Encodable {
        let name: String
        let phantomSeconds: Double
        let luaSeconds: Double
        let pythonSeconds: Double
        enum CodingKeys: String, CodingKey {
            case name
            case phantomSeconds = "phantom_s"
            case luaSeconds = "lua_s"
            case pythonSeconds = "python_s"
        }
    }
    var benchmarks: [Row] = []
}

/// Runs a program to its end; returns its status and combined output.
func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { throw UserError("cannot run \(executable): \(error.localizedDescription)") }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
