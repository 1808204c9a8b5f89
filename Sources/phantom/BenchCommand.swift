import ArgumentParser

/// `phantom bench ...`: benchmarks that compare Phantom with a peer in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run benchmarks against a peer in the same run.",
        subcommands: [StoreBench.self, SnapshotBench.self, VMBench.self, CompileBench.self, KernelBench.self, GCBenchCommand.self, RestartBench.self, SafepointBench.self])
}
