/// `devnull`: counts events and acknowledges them at once. No parameters.
public struct DevNullOutput: Sendable {
    public static let parameters: [ParameterDoc] = []
}

/// `stdout`: writes each event as one line to standard output. No parameters.
public struct StdoutOutput: Sendable {
    public static let parameters: [ParameterDoc] = []
}

/// `file`: appends each event as one line to a file (created when missing, mode 0644).
///
/// Parameters:
/// - `path` (required): the file to append to; every worker appends whole batches with O_APPEND.
/// - `sync`: fsync after each batch before acknowledging it (default false).
public struct FileOutput: Sendable {
    public static let parameters = [
        ParameterDoc("path", "file to append to", required: true),
        ParameterDoc("sync", "fsync each batch before acknowledging it", default: "false"),
    ]
    public let path: String
    public let sync: Bool

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try arguments.required("path")
        sync = try arguments.bool("sync", default: false)
    }
}

/// One configured output.
public enum OutputDefinition: Sendable {
    case devnull
    case stdout
    case file(FileOutput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("devnull", "count and drop (for benchmarks)", DevNullOutput.parameters),
        ("stdout", "one line per event on standard output", StdoutOutput.parameters),
        ("file", "append one line per event to a file", FileOutput.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> OutputDefinition {
        switch type {
        case "devnull":
            try arguments.checkKnown(DevNullOutput.parameters)
            return .devnull
        case "stdout":
            try arguments.checkKnown(StdoutOutput.parameters)
            return .stdout
        case "file": return .file(try FileOutput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown output '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }
}
