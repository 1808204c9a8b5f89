// Issue 10 F1: a slice is bounded by the work it does, not by its count of
// instructions, and an allocation that fails collects all garbage first.

import Testing
import PhantomMemory
@testable import PhantomCompiler
@testable import PhantomVM

@Suite struct CostTests {
    /// Starts `className.run(boot)` of `source` on a machine of `capacity` bytes.
    func start(_ source: String, capacity: UInt64 = 256 << 20) throws -> (CompilerTestMachine, ObjectRef) {
        let classes = try compileVerified(source)
        let machine = try CompilerTestMachine(capacity: capacity)
        try machine.install(classes)
        let instance = try Launcher.instantiate(try #require(classes.first { $0.name == "test" }), in: machine.vm)
        let thread = try machine.vm.startThread(on: instance, method: "run", arguments: [machine.vm.bootObject])
        return (machine, thread)
    }

    /// The report's starve.ph, smaller: each `s + "y"` copies 4 MiB. Before
    /// the fix one slice ran 10 000 such instructions (tens of seconds with
    /// no safepoint); now a slice ends after the first costly one.
    @Test func bigCopiesEndTheSlice() throws {
        let (machine, thread) = try start(program("""
            var s = "x";
            for (var i : int = 0; i < 22; i++) s = s + s;
            for (var j : int = 0; j < 300; j++) { var t = s + "y"; }
            boot.print("done\\n");
        """))
        var slices = 0
        while machine.vm.state(of: thread) == .runnable && slices < 10_000 {
            // One slice: the scheduler returns at the next safepoint.
            machine.vm.run(budget: 10_000, slice: 10_000)
            slices += 1
        }
        #expect(machine.output == "done\n")
        // 300 copies of 4 MiB: at least one safepoint for each.
        #expect(slices >= 300, "\(slices) slices")
        // The instruction count stays a count of instructions.
        #expect(machine.vm.instructions(of: thread) < 20_000)
    }

    /// Live data fits, garbage does not: 64 MiB of 1 MiB strings in a
    /// 24 MiB heap. The allocation that finds the heap full collects first.
    @Test func anAllocationThatFailsCollectsBeforeOutOfMemory() throws {
        let (machine, thread) = try start(program("""
            var s = "x";
            for (var i : int = 0; i < 20; i++) s = s + s;
            var n : int = 0;
            for (var j : int = 0; j < 64; j++) { var t = s + "y"; n = n + t.length(); }
            boot.print("done ", n, "\\n");
        """), capacity: 24 << 20)
        machine.vm.run(budget: 200_000_000)
        #expect(machine.vm.state(of: thread) == .finished, "\(machine.output.prefix(300))")
        #expect(machine.output == "done \(64 * ((1 << 20) + 1))\n")
    }

    /// What is live and does not fit still ends in "out of memory" (the
    /// retry after the collection fails too), as a guest exception.
    @Test func liveDataThatDoesNotFitIsOutOfMemory() throws {
        let (machine, thread) = try start(program("""
            var s = "x";
            for (var i : int = 0; i < 40; i++) s = s + s;
        """), capacity: 24 << 20)
        machine.vm.run(budget: 200_000_000)
        #expect(machine.vm.state(of: thread) == .failed)
        #expect(machine.output.contains("out of persistent memory"), "\(machine.output.prefix(300))")
    }

    /// The string operations that now work in the heap keep their results.
    @Test func stringOperationsInTheHeap() throws {
        let output = try run(program("""
            var a = "hello, ";
            var b = a + "world";
            boot.print(b, " ", b.length(), " ", b.charAt(7), " ", b.substring(7, 12), "\\n");
            boot.print(b.equals("hello, world"), " ", b.equals("hello, worle"), " ", b.equals(a), "\\n");
            boot.print(b.hashCode() == ("hello, " + "world").hashCode(), "\\n");
            var sb = new .internal.string_builder();
            for (var i : int = 0; i < 100; i++) sb.append(i);
            var t = sb.toString();
            boot.print(t.length(), " ", t.substring(0, 12), " ", a + 42, "\\n");
            var d = new .internal.directory();
            d.put(b, 1);
            boot.print(d.get("hello, " + "world"), "\\n");
        """))
        #expect(output == "hello, world 12 119 world\n1 0 0\n1\n190 012345678910 hello, 42\n1\n")
    }
}
