/// What the `file`, `stdout` and `tcp` outputs share: which events they accept, and where the
/// ones they reject go.
///
/// Parameters:
/// - `format`: `raw` (default) writes any event; `json` accepts only events that are valid JSON
///   and rejects the others permanently (decoded events are known valid; others are checked).
/// - `dead-letter`: file that receives every rejected event as one JSON line
///   `{"reason":…,"pipeline":…,"offset":…,"event":"<the raw bytes as a JSON string>"}`. It is
///   written before the batch that held the event is acknowledged, so a rejected event is never
///   committed before it is in the dead-letter file. Without it, rejected events are dropped,
///   counted (`rejected`) and logged.
public struct DeliveryOptions: Sendable, Equatable {
    public static let parameters = [
        ParameterDoc("format", "raw: write every event; json: reject events that are not valid JSON", default: "raw"),
        ParameterDoc("dead-letter", "file that receives rejected events with the reason"),
    ]
    public var requireJSON = false
    public var deadLetterPath: String?

    public init() {}

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        switch arguments.string("format") ?? "raw" {
        case "raw": requireJSON = false
        case "json": requireJSON = true
        case let other: throw PluginArgumentError(key: "format", "expected raw or json, got '\(other)'")
        }
        deadLetterPath = arguments.string("dead-letter")
        if deadLetterPath?.isEmpty == true { throw PluginArgumentError(key: "dead-letter", "empty path") }
    }
}
