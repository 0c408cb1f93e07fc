/// One configured output.
public enum OutputDefinition: Sendable {
    case devnull
    case stdout(StdoutOutput)
    case file(FileOutput)
    case tcp(TCPOutput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("devnull", "count and drop (for benchmarks)", DevNullOutput.parameters),
        ("stdout", "one line per event on standard output", StdoutOutput.parameters),
        ("file", "append one line per event to a file", FileOutput.parameters),
        ("tcp", "one line per event over TCP, reconnecting with backoff", TCPOutput.parameters),
    ]

    /// Which events the output accepts and where rejected ones go.
    public var delivery: DeliveryOptions {
        switch self {
        case .devnull: DeliveryOptions()
        case .stdout(let o): o.delivery
        case .file(let o): o.delivery
        case .tcp(let o): o.delivery
        }
    }

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> OutputDefinition {
        switch type {
        case "devnull":
            try arguments.checkKnown(DevNullOutput.parameters)
            return .devnull
        case "stdout": return .stdout(try StdoutOutput(arguments))
        case "file": return .file(try FileOutput(arguments))
        case "tcp": return .tcp(try TCPOutput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown output '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }
}
