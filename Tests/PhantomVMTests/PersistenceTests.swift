import Testing
import PhantomHost
import PhantomMemory
@testable import PhantomVM

/// Threads that build a linked list and that recurse 100 frames deep are
/// snapshotted mid-computation, the machine is lost in a power cut, and a
/// fresh VM on the image finishes the work: the result equals an
/// uninterrupted run's, from every snapshot point tried.
@Suite struct PersistenceTests {
    /// Builds a list of 3000 nodes (value, next) with values 1...3000,
    /// then walks it and returns the sum of value * position.
    static let listBuilder = """
        class lister
        field head
        method run 1
            stack_reserve 1 2
            iconst 3000
            is_set 0
        build:
            summon_by_name ".internal.array"
            new
            os_set 1
            iconst 0
            i2o
            is_get 0
            i2o
            os_get 1
            call 9 2
            os_drop
            iconst 1
            i2o
            os_load 0
            os_get 1
            call 9 2
            os_drop
            os_get 1
            os_save 0
            is_get 0
            iconst 1
            isublu
            is_dup
            is_set 0
            jz walk
            jmp build
        walk:
            os_load 0
            os_set 1
            iconst 1
            is_set 0
        step:
            os_get 1
            os_isnull
            jz more
            is_get 1
            i2o
            ret
        more:
            is_get 1
            iconst 0
            i2o
            os_get 1
            call 8 1
            o2i
            is_get 0
            imul
            isum
            is_set 1
            is_get 0
            iconst 1
            isum
            is_set 0
            iconst 1
            i2o
            os_get 1
            call 8 1
            os_set 1
            jmp step
        end
        """

    /// Recurses 100 frames deep 200 times; each descent adds depth * round
    /// on the way back up. Returns the total.
    static let recursor = """
        class recursor
        method run 1
            stack_reserve 0 2
            iconst 200
            is_set 0
        again:
            is_get 1
            iconst 100
            i2o
            is_get 0
            i2o
            summon_this
            call 9 2
            o2i
            isum
            is_set 1
            is_get 0
            iconst 1
            isublu
            is_dup
            is_set 0
            jz done
            jmp again
        done:
            is_get 1
            i2o
            ret
        end
        method down 2
            os_get 0
            o2i
            jz bottom
            os_get 0
            o2i
            iconst 1
            isublu
            i2o
            os_get 1
            summon_this
            call 9 2
            o2i
            os_get 0
            o2i
            os_get 1
            o2i
            imul
            isum
            i2o
            ret
        bottom:
            iconst 0
            i2o
            ret
        end
        """

    /// The uninterrupted result of `className`.
    func uninterrupted(_ source: String, _ className: String) throws -> ObjectRef {
        let (_, machine, thread) = try runProgram(source, className: className)
        #expect(machine.vm.state(of: thread) == .finished)
        return machine.vm.result(of: thread)
    }

    func survivesCrashes(_ source: String, className: String, stops: [Int], check: (TestMachine, ObjectRef) -> Void) throws {
        let expected = try uninterrupted(source, className)
        for stop in stops {
            let machine = try TestMachine()
            try machine.install(source)
            _ = try machine.vm.startThread(className: className)
            machine.vm.run(budget: stop, slice: 997)
            try machine.space.takeSnapshot()
            machine.vm.run(budget: 5_000, slice: 997)  // lost in the power cut
            let after = try machine.restarted()
            after.vm.run(slice: 997)
            let thread = after.vm.threads[0]
            #expect(after.vm.state(of: thread) == .finished, "stopped at \(stop)")
            #expect(after.vm.result(of: thread) == expected, "stopped at \(stop): \(after.vm.describe(after.vm.result(of: thread))) vs \(expected)")
            check(after, thread)
        }
    }

    @Test func aThreadBuildingALinkedListFinishesAfterACrash() throws {
        // 3000 * (3000 + 1) * (2 * 3000 + 1) / 6: sum of i * i.
        let expected = ObjectRef(raw: UInt64(bitPattern: Int64(Int32(truncatingIfNeeded: 3000 * 3001 * 6001 / 6)) << 1) | 1)
        #expect(try uninterrupted(Self.listBuilder, "lister") == expected)
        try survivesCrashes(Self.listBuilder, className: "lister", stops: [10, 5_000, 31_337, 60_000, 90_001, 130_000]) { machine, _ in
            #expect(machine.memory.checkHeap().isEmpty)
        }
    }

    @Test func aRecursionOneHundredFramesDeepFinishesAfterACrash() throws {
        // Each round r adds sum(d = 1...100) d * r = 5050 r; rounds 1...200.
        let expected = ObjectRef(raw: UInt64(bitPattern: Int64(5050 * (200 * 201 / 2)) << 1) | 1)
        #expect(try uninterrupted(Self.recursor, "recursor") == expected)
        // Stops inside the descent and the return of several rounds.
        try survivesCrashes(Self.recursor, className: "recursor", stops: [700, 1_234, 1_900, 77_777, 150_001]) { _, _ in }
    }

    @Test func theCrashTakesPlaceOneHundredFramesDeep() throws {
        // Find a snapshot point where the thread is 100 frames deep, to be
        // sure the test exercises a deep stack.
        let machine = try TestMachine()
        try machine.install(Self.recursor)
        let thread = try machine.vm.startThread(className: "recursor")
        var depth = 0
        var steps = 0
        while depth < 100 && steps < 10_000 {
            machine.vm.run(budget: 7, slice: 7)
            var frame = machine.memory.reference(thread, 0)
            depth = 0
            while !frame.isNull { depth += 1; frame = machine.memory.reference(frame, 0) }
            steps += 1
        }
        #expect(depth >= 100)
        try machine.space.takeSnapshot()
        let after = try machine.restarted()
        after.vm.run()
        #expect(after.vm.result(of: after.vm.threads[0]) == ObjectRef(raw: UInt64(bitPattern: Int64(5050 * 20100) << 1) | 1))
    }
}
