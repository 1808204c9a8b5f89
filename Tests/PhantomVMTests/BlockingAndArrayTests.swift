import Testing
import PhantomHost
import PhantomMemory
@testable import PhantomVM

/// Sleep, condition variables, mutex methods and growing arrays.
@Suite struct BlockingAndArrayTests {
    /// A producer/consumer pair over one slot, with a mutex and a condition:
    /// the consumer waits while the slot is empty, the producer while it is
    /// full. Fields: 0 mutex, 1 cond, 2 slot (null = empty), 3 sum.
    static let channelSource = """
        class channel
        field lock
        field cond
        field slot
        field sum
        method produce 0
            iconst 200
        loop:
            os_load 0
            call 8 0
            os_drop
        full:
            os_load 2
            os_isnull
            jz wait
            is_dup
            i2o
            os_save 2
            os_load 1
            call 10 0
            os_drop
            os_load 0
            call 9 0
            os_drop
            djnz loop
            is_drop
            ret
        wait:
            os_load 0
            os_load 1
            call 8 1
            os_drop
            jmp full
        end
        method consume 0
            iconst 200
        loop:
            os_load 0
            call 8 0
            os_drop
        empty:
            os_load 2
            os_isnull
            jz take
            os_load 0
            os_load 1
            call 8 1
            os_drop
            jmp empty
        take:
            os_load 3
            o2i
            os_load 2
            o2i
            isum
            i2o
            os_save 3
            summon_null
            os_save 2
            os_load 1
            call 10 0
            os_drop
            os_load 0
            call 9 0
            os_drop
            djnz loop
            is_drop
            os_load 3
            ret
        end
        """

    func makeChannel(_ machine: TestMachine) throws -> ObjectRef {
        try machine.install(Self.channelSource)
        let vm = machine.vm
        let channel = try vm.instantiate(vm.classNamed("channel")!)
        machine.memory.setReference(channel, 0, try vm.instantiate(vm.mutexClass))
        machine.memory.setReference(channel, 1, try vm.instantiate(vm.condClass))
        machine.memory.setReference(channel, 3, VirtualMachine.box(0))
        return channel
    }

    @Test(arguments: [1, 3, 7, 50])
    func producerAndConsumerHandOverEveryValue(slice: Int) throws {
        let machine = try TestMachine()
        let channel = try makeChannel(machine)
        let vm = machine.vm
        let consumer = try vm.startThread(on: channel, method: "consume")
        let producer = try vm.startThread(on: channel, method: "produce")
        vm.run(slice: slice)
        #expect(vm.state(of: producer) == .finished)
        #expect(vm.state(of: consumer) == .finished)
        #expect(VirtualMachine.unbox(vm.result(of: consumer)) == Int32(200 * 201 / 2))
    }

    @Test func conditionWaitsSurviveACrash() throws {
        // Snapshot at many points of the hand-over, crash, resume: the sum
        // is always complete and nothing deadlocks.
        for stop in stride(from: 50, to: 6000, by: 397) {
            let machine = try TestMachine()
            let channel = try makeChannel(machine)
            let vm = machine.vm
            _ = try vm.startThread(on: channel, method: "consume")
            _ = try vm.startThread(on: channel, method: "produce")
            vm.run(budget: stop, slice: 5)
            try machine.space.takeSnapshot()
            vm.run(budget: 500, slice: 5)  // lost in the crash
            let after = try machine.restarted()
            after.vm.run(slice: 5)
            let threads = after.vm.threads
            #expect(threads.allSatisfy { after.vm.state(of: $0) == .finished }, "stop \(stop)")
            #expect(VirtualMachine.unbox(after.vm.result(of: threads[0])) == Int32(200 * 201 / 2), "stop \(stop)")
        }
    }

    @Test func waitingWithoutTheMutexIsAnError() throws {
        let source = """
            class t
            method run 1
                summon_by_name ".internal.mutex"
                new
                summon_by_name ".internal.cond"
                new
                call 8 1
                ret
            end
            """
        let (output, _, _) = try runProgram(source, className: "t")
        #expect(output.contains("cond.wait: this thread does not hold the mutex"))
    }

    @Test func signalWithoutWaitersWakesNobody() throws {
        let source = """
            class t
            method run 1
                summon_by_name ".internal.cond"
                new
                call 9 0
                os_get 0
                call 16 1
                os_drop
                ret
            end
            """
        #expect(try runProgram(source, className: "t").output == "0")
    }

    static let sleeperSource = """
        class sleeper
        method run 1
            iconst 30
            i2o
            summon_thread
            call 10 1
            os_drop
            sconst "awake"
            ret
        end
        method spin 0
            iconst 1000
        loop:
            djnz loop
            is_drop
            sconst "spun"
            ret
        end
        """

