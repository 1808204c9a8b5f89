// Fault injection for tests, as SQLite's test hooks: the environment
// variable PHANTOM_FAULT makes the real process abort at a chosen point, so
// that a test can crash it where it wants and check what the next boot finds
// (docs/kernel.md, "Fault injection"). The command line reads it once when
// the process starts and passes it in `Kernel.Options.fault`; unset, it
// costs nothing: the run loop then gives the VM its usual budget.
//
//   PHANTOM_FAULT=abort-at-boot                 abort() once the image is open and the world loaded
//   PHANTOM_FAULT=abort-after-instructions=N    abort() once the VM has run N instructions (N >= 1)
//
// Anything else is refused, never ignored.

import PhantomHost

/// A fault to inject into this process (for tests).
public enum FaultInjection: Equatable, Sendable {
    /// abort() at boot: the image is open and the VM's world loaded (the
    /// boot counted in memory), no instruction has run, nothing is written.
    case abortAtBoot
    /// abort() at the safepoint where the VM has run exactly this many
    /// instructions in this process (`VirtualMachine.instructionsRun`).
    case abortAfterInstructions(UInt64)

    /// The environment variable that sets it.
    public static let variable = "PHANTOM_FAULT"

    /// Parses a value of PHANTOM_FAULT.
    public init(parsing text: String) throws(KernelError) {
        let prefix = "abort-after-instructions="
        if text == "abort-at-boot" {
            self = .abortAtBoot
        } else if text.hasPrefix(prefix) {
            let number = text.dropFirst(prefix.count)
            // UInt64("+5") is 5: only digits are a count.
            guard !number.isEmpty, number.allSatisfy({ $0.isASCII && $0.isNumber }), let count = UInt64(number), count >= 1 else {
                throw KernelError("\(Self.variable)=\(text): the instruction count must be a whole number from 1, as in \(prefix)100000")
            }
            self = .abortAfterInstructions(count)
        } else {
            throw KernelError("\(Self.variable)=\(text) is not a fault this build injects: use abort-at-boot or \(prefix)N (N >= 1), or unset \(Self.variable)")
        }
    }

    /// The fault PHANTOM_FAULT asks for: nil when it is unset or empty.
    public static func fromEnvironment() throws(KernelError) -> FaultInjection? {
        guard let value = HostProcess.environment(variable), !value.isEmpty else { return nil }
        return try FaultInjection(parsing: value)
    }

    /// Ends the process with SIGABRT, as a crash would: nothing more is
    /// written to the image, no final snapshot is taken. One line on
    /// standard error says why; no crash report (the Swift runtime's
    /// backtracer) and no core file are written: an injected fault is not a
    /// bug to debug.
    public static func abortProcess(_ why: String) -> Never {
        let line = "phantom: \(variable): aborting \(why)\n"
        _ = writeAll(2, line)
        HostProcess.abortWithoutCoreDump()
    }
}
