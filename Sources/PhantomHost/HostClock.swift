// Time from the host: the only place the system reads a clock (`Clock`
// in Clock.swift is the same as a protocol, for a kernel that is given its
// host).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host's clocks.
public enum HostClock {
    /// Monotonic time in ns (for durations; not comparable across boots).
    @inline(__always)
    public static func monotonicNanos() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    /// Monotonic time in seconds.
    public static func monotonicSeconds() -> Double {
        Double(monotonicNanos()) / 1e9
    }

    /// Wall-clock time in ns since the Unix epoch.
    public static func wallNanos() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}
