/// `generator`: synthesizes NDJSON events `{"ts":…,"type":…,"user":…,"value":…,"msg":…}`
/// at a given rate or as fast as the pipeline takes them, for benchmarks and smoke tests.
///
/// Parameters:
/// - `count`: events to produce in total, then the input finishes (default 0: never stops).
/// - `rate`: events per second across the node (default 0: as fast as possible).
/// - `size`: approximate line length in bytes, at least 64 (default 256).
/// - `seed`: seed of the deterministic sequence (default 1).
/// Every worker produces an equal share; the lines are the same for the same seed and workers.
public struct GeneratorInput: Sendable {
    public static let parameters = [
        ParameterDoc("count", "events to produce, then finish (0: unlimited)", default: "0"),
        ParameterDoc("rate", "events per second across the node (0: as fast as possible)", default: "0"),
        ParameterDoc("size", "approximate line length in bytes", default: "256"),
        ParameterDoc("seed", "seed of the deterministic sequence", default: "1"),
    ]
    public let count: Int
    public let rate: Int
    public let lineBytes: Int
    public let seed: UInt64

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        count = try arguments.int("count", default: 0, range: 0...Int.max)
        rate = try arguments.int("rate", default: 0, range: 0...1_000_000_000)
        lineBytes = try arguments.int("size", default: 256, range: 64...(1 << 20))
        seed = UInt64(try arguments.int("seed", default: 1, range: 0...Int.max))
    }
}
