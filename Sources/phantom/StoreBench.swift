import ArgumentParser
struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store")
}
