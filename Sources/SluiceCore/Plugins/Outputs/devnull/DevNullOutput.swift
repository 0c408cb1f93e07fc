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
