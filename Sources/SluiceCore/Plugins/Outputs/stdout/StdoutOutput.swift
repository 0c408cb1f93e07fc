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
