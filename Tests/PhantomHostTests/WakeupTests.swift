// The timer that wakes a waiter: a deadline ends a wait, a wake ends it at
// once, and a wake that comes before the wait is not lost.

import PhantomHost
import Testing

@Suite struct WakeupTests {
    @Test func aWaitEndsAtItsDeadlineAndNotBefore() {
        let wakeup = PollWakeup()
        let start = HostClock.monotonicNanos()
        let woken = wakeup.wait(until: start + 30_000_000)
        #expect(!woken)
        #expect(HostClock.monotonicNanos() - start >= 30_000_000)
    }

    @Test func aWakeBeforeTheWaitIsNotLost() {
        let wakeup = PollWakeup()
        wakeup.wake()
        wakeup.wake()
        let start = HostClock.monotonicNanos()
        #expect(wakeup.wait(until: start + 10_000_000_000))
        #expect(HostClock.monotonicNanos() - start < 1_000_000_000)
        // Both wakes were one event: the next wait runs to its deadline.
        #expect(!wakeup.wait(until: HostClock.monotonicNanos() + 5_000_000))
    }

    @Test func aWakeFromAnotherThreadEndsTheWaitAtOnce() {
        let wakeup = PollWakeup()
        let start = HostClock.monotonicNanos()
        let waker = HostThread("waker") { wakeup.wake() }
        #expect(wakeup.wait(until: start + 10_000_000_000))
        #expect(HostClock.monotonicNanos() - start < 1_000_000_000)
        waker.join()
    }

    @Test func entropyFillsEveryByte() {
        var bytes = [UInt8](repeating: 0, count: 37)
        var other = bytes
        bytes.withUnsafeMutableBytes { Entropy.fill($0) }
        other.withUnsafeMutableBytes { Entropy.fill($0) }
        #expect(bytes != other)
        #expect(bytes.suffix(5) != [0, 0, 0, 0, 0])
    }

    @Test func virtualMemoryReservesZeroedPagesAndDiscardsThem() throws {
        let bytes = 1 << 22
        let memory = try #require(VirtualMemory.reserve(bytes))
        defer { VirtualMemory.release(memory, bytes: bytes) }
        #expect(memory.load(fromByteOffset: bytes - 8, as: UInt64.self) == 0)
        memory.storeBytes(of: 0xABCD, toByteOffset: 4096, as: UInt64.self)
        if VirtualMemory.discard(memory, bytes: bytes) {
            #expect(memory.load(fromByteOffset: 4096, as: UInt64.self) == 0)
        }
        #expect(VirtualMemory.protect(memory, bytes: 4096, .read))
        #expect(VirtualMemory.protect(memory, bytes: 4096, .readWrite))
    }
}
