import ArgumentParser

@main
struct Phantom: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "phantom", abstract: "Phantom: an orthogonally persistent OS.")
}
