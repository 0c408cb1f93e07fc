/// The registry: every plugin Sluice has, one entry in each list below and one case in each
/// enum (an enum so the processor dispatches with a switch, no existentials on the event path).
/// A plugin itself lives in its folder, `Plugins/{Inputs,Actions,Outputs}/<name>/`: its
/// parameter declarations, its parsing and its per-worker state.

/// One configured input.
public enum InputDefinition: Sendable {
    case file(FileInput)
    case tcp(TCPInput)
    case http(HTTPInput)
    case stdin
    case generator(GeneratorInput)
    case journald(JournaldInput)
    case syslog(SyslogInput)
    case udp(UDPInput)
    case unix(UnixInput)
    case nats(NATSInput)
    case k8s(K8sInput)

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("file", "read files (paths or globs), optionally following appends", FileInput.parameters),
        ("tcp", "newline-delimited records from TCP connections", TCPInput.parameters),
        ("http", "NDJSON POSTs and the Elasticsearch bulk API over HTTP/1.1; answered after the outputs acknowledged (ack=output)", HTTPInput.parameters),
        ("stdin", "read standard input to its end", StdinInput.parameters),
        ("generator", "synthetic NDJSON events for benchmarks", GeneratorInput.parameters),
        ("journald", "systemd journal entries as JSON events, resuming from the last acknowledged cursor", JournaldInput.parameters),
        ("syslog", "RFC 5424 and RFC 3164 messages over TCP (octet-counted or newline-framed) or UDP, each parsed into a JSON event", SyslogInput.parameters),
        ("udp", "one record per UDP datagram; kernel drops counted", UDPInput.parameters),
        ("unix", "a unix domain socket: newline-delimited stream connections or one record per datagram", UnixInput.parameters),
        ("nats", "a NATS JetStream durable pull consumer; each message acknowledged once the outputs acknowledged its event", NATSInput.parameters),
        ("k8s", "Kubernetes container logs (CRI or Docker JSON lines) as JSON events with namespace, pod, container and container_id; split lines joined; followed and rotated as the file input",
         K8sInput.parameters),
    ]

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> InputDefinition {
        switch type {
        case "file": return .file(try FileInput(arguments))
        case "tcp": return .tcp(try TCPInput(arguments))
        case "http": return .http(try HTTPInput(arguments))
        case "stdin":
            try arguments.checkKnown(StdinInput.parameters)
            return .stdin
        case "generator": return .generator(try GeneratorInput(arguments))
        case "journald": return .journald(try JournaldInput(arguments))
        case "syslog": return .syslog(try SyslogInput(arguments))
        case "udp": return .udp(try UDPInput(arguments))
        case "unix": return .unix(try UnixInput(arguments))
        case "nats": return .nats(try NATSInput(arguments))
        case "k8s": return .k8s(try K8sInput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown input '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }

    /// What makes this input unusable with the node's settings (checked before anything opens).
    func problem(with settings: NodeSettings) -> String? {
        switch self {
        case .generator(let g): g.problem(with: settings)
        case .file, .tcp, .http, .stdin, .journald, .syslog, .udp, .unix, .nats: nil
        case .file, .tcp, .http, .stdin, .journald, .syslog, .udp, .unix, .k8s: nil
        }
    }

    /// On the control thread: opens what this input needs and puts its sources into the
    /// workers' assignments (its family's `prepare`).
    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        switch self {
        case .file(let file): try FileFamily.prepare(file, &preparation, into: &assignments)
        case .tcp(let tcp): try TCPFamily.prepare(tcp, &preparation, into: &assignments)
        case .http(let http): try HTTPFamily.prepare(http, &preparation, into: &assignments)
        case .stdin: try FileFamily.prepareStdin(&preparation, into: &assignments)
        case .generator(let generator): GeneratorFamily.prepare(generator, &preparation, into: &assignments)
        case .journald(let journald): try JournaldFamily.prepare(journald, &preparation, into: &assignments)
        case .syslog(let syslog): try syslog.prepare(&preparation, into: &assignments)
        case .udp(let udp): try DatagramFamily.prepareUDP(host: udp.host, port: udp.port, decoder: .none, input: "udp", &preparation, into: &assignments)
        case .unix(let unix): try unix.prepare(&preparation, into: &assignments)
        case .nats(let nats): try NATSFamily.prepare(nats, &preparation, into: &assignments)
        case .k8s(let k8s): try FileFamily.prepare(k8s.file, &preparation, into: &assignments)
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
        case rename(RenameAction)
        case removeFields(RemoveFieldsAction)
        case keepFields(KeepFieldsAction)
        case flatten(FlattenAction)
        case jsonEncode(JSONEncodeAction)
        case hash(HashAction)
        case addHost(AddHostAction)
        case setTime(SetTimeAction)
        case mask(MaskAction)
        case parseRegex(ParseRegexAction)
        case decode(DecodeAction)
        case convertDate(ConvertDateAction)
        case convertLogLevel(ConvertLogLevelAction)
        case throttle(ThrottleAction)
        case split(SplitAction)
        case join(JoinAction)
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

    /// Whether the action keeps events for a while (`.held`) and the worker must hand them on
    /// when they are due (`Worker.flushHeldEvents`).
    public var holdsEvents: Bool { if case .join = kind { true } else { false } }

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("json_decode", "parse the event as JSON and index its top-level fields", JSONDecodeAction.parameters),
        ("discard", "drop the events its condition matches", DiscardAction.parameters),
        ("modify", "set a field (or dotted path, creating objects on the way) to a value, which may insert other fields with ${PATH}", ModifyAction.parameters),
        ("aggregate", "count, sum and average a field per key; rows on interval and at stop (a sum or average that is not finite, e.g. from 1e999, is written as null; a row too large for an event slot is dropped, logged and counted in aggregate_skipped)",
         AggregateAction.parameters),
        ("rename", "move a field to another name or path (overwriting what is there)", RenameAction.parameters),
        ("remove_fields", "remove fields (names or dotted paths)", RemoveFieldsAction.parameters),
        ("keep_fields", "keep only these top-level fields", KeepFieldsAction.parameters),
        ("flatten", "turn a nested object into top-level fields named by the keys on the way", FlattenAction.parameters),
        ("json_encode", "replace an object or array field with its JSON text as a string", JSONEncodeAction.parameters),
        ("hash", "write the XXH64 hash of a field's value to another field (hex string or number)", HashAction.parameters),
        ("add_host", "set a field to the node's host name", AddHostAction.parameters),
        ("set_time", "set a field to the current time (RFC 3339 with nanoseconds, or Unix milliseconds)", SetTimeAction.parameters),
        ("mask", "replace matches of PCRE2 patterns in a string field, or in every string value, with a text or a stable hash (mask_failed, parse_too_large)",
         MaskAction.parameters),
        ("parse_re", "set a field per named group of a PCRE2 pattern matched against a string field (parse_re_failed)", ParseRegexAction.parameters),
        ("decode", "parse a string field as json, logfmt, cri, nginx_error, rfc5424 or rfc3164 into top-level fields (decode_failed)", DecodeAction.parameters),
        ("convert_date", "rewrite a time field from rfc3339, rfc3164, epoch numbers or a strftime layout to rfc3339 or epoch numbers (convert_date_failed)",
         ConvertDateAction.parameters),
        ("convert_log_level", "rewrite a log level as a syslog severity: a number 0-7 or a lower- or upper-case name (convert_log_level_failed)",
         ConvertLogLevelAction.parameters),
        ("throttle", "at most limit events per key value and interval, per worker; the others are dropped (throttle_dropped); events without the key share one bucket",
         ThrottleAction.parameters),
        ("split", "one event per element of an array field, the rest of the object copied into each (split_skipped: not an object, no such field, not a non-empty array)",
         SplitAction.parameters),
        ("join", "multi-line records (stack traces): a line matching start and the lines after it matching continue become one event, the field's lines joined with \\n; flushed at timeout, limits and stop",
         JoinAction.parameters),
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
        case "modify": kind = .modify(try ModifyAction(own, maxEventBytes: maxEventBytes))
        case "aggregate": kind = .aggregate(try AggregateAction(own))
        case "rename": kind = .rename(try RenameAction(own, maxEventBytes: maxEventBytes))
        case "remove_fields": kind = .removeFields(try RemoveFieldsAction(own, maxEventBytes: maxEventBytes))
        case "keep_fields": kind = .keepFields(try KeepFieldsAction(own, maxEventBytes: maxEventBytes))
        case "flatten": kind = .flatten(try FlattenAction(own, maxEventBytes: maxEventBytes))
        case "json_encode": kind = .jsonEncode(try JSONEncodeAction(own, maxEventBytes: maxEventBytes))
        case "hash": kind = .hash(try HashAction(own, maxEventBytes: maxEventBytes))
        case "add_host": kind = .addHost(try AddHostAction(own, maxEventBytes: maxEventBytes))
        case "set_time": kind = .setTime(try SetTimeAction(own, maxEventBytes: maxEventBytes))
        case "mask": kind = .mask(try MaskAction(own, maxEventBytes: maxEventBytes))
        case "parse_re": kind = .parseRegex(try ParseRegexAction(own, maxEventBytes: maxEventBytes))
        case "decode": kind = .decode(try DecodeAction(own, maxEventBytes: maxEventBytes))
        case "convert_date": kind = .convertDate(try ConvertDateAction(own, maxEventBytes: maxEventBytes))
        case "convert_log_level": kind = .convertLogLevel(try ConvertLogLevelAction(own, maxEventBytes: maxEventBytes))
        case "throttle": kind = .throttle(try ThrottleAction(own))
        case "split": kind = .split(try SplitAction(own, maxEventBytes: maxEventBytes))
        case "join": kind = .join(try JoinAction(own, maxEventBytes: maxEventBytes))
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
        case .modify(let a): mine = .modify(a.forWorker())
        case .rename(let a): mine = .rename(a.forWorker())
        case .removeFields(let a): mine = .removeFields(a.forWorker())
        case .keepFields(let a): mine = .keepFields(a.forWorker())
        case .flatten(let a): mine = .flatten(a.forWorker())
        case .jsonEncode(let a): mine = .jsonEncode(a.forWorker())
        case .hash(let a): mine = .hash(a.forWorker())
        case .addHost(let a): mine = .addHost(a.forWorker())
        case .setTime(let a): mine = .setTime(a.forWorker())
        case .mask(let a): mine = .mask(a.forWorker())
        case .parseRegex(let a): mine = .parseRegex(a.forWorker())
        case .decode(let a): mine = .decode(a.forWorker())
        case .convertDate(let a): mine = .convertDate(a.forWorker())
        case .convertLogLevel(let a): mine = .convertLogLevel(a.forWorker())
        case .throttle(let a): mine = .throttle(a.forWorker())
        case .split(let a): mine = .split(a.forWorker())
        case .join(let a): mine = .join(a.forWorker())
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
        case .modify(let a): a.dispose()
        case .rename(let a): a.dispose()
        case .removeFields(let a): a.dispose()
        case .keepFields(let a): a.dispose()
        case .flatten(let a): a.dispose()
        case .jsonEncode(let a): a.dispose()
        case .hash(let a): a.dispose()
        case .addHost(let a): a.dispose()
        case .setTime(let a): a.dispose()
        case .jsonDecode: break
        case .mask(let a): a.dispose()
        case .parseRegex(let a): a.dispose()
        case .decode(let a): a.dispose()
        case .convertDate(let a): a.dispose()
        case .convertLogLevel(let a): a.dispose()
        case .throttle(let a): a.dispose()
        case .split(let a): a.dispose()
        case .join(let a): a.dispose()
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
        case .rename(let a): a.disposeShared()
        case .removeFields(let a): a.disposeShared()
        case .keepFields(let a): a.disposeShared()
        case .flatten(let a): a.disposeShared()
        case .jsonEncode(let a): a.disposeShared()
        case .hash(let a): a.disposeShared()
        case .addHost(let a): a.disposeShared()
        case .setTime(let a): a.disposeShared()
        case .mask(let a): a.disposeShared()
        case .parseRegex(let a): a.disposeShared()
        case .decode(let a): a.disposeShared()
        case .convertDate(let a): a.disposeShared()
        case .convertLogLevel(let a): a.disposeShared()
        case .throttle(let a): a.disposeShared()
        case .split(let a): a.disposeShared()
        case .join(let a): a.disposeShared()
        case .jsonDecode: break
        }
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
    @inline(__always) public func apply(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Verdict {
        if let condition, !condition.matches(event) { return .pass }
        switch kind {
        case .jsonDecode(let a):
            a.apply(event, counters: counters, pipeline: pipeline)
            return .pass
        case .discard(let a):
            return a.shouldDiscard(event) ? .drop : .pass
        case .modify(let a):
            switch a.apply(event, context: &context, counters: counters, pipeline: pipeline) {
            case .changed: return .pass
            case .notAnObject, .pathBlocked: counters.add(.modifySkipped, 1, pipeline: pipeline)
            case .waitForRoom: return .wait
            case .tooLarge:
                counters.add(.modifyTooLarge, 1, pipeline: pipeline)
                Log.warn("action modify", "pipeline slot \(pipeline): an event of \(context.event.header.pointee.usedLength) bytes with \(context.event.fieldCount) indexed fields cannot take field '\(a.fieldName)' within --max-event-size; it passes unchanged (counted as modify_too_large)")
            }
            return .pass
        case .aggregate(let a):
            return a.apply(event, counters: counters, pipeline: pipeline) ? .pass : .consumed
        case .rename(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .removeFields(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .keepFields(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .flatten(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .jsonEncode(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .hash(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .addHost(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .setTime(let a): return a.apply(context: &context, counters: counters, pipeline: pipeline)
        case .mask(let a):
            return a.apply(event, context: &context).verdict(failed: .maskFailed, counters: counters, pipeline: pipeline)
        case .parseRegex(let a):
            return a.apply(event, context: &context).verdict(failed: .parseREFailed, counters: counters, pipeline: pipeline)
        case .decode(let a):
            return a.apply(event, context: &context).verdict(failed: .decodeFailed, counters: counters, pipeline: pipeline)
        case .convertDate(let a):
            return a.apply(event, context: &context).verdict(failed: .convertDateFailed, counters: counters, pipeline: pipeline)
        case .convertLogLevel(let a):
            return a.apply(event, context: &context).verdict(failed: .convertLogLevelFailed, counters: counters, pipeline: pipeline)
        case .throttle(let a):
            return a.apply(event, counters: counters, pipeline: pipeline) ? .pass : .drop
        case .split(let a):
            return a.apply(event, counters: counters, pipeline: pipeline, context: &context)
        case .join(let a):
            return a.apply(event, counters: counters, pipeline: pipeline, context: &context)
        }
    }
}

/// One configured output.
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

    /// Events per batch of an output whose destination pays a fixed price per batch (a
    /// ClickHouse insert makes a part on disk; a PostgreSQL transaction waits for its WAL flush
    /// at COMMIT) when neither `--batch-size` nor the pipeline's `batch-size` is set: 1,000,000
    /// rows went 3–5× faster than with the node's 256 (perf/README.md). Two such batches are
    /// 2,048 events, a worker's share of the default pool on 2 workers.
    public static let bulkLoaderBatchSize = 1024

    /// The batch size this output takes when none is set; nil: the node's.
    public var preferredBatchSize: Int? {
        switch self {
        case .clickhouse, .postgres: return OutputDefinition.bulkLoaderBatchSize
        default: return nil
        }
    }

    public static let types: [(name: String, summary: String, parameters: [ParameterDoc])] = [
        ("devnull", "count and drop (for benchmarks)", DevNullOutput.parameters),
        ("stdout", "one line per event on standard output", StdoutOutput.parameters),
        ("file", "append one line per event to a file", FileOutput.parameters),
        ("tcp", "one line per event over TCP; the unacknowledged batch is resent after reconnecting with backoff and jitter", TCPOutput.parameters),
        ("http", "POST each batch over HTTP/1.1 (keep-alive); acknowledged on 2xx, 429/5xx retried, refused events to the dead-letter file", HTTPOutput.parameters),
        ("clickhouse", "INSERT each batch into a ClickHouse table (HTTP, JSONEachRow); acknowledged on 200, refused rows to the dead-letter file", ClickHouseOutput.parameters),
        ("nats", "publish each event to a NATS JetStream stream (asynchronous, a bounded window); acknowledged on its PubAck, Nats-Msg-Id from source and offset", NATSOutput.parameters),
        ("elasticsearch", "the Elasticsearch bulk API (index name from a pattern); each event judged by its item: 429/5xx items retried, refused ones to the dead-letter file", ElasticsearchOutput.parameters),
        ("syslog", "RFC 5424 or RFC 3164 messages from the event's fields, over TCP (octet counting or newline framing) or UDP (a datagram per event)", SyslogOutput.parameters),
        ("postgres", "COPY each batch into a PostgreSQL table in a transaction (libpq, non-blocking); acknowledged on COMMIT, refused rows to the dead-letter file", PostgresOutput.parameters),
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
        case .nats(let o): o.delivery
        case .elasticsearch(let o): o.delivery
        case .syslog(let o): o.delivery
        case .postgres(let o): o.delivery
        }
    }

    /// Where undelivered events wait: the pool, or a disk buffer.
    public var buffer: BufferOptions {
        switch self {
        case .devnull(let o): o.buffer
        case .stdout(let o): o.buffer
        case .file(let o): o.buffer
        case .tcp(let o): o.buffer
        case .http(let o): o.buffer
        case .clickhouse(let o): o.buffer
        case .nats(let o): o.buffer
        case .elasticsearch(let o): o.buffer
        case .syslog(let o): o.buffer
        case .postgres(let o): o.buffer
        }
    }

    public static func make(type: String, _ arguments: PluginArguments) throws(PluginArgumentError) -> OutputDefinition {
        switch type {
        case "devnull": return .devnull(try DevNullOutput(arguments))
        case "stdout": return .stdout(try StdoutOutput(arguments))
        case "file": return .file(try FileOutput(arguments))
        case "tcp": return .tcp(try TCPOutput(arguments))
        case "http": return .http(try HTTPOutput(arguments))
        case "clickhouse": return .clickhouse(try ClickHouseOutput(arguments))
        case "nats": return .nats(try NATSOutput(arguments))
        case "elasticsearch": return .elasticsearch(try ElasticsearchOutput(arguments))
        case "syslog": return .syslog(try SyslogOutput(arguments))
        case "postgres": return .postgres(try PostgresOutput(arguments))
        default: throw PluginArgumentError(key: nil, "unknown output '\(type)' (known: \(types.map(\.name).joined(separator: ", ")))")
        }
    }
}

extension InputDefinition {
    /// The plugin's registered name (as in `InputDefinition.types`).
    var typeName: String {
        switch self {
        case .file: "file"
        case .tcp: "tcp"
        case .http: "http"
        case .stdin: "stdin"
        case .generator: "generator"
        case .journald: "journald"
        case .syslog: "syslog"
        case .udp: "udp"
        case .unix: "unix"
        case .nats: "nats"
        case .k8s: "k8s"
        }
    }
}

extension Action {
    /// The plugin's registered name (as in `Action.types`).
    var typeName: String {
        switch kind {
        case .jsonDecode: "json_decode"
        case .discard: "discard"
        case .modify: "modify"
        case .aggregate: "aggregate"
        case .rename: "rename"
        case .removeFields: "remove_fields"
        case .keepFields: "keep_fields"
        case .flatten: "flatten"
        case .jsonEncode: "json_encode"
        case .hash: "hash"
        case .addHost: "add_host"
        case .setTime: "set_time"
        case .throttle: "throttle"
        case .split: "split"
        case .join: "join"
        case .mask: "mask"
        case .parseRegex: "parse_re"
        case .decode: "decode"
        case .convertDate: "convert_date"
        case .convertLogLevel: "convert_log_level"
        }
    }
}

extension OutputDefinition {
    /// The plugin's registered name (as in `OutputDefinition.types`).
    var typeName: String {
        switch self {
        case .devnull: "devnull"
        case .stdout: "stdout"
        case .file: "file"
        case .tcp: "tcp"
        case .http: "http"
        case .clickhouse: "clickhouse"
        case .nats: "nats"
        case .elasticsearch: "elasticsearch"
        case .syslog: "syslog"
        case .postgres: "postgres"
        }
    }
}
