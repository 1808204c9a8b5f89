import ArgumentParser
import Foundation
import PhantomKernel

/// The `phantom` command: create, inspect and test Phantom images.
@main
struct Phantom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Phantom: an orthogonally persistent, managed-code operating system.",
        subcommands: [RunCommand.self, InstallCommand.self, StartCommand.self, PsCommand.self, KillCommand.self, SnapshotsCommand.self,
                      RollbackCommand.self, InspectCommand.self, CompileCommand.self, ImageCommand.self, AsmCommand.self, ExecCommand.self,
                      BenchCommand.self])

    /// Refuses a bad PHANTOM_FAULT before any command runs (exit 64): a
    /// fault a test asked for is never silently ignored.
    static func main() {
        if case let .failure(error) = injectedFault {
            printError("error: \(error)")
            Self.exit(withError: ExitCode.validationFailure)
        }
        main(nil)
    }
}

/// PHANTOM_FAULT, read once when the process starts (docs/kernel.md, *Fault
/// injection*); the commands that boot the kernel pass it on (`bootKernel`).
let injectedFault = Result { () throws(KernelError) in try FaultInjection.fromEnvironment() }

/// A failure to report to the user: printed as "error: <message>", exit status 1.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
