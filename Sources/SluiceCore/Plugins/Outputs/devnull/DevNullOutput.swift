/// `devnull`: counts events and acknowledges them at once; only the buffer parameters (a disk
/// buffer drained into devnull measures the buffer itself).
public struct DevNullOutput: Sendable {
    public static let parameters: [ParameterDoc] = BufferOptions.parameters
    public let buffer: BufferOptions

    public init() { buffer = BufferOptions() }

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        buffer = try BufferOptions(arguments)
    }
}

extension DevNullOutput: OutputPlugin {
    public static let name = "devnull"
    public static let summary = "count and drop (for benchmarks)"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> DevNullOutput { try DevNullOutput(arguments) }
    public var definition: OutputDefinition { .devnull(self) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .devnull
    }
}
