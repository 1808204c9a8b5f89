// swift-tools-version: 6.1
// libFuzzer targets for Phantom's loaders (docs/fuzzing.md). A separate
// package so that the main build is unaffected: its product modules are
// symlinks to ../Sources, compiled here with coverage instrumentation and the
// address sanitizer. Build and run with scripts/fuzz.
import PackageDescription

let sanitize: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-enforce-exclusivity=unchecked"])]
let link: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library"])]

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: dependencies, swiftSettings: fuzzer, linkerSettings: link)
}

let package = Package(
    name: "PhantomFuzz",
    targets: [
        .target(name: "CPhantomSupport", cSettings: [.unsafeFlags(["-fsanitize=fuzzer-no-link,address"])]),
        .target(name: "PhantomHost", dependencies: ["CPhantomSupport"], swiftSettings: sanitize),
        .target(name: "PhantomStore", dependencies: ["PhantomHost", "CPhantomSupport"], swiftSettings: sanitize),
        .target(name: "PhantomMemory", dependencies: ["PhantomStore", "PhantomHost", "CPhantomSupport"], swiftSettings: sanitize),
        .target(name: "PhantomVM", dependencies: ["PhantomMemory", "PhantomStore", "PhantomHost", "CPhantomSupport"], swiftSettings: sanitize),
        .target(name: "PhantomCompiler", dependencies: ["PhantomVM"], swiftSettings: sanitize),
        fuzzTarget("FuzzClassFile", ["PhantomVM"]),
        fuzzTarget("FuzzAssembler", ["PhantomVM"]),
        fuzzTarget("FuzzCompiler", ["PhantomCompiler", "PhantomVM"]),
        fuzzTarget("FuzzImage", ["PhantomVM", "PhantomMemory", "PhantomStore", "PhantomHost"]),
    ],
    swiftLanguageModes: [.v6]
)
