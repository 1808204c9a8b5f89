// The programs in examples/: each is compiled, verified and run, and its
// output compared with the exact text it must print.

import Foundation
import Testing
@testable import PhantomCompiler
@testable import PhantomVM

/// The repository's examples/ directory.
let examplesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples").path

func example(_ name: String) throws -> String {
    try String(contentsOfFile: "\(examplesDirectory)/\(name)", encoding: .utf8)
}

@Suite struct ExampleTests {
    @Test func helloWorld() throws {
        #expect(try run(example("hello.ph")) == "hello, world\nhello again, 2026\n")
    }

    @Test func recursiveFibonacci() throws {
        let fib = [0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, 1597, 2584, 4181, 6765]
        let expected = fib.enumerated().map { "fib(\($0.offset)) = \($0.element)\n" }.joined()
        #expect(try run(example("fib.ph")) == expected)
    }

    @Test func linkedList() throws {
        #expect(try run(example("linkedlist.ph")) == """
            list: [first, 1, 4, 9, 16, 25] size 6
            reversed: [25, 16, 9, 4, 1, first]
            removed 9 and "first": [25, 16, 4, 1] size 4
            sum: 46

            """)
    }

    @Test func hashMap() throws {
        #expect(try run(example("hashmap.ph")) == """
            distinct words: 9
            the: 3, fox: 1, cat: null
            after 1000 int keys: size 1009, capacity 2048, all found: 1

            """)
    }

    @Test func stringProcessing() throws {
        #expect(try run(example("strings.ph")) == """
            reverse: SO tnetsisrep yllanogohtro na si motnahP
            upper: PHANTOM IS AN ORTHOGONALLY PERSISTENT OS
            o's: 4, length: 40
            level is a palindrome
            radar is a palindrome
            phantom is not a palindrome
            noon is a palindrome
            persistent is not a palindrome
            a is a palindrome
            joined: level-radar-phantom-noon-persistent-a
            equal: 1, hash: 440920331

            """)
    }

    /// Two teller threads share the ledger; the VM switches between them
    /// every few hundred instructions, so they contend for the mutex.
    @Test func bankLedgerWithTwoThreads() throws {
        let classes = try compileVerified(example("bank.ph"), file: "bank.ph")
        let machine = try CompilerTestMachine()
        try machine.install(classes)
        let ledger = try #require(classes.first { $0.name == ".examples.bank.ledger" })
        let setup = try machine.startProgram(ledger)
        // run spawns the two tellers (boot.spawn).
        machine.vm.run(slice: 500)
        #expect(machine.vm.state(of: setup) == .finished)
        #expect(machine.vm.threads.count == 3)  // the starter's (which runs the constructor and run) and two tellers
        #expect(machine.vm.threads.allSatisfy { machine.vm.state(of: $0) == .finished })
        #expect(machine.output == """
            opening total: 400000
            alice: 100024
            bob: 99998
            carol: 100011
            dave: 99967
            transfers: 6000, closing total: 400000

            """)
    }

    /// The counter runs part way, a snapshot is taken, more runs and is
    /// lost in a crash; after the restart it continues from the snapshot.
    @Test func persistentCounterContinuesAfterACrash() throws {
        let source = try example("counter.ph").replacingOccurrences(of: "limit = 100000000", with: "limit = 3000")
        let classes = try compileVerified(source, file: "counter.ph")
        let machine = try CompilerTestMachine()
        try machine.install(classes)
        let thread = try machine.vm.startThread(className: "counter")
        machine.vm.run(budget: 20_000)
        #expect(machine.vm.state(of: thread) == .runnable)
        try machine.space.takeSnapshot()
        let printed = machine.output.split(separator: "\n").compactMap { Int($0) }
        #expect(printed == Array(1...printed.count))
        machine.vm.run(budget: 5_000)  // lost in the crash

        let after = try machine.restarted()
        #expect(after.vm.threads.count == 1)
        after.vm.run()
        #expect(after.vm.state(of: after.vm.threads[0]) == .finished)
        let resumed = after.output.split(separator: "\n").compactMap { Int($0) }
        #expect(resumed.first == printed.count + 1)
        #expect(resumed.last == 3000)
        #expect(resumed == Array((printed.count + 1)...3000))
    }

    @Test func everyExampleCompilesWithoutWarnings() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: examplesDirectory).filter { $0.hasSuffix(".ph") }.sorted()
        #expect(names.count >= 7)
        for name in names {
            let result = Compiler.compile(try example(name), file: name)
            #expect(result.succeeded && result.diagnostics.isEmpty, "\(name): \(result.diagnostics.map(\.description))")
        }
    }
}
