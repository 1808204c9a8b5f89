import Testing
@testable import PhantomVM

/// Superinstructions: fused only where no jump lands in between; the same
/// results, instruction counts and fault positions as the plain code, with
/// slices of any size (a slice may end between the two halves).
@Suite struct QuickeningTests {
    /// Uses every fused pair: os_get+o2i, is_get+is_get, isum+is_set,
    /// iconst+isublu, iconst+isum, iconst+ilt, i2o+summon_this.
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
            i2o
            ret
        end
        """

    @Test func pairsAreFusedOnlyWhereNoJumpLandsInside() throws {
        let file = try #require(try Assembler.assemble(Self.program, file: "q.pa").first)
        let run = try #require(file.methods.first { $0.name == "run" })
        let quick = VirtualMachine.quicken(run.code)
        #expect(quick.count == run.code.count)
        let fused = quick.enumerated().filter { $0.element >= 0xF0 }.map(\.offset)
        #expect(!fused.isEmpty)
        // "loop:" is the target of jz: the is_get at that offset is the first
        // of a fused pair (allowed), never the second.
        let loopTarget = 3 + 5 + 5  // stack_reserve, iconst, is_set
        #expect(quick[loopTarget] == 0xF1)
        // Every byte that is not a fused opcode is unchanged.
        for (offset, byte) in quick.enumerated() where byte < 0xF0 { #expect(byte == run.code[offset]) }
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
