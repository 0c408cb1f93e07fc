/// What an action plugin declares, in its folder (`Plugins/Actions/<name>/`): its name, summary
/// and parameters (the plugin table, `sluice plugins`), how it is built from its spec, its
/// per-worker copy and what each frees, and what it does to one event. The registry
/// (`Registry.swift`) lists the type once and wraps it in one `Action.Kind` case, so the
/// processor still dispatches with a switch and every call below is static.
public protocol ActionPlugin: Sendable {
    /// The spec's type (`--action NAME:…`).
    static var name: String { get }
    /// One line for the plugin table.
    static var summary: String { get }
    static var parameters: [ParameterDoc] { get }
    /// Builds the definition from the spec's own keys (the condition's keys already taken out).
    static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> Self
    /// Whether the action keeps events for a while (`.held`); the worker hands them on when due.
    static var holdsEvents: Bool { get }
    /// Whether the action changes events' fields through `EventEditor` (and so needs the whole
    /// index of an event `json_decode` cut at `--max-fields`): a `json_decode` before it then
    /// indexes every member at once instead of the editor walking the text past the cut again.
    static var editsFields: Bool { get }
    /// Its own counters (`Counter`), in /metrics and the exit summary.
    static var counters: [CounterSpec] { get }

    /// This value in its registry case.
    var kind: Action.Kind { get }
    /// The instance one worker runs (its own scratch and state); the definition itself when it
    /// has none.
    func forWorker() -> Self
    /// Frees what this instance allocated for itself (a worker's copy: at retire).
    func dispose()
    /// Frees what the definition allocated for every copy to share, once no copy is left.
    func disposeShared()
    /// Runs on one event the condition matched (`context.event`: the action may move it to a
    /// larger slot).
    func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict
}

/// What every action is built with besides its own keys.
public struct ActionSetup: Sendable {
    /// `--max-event-size`: the largest event an action may make.
    public var maxEventBytes: Int
    /// The action carries an `if-` condition.
    public var hasCondition: Bool

    public init(maxEventBytes: Int, hasCondition: Bool = false) {
        self.maxEventBytes = maxEventBytes
        self.hasCondition = hasCondition
    }
}

extension ActionPlugin {
    public static var holdsEvents: Bool { false }
    public static var editsFields: Bool { false }
    public static var counters: [CounterSpec] { [] }
    public func forWorker() -> Self { self }
    public func dispose() {}
    public func disposeShared() {}
}

/// An operation on whichever plugin an `Action.Kind` holds (`Action.Kind.open`): generic, so
/// each use is specialised per plugin type.
protocol ActionVisitor {
    associatedtype Result
    mutating func visit<A: ActionPlugin>(_ action: A) -> Result
}
