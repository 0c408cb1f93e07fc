/// One configured action; an enum so the processor dispatches with a switch (no existentials).
public enum Action: Sendable {
    case jsonDecode(JSONDecodeAction)
    case discard(DiscardAction)
    case modify(ModifyAction)
    case aggregate(AggregateAction)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("json_decode", "parse the event as JSON and index its top-level fields", JSONDecodeAction.parameters),
        ("discard", "drop events whose field equals / matches a value", DiscardAction.parameters),
        ("modify", "set a field to a value", ModifyAction.parameters),
        ("aggregate", "count, sum and average a field per key; rows on interval and at stop", AggregateAction.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) -> Action {
        switch type {
        case "json_decode": return .jsonDecode(try JSONDecodeAction(arguments))
        case "discard": return .discard(try DiscardAction(arguments, maxEventBytes: maxEventBytes))
        case "modify": return .modify(try ModifyAction(arguments))
        case "aggregate": return .aggregate(try AggregateAction(arguments))
        default: throw PluginArgumentError(key: nil, "unknown action '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }

    /// The instance one worker runs: actions with per-event scratch or state get their own.
    public func forWorker() -> Action {
        switch self {
        case .discard(let a): return .discard(a.forWorker())
        case .aggregate(let a): return .aggregate(a.forWorker())
        default: return self
        }
    }

    public enum Verdict { case pass, drop, consumed }

    /// Runs the action on one event.
    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) -> Verdict {
        switch self {
        case .jsonDecode(let a):
            a.apply(event, counters: counters, pipeline: pipeline)
            return .pass
        case .discard(let a):
            return a.shouldDiscard(event) ? .drop : .pass
        case .modify(let a):
            if !a.apply(event) { counters.add(.modifySkipped, 1, pipeline: pipeline) }
            return .pass
        case .aggregate(let a):
            return a.apply(event, counters: counters, pipeline: pipeline) ? .pass : .consumed
        }
    }
}
