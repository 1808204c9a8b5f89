// swift-tools-version: 6.1
import PackageDescription

// The interpreter loop and the object accessors are the hot path: dynamic
// exclusivity checks there cost ~30% of the run time (measured with perf on
// fib(30)); memory safety there is the VM's verifier's job.
let hotPath: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"])]

let package = Package(
    name: "Phantom",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "phantom", targets: ["phantom"]),
        .library(name: "PhantomStore", targets: ["PhantomStore"]),
        .library(name: "PhantomHost", targets: ["PhantomHost"]),
        .library(name: "PhantomMemory", targets: ["PhantomMemory"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        // Small C helpers for the hot paths that Swift cannot express portably
        // (hardware CRC32C); no other C code lives here.
        .target(name: "CPhantomSupport"),
        // Layer 1: everything that touches the host.
        .target(name: "PhantomHost", dependencies: ["CPhantomSupport"]),
        // Layer 2: the persistent page store.
        .target(name: "PhantomStore", dependencies: ["PhantomHost", "CPhantomSupport"]),
        // Layer 3: the persistent address space and the objects in it.
        .target(name: "PhantomMemory", dependencies: ["PhantomStore", "PhantomHost", "CPhantomSupport"],
                swiftSettings: hotPath),
        // Layer 4: the Phantom virtual machine.
        .target(name: "PhantomVM", dependencies: ["PhantomMemory", "PhantomStore", "PhantomHost", "CPhantomSupport"],
                swiftSettings: hotPath),
        // Layer 5: the kernel: boot, snapshot daemon, connections.
        .target(name: "PhantomKernel", dependencies: ["PhantomVM", "PhantomMemory", "PhantomStore", "PhantomHost"]),
        // Layer 6: the Phantom language compiler (a front end: .ph source -> class files).
        .target(name: "PhantomCompiler", dependencies: ["PhantomVM"]),
        // The `phantom` command.
        .executableTarget(
            name: "phantom",
            dependencies: [
                "PhantomStore", "PhantomHost", "PhantomMemory", "PhantomVM", "PhantomKernel", "PhantomCompiler", "CPhantomSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "PhantomHostTests", dependencies: ["PhantomHost"]),
        .testTarget(name: "PhantomStoreTests", dependencies: ["PhantomStore", "PhantomHost", "CPhantomSupport"]),
        .testTarget(name: "PhantomMemoryTests", dependencies: ["PhantomMemory", "PhantomStore", "PhantomHost"]),
        // Programs/: the .pa programs and their expected output, read by OpcodeProgramTests.
        .testTarget(name: "PhantomVMTests", dependencies: ["PhantomVM", "PhantomMemory", "PhantomStore", "PhantomHost"],
                    exclude: ["Programs"]),
        .testTarget(name: "PhantomCompilerTests",
                    dependencies: ["PhantomCompiler", "PhantomVM", "PhantomMemory", "PhantomStore", "PhantomHost"]),
        .testTarget(name: "PhantomKernelTests", dependencies: ["PhantomKernel", "PhantomVM", "PhantomHost"]),
        .testTarget(name: "PhantomCLITests", dependencies: ["phantom", "PhantomStore", "PhantomHost"]),
    ],
    swiftLanguageModes: [.v6]
)
