import Testing
import PhantomMemory
@testable import PhantomVM

/// Call frames are reused (each frame keeps its last callee's frame as a
/// spare): methods of different shapes, exceptions, and garbage that an
/// ended frame must not keep alive.
@Suite struct FrameReuseTests {
    /// `small` needs one object slot, `big` eight objects and eight
    /// integers; calling them alternately makes a spare frame too small for
    /// the next call every other time.
    static let shapes = """
        class shapes
        method run 1
            stack_reserve 1 0
            iconst 0
            i2o
            os_set 1
            iconst 1000
        loop:
            os_get 1
            summon_this
            call 9 1
            summon_this
            call 10 1
            os_set 1
            djnz loop
            is_drop
            os_get 1
            os_get 0
            call 16 1
            os_drop
            ret
        end
        method small 1
            os_get 0
            o2i
            iconst 1
            isum
            i2o
            ret
        end
        method big 1
            stack_reserve 7 8
            os_get 0
            o2i
            is_set 0
            iconst 2
            is_set 7
            is_get 0
            is_get 7
            isum
            i2o
            os_set 7
            os_get 7
            ret
        end
        """

    @Test func framesOfDifferentShapesAreReusedCorrectly() throws {
        #expect(try runProgram(Self.shapes, className: "shapes").output == "3000")
    }

    /// A callee throws through two frames to a catcher; the frames it
    /// unwound are reused by later calls, which must not see the old
    /// catchers.
    static let unwinding = """
        class unwind
        method run 1
            iconst 300
        loop:
            summon_null
            push_catcher caught
            summon_this
            call 9 0
            os_drop
            pop_catcher
            summon_null
        caught:
            os_drop
            summon_this
            call 11 0
            os_drop
            djnz loop
            is_drop
            sconst "done"
            os_get 0
            call 16 1
            os_drop
            ret
        end
        method outer 0
            summon_this
            call 10 0
            ret
        end
        method thrower 0
            sconst "boom"
            throw
        end
        method plain 0
            summon_this
            call 12 0
            ret
        end
        method leaf 0
            iconst 1
            i2o
            ret
        end
        """

    @Test func framesLeftByAnExceptionAreReusedWithoutTheirCatchers() throws {
        let (output, machine, thread) = try runProgram(Self.unwinding, className: "unwind")
        #expect(output == "done")
        #expect(machine.vm.state(of: thread) == .finished)
    }

    /// A method allocates a large array into a local and returns; after the
    /// return, nothing but the (spare) frame ever referred to it.
    static let garbage = """
        class g
        method run 1
            summon_this
            call 9 0
            os_drop
            ret
        end
        method make 0
            stack_reserve 1 0
            summon_by_name ".internal.array"
            new
            os_set 0
            iconst 100000
            i2o
            sconst "x"
            os_get 0
            call 9 2
            os_drop
            summon_null
            ret
        end
        """

    @Test func anEndedFrameKeepsNothingAlive() throws {
        let (_, machine, thread) = try runProgram(Self.garbage, className: "g")
        #expect(machine.vm.state(of: thread) == .finished)
        let stats = machine.memory.collectGarbage()
        // The 100 001-slot storage (800 KB) was freed: what survives is the
        // VM's own objects.
        #expect(stats.liveBytes < 200_000, "live bytes \(stats.liveBytes)")
        #expect(stats.freedBytes > 800_000)
    }

    @Test func aDeepRecursionDoesNotKeepItsFramesForEver() throws {
        // Recurse 20 000 deep, return, then loop: the spare chain below the
        // loop's frame is cut when the collector runs.
        let source = """
            class deep
            method run 1
                iconst 20000
                i2o
                summon_this
                call 9 1
                os_drop
                iconst 200000
            spin:
                djnz spin
                is_drop
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
                os_get 0
                ret
            end
            """
        let machine = try TestMachine()
        try machine.install(source)
        let thread = try machine.vm.startThread(className: "deep")
        machine.vm.run(budget: 300_000)  // deep down and back, into the loop
        let before = machine.memory.collectGarbage().liveBytes
        machine.vm.trimSpareFrames()
        let after = machine.memory.collectGarbage().liveBytes
        #expect(before > 20_000 * 64, "the spare chain holds the recursion's frames: \(before)")
        #expect(after < before / 10, "after trimming: \(after) of \(before)")
        machine.vm.run()
        #expect(machine.vm.state(of: thread) == .finished)
    }
}
