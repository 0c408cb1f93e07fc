// swift-tools-version:6.1
import PackageDescription

// Micro benchmarks of the data plane with malloc counts (ordo-one/benchmark). A package of its
// own so the main build and CI never compile the benchmark framework.
let package = Package(
    name: "SluiceBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Sluice", path: ".."),
        // Only the MallocInterposer trait: the default RuntimeInterposer trait (ARC counts) pulls
        // ordo-one/swift-runtime-interposer on Linux + Swift 6.3, which is not available here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // Read directly by the pipeline benchmark for its exact steady-state malloc count.
        .package(url: "https://github.com/ordo-one/malloc-interposer", from: "1.6.1"),
    ],
    targets: [
        .executableTarget(
            name: "SluiceBenchmarks",
            dependencies: [
                .product(name: "SluiceCore", package: "Sluice"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Benchmarks/SluiceBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
