/// The registry: every plugin Sluice has. Each list below holds a plugin once: its case in the
/// definition enum (an enum so the processor dispatches with a switch, no existentials on the
/// event path), its line in that enum's `open` switch and its type in `plugins`. A plugin itself
/// lives in its folder, `Plugins/{Inputs,Actions,Outputs}/<name>/`: its parameter declarations,
/// its parsing, its per-worker state and its conformance (`InputPlugin`, `ActionPlugin`,
/// `OutputPlugin`), which says everything else the node needs to know of it.

/// One configured input.
public enum InputDefinition: Sendable {
    case file(FileInput)
    case tcp(TCPInput)
    case http(HTTPInput)
    case stdin(StdinInput)
    case generator(GeneratorInput)
    case journald(JournaldInput)
    case syslog(SyslogInput)
    case udp(UDPInput)
    case unix(UnixInput)
    case nats(NATSInput)
    case k8s(K8sInput)

    /// Runs `visitor` on the plugin this case holds: the one switch over inputs.
    func open<V: InputVisitor>(_ visitor: inout V) -> V.Result {
        switch self {
        case .file(let i): visitor.visit(i)
        case .tcp(let i): visitor.visit(i)
        case .http(let i): visitor.visit(i)
        case .stdin(let i): visitor.visit(i)
        case .generator(let i): visitor.visit(i)
        case .journald(let i): visitor.visit(i)
        case .syslog(let i): visitor.visit(i)
        case .udp(let i): visitor.visit(i)
        case .unix(let i): visitor.visit(i)
        case .nats(let i): visitor.visit(i)
        case .k8s(let i): visitor.visit(i)
        }
    }

