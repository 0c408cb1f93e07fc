/// `generator`: synthesizes NDJSON events `{"ts":…,"type":…,"user":…,"value":…,"msg":…}`
/// at a given rate or as fast as the pipeline takes them, for benchmarks and smoke tests.
///
/// Every worker produces an equal share; the lines are the same for the same seed and workers.
public struct GeneratorInput: Sendable {
    static let count = Parameter.int("count", default: 0, range: 0...Int.max, doc: "events to produce, then finish (0: unlimited)")
    static let rate = Parameter.int("rate", default: 0, range: 0...1_000_000_000, doc: "events per second across the node (0: as fast as possible)")
    static let size = Parameter.int("size", default: 256, range: 64...(1 << 20), doc: "approximate line length in bytes")
    static let seed = Parameter.int("seed", default: 1, range: 0...Int.max, doc: "seed of the deterministic sequence")
    public static let parameters = [count.doc, rate.doc, size.doc, seed.doc]
    public let count: Int
    public let rate: Int
    public let lineBytes: Int
    public let seed: UInt64

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        count = try arguments.value(Self.count)
        rate = try arguments.value(Self.rate)
        lineBytes = try arguments.value(Self.size)
        seed = UInt64(try arguments.value(Self.seed))
    }

    /// A line must fit a small slot (the generator writes whole events).
    func problem(with settings: NodeSettings) -> String? {
        guard lineBytes > settings.pool.smallDataCapacity else { return nil }
        return "generator size=\(lineBytes) does not fit an event slot (\(settings.pool.smallDataCapacity) data bytes); raise --event-size"
    }
}

extension GeneratorInput: InputPlugin {
    public static let name = "generator"
    public static let summary = "synthetic NDJSON events for benchmarks"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> GeneratorInput {
        try GeneratorInput(arguments)
    }
    public var definition: InputDefinition { .generator(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        GeneratorFamily.prepare(self, &preparation, into: &assignments)
    }
}
