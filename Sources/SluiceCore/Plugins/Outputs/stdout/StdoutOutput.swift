/// `stdout`: writes each event as one line to standard output.
///
/// Parameters: `format`, `dead-letter` (see `DeliveryOptions`).
public struct StdoutOutput: Sendable {
    public static let parameters: [ParameterDoc] = DeliveryOptions.parameters
    public let delivery: DeliveryOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        delivery = try DeliveryOptions(arguments)
    }
}