    @Test func sleepTakesAtLeastItsTimeAndOthersRunMeanwhile() throws {
        let machine = try TestMachine()
        try machine.install(Self.sleeperSource)
        let vm = machine.vm
        let sleeper = try vm.startThread(className: "sleeper")
        let spinner = try vm.startThread(className: "sleeper", method: "spin")
        let started = vm.systemNanos
        vm.run(slice: 100)
        let elapsed = vm.systemNanos - started
        #expect(vm.state(of: sleeper) == .finished && vm.string(vm.result(of: sleeper)) == "awake")
        #expect(vm.state(of: spinner) == .finished)
        #expect(elapsed >= 30_000_000)
    }

    @Test func aSleepContinuesWithTheTimeItHadLeftAfterARestart() throws {
        let machine = try TestMachine()
        try machine.install(Self.sleeperSource)
        let vm = machine.vm
        let sleeper = try vm.startThread(className: "sleeper")
        vm.run(budget: 4)  // up to the sleep call
        #expect(vm.state(of: sleeper) == .sleeping)
        let wake = vm.wakeTime(of: sleeper)
        try machine.space.takeSnapshot()
        let recordedTime = machine.memory.word(vm.world, at: 8)
        let after = try machine.restarted()
        // System time resumes from the snapshot, not from the host's clock.
        #expect(after.vm.systemNanos >= recordedTime)
        #expect(after.vm.systemNanos < recordedTime + 1_000_000_000)
        let thread = after.vm.threads[0]
        #expect(after.vm.state(of: thread) == .sleeping)
        #expect(after.vm.wakeTime(of: thread) == wake)
        after.vm.run(budget: 100)
        #expect(after.vm.state(of: thread) == .finished)
        #expect(after.vm.systemNanos >= wake)
    }

    @Test func onlyTheCurrentThreadCanSleep() throws {
        let machine = try TestMachine()
        try machine.install(Self.sleeperSource + """

            class other
            field victim
            method run 1
                os_load 0
                call 9 0
                os_drop
                iconst 5
                i2o
                os_load 0
                call 10 1
                ret
            end
            """)
        let vm = machine.vm
        let sleeper = try vm.startThread(className: "sleeper")
        let other = try vm.instantiate(vm.classNamed("other")!)
        machine.memory.setReference(other, 0, sleeper)
        let thread = try vm.startThread(on: other, method: "run", arguments: [.null])
        vm.run()
        #expect(vm.state(of: thread) == .failed)
        #expect(vm.string(vm.result(of: thread)).hasPrefix("a thread can only put itself to sleep"))
    }

    @Test func mutexMethodsLockAndUnlock() throws {
        let source = """
            class t
            method run 1
                summon_by_name ".internal.mutex"
                new
                os_dup
                call 8 0
                os_drop
                os_dup
                call 9 0
                os_drop
                call 9 0
                ret
            end
            """
        let (output, _, _) = try runProgram(source, className: "t")
        #expect(output.contains("mutex.unlock: this thread does not hold the mutex"))
    }

    @Test func arraysGrowOnSetAndKeepTheirIdentity() throws {
        // a[0] = "zero"; a[9] = 9; a.append(10); print size, a[0], a[5], a[10]
        let source = """
            class t
            method run 1
                summon_by_name ".internal.array"
                new
                os_dup
                iconst 0
                i2o
                sconst "zero"
                os_get 1
                call 9 2
                os_drop
                iconst 9
                i2o
                iconst 9
                i2o
                os_get 1
                call 9 2
                os_drop
                iconst 10
                i2o
                os_get 1
                call 11 1
                os_drop
                os_get 1
                call 10 0
                os_get 0
                call 16 1
                os_drop
                iconst 0
                i2o
                os_get 1
                call 8 1
                os_get 0
                call 16 1
                os_drop
                iconst 5
                i2o
                os_get 1
                call 8 1
                os_get 0
                call 16 1
                os_drop
                iconst 10
                i2o
                os_get 1
                call 8 1
                os_get 0
                call 16 1
                os_drop
                os_drop
                os_drop
                ret
            end
            """
        #expect(try runProgram(source, className: "t").output == "11zeronull10")
    }

    @Test func aNegativeArrayIndexIsAGuestError() throws {
        let source = """
            class t
            method run 1
                iconst -1
                i2o
                sconst "x"
                summon_by_name ".internal.array"
                new
                call 9 2
                ret
            end
            """
        #expect(try runProgram(source, className: "t").output.contains("array index out of range"))
    }
}
