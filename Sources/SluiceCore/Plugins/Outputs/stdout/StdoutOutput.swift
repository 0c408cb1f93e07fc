/// `stdout`: writes each event as one line to standard output.
///
/// Parameters: `format`, `dead-letter` (see `DeliveryOptions`), `buffer…` (see `BufferOptions`).
public struct StdoutOutput: Sendable {
    public static let parameters: [ParameterDoc] = DeliveryOptions.parameters + BufferOptions.parameters
    public let delivery: DeliveryOptions
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        delivery = try DeliveryOptions(arguments)
        buffer = try BufferOptions(arguments)
    }
}

extension StdoutOutput: OutputPlugin {
    public static let name = "stdout"
    public static let summary = "one line per event on standard output"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> StdoutOutput { try StdoutOutput(arguments) }
    public var definition: OutputDefinition { .stdout(self) }

    func openDescriptor() throws(Node.SetupError) -> Int32 { 1 }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .stdout(StdoutSink(fd: fd))
    }
}
