import PhantomHost
import Testing
@testable import PhantomVM

/// The failure record: a thread that ends with an uncaught exception keeps
/// the exception, its stack trace, its instruction count, the time and the
/// newest durable snapshot in the heap (ThreadFailure.swift).
@Suite struct ThreadFailureTests {
    /// run -> middle -> inner, which throws "boom" (pcs: the throw at 9 in
    /// inner, after its 9-byte sconst; the calls at 1 in middle and run;
    /// the assembler records source lines too: 14, 9 and 4).
    static let thrower = """
        class failing
        method run 1
            summon_this
            call 9 0
            ret
        end
        method middle 0
            summon_this
            call 10 0
            ret
        end
        method inner 0
            sconst "boom"
            throw
            ret
        end
        """

    @Test func anUncaughtExceptionLeavesItsTraceInTheThreadWhileTheOtherThreadsRunOn() throws {
        let machine = try TestMachine()
        try machine.install(Self.thrower)
        try machine.install(counterSource)
        machine.vm.durableSnapshotID = { 42 }
        let counter = try machine.vm.startThread(className: "counter")
        let failing = try machine.vm.startThread(className: "failing")
        let before = HostClock.wallNanos()
        machine.vm.run(slice: 1000)
        let after = HostClock.wallNanos()
        #expect(machine.vm.state(of: failing) == .failed)
        // The other thread ran on to its end.
        #expect(machine.vm.state(of: counter) == .finished && machine.output.contains("1000000"), "\(machine.output)")
        let failure = try #require(machine.vm.failure(of: failing))
        #expect(failure.exception == "boom")
        #expect(failure.trace == [
            ThreadFailure.Frame(className: "failing", method: "inner", pc: 9, line: 14),
            ThreadFailure.Frame(className: "failing", method: "middle", pc: 1, line: 9),
            ThreadFailure.Frame(className: "failing", method: "run", pc: 1, line: 4),
        ])
        #expect(failure.framesLeftOut == 0)
        #expect(failure.instructions == machine.vm.instructions(of: failing) && failure.instructions == 6)
        #expect(failure.wallNanos >= before && failure.wallNanos <= after)
        #expect(failure.durableSnapshot == 42)
        #expect(machine.vm.failure(of: counter) == nil)

        // It is in the snapshot: a restart finds the same record.
        try machine.space.takeSnapshot()
        let restarted = try machine.restarted()
        #expect(restarted.vm.failure(of: restarted.vm.threads[1]) == failure)
        #expect(restarted.vm.failure(of: restarted.vm.threads[0]) == nil)
    }

    @Test func aCaughtExceptionLeavesNoRecord() throws {
        let source = """
            class guarded
            method run 1
                summon_null         ; catch anything
                push_catcher caught
                sconst "boom"
                throw
            caught:
                ret
            end
            """
        let (_, machine, thread) = try runProgram(source, className: "guarded")
        #expect(machine.vm.state(of: thread) == .finished)
        #expect(machine.vm.failure(of: thread) == nil)
    }

    @Test func aFaultOfTheVMIsRecordedWithItsMessage() throws {
        let source = """
            class failing
            method run 1
                summon_this
                call 9 0
                ret
            end
            method inner 0
                summon_null
                call 5 0            ; toString of null
                ret
            end
            """
        let (_, machine, thread) = try runProgram(source, className: "failing")
        let failure = try #require(machine.vm.failure(of: thread))
        #expect(failure.exception.hasPrefix("null reference"), "\(failure.exception)")
        #expect(failure.trace.map(\.method) == ["inner", "run"])
        #expect(failure.trace.first?.pc == 1)
    }

    @Test func aDeepTraceKeepsTheInnermost64FramesAndCountsTheRest() throws {
        // down(n): n == 0 ? throw : down(n - 1); run calls down(100): 102 frames.
        let source = """
            class deep
            method run 1
                iconst 100
                i2o
                summon_this
                call 9 1
                ret
            end
            method down 1
                os_get 0
                o2i
                jz bottom
                os_get 0
                o2i
                iconst 1
                isublu
                i2o
                summon_this
                call 9 1
                ret
            bottom:
                sconst "bottom"
                throw
            end
            """
        let (_, machine, thread) = try runProgram(source, className: "deep")
        let failure = try #require(machine.vm.failure(of: thread))
        #expect(failure.exception == "bottom")
        #expect(failure.trace.count == 64 && failure.framesLeftOut == 38)
        #expect(failure.trace.allSatisfy { $0.className == "deep" && $0.method == "down" })
    }

    @Test func aLongExceptionTextIsCutTo4096Bytes() throws {
        let long = String(repeating: "x", count: 5000)
        let source = """
            class loud
            method run 1
                sconst "\(long)"
                throw
            end
            """
        let (_, machine, thread) = try runProgram(source, className: "loud")
        let failure = try #require(machine.vm.failure(of: thread))
        #expect(failure.exception == String(repeating: "x", count: 4096) + "... (5000 bytes)")
        // The exception itself is untouched.
        #expect(machine.vm.text(of: machine.vm.result(of: thread)) == long)
    }

    @Test func aKilledThreadRecordsWhereItStood() throws {
        let machine = try TestMachine()
        try machine.install(counterSource)
        machine.vm.durableSnapshotID = { 7 }
        let thread = try machine.vm.startThread(className: "counter")
        machine.vm.run(budget: 10_000)
        try machine.vm.kill(thread, reason: "killed by phantom kill")
        let failure = try #require(machine.vm.failure(of: thread))
        #expect(failure.exception == "killed by phantom kill")
        #expect(failure.trace.map(\.method) == ["run"])
        #expect(failure.instructions == 10_000 && failure.durableSnapshot == 7)
    }
}
