import Testing
import PhantomMemory
@testable import PhantomVM

/// The VM collects garbage incrementally at safepoints while programs run:
/// live data survives (frames are rescanned), garbage is reused, the heap
/// stays bounded, and a crash in the middle of a cycle leaves a good image.
@Suite struct IncrementalGCTests {
    /// Keeps a list of 64 nodes (each a 2-element array: value, next) and
    /// replaces one node per iteration with a fresh one holding a 4 KiB
    /// string builder buffer: lots of garbage, a small live set. At the end
    /// it prints the sum of the values, which must be 64 * iterations.
    static func churn(iterations: Int) -> String {
        """
        class churn
        field head
        method run 1
            stack_reserve 1 1
            iconst \(iterations)
            is_set 0
        loop:
            summon_this
            call 9 0
            os_drop
            is_get 0
            iconst 1
            isublu
            is_dup
            is_set 0
            jz done
            jmp loop
        done:
            summon_this
            call 10 0
            os_get 0
            call 16 1
            os_drop
            ret
        end
        method push 0
            stack_reserve 2 1
            summon_by_name ".internal.array"
            new
            os_set 0
            iconst 0
            i2o
            iconst 64
            i2o
            os_get 0
            call 9 2
            os_drop
            iconst 1
            i2o
            os_load 0
            os_get 0
            call 9 2
            os_drop
            summon_by_name ".internal.string_builder"
            new
            os_set 1
            sconst "\(String(repeating: "x", count: 4096))"
            os_get 1
            call 8 1
            os_drop
            iconst 2
            i2o
            os_get 1
            os_get 0
            call 9 2
            os_drop
            os_get 0
            os_save 0
            summon_this
            call 11 0
            os_drop
            summon_null
            ret
        end
        method sum 0
            stack_reserve 1 1
            os_load 0
            os_set 0
        walk:
            os_get 0
            os_isnull
            jz more
            is_get 0
            i2o
            ret
        more:
            is_get 0
            iconst 0
            i2o
            os_get 0
            call 8 1
            o2i
            isum
            is_set 0
            iconst 1
            i2o
            os_get 0
            call 8 1
            os_set 0
            jmp walk
        end
        method cut 0
            stack_reserve 1 1
            os_load 0
            os_set 0
            iconst 63
            is_set 0
        step:
            is_get 0
            jz last
            is_get 0
            iconst 1
            isublu
            is_set 0
            iconst 1
            i2o
            os_get 0
            call 8 1
            os_dup
            os_isnull
            jz next
            os_drop
            summon_null
            ret
        next:
            os_set 0
            jmp step
        last:
            iconst 1
            i2o
            summon_null
            os_get 0
            call 9 2
            ret
        end
        """
    }

    @Test func garbageIsCollectedIncrementallyWhileTheProgramRuns() throws {
        let machine = try TestMachine(capacity: 1 << 30)
        try machine.install(Self.churn(iterations: 40_000))
        let thread = try machine.vm.startThread(className: "churn")
        var steps = 0
        var maxHeapEnd: UInt64 = 0
        while machine.vm.state(of: thread) == .runnable {
            machine.vm.run(budget: 200_000, slice: 2_000)
            if machine.memory.isCollecting { steps += 1 }
            maxHeapEnd = max(maxHeapEnd, machine.memory.heapEnd)
        }
        #expect(machine.vm.state(of: thread) == .finished, "\(machine.output)")
        #expect(machine.output == "\(64 * 64)", "the list kept its 64 nodes of 64")
        // 40 000 iterations allocate about 170 MiB; the live set is ~300 KiB.
        #expect(machine.memory.bytesAllocated > 150 << 20)
        #expect(maxHeapEnd < 160 << 20, "heap end reached \(maxHeapEnd >> 20) MiB")
        #expect(machine.memory.sweepsBegun >= 1 && steps > 0, "no incremental cycle ran")
        #expect(machine.memory.checkHeap().isEmpty)
    }

    @Test func aCrashInTheMiddleOfACycleLeavesAGoodImage() throws {
        let machine = try TestMachine(capacity: 1 << 30)
        try machine.install(Self.churn(iterations: 30_000))
        _ = try machine.vm.startThread(className: "churn")
        // Run until a cycle is under way, snapshot there, run on, crash.
        var guardRounds = 0
        while !machine.memory.isCollecting && guardRounds < 100_000 {
            machine.vm.run(budget: 2_000, slice: 2_000)
            guardRounds += 1
        }
        try #require(machine.memory.isCollecting, "no collection began")
        // A step partway through the cycle (a VM's steps grow with what was
        // allocated, so one slice on may finish it), then the snapshot.
        machine.memory.collectionStep(budget: 5_000) { machine.vm.framesToRescan() }
        try #require(machine.memory.isCollecting, "the cycle ended before the snapshot")
        try machine.space.takeSnapshot()
        machine.vm.run(budget: 50_000, slice: 2_000)
        let after = try machine.restarted()
        #expect(after.memory.checkHeap().isEmpty)
        after.vm.run(slice: 2_000)
        #expect(after.output == "\(64 * 64)")
    }
}
