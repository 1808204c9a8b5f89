import Foundation
import Testing
import PhantomMemory
@testable import PhantomVM

let helloSource = """
class hello
method run 1
    sconst "hello, world\\n"
    os_get 0            ; the boot object
    call 16 1           ; boot.16(text) prints
    os_drop
    ret
end
"""

let fibSource = """
class fib
method run 1
    iconst 20
    i2o
    summon_this
    call 9 1            ; fib(20)
    os_get 0
    call 16 1           ; print it
    os_drop
    ret
end
method fib 1            ; ordinal 9
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
    isublu              ; n - 1
    i2o
    summon_this
    call 9 1
    o2i
    os_get 0
    o2i
    iconst 2
    isublu              ; n - 2
    i2o
    summon_this
    call 9 1
    o2i
    isum
    i2o
    ret
end
"""

/// Counts field n up to a limit; prints every 100000th value.
let counterSource = """
class counter
field n
method run 1
    iconst 0
    i2o
    os_save 0
loop:
    os_load 0
    o2i
    iconst 1
    isum
    i2o
    os_save 0
    os_load 0
    o2i
    iconst 1000000
    ilt
    jz done
    jmp loop
done:
    os_load 0
    os_get 0
    call 16 1
    os_drop
    ret
end
"""

@Suite struct InterpreterTests {
    @Test func helloWorldPrintsThroughTheBootObject() throws {
        let (output, machine, thread) = try runProgram(helloSource, className: "hello")
        #expect(output == "hello, world\n")
        #expect(machine.vm.state(of: thread) == .finished)
    }

    @Test func recursiveFibonacci() throws {
        let (output, _, _) = try runProgram(fibSource, className: "fib")
        #expect(output == "6765")
    }

    @Test func integerArithmeticFollowsTheOriginalOperandOrder() throws {
        // Each line: push a, push b, op; print the result.
        let cases: [(String, Int32, Int32, Int32)] = [
            ("isum", 7, 5, 12), ("imul", 7, -5, -35), ("isublu", 7, 5, 2), ("isubul", 7, 5, -2),
            ("idivlu", 17, 5, 3), ("idivul", 5, 17, 3), ("iremlu", 17, 5, 2), ("iremul", 5, 17, 2),
            ("ior", 12, 3, 15), ("iand", 12, 10, 8), ("ixor", 12, 10, 6),
            ("ige", 5, 5, 1), ("ile", 6, 5, 0), ("igt", 6, 5, 1), ("ilt", 6, 5, 0),
            ("log_or", 0, 3, 1), ("log_and", 2, 0, 0), ("log_xor", 2, 3, 0),
            ("isum", Int32.max, 1, Int32.min),
        ]
        for (op, a, b, expected) in cases {
            let source = """
            class arith
            method run 1
                iconst \(a)
                iconst \(b)
                \(op)
                i2o
                os_get 0
                call 16 1
                os_drop
                ret
            end
            """
            let (output, _, _) = try runProgram(source, className: "arith")
            #expect(output == String(expected), "\(a) \(op) \(b)")
        }
    }

    @Test func divisionByZeroIsAGuestExceptionThatCanBeCaught() throws {
        let source = """
        class guarded
        method run 1
            summon_null         ; catch anything
            push_catcher caught
            iconst 1
            iconst 0
            idivlu              ; 1 / 0
            pop_catcher
            ret
        caught:
            os_get 0
            call 16 1
            os_drop
            ret
        end
        """
        let (output, machine, thread) = try runProgram(source, className: "guarded")
        #expect(output.hasPrefix("division by zero"))
        #expect(output.contains("at guarded.run"))
        #expect(machine.vm.state(of: thread) == .finished)
    }

    @Test func uncaughtExceptionEndsTheThreadWithAStackTrace() throws {
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
        let (output, machine, thread) = try runProgram(source, className: "failing")
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(output.contains("null reference"))
        #expect(output.contains("at failing.inner"))
        #expect(output.contains("at failing.run"))
    }

    @Test func runawayRecursionIsAStackOverflowNotACrash() throws {
        let source = """
        class deep
        method run 1
            summon_this
            call 9 0
            ret
        end
        method down 0
            summon_this
            call 9 0
            ret
        end
        """
        let (output, machine, thread) = try runProgram(source, className: "deep", budget: 5_000_000)
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(output.contains("stack overflow"))
    }

    @Test func aCountingThreadContinuesAfterASnapshotAndACrash() throws {
        let machine = try TestMachine()
        try machine.install(counterSource)
        let thread = try machine.vm.startThread(className: "counter")
        machine.vm.run(budget: 3_000_000)  // part way
        #expect(machine.vm.state(of: thread) == .runnable)
        try machine.space.takeSnapshot()
        machine.vm.run(budget: 1_000_000)  // lost in the crash

        let after = try machine.restarted()
        let restored = after.vm.threads
        #expect(restored.count == 1)
        #expect(after.vm.state(of: restored[0]) == .runnable)
        #expect(after.vm.instructions(of: restored[0]) == 3_000_000)
        after.vm.run()
        #expect(after.vm.state(of: restored[0]) == .finished)
        #expect(after.output == "1000000")
    }
}

@Suite struct SchedulerTests {
    @Test func threadsRunRoundRobinAndAllContinueAfterACrash() throws {
        let machine = try TestMachine()
        try machine.install(counterSource)
        try machine.install(fibSource.replacingOccurrences(of: "iconst 20", with: "iconst 25"))
        let first = try machine.vm.startThread(className: "counter")
        let second = try machine.vm.startThread(className: "fib")
        machine.vm.run(budget: 2_000_000, slice: 1000)
        // Both made progress: slices alternate.
        #expect(machine.vm.instructions(of: first) > 500_000)
        #expect(machine.vm.instructions(of: second) > 500_000)
        #expect(machine.vm.state(of: first) == .runnable && machine.vm.state(of: second) == .runnable)
        try machine.space.takeSnapshot()
        let progress = (machine.vm.instructions(of: first), machine.vm.instructions(of: second))

        let after = try machine.restarted()
        let threads = after.vm.threads
        #expect(threads.count == 2)
        #expect(after.vm.instructions(of: threads[0]) == progress.0)
        #expect(after.vm.instructions(of: threads[1]) == progress.1)
        after.vm.run(slice: 777)
        #expect(threads.allSatisfy { after.vm.state(of: $0) == .finished })
        #expect(after.output.contains("1000000") && after.output.contains("75025"))
    }
}
