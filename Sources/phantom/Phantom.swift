import ArgumentParser

/// The `phantom` command: create, inspect and test Phantom images.
@main
struct Phantom: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phantom",
        abstract: "Phantom: an orthogonally persistent, managed-code operating system.",
        subcommands: [RunCommand.self, InstallCommand.self, StartCommand.self, PsCommand.self, KillCommand.self, SnapshotsCommand.self,
                      RollbackCommand.self, InspectCommand.self, CompileCommand.self, ImageCommand.self, AsmCommand.self, ExecCommand.self,
                      BenchCommand.self])
}

/// A failure to report to the user: printed as "error: <message>", exit status 1.
struct UserError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
