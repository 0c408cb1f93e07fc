/// `json_decode`: parses the raw bytes as JSON and indexes the top-level object's fields.
///
/// Invalid JSON is counted (`invalid_json`) and the event passes on unparsed with the
/// `invalidJSON` flag; it is never dropped here.
public struct JSONDecodeAction: Sendable {
    static let maxDepth = Parameter.int("max-depth", default: JSONScanner.defaultMaxDepth, range: 1...65536,
                                        doc: "deepest nesting accepted; deeper documents count as invalid")
    public static let parameters = [maxDepth.doc]
    public let maxDepth: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        maxDepth = try arguments.value(Self.maxDepth)
    }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) {
        if !event.indexJSON(maxDepth: maxDepth) { counters.add(.invalidJSON, 1, pipeline: pipeline) }
    }
}

extension JSONDecodeAction: ActionPlugin {
    public static let name = "json_decode"
    public static let summary = "parse the event as JSON and index its top-level fields"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> JSONDecodeAction {
        try JSONDecodeAction(arguments)
    }

    public var kind: Action.Kind { .jsonDecode(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        apply(event, counters: counters, pipeline: pipeline)
        return .pass
    }
}
