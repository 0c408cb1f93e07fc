/// `discard`: drops the events its condition matches; every other event passes.
///
/// The condition is the one every action takes (`if-field=PATH` with `if-equals=`,
/// `if-prefix=`, `if-contains=`, `if-matches=`, `if-mode=`, `if-not=`; see `Condition`), e.g.
/// `discard:if-field=type,if-equals=view`. The older spelling without the `if-` prefix (`field=`
/// with exactly one of `equals=`, `prefix=`, `contains=`, `matches=`) still works and means the
/// same. A discard with no condition at all is refused: it would drop every event.
public struct DiscardAction: @unchecked Sendable {
    public static let parameters = Condition.parameters(prefix: "").filter { $0.name != "mode" && $0.name != "not" && $0.name != "regex" }.map {
        ParameterDoc($0.name, "older spelling of if-\($0.name)", repeated: false)
    }

    /// The condition written in the older spelling, if any; the `if-` condition is the
    /// pipeline's, checked before the action runs.
    let own: Condition?

    /// `hasCondition`: the action carries an `if-` condition (then the older keys are optional).
    public init(_ arguments: PluginArguments, maxEventBytes: Int, hasCondition: Bool = false) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        own = try Condition(arguments, prefix: "", maxEventBytes: maxEventBytes)
        if own == nil && !hasCondition {
            throw PluginArgumentError(key: nil, "discard needs a condition, e.g. if-field=type,if-equals=view (without one it would drop every event)")
        }
    }

    private init(own: Condition?) { self.own = own }

    /// A copy with its own scratch buffer, for one worker.
    public func forWorker() -> DiscardAction { DiscardAction(own: own?.forWorker()) }

    /// Frees this instance's scratch and match data: a worker copy's (from `forWorker()`) or the
    /// definition's own (from `init`).
    public func dispose() { own?.disposeScratch() }

    /// Frees the patterns and field paths every copy shares (on the definition, copies gone).
    public func disposeShared() { own?.disposeShared() }

    var scratch: UnsafeMutableRawPointer? { own?.scratch }

    /// True when the event must be dropped (the `if-` condition, when there is one, was already
    /// found to match).
    @inline(__always) public func shouldDiscard(_ event: Event) -> Bool { own?.matches(event) ?? true }
}

extension DiscardAction: ActionPlugin {
    public static let name = "discard"
    public static let summary = "drop the events its condition matches"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> DiscardAction {
        try DiscardAction(arguments, maxEventBytes: setup.maxEventBytes, hasCondition: setup.hasCondition)
    }

    public var kind: Action.Kind { .discard(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return shouldDiscard(event) ? .drop : .pass
    }
}
