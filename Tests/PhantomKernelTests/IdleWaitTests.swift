// The kernel's idle wait: with every thread waiting for an event, the run
// loop sleeps on its wake-up (no polling), and a stop request or console
// input ends that sleep at once.

import Foundation
import PhantomHost
import PhantomKernel
import PhantomVM
import Testing

@Suite struct IdleWaitTests {
    /// Prints "ready", then waits for a tick that comes once a minute.
    static let waiter = """
        class waiter
        field tick
        method run 1
            summon_by_name ".internal.connection"
            new
            os_save 0
            sconst "tick:60000"
            os_load 0
            call 8 1
            os_drop
            sconst "ready"
            os_get 0
            call 16 1
            os_drop
            summon_null
            iconst 0
            i2o
            os_load 0
            call 13 2
            ret
        end
        """

    @Test func aStopRequestEndsTheIdleWaitAtOnce() throws {
        let directory = NSTemporaryDirectory() + "phantom-idle-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var options = Kernel.Options(imagePath: directory + "/idle.img")
        options.snapshotInterval = 0
        options.capacity = 64 << 20
        let ready = DispatchSemaphore(value: 0)
        options.console = { text in if text == "ready" { ready.signal() } }
        let kernel = try Kernel(options)
        try kernel.install(try Assembler.assemble(Self.waiter))
        try kernel.start(className: "waiter")
        let stopper = HostThread("stopper") {
            ready.wait()
            kernel.requestStop()
        }
        let start = HostClock.monotonicNanos()
        let reason = try kernel.run { false }
        let elapsed = HostClock.monotonicNanos() - start
        stopper.join()
        #expect(reason == .requested)
        // The idle wait's longest sleep is a second: a stop that only a
        // poll would see takes that long.
        #expect(elapsed < Kernel.idleCheckNanos / 2, "stopped after \(elapsed / 1_000_000) ms")
        #expect(kernel.threadReports().first?.state == "blocked")
    }
}
