import Testing
@testable import PhantomVM

/// Superinstructions: fused only where no jump lands in between; the same
/// results, instruction counts and fault positions as the plain code, with
/// slices of any size (a slice may end between the two halves).
@Suite struct QuickeningTests {
    /// Uses every fused pair: os_get+o2i, is_get+is_get, isum+is_set,
    /// iconst+isublu, iconst+isum, iconst+ilt, i2o+summon_this, and the
    /// triple iconst+ilt+jz.
    static let program = """
        class q
        method run 1
            stack_reserve 0 2
            iconst 50
            is_set 0
        loop:
            is_get 1
            is_get 0
            isum
            is_set 1
            is_get 0
            iconst 1
            isublu
            is_dup
            is_set 0
            iconst 1
            ilt
            jz loop
            is_get 1
            iconst 7
            isum
            i2o
            summon_this
            call 9 1
            os_get 0
            call 16 1
            os_drop
            ret
        end
        method twice 1
            os_get 0
            o2i
            os_get 0
            o2i
            isum
            os_get 0
            o2i
            iconst 1000
            ilt
            isum
            i2o
            ret
        end
        """

    @Test func pairsAreFusedOnlyWhereNoJumpLandsInside() throws {
        let file = try #require(try Assembler.assemble(Self.program, file: "q.pa").first)
        let run = try #require(file.methods.first { $0.name == "run" })
        let quick = VirtualMachine.quicken(run.code)
        #expect(quick.count == run.code.count)
        let fused = quick.indices.filter { quick[$0] != run.code[$0] }
        #expect(!fused.isEmpty)
        // Only opcode bytes change, and only to fused opcodes.
        for offset in fused { #expect(VirtualMachine.fusedOpcodes.contains(quick[offset])) }
        // "loop:" is the target of jz: the is_get at that offset is the first
        // of a fused pair (allowed), never the second.
        let loopTarget = 3 + 5 + 5  // stack_reserve, iconst, is_set
        #expect(quick[loopTarget] == Dispatch.isGetIsGet.rawValue)
        // The loop's condition is the fused triple; its ilt and jz stay as they were.
        // is_get, is_get (5 + 5), isum, is_set (1 + 5), is_get (5), iconst, isublu (5 + 1), is_dup (1), is_set (5)
        let condition = loopTarget + 33
        #expect(quick[condition] == Dispatch.iconstIltJz.rawValue)
        #expect(quick[condition + 5] == Opcode.ilt.rawValue && quick[condition + 6] == Opcode.jz.rawValue)
        // Every fused opcode is used somewhere in the class.
        let twice = try #require(file.methods.first { $0.name == "twice" })
        let used = Set(quick + VirtualMachine.quicken(twice.code)).intersection(VirtualMachine.fusedOpcodes)
        #expect(used == Set(VirtualMachine.fusedOpcodes))
    }

    /// The interpreter switches over `Dispatch`, a bit cast of the opcode
    /// byte: its case for each byte must be the opcode of that number.
    @Test func dispatchCasesAreTheOpcodesOfTheirBytes() {
        #expect(MemoryLayout<Dispatch>.size == 1)
        for byte in 0...255 {
            let dispatch = Dispatch(byte: UInt8(byte))
            #expect(dispatch.rawValue == UInt8(byte))
            if let opcode = Opcode(rawValue: UInt8(byte)) {
                #expect("\(dispatch)" == "\(opcode)", "byte \(byte)")
            } else {
                let fused = VirtualMachine.fusedOpcodes.contains(UInt8(byte))
                #expect("\(dispatch)".hasPrefix("x") != fused, "byte \(byte): \(dispatch)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 5, 7, 1000])
    func theResultAndCountsDoNotDependOnTheSlice(slice: Int) throws {
        let machine = try TestMachine()
        try machine.install(Self.program)
        let thread = try machine.vm.startThread(className: "q")
        while machine.vm.state(of: thread) == .runnable { machine.vm.run(budget: slice, slice: slice) }
        // sum(1...50) + 7 = 1282, doubled.
        #expect(machine.output == "2564")
        // The plain instruction count: 4 + 50 * 12 + 8 + 7 (twice) + ... counted as unfused.
        let reference = try TestMachine()
        try reference.install(Self.program)
        let other = try reference.vm.startThread(className: "q")
        reference.vm.run()
        #expect(machine.vm.instructions(of: thread) == reference.vm.instructions(of: other))
    }

    @Test func aFaultInAFusedPairIsReportedAtItsSecondInstruction() throws {
        // os_get 0; o2i on a string: the fault's pc is the o2i's offset (5).
        let source = """
            class f
            method run 1
                sconst "x"
                os_set 0
                os_get 0
                o2i
                is_drop
                ret
            end
            """
        let (output, _, _) = try runProgram(source, className: "f")
        #expect(output.contains("o2i: x is not an integer"))
        #expect(output.contains("(pc 16 line 6)"), "\(output)")  // sconst 1+4+1, os_set 5, os_get 5: the o2i at 16
    }
}
