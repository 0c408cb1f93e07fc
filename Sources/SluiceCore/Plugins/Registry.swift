/// The registry: every plugin Sluice has, one entry in each list below and one case in each
/// enum (an enum so the processor dispatches with a switch, no existentials on the event path).
/// A plugin itself lives in its folder, `Plugins/{Inputs,Actions,Outputs}/<name>/`: its
/// parameter declarations, its parsing and its per-worker state.

/// One configured input.
public enum InputDefinition: Sendable {
    case file(FileInput)
    case tcp(TCPInput)
    case stdin
    case generator(GeneratorInput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("file", "read files (paths or globs), optionally following appends", FileInput.parameters),
        ("tcp", "newline-delimited records from TCP connections", TCPInput.parameters),
        ("stdin", "read standard input to its end", StdinInput.parameters),
        ("generator", "synthetic NDJSON events for benchmarks", GeneratorInput.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> InputDefinition {
        switch type {
        case "file": return .file(try FileInput(arguments))
        case "tcp": return .tcp(try TCPInput(arguments))
        case "stdin":
            try arguments.checkKnown(StdinInput.parameters)
            return .stdin
        case "generator": return .generator(try GeneratorInput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown input '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }

    /// On the control thread: opens what this input needs and puts its sources into the
    /// workers' assignments (its family's `prepare`).
    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        switch self {
        case .file(let file): try FileFamily.prepare(file, &preparation, into: &assignments)
        case .tcp(let tcp): try TCPFamily.prepare(tcp, &preparation, into: &assignments)
        case .stdin: try FileFamily.prepareStdin(&preparation, into: &assignments)
        case .generator(let generator): GeneratorFamily.prepare(generator, &preparation, into: &assignments)
        }
    }
}

/// One configured action: what it does (`kind`, a plugin) and which events it applies to
/// (`condition`, the mechanics'). An enum of kinds so the processor dispatches with a switch (no
/// existentials).
public struct Action: @unchecked Sendable {
    public enum Kind: Sendable {
        case jsonDecode(JSONDecodeAction)
        case discard(DiscardAction)
        case modify(ModifyAction)
        case aggregate(AggregateAction)
    }

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

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("json_decode", "parse the event as JSON and index its top-level fields", JSONDecodeAction.parameters),
        ("discard", "drop the events its condition matches", DiscardAction.parameters),
        ("modify", "set a field to a value", ModifyAction.parameters),
        ("aggregate", "count, sum and average a field per key; rows on interval and at stop (a sum or average that is not finite, e.g. from 1e999, is written as null; a row too large for an event slot is dropped, logged and counted in aggregate_skipped)",
         AggregateAction.parameters),
    ]

    /// The parameters every action takes besides its own: the condition.
    public static let commonParameters = Condition.parameters()

    public static func make(type: String, _ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) -> Action {
        let condition = try Condition(arguments, maxEventBytes: maxEventBytes)
        let own = arguments.removingCondition()
        let kind: Kind
        switch type {
        case "json_decode": kind = .jsonDecode(try JSONDecodeAction(own))
        case "discard": kind = .discard(try DiscardAction(own, maxEventBytes: maxEventBytes, hasCondition: condition != nil))
        case "modify": kind = .modify(try ModifyAction(own))
        case "aggregate": kind = .aggregate(try AggregateAction(own))
        default: throw PluginArgumentError(key: nil, "unknown action '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
        return Action(kind, condition: condition)
    }

    /// The instance one worker runs: actions with per-event scratch or state get their own.
    public func forWorker() -> Action {
        let mine: Kind
        switch kind {
        case .discard(let a): mine = .discard(a.forWorker())
        case .aggregate(let a): mine = .aggregate(a.forWorker())
        default: mine = kind
        }
        return Action(mine, condition: condition?.forWorker())
    }

    /// Frees the memory this instance allocated for itself. Ownership: a worker's copy owns what
    /// `forWorker()` gave it (discard's scratch, aggregate's table) and the worker disposes it
    /// when it retires the slot; the definition owns its own per-instance memory (discard's
    /// scratch from `init`); the same for the condition's scratch and regex match data. What
    /// `init` allocated for every copy to share (patterns, field paths, modify's key and value)
    /// is freed only by `disposeShared()`.
    public func dispose() {
        condition?.disposeScratch()
        switch kind {
        case .discard(let a): a.dispose()
        case .aggregate(let a): a.dispose()
        case .jsonDecode, .modify: break
        }
    }

    /// Frees what the definition's `init` allocated and its worker copies share. Called on the
    /// definition by whoever holds it (the node, the CLI) once no worker copy is left.
    public func disposeShared() {
        condition?.disposeShared()
        switch kind {
        case .discard(let a): a.disposeShared()
        case .modify(let a): a.disposeShared()
        case .aggregate(let a): a.disposeShared()
        case .jsonDecode: break
        }
    }

    /// `wait`: the action needs room that is not free now (`ActionContext.Room.wait`); it runs
    /// again on the same event later.
    public enum Verdict { case pass, drop, consumed, wait }

    /// Runs the action on one event when its condition matches (`context.event`: an action may
    /// move it to a larger slot).
    @inline(__always) public func apply(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Verdict {
        if let condition, !condition.matches(event) { return .pass }
        switch kind {
        case .jsonDecode(let a):
            a.apply(event, counters: counters, pipeline: pipeline)
            return .pass
        case .discard(let a):
            return a.shouldDiscard(event) ? .drop : .pass
        case .modify(let a):
            switch a.apply(event, context: &context) {
            case .changed: return .pass
            case .notAnObject: counters.add(.modifySkipped, 1, pipeline: pipeline)
            case .waitForRoom: return .wait
            case .tooLarge:
                counters.add(.modifyTooLarge, 1, pipeline: pipeline)
                Log.warn("action modify", "pipeline slot \(pipeline): an event of \(context.event.header.pointee.usedLength) bytes with \(context.event.fieldCount) indexed fields cannot take field '\(a.fieldName)' within --max-event-size; it passes unchanged (counted as modify_too_large)")
            }
            return .pass
        case .aggregate(let a):
            return a.apply(event, counters: counters, pipeline: pipeline) ? .pass : .consumed
        }
    }
}

/// One configured output.
public enum OutputDefinition: Sendable {
    case devnull
    case stdout(StdoutOutput)
    case file(FileOutput)
    case tcp(TCPOutput)
    case http(HTTPOutput)
    case clickhouse(ClickHouseOutput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("devnull", "count and drop (for benchmarks)", DevNullOutput.parameters),
        ("stdout", "one line per event on standard output", StdoutOutput.parameters),
        ("file", "append one line per event to a file", FileOutput.parameters),
        ("tcp", "one line per event over TCP; the unacknowledged batch is resent after reconnecting with backoff and jitter", TCPOutput.parameters),
        ("http", "POST each batch over HTTP/1.1 (keep-alive); acknowledged on 2xx, 429/5xx retried, refused events to the dead-letter file", HTTPOutput.parameters),
        ("clickhouse", "INSERT each batch into a ClickHouse table (HTTP, JSONEachRow); acknowledged on 200, refused rows to the dead-letter file", ClickHouseOutput.parameters),
    ]

    /// Which events the output accepts and where rejected ones go.
    public var delivery: DeliveryOptions {
        switch self {
        case .devnull: DeliveryOptions()
        case .stdout(let o): o.delivery
        case .file(let o): o.delivery
        case .tcp(let o): o.delivery
        case .http(let o): o.delivery
        case .clickhouse(let o): o.delivery
        }
    }

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> OutputDefinition {
        switch type {
        case "devnull":
            try arguments.checkKnown(DevNullOutput.parameters)
            return .devnull
        case "stdout": return .stdout(try StdoutOutput(arguments))
        case "file": return .file(try FileOutput(arguments))
        case "tcp": return .tcp(try TCPOutput(arguments))
        case "http": return .http(try HTTPOutput(arguments))
        case "clickhouse": return .clickhouse(try ClickHouseOutput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown output '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }
}
