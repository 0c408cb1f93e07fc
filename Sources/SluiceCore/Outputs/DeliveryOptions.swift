/// What the `file`, `stdout` and `tcp` outputs share: which events they accept, and where the
/// ones they reject go.
///
/// With `format=json` decoded events are known valid; others are checked. The dead-letter line
/// is `{"reason":…,"pipeline":…,"offset":…,"event":"<the raw bytes as a JSON string>"}`, written
/// before the batch that held the event is acknowledged, so a rejected event is never committed
/// before it is in the dead-letter file. Without it, rejected events are dropped, counted
/// (`rejected`) and logged.
public struct DeliveryOptions: Sendable, Equatable {
    public enum Format: String, Sendable, CaseIterable { case raw, json }
    static let format = Parameter.choice("format", default: Format.raw,
                                         doc: "raw: write every event; json: reject events that are not valid JSON, permanently")
    static let deadLetter = Parameter.optional("dead-letter", .path,
                                               doc: "file that receives every rejected event with the reason (a failed write is retried with backoff, the events held)")
    public static let parameters = [format.doc, deadLetter.doc]
    public var requireJSON = false
    public var deadLetterPath: String?

    public init() {}

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        requireJSON = try arguments.value(Self.format) == .json
        deadLetterPath = try arguments.value(Self.deadLetter)
    }
}
