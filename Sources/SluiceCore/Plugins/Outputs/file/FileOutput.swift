/// `file`: appends each event as one line to a file (created when missing, mode 0644).
///
/// Parameters:
/// - `path` (required): the file to append to; every worker appends whole batches with O_APPEND.
/// - `sync`: fsync after each batch before acknowledging it (default false).
/// - `format`, `dead-letter`: see `DeliveryOptions`.
public struct FileOutput: Sendable {
    public static let parameters = [
        ParameterDoc("path", "file to append to", required: true),
        ParameterDoc("sync", "fsync each batch before acknowledging it", default: "false"),
    ] + DeliveryOptions.parameters
    public let path: String
    public let sync: Bool
    public let delivery: DeliveryOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try arguments.required("path")
        sync = try arguments.bool("sync", default: false)
        delivery = try DeliveryOptions(arguments)
    }
}
