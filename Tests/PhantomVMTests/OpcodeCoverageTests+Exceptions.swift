// Exceptions and mutexes: catchers, throws across frames, stack traces,
// stack overflow, faulting instructions, general_lock/unlock.

import Foundation
import Testing
import PhantomMemory
@testable import PhantomVM

extension OpcodeCoverageTests {
    // MARK: - Exceptions

    @Test func popCatcherRemovesTheNewestCatcherOfTheCurrentFrame() throws {
        let newest = try run(#"""
        class t
        method run 1
            pop_catcher             ; none: a no-op
            summon_null
            push_catcher a
            summon_null
            push_catcher b
            pop_catcher             ; removes b
            sconst "e"
            throw
        a:
            say "A:"
            print
            ret
        b:
            say "B:"
            print
            ret
        end
        """#)
        #expect(newest.output == "A:e|")

        let removed = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher a
            pop_catcher
            sconst "e"
            throw
        a:
            say "A:"
            print
            ret
        end
        """#)
        #expect(removed.output == "thread failed with an uncaught exception: e\n")
        #expect(removed.state == .failed)

        let callerKept = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher caught
            summon_this
            call 20 0
            ret
        caught:
            print
            ret
        end
        method m 0 20
            pop_catcher             ; this frame has none; the caller's stays
            sconst "x"
            throw
        end
        """#)
        #expect(callerKept.output == "x|")
    }

    @Test func runawayRecursionIsACatchableStackOverflow() throws {
        let r = try run(#"""
        class t
        method run 1
            summon_null
            push_catcher caught
            summon_this
            call 20 0
            ret
        caught:
            print
            say "still running"
            ret
        end
        method down 0 20
            summon_this
            call 20 0
            ret
        end
        """#)
        #expect(firstLine(r.output) == "stack overflow: more than 100000 nested calls")
        #expect(r.output.hasSuffix("|still running"))
        #expect(r.state == .finished)
    }

    @Test func uncaughtExceptionsEndTheThread() throws {
        let thrown = try run(#"""
        class t
        method run 1
            sconst "boom"
            throw
        end
        """#)
        #expect(thrown.state == .failed)
        #expect(thrown.output == "thread failed with an uncaught exception: boom\n")
        #expect(thrown.vm.string(thrown.vm.result(of: thrown.thread)) == "boom")

        let null = try run("class t\nmethod run 1\n    summon_null\n    throw\nend\n")
        #expect(null.state == .failed)
        #expect(null.output == "thread failed with an uncaught exception: null\n")
        #expect(null.vm.result(of: null.thread) == .null)

        let error = try run("class t\nmethod run 1\n    iconst 1\n    iconst 0\n    idivlu\n    ret\nend\n")
        #expect(error.state == .failed)
        #expect(error.output == "thread failed with an uncaught exception: division by zero\n    at t.run (pc 10 line 5)\n")
    }

    /// (name, body of run, pc of the failing instruction, object depth, integer depth).
    static let faultingInstructions: [(String, String, Int, Int, Int)] = [
        ("idivlu", "iconst 1\niconst 0\nidivlu", 10, 1, 2),
        ("iremul", "iconst 0\niconst 1\niremul", 10, 1, 2),
        ("o2i", "summon_null\no2i", 1, 2, 0),
        ("call: argument count", "iconst 1\ni2o\nsummon_this\ncall 20 1", 7, 3, 0),
        ("call: internal method", "iconst 9\ni2o\nsconst \"ab\"\ncall 10 1", 13, 3, 0),
        ("call: null receiver", "sconst \"a\"\nsummon_null\ncall 5 1", 7, 3, 0),
        ("new", "iconst_1\ni2o\nnew", 2, 2, 0),
        ("summon_by_name", "iconst_1\nsummon_by_name \"nope\"", 1, 1, 1),
        ("general_lock", "summon_null\ngeneral_lock", 1, 2, 0),
        ("general_unlock", "summon_this\ngeneral_unlock", 1, 2, 0),
    ]

    @Test func aFaultingInstructionKeepsItsOperandsAndItsPc() throws {
        for (name, body, pc, objects, integers) in Self.faultingInstructions {
            let r = try run("class t\nmethod run 1\n\(body)\n    ret\nend\nmethod two 2 20\n    ret\nend\n")
            #expect(r.state == .failed, "\(name)")
            let registers = r.registers
            #expect(registers.pc == pc, "\(name)")
            #expect(registers.objects == objects, "\(name)")
            #expect(registers.integers == integers, "\(name)")
            #expect(r.output.contains("\n    at t.run (pc \(pc) line "), "\(name): \(r.output)")
        }
    }

    // MARK: - Mutexes

    static let mutexErrors: [CoverageErrorCase] = [
        CoverageErrorCase(name: "lock null", body: "summon_null\ngeneral_lock", message: "general_lock: null is not a mutex"),
        CoverageErrorCase(name: "lock an int", body: "iconst 5\ni2o\ngeneral_lock", message: "general_lock: 5 is not a mutex"),
        CoverageErrorCase(name: "lock a string", body: "sconst \"s\"\ngeneral_lock", message: "general_lock: s is not a mutex"),
        CoverageErrorCase(name: "lock an object", body: "summon_this\ngeneral_lock", message: "general_lock: <t @0x?> is not a mutex"),
        CoverageErrorCase(name: "lock a subclass of mutex", body: "summon_by_name \"submutex\"\nnew\ngeneral_lock",
                       extra: "class submutex extends .internal.mutex\n", message: "general_lock: <submutex @0x?> is not a mutex"),
        CoverageErrorCase(name: "lock twice", body: "summon_by_name \".internal.mutex\"\nnew\nos_dup\ngeneral_lock\ngeneral_lock",
                       message: "general_lock: this thread already holds the mutex"),
        CoverageErrorCase(name: "unlock null", body: "summon_null\ngeneral_unlock",
                       message: "general_unlock: null is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock an int", body: "iconst 5\ni2o\ngeneral_unlock",
                       message: "general_unlock: 5 is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock a free mutex", body: "summon_by_name \".internal.mutex\"\nnew\ngeneral_unlock",
                       message: "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds"),
        CoverageErrorCase(name: "unlock twice", body: "summon_by_name \".internal.mutex\"\nnew\nos_dup\nos_dup\ngeneral_lock\ngeneral_unlock\ngeneral_unlock",
                       message: "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds"),
    ]

    @Test(arguments: mutexErrors)
    func mutexMisuseIsAGuestError(_ c: CoverageErrorCase) throws {
        let r = try run(catching(c.body, extra: c.extra))
        #expect(firstLine(mask(r.output)) == c.message + "|")
        #expect(r.state == .finished)
    }

    static let lockerSource = #"""
    class locker
    field m
    method hold 0 20
        os_load 0
        general_lock
        iconst 50
    spin:
        djnz spin
        is_drop
        os_load 0
        general_unlock
        sconst "A"
        ret
    end
    method grab 0 21
        os_load 0
        general_lock
        os_load 0
        general_unlock
        sconst "B"
        ret
    end
    method keep 0 22
        os_load 0
        general_lock
        sconst "kept"
        ret
    end
    method steal 0 23
        os_load 0
        general_unlock
        sconst "stolen"
        ret
    end
    """#

    private func makeLocker() throws -> (TestMachine, ObjectRef) {
        let machine = try TestMachine()
        try machine.install(Self.lockerSource)
        let locker = try machine.vm.instantiate(machine.vm.classNamed("locker")!)
        machine.memory.setReference(locker, 0, try machine.vm.instantiate(machine.vm.mutexClass))
        return (machine, locker)
    }

    @Test func aThreadBlocksOnAHeldMutexUntilItIsFree() throws {
        let (machine, locker) = try makeLocker()
        let vm = machine.vm
        let a = try vm.startThread(on: locker, method: "hold")
        let b = try vm.startThread(on: locker, method: "grab")
        vm.run(budget: 10, slice: 5)        // a takes the mutex, b's lock blocks
        #expect(vm.state(of: a) == .runnable)
        #expect(vm.state(of: b) == .blocked)
        #expect(vm.instructions(of: b) == 1)  // os_load; the blocked lock does not count
        // The mutex stays on b's stack, the pc on the lock, the mutex is recorded in the thread.
        let frame = machine.memory.reference(b, 0)
        #expect(machine.memory.word(frame, at: 0) == 2 | 1 << 32)  // pc 2 (general_lock), 1 object
        #expect(machine.memory.reference(frame, VirtualMachine.frameFixedRefs) == machine.memory.reference(locker, 0))
        #expect(machine.memory.reference(b, 2) == machine.memory.reference(locker, 0))
        vm.run()
        #expect(vm.state(of: a) == .finished && vm.state(of: b) == .finished)
        #expect(vm.string(vm.result(of: a)) == "A" && vm.string(vm.result(of: b)) == "B")
        #expect(machine.memory.reference(machine.memory.reference(locker, 0), 0) == .null)
    }

    @Test func aMutexIsReleasedWhenItsThreadEnds() throws {
        let (machine, locker) = try makeLocker()
        let vm = machine.vm
        let keeper = try vm.startThread(on: locker, method: "keep")
        let thief = try vm.startThread(on: locker, method: "steal")
        vm.run(budget: 200, slice: 100)
        // The keeper ended holding the mutex; nobody else may unlock it...
        #expect(vm.state(of: keeper) == .finished)
        #expect(vm.state(of: thief) == .failed)
        #expect(mask(firstLine(vm.string(vm.result(of: thief)))) == "general_unlock: <.internal.mutex @0x?> is not a mutex this thread holds")
        // ...but a thread that locks it gets it: its owner can never release it.
        let waiter = try vm.startThread(on: locker, method: "grab")
        vm.run()
        #expect(vm.state(of: waiter) == .finished)
        #expect(vm.string(vm.result(of: waiter)) == "B")
    }

}
