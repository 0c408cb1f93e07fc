// swift-tools-version:6.1
import PackageDescription

// The data plane (I/O, memory, pipeline, plugins) is one module, SluiceCore, so plugin
// dispatch and the hot loops specialise and inline as one unit under whole-module optimisation; the CLI and the YAML layer sit on top and never run per event.
let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["sluice"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .target(
            name: "CSupport",
            path: "CSupport",
            linkerSettings: [.linkedLibrary("uring"), .linkedLibrary("numa"), .linkedLibrary("pcre2-8"), .linkedLibrary("systemd"), .linkedLibrary("z"), .linkedLibrary("zstd"),
                             .linkedLibrary("ssl"), .linkedLibrary("crypto"), .linkedLibrary("nats"), .linkedLibrary("pq")]
        ),
        .target(
            name: "SluiceCore",
            dependencies: ["CSupport"],
            // Release builds are whole-module already; dynamic exclusivity checks on the worker's
            // class properties cost per access on the hot path, so they stay on in debug only.
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .target(
            name: "SluiceConfig",
            dependencies: [.product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "sluice",
            dependencies: [
                "SluiceCore", "SluiceConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // libFuzzer targets for the framer, the JSON scanner and the config parsers; a plain build
        // replays a corpus, Fuzz/run.sh builds them for fuzzing (Fuzz/README.md).
        .executableTarget(name: "sluice-fuzz", dependencies: ["SluiceCore", "SluiceConfig"], path: "Fuzz/Sources"),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore"]),
        .testTarget(name: "SluiceConfigTests", dependencies: ["SluiceConfig"]),
        .testTarget(name: "SluiceEndToEndTests", dependencies: ["SluiceCore"]),
    ]
)
