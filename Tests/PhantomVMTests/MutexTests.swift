import Testing
import PhantomHost
import PhantomMemory
@testable import PhantomVM

/// Moves money between two fields of one shared object under a mutex, in
/// two directions, while a third thread audits the total.
let ledgerSource = """
class ledger
field a
field b
field lock
method forward 0
    iconst 3000
loop:
    os_load 2
    general_lock
    os_load 0
    o2i
    iconst 1
    isublu
    i2o
    os_save 0
    os_load 1
    o2i
    iconst 1
    isum
    i2o
    os_save 1
    os_load 2
    general_unlock
    djnz loop
    is_drop
    ret
end
method backward 0
    iconst 3000
loop:
    os_load 2
    general_lock
    os_load 1
    o2i
    iconst 1
    isublu
    i2o
    os_save 1
    os_load 0
    o2i
    iconst 1
    isum
    i2o
    os_save 0
    os_load 2
    general_unlock
    djnz loop
    is_drop
    ret
end
method audit 0
    iconst 3000
loop:
    os_load 2
    general_lock
    os_load 0
    o2i
    os_load 1
    o2i
    isum
    iconst 1000
    isublu
    jz fine
    sconst "invariant broken"
    throw
fine:
    os_load 2
    general_unlock
    djnz loop
    is_drop
    ret
end
"""

@Suite struct MutexTests {
    func makeLedger(_ machine: TestMachine, locked: Bool = true) throws -> ObjectRef {
        try machine.install(locked ? ledgerSource : ledgerSource.replacing("general_lock", with: "os_drop").replacing("general_unlock", with: "os_drop"))
        let vm = machine.vm
        let ledger = try vm.instantiate(vm.classNamed("ledger")!)
        machine.memory.setReference(ledger, 0, VirtualMachine.box(1000))
        machine.memory.setReference(ledger, 1, VirtualMachine.box(0))
        machine.memory.setReference(ledger, 2, try vm.instantiate(vm.mutexClass))
        for method in ["forward", "backward", "audit"] { try vm.startThread(on: ledger, method: method) }
        return ledger
    }

    func total(_ machine: TestMachine, _ ledger: ObjectRef) -> (Int32, Int32) {
        (VirtualMachine.unbox(machine.memory.reference(ledger, 0)), VirtualMachine.unbox(machine.memory.reference(ledger, 1)))
    }

    @Test func withoutTheMutexTheAuditorSeesABrokenInvariant() throws {
        // The test below can fail: here the same program without locks does.
        let machine = try TestMachine()
        _ = try makeLedger(machine, locked: false)
        machine.vm.run(slice: 7)
        #expect(machine.vm.threads.contains { machine.vm.state(of: $0) == .failed })
    }

    @Test func theInvariantHoldsAfterRecoveryFromEverySnapshot() throws {
        let machine = try TestMachine()
        let ledger = try makeLedger(machine)
        var snapshots: [FaultyBlockDevice] = []
        // Odd slices, so that threads are preempted inside their transfers.
        while machine.vm.threads.contains(where: { machine.vm.state(of: $0) != .finished }) {
            let ran = machine.vm.run(budget: 20_011, slice: 13)
            try machine.space.takeSnapshot()
            snapshots.append(FaultyBlockDevice(durableContents: machine.device.contents))
            #expect(machine.vm.threads.allSatisfy { machine.vm.state(of: $0) != .failed }, "\(machine.output)")
            if ran == 0 { break }
        }
        #expect(total(machine, ledger) == (1000, 0))
        #expect(snapshots.count > 5)
        // Recover from each snapshot and let the threads finish.
        for device in snapshots {
            let recovered = try TestMachine(device: device)
            let threads = recovered.vm.threads
            #expect(threads.count == 3)
            recovered.vm.run(slice: 11)
            #expect(threads.allSatisfy { recovered.vm.state(of: $0) == .finished }, "\(recovered.output)")
            // The ledger is `this` of every thread's (last) frame.
            let shared = recovered.memory.reference(recovered.memory.reference(threads[0], 0), 2)
            #expect(total(recovered, shared) == (1000, 0))
        }
    }
}

@Suite struct JoinTests {
    let source = """
    class worker
    method work 0
        iconst 200000
    loop:
        djnz loop
        is_drop
        iconst 5
        i2o
        ret
    end
    class joiner
    field target
    method wait 1
        os_load 0
        call 8 0            ; target.join(): blocks until the worker ends
        os_get 0
        call 16 1           ; print its result
        os_drop
        ret
    end
    """

    @Test func joinWaitsForTheOtherThreadAndSurvivesACrashWhileWaiting() throws {
        let machine = try TestMachine()
        try machine.install(source)
        let vm = machine.vm
        let worker = try vm.startThread(on: try vm.instantiate(vm.classNamed("worker")!), method: "work")
        let joinerObject = try vm.instantiate(vm.classNamed("joiner")!)
        machine.memory.setReference(joinerObject, 0, worker)
        let joiner = try vm.startThread(on: joinerObject, method: "wait", arguments: [vm.bootObject])
        vm.run(budget: 50_000, slice: 1000)
        #expect(vm.state(of: joiner) == .blocked)
        #expect(machine.output.isEmpty)
        try machine.space.takeSnapshot()

        let after = try machine.restarted()
        after.vm.run()
        #expect(after.vm.threads.allSatisfy { after.vm.state(of: $0) == .finished })
        #expect(after.output == "5")
    }

    @Test func aThreadCannotJoinItself() throws {
        let (output, machine, thread) = try runProgram("""
        class selfish
        method run 1
            summon_thread
            call 8 0
            ret
        end
        """, className: "selfish")
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(output.contains("cannot join itself"))
    }
}
