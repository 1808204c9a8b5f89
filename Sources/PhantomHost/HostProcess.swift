// The process as a host service: its environment, files' existence, and
// ending it as a crash would (for fault injection).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The host process.
public enum HostProcess {
    /// The value of environment variable `name`, nil if unset.
    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    /// True if something exists at `path` (any kind of file).
    public static func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// Ends the process with SIGABRT, as a crash would, writing no core
    /// file and no crash report (the Swift runtime's backtracer).
    public static func abortWithoutCoreDump() -> Never {
        signal(SIGABRT, SIG_DFL)
        #if canImport(Glibc)
        let core = __rlimit_resource_t(RLIMIT_CORE.rawValue)
        #else
        let core = RLIMIT_CORE
        #endif
        var limit = rlimit()
        if getrlimit(core, &limit) == 0 {
            limit.rlim_cur = 0
            _ = setrlimit(core, &limit)
        }
        abort()
    }
}
