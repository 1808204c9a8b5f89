import PhantomHost
import PhantomMemory
import PhantomStore
import Testing
@testable import PhantomVM

@Suite struct SafetyTests {
    @Test func newOfVMOwnedClassesIsAGuestErrorNotACrash() throws {
        // Found in review: `new` of the class class once made bogus class objects.
        let source = """
        class sneaky
        method run 1
            summon_class_class
            new
            summon_class_class
            new
            os_drop
            os_drop
            ret
        end
        """
        let (output, machine, thread) = try runProgram(source, className: "sneaky")
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(output.contains("objects are made by the VM"))
    }

    @Test func internalClassNamesAreReserved() throws {
        let machine = try TestMachine()
        #expect(throws: VMError.self) { try machine.install("class .internal.string\nmethod run 1\n    ret\nend\n") }
    }

    @Test func iconst8IsSignedAndOrdinalsAreUnique() throws {
        let (output, _, _) = try runProgram("""
        class signed
        method run 1
            iconst_8 -1
            i2o
            os_get 0
            call 16 1
            os_drop
            ret
        end
        """, className: "signed")
        #expect(output == "-1")
        #expect(throws: AssemblerErrors.self) {
            _ = try Assembler.assemble("class twice\nmethod a 0 9\n    ret\nend\nmethod b 0 9\n    ret\nend\n")
        }
        #expect(throws: AssemblerErrors.self) { _ = try Assembler.assemble("class big\nmethod a 0\n    iconst_8 200\n    ret\nend\n") }
    }

    @Test func subclassFieldsFollowTheParentsAndStringHashesAreStable() throws {
        let program = """
        class base
        field x
        method run 1
            ret
        end
        class child extends base
        field y
        method run 1
            iconst 7
            i2o
            os_save 1           ; child's own field y: after base's x
            os_load 1
            os_get 0
            call 16 1
            os_drop
            sconst "phantom"
            call 6 0            ; hashCode
            os_get 0
            call 16 1
            os_drop
            ret
        end
        """
        let (output, _, _) = try runProgram(program, className: "child")
        #expect(output == "7" + String(Int32(bitPattern: fnv1a("phantom"))))
    }
}

func fnv1a(_ text: String) -> UInt32 {
    var hash: UInt32 = 0x811C_9DC5
    for byte in text.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
    return hash
}

@Suite struct OutOfMemoryTests {
    @Test func exhaustingTheHeapIsAGuestExceptionAndTheVMKeepsWorking() throws {
        // Keeps every string alive in a directory until the 8 MiB heap is full.
        let source = """
        class hog
        field d
        method run 1
            summon_by_name ".internal.directory"
            new
            os_save 0
            iconst 0
        loop:
            is_dup
            i2o                 ; key
            sconst "a string that takes some room in the heap, again and again"
            os_load 0
            call 8 2            ; d.put(i, text)
            os_drop
            iconst 1
            isum
            jmp loop
        end
        """
        let machine = try TestMachine(capacity: 8 << 20)
        try machine.install(source)
        let thread = try machine.vm.startThread(className: "hog")
        machine.vm.run(budget: 50_000_000)
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(machine.output.contains("out of persistent memory"), "\(machine.output.prefix(300))")
        // The failed thread's garbage is collectable and other threads still run.
        try machine.install(helloSource)
        let hello = try machine.vm.startThread(className: "hello")
        machine.vm.memory.collectGarbage()
        machine.vm.run()
        #expect(machine.vm.state(of: hello) == .finished)
    }
}

@Suite struct ForeignImageTests {
    @Test func anImageWithOtherDataIsNotTakenForAnEmptyHeap() throws {
        let device = FaultyBlockDevice()
        let store = try Store.create(on: device, logicalSize: 64 << 20)
        try store.commit(pages: [(3, [UInt8](repeating: 0xAB, count: 4096))])
        let space = try PersistentSpace(store: store, capacity: 64 << 20)
        #expect(throws: MemoryError.self) { _ = try ObjectMemory(space: space) }
    }

    @Test func aDamagedRootIsAClearErrorNotACrash() throws {
        let machine = try TestMachine()
        try machine.install(helloSource)
        // Point the root somewhere that is not an object, and save that.
        machine.memory.root = ObjectRef(raw: 4096 * 3 + 48)
        try machine.space.takeSnapshot()
        #expect(throws: VMError.self) { _ = try machine.restarted() }
        machine.memory.root = ObjectRef(raw: 1 << 40)
        try machine.space.takeSnapshot()
        #expect(throws: VMError.self) { _ = try machine.restarted() }
    }
}

@Suite struct InternalParentTests {
    final class NoMethods: KernelClassHandler {
        func call(_ vm: VirtualMachine, receiver: ObjectRef, ordinal: Int, arguments: [ObjectRef], thread: ObjectRef) -> CallOutcome { .value(.null) }
        func isReady(_ vm: VirtualMachine, awaited: ObjectRef, thread: ObjectRef) -> Bool { true }
    }

    @Test func aClassCannotExtendAKernelClass() throws {
        let machine = try TestMachine()
        try machine.vm.registerKernelClass(".internal.testkernel", instanceReferences: 2, instanceBytes: 64, handler: NoMethods())
        let source = "class child extends .internal.testkernel\nfield x\nmethod run 1\n    ret\nend\n"
        #expect {
            try machine.install(source)
        } throws: { error in
            "\(error)".contains("cannot extend .internal.testkernel")
        }
    }
}
