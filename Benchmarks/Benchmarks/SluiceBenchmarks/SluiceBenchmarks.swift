import Benchmark

/// Metrics every benchmark reports: time and rate per op, and mallocs per op.
enum SluiceMetrics {
    static let standard: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
}

/// Entry point read by the BenchmarkPlugin boilerplate. Defaults: 1000 ops per iteration, 10
/// warm-up iterations, then up to 300 measured iterations or 3 s, whichever comes first.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: SluiceMetrics.standard, warmupIterations: 10, scalingFactor: .kilo,
        maxDuration: .seconds(3), maxIterations: 300)
    registerRingAndPoolBenchmarks()
    registerParsingBenchmarks()
    registerActionBenchmarks()
    registerParsingActionBenchmarks()
    registerOutputEncoderBenchmarks()
    registerPipelineBenchmark()
}
