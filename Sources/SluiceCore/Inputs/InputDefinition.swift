/// One configured input.
public enum InputDefinition: Sendable {
    case file(FileInput)
    case tcp(TCPInput)
    case stdin
    case generator(GeneratorInput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("file", "read files (paths or globs), optionally following appends", FileInput.parameters),
        ("tcp", "newline-delimited records from TCP connections", TCPInput.parameters),
        ("stdin", "read standard input to its end", StdinInput.parameters),
        ("generator", "synthetic NDJSON events for benchmarks", GeneratorInput.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> InputDefinition {
        switch type {
        case "file": return .file(try FileInput(arguments))
        case "tcp": return .tcp(try TCPInput(arguments))
        case "stdin":
            try arguments.checkKnown(StdinInput.parameters)
            return .stdin
        case "generator": return .generator(try GeneratorInput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown input '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }
}