    /// Every input type, in the plugin table's order.
    static let plugins: [any InputPlugin.Type] = [
        FileInput.self, TCPInput.self, HTTPInput.self, StdinInput.self, GeneratorInput.self, JournaldInput.self,
        SyslogInput.self, UDPInput.self, UnixInput.self, NATSInput.self, K8sInput.self,
    ]

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = plugins.map { ($0.name, $0.summary, $0.parameters) }

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> InputDefinition {
        guard let plugin = plugins.first(where: { $0.name == type }) else {
            throw PluginArgumentError(key: nil, "unknown input '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
        return try plugin.make(arguments).definition
    }
}

/// One configured action: what it does (`kind`, a plugin) and which events it applies to
/// (`condition`, the mechanics'). An enum of kinds so the processor dispatches with a switch (no
/// existentials); everything else about an action is its `ActionPlugin` conformance, in its folder.
public struct Action: @unchecked Sendable {
    /// The registry of actions. Adding one: its case here, its line in `open` and its type in
    /// `plugins` (the order of the plugin table).
    public enum Kind: Sendable {
        case jsonDecode(JSONDecodeAction)
        case discard(DiscardAction)
        case modify(ModifyAction)
        case aggregate(AggregateAction)
        case rename(RenameAction)
        case removeFields(RemoveFieldsAction)
        case keepFields(KeepFieldsAction)
        case flatten(FlattenAction)
        case jsonEncode(JSONEncodeAction)
        case hash(HashAction)
        case addHost(AddHostAction)
        case addFileName(AddFileNameAction)
        case setTime(SetTimeAction)
        case mask(MaskAction)
        case parseRegex(ParseRegexAction)
        case decode(DecodeAction)
        case convertDate(ConvertDateAction)
        case convertLogLevel(ConvertLogLevelAction)
        case throttle(ThrottleAction)
        case split(SplitAction)
        case join(JoinAction)

        /// Runs `visitor` on the plugin this case holds: the one switch over actions. Mutating
        /// (it changes nothing) so that the kind is passed by address: called on a non-mutating
        /// `self` through a pointer, the whole 113-byte kind was copied to the stack first, per
        /// event and action.
        @inline(__always) mutating func open<V: ActionVisitor>(_ visitor: inout V) -> V.Result {
            switch self {
            case .jsonDecode(let a): visitor.visit(a)
            case .discard(let a): visitor.visit(a)
            case .modify(let a): visitor.visit(a)
            case .aggregate(let a): visitor.visit(a)
            case .rename(let a): visitor.visit(a)
            case .removeFields(let a): visitor.visit(a)
            case .keepFields(let a): visitor.visit(a)
            case .flatten(let a): visitor.visit(a)
            case .jsonEncode(let a): visitor.visit(a)
            case .hash(let a): visitor.visit(a)
            case .addHost(let a): visitor.visit(a)
            case .addFileName(let a): visitor.visit(a)
            case .setTime(let a): visitor.visit(a)
            case .mask(let a): visitor.visit(a)
            case .parseRegex(let a): visitor.visit(a)
            case .decode(let a): visitor.visit(a)
            case .convertDate(let a): visitor.visit(a)
            case .convertLogLevel(let a): visitor.visit(a)
            case .throttle(let a): visitor.visit(a)
            case .split(let a): visitor.visit(a)
            case .join(let a): visitor.visit(a)
            }
        }
    }

    /// Every action type, in the plugin table's order.
    static let plugins: [any ActionPlugin.Type] = [
        JSONDecodeAction.self, DiscardAction.self, ModifyAction.self, AggregateAction.self, RenameAction.self,
        RemoveFieldsAction.self, KeepFieldsAction.self, FlattenAction.self, JSONEncodeAction.self, HashAction.self,
        AddHostAction.self, AddFileNameAction.self, SetTimeAction.self, MaskAction.self, ParseRegexAction.self, DecodeAction.self,
        ConvertDateAction.self, ConvertLogLevelAction.self, ThrottleAction.self, SplitAction.self, JoinAction.self,
    ]

    public var kind: Kind
    /// Only events it matches are given to the action; the others pass untouched. nil: all.
    public var condition: Condition?

    public init(_ kind: Kind, condition: Condition? = nil) {
        self.kind = kind
        self.condition = condition
    }

    public static func jsonDecode(_ a: JSONDecodeAction) -> Action { Action(.jsonDecode(a)) }
    public static func discard(_ a: DiscardAction) -> Action { Action(.discard(a)) }
    public static func modify(_ a: ModifyAction) -> Action { Action(.modify(a)) }
    public static func aggregate(_ a: AggregateAction) -> Action { Action(.aggregate(a)) }

    /// Whether the action changes events' fields (`ActionPlugin.editsFields`).
    public var editsFields: Bool {
        var visitor = EditsFields()
        var kind = kind
        return kind.open(&visitor)
    }

    /// The pipeline's actions with each `json_decode` told whether an action after it edits
    /// fields (then it indexes every member of a long object at once: `JSONDecodeAction`).
    public static func linked(_ actions: [Action]) -> [Action] {
        var result = actions
        var editedLater = false
        for i in result.indices.reversed() {
            if case .jsonDecode(var decode) = result[i].kind {
                decode.completesIndex = editedLater
                result[i].kind = .jsonDecode(decode)
            }
            if result[i].editsFields { editedLater = true }
        }
        return result
    }

    /// Whether the action keeps events for a while (`.held`) and the worker must hand them on
    /// when they are due (`Worker.flushHeldEvents`).
    public var holdsEvents: Bool {
        var visitor = HoldsEvents()
        var kind = kind
        return kind.open(&visitor)
    }

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = plugins.map { ($0.name, $0.summary, $0.parameters) }

    /// The parameters every action takes besides its own: the condition.
    public static let commonParameters = Condition.parameters()

    public static func make(type: String, _ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) -> Action {
        guard let plugin = plugins.first(where: { $0.name == type }) else {
            throw PluginArgumentError(key: nil, "unknown action '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
        let condition = try Condition(arguments, maxEventBytes: maxEventBytes)
        let setup = ActionSetup(maxEventBytes: maxEventBytes, hasCondition: condition != nil)
        return Action(try plugin.make(arguments.removingCondition(), setup).kind, condition: condition)
    }

    /// The instance one worker runs: actions with per-event scratch or state get their own.
    public func forWorker() -> Action {
        var visitor = ForWorker()
        var kind = kind
        return Action(kind.open(&visitor), condition: condition?.forWorker())
    }

    /// Frees the memory this instance allocated for itself. Ownership: a worker's copy owns what
    /// `forWorker()` gave it (discard's scratch, aggregate's table) and the worker disposes it
    /// when it retires the slot; the definition owns its own per-instance memory (discard's
    /// scratch from `init`); the same for the condition's scratch and regex match data. What
    /// `init` allocated for every copy to share (patterns, field paths, modify's key and value)
    /// is freed only by `disposeShared()`.
    public func dispose() {
        condition?.disposeScratch()
        var visitor = Dispose(shared: false)
        var kind = kind
        kind.open(&visitor)
    }

    /// Frees what the definition's `init` allocated and its worker copies share. Called on the
    /// definition by whoever holds it (the node, the CLI) once no worker copy is left.
    public func disposeShared() {
        condition?.disposeShared()
        var visitor = Dispose(shared: true)
        var kind = kind
        kind.open(&visitor)
    }

    /// `wait`: the action needs room that is not free now (`ActionContext.Room.wait`); it runs
    /// again on the same event later. `held`: the action keeps the event (`join` folded it into
    /// a record); its release comes with the event it was folded into. `emit`: the action hands
    /// on `context.emitted` (a new event, or one it held), which runs through the actions after
    /// it and to the outputs ahead of this event; then the action runs again on this event,
    /// with `context.cursor` as it left it.
    public enum Verdict { case pass, drop, consumed, wait, held, emit }

    /// Runs the action on one event when its condition matches (`context.event`: an action may
    /// move it to a larger slot).
    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Verdict {
        var copy = self
        return withUnsafeMutablePointer(to: &copy) { action in
            withUnsafeMutablePointer(to: &context) { Action.apply(action, event, counters: counters, pipeline: pipeline, context: $0) }
        }
    }

    /// The processor's entry: the action and the context stay where they are (an `Action` is
    /// 168 bytes; a copy per event and action was a `memcpy` each, a tenth of the CPU of
    /// `ndjson-aggregate`).
    @inline(__always) static func apply(_ action: UnsafeMutablePointer<Action>, _ event: Event, counters: CounterBlock, pipeline: Int,
                                        context: UnsafeMutablePointer<ActionContext>) -> Verdict {
        if action.pointee.condition != nil && !action.pointee.condition.unsafelyUnwrapped.matches(event) { return .pass }
        var visitor = Run(event: event, counters: counters, pipeline: pipeline, context: context)
        return action.pointee.kind.open(&visitor)
    }

    /// The plugin's registered name (as in `Action.types`).
    var typeName: String {
        var visitor = Name()
        var kind = kind
        return kind.open(&visitor)
    }
}

private struct Run: ActionVisitor {
    let event: Event
    let counters: CounterBlock
    let pipeline: Int
    let context: UnsafeMutablePointer<ActionContext>

    @inline(__always) mutating func visit<A: ActionPlugin>(_ action: A) -> Action.Verdict {
        action.run(event, counters: counters, pipeline: pipeline, context: &context.pointee)
    }
}

private struct ForWorker: ActionVisitor {
    mutating func visit<A: ActionPlugin>(_ action: A) -> Action.Kind { action.forWorker().kind }
}

private struct Dispose: ActionVisitor {
    let shared: Bool
    mutating func visit<A: ActionPlugin>(_ action: A) { shared ? action.disposeShared() : action.dispose() }
}

private struct EditsFields: ActionVisitor {
    mutating func visit<A: ActionPlugin>(_ action: A) -> Bool { A.editsFields }
}

private struct HoldsEvents: ActionVisitor {
    mutating func visit<A: ActionPlugin>(_ action: A) -> Bool { A.holdsEvents }
}

private struct Name: ActionVisitor {
    mutating func visit<A: ActionPlugin>(_ action: A) -> String { A.name }
}

/// One configured output. The registry of outputs: adding one is its case here, its line in
/// `open` and its type in `plugins`; everything else is its `OutputPlugin` conformance, in its
/// folder.
public enum OutputDefinition: Sendable {
    case devnull(DevNullOutput)
    case stdout(StdoutOutput)
    case file(FileOutput)
    case tcp(TCPOutput)
    case http(HTTPOutput)
    case clickhouse(ClickHouseOutput)
    case nats(NATSOutput)
    case elasticsearch(ElasticsearchOutput)
    case syslog(SyslogOutput)
    case postgres(PostgresOutput)

    /// Runs `visitor` on the plugin this case holds: the one switch over outputs.
    @inline(__always) func open<V: OutputVisitor>(_ visitor: inout V) -> V.Result {
        switch self {
        case .devnull(let o): visitor.visit(o)
        case .stdout(let o): visitor.visit(o)
        case .file(let o): visitor.visit(o)
        case .tcp(let o): visitor.visit(o)
        case .http(let o): visitor.visit(o)
        case .clickhouse(let o): visitor.visit(o)
        case .nats(let o): visitor.visit(o)
        case .elasticsearch(let o): visitor.visit(o)
        case .syslog(let o): visitor.visit(o)
        case .postgres(let o): visitor.visit(o)
        }
    }

    /// Every output type, in the plugin table's order.
    static let plugins: [any OutputPlugin.Type] = [
        DevNullOutput.self, StdoutOutput.self, FileOutput.self, TCPOutput.self, HTTPOutput.self,
        ClickHouseOutput.self, NATSOutput.self, ElasticsearchOutput.self, SyslogOutput.self, PostgresOutput.self,
    ]

    /// Events per batch of an output whose destination pays a fixed price per batch (a
    /// ClickHouse insert makes a part on disk; a PostgreSQL transaction waits for its WAL flush
    /// at COMMIT) when neither `--batch-size` nor the pipeline's `batch-size` is set and its
    /// events keep their pool slots (a disk buffer): 1,000,000 rows went 3–5× faster than with
    /// the node's 256 (perf/README.md). Two such batches are 2,048 events, a worker's share of
    /// the default pool on 2 workers.
    public static let bulkLoaderBatchSize = 1024
    /// The same when its events give their slots back once encoded (`detachesEvents`): a batch
    /// is then bounded by the output buffer's bytes (`--output-buffer-size`) first; this many
    /// events at most (40 bytes of bookkeeping each, preallocated per buffer).
    public static let detachedBatchSize = 32768

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = plugins.map { ($0.name, $0.summary, $0.parameters) }

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> OutputDefinition {
        guard let plugin = plugins.first(where: { $0.name == type }) else {
            throw PluginArgumentError(key: nil, "unknown output '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
        return try plugin.make(arguments).definition
    }
}
