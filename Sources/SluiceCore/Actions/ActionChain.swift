/// One configured action; an enum so the processor dispatches with a switch (no existentials).
public enum Action: Sendable {
    case jsonDecode(JSONDecodeAction)
    case discard(DiscardAction)
    case modify(ModifyAction)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("json_decode", "parse the event as JSON and index its top-level fields", JSONDecodeAction.parameters),
        ("discard", "drop events whose field equals / matches a value", DiscardAction.parameters),
        ("modify", "set a field to a value", ModifyAction.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) -> Action {
        switch type {
        case "json_decode": return .jsonDecode(try JSONDecodeAction(arguments))
        case "discard": return .discard(try DiscardAction(arguments, maxEventBytes: maxEventBytes))
        case "modify": return .modify(try ModifyAction(arguments))
        default: throw PluginArgumentError(key: nil, "unknown action '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }

    /// The instance one worker runs: actions with per-event scratch or state get their own.
    public func forWorker() -> Action {
        switch self {
        case .discard(let a): return .discard(a.forWorker())
        default: return self
        }
    }

    /// Runs the action; false when the event is to be dropped.
    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) -> Bool {
        switch self {
        case .jsonDecode(let a):
            a.apply(event, counters: counters, pipeline: pipeline)
            return true
        case .discard(let a):
            return !a.shouldDiscard(event)
        case .modify(let a):
            if !a.apply(event) { counters.add(.modifySkipped, 1, pipeline: pipeline) }
            return true
        }
    }
}
