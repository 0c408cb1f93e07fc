import CSupport

/// What the node counts, per worker and pipeline; the control thread sums them. A counter is
/// an index into a flat per-pipeline array (`CounterBlock`), so counting is one add. The
/// mechanics' counters are the `Core` cases below; a plugin declares its own in its folder, each
/// once, as a `CounterSpec` constant that its conformance's `counters` lists and its `Counter`
/// is made from (`static let x = CounterSpec("x", …)`, `counters = [x]`,
/// `extension Counter { static let x = Counter(plugin: P.x) }`), so the two cannot name it
/// differently; plugin counters are numbered after the core ones in the registry's order.
public struct Counter: Hashable, Sendable {
    public let rawValue: Int

    /// The counters of the mechanics (framing, delivery, outputs, connections, field editing).
    enum Core: Int, CaseIterable {
        case eventsIn, bytesIn, eventsOut, bytesOut, discarded, outputBatches, aggregated, aggregateRows, aggregateSkipped, derived, rejected, deadLettered, invalidJSON, cutRecords, cutBytes, partialRecords, emptyLines, parseTooLarge, editNotObject, fieldMissing, fieldWrongType, editTooLarge, connectionsAccepted, connectionsRejected, connectionsTimedOut, connectionsTooSlow, unrouted, inputErrors, outputErrors, syslogParseErrors, partialTimeouts, outputRetries, outputTimeouts, tlsHandshakes, tlsHandshakeFailures, released

        var spec: CounterSpec {
            switch self {
            case .eventsIn: CounterSpec("events_in", "Records framed into events by the inputs.", inSummary: false)
            case .bytesIn: CounterSpec("bytes_in", "Bytes of the records framed by the inputs.", inSummary: false)
            case .eventsOut: CounterSpec("events_out", "Events acknowledged by the outputs (written, synced or sent); an event written by two outputs counts twice.", inSummary: false)
            case .bytesOut: CounterSpec("bytes_out", "Bytes written by the output.", inSummary: false)
            case .discarded: CounterSpec("discarded", "Events dropped by actions.", inSummary: false)
            case .outputBatches: CounterSpec("output_batches", "Batches written by the output.")
            case .aggregated: CounterSpec("aggregated", "Events folded into aggregate tables.")
            case .aggregateRows: CounterSpec("aggregate_rows", "Rows emitted by aggregate.")
            case .aggregateSkipped: CounterSpec("aggregate_skipped", "Events aggregate could not use, and its rows too large for an event slot (dropped).")
            case .derived: CounterSpec("events_derived", "Events actions made from others (split: one per array element but the last, which stays in the original event).")
            case .rejected: CounterSpec("rejected", "Events an output rejected permanently (format=json and not valid JSON, or refused by an HTTP server).")
            case .deadLettered: CounterSpec("dead_lettered", "Rejected events written to the dead-letter file.")
            case .invalidJSON: CounterSpec("invalid_json", "Events json_decode found invalid (passed on unchanged).")
            case .cutRecords: CounterSpec("cut_records", "Records longer than max-event-size, cut and flagged.")
            case .cutBytes: CounterSpec("cut_bytes", "Bytes dropped from cut records.")
            case .partialRecords: CounterSpec("partial_records", "Last records without a newline, delivered flagged partial.")
            case .emptyLines: CounterSpec("empty_lines", "Empty lines skipped by the framer.")
            case .parseTooLarge: CounterSpec("parse_too_large", "Events mask, parse_re, decode, convert_date or convert_log_level left unchanged because the result would not fit max-event-size.")
            case .editNotObject: CounterSpec("edit_not_object", "Events a field-editing action (rename, remove_fields, keep_fields, flatten, json_encode, hash, add_host, add_file_name, set_time) left alone: not decoded JSON objects.")
            case .fieldMissing: CounterSpec("field_missing", "Fields a field-editing action needed and did not find (rename's from, flatten, json_encode, hash, modify's ${PATH}); the event passed without that change.")
            case .fieldWrongType: CounterSpec("field_wrong_type", "Fields of a type the action cannot use (flatten of a non-object, json_encode of a scalar), or a non-object on the path to set; the event passed without that change.")
            case .editTooLarge: CounterSpec("edit_too_large", "Events a field-editing action left unchanged because the change would not fit max-event-size.")
            case .connectionsAccepted: CounterSpec("connections_accepted", "TCP connections accepted.")
            case .connectionsRejected: CounterSpec("connections_rejected", "TCP connections refused (max-connections) or failed on accept.")
            case .connectionsTimedOut: CounterSpec("connections_timed_out", "TCP connections closed after idle-timeout.")
            case .connectionsTooSlow: CounterSpec("connections_too_slow", "Connections closed for sending less than min-rate.")
            case .unrouted: CounterSpec("unrouted", "Events no output's route matched (not written anywhere, released in order).")
            case .inputErrors: CounterSpec("input_errors", "Read, receive and accept errors of the inputs.")
            case .outputErrors: CounterSpec("output_errors", "Failed writes, fsyncs and sends of the output (retried).")
            case .syslogParseErrors: CounterSpec("syslog_parse_errors", "Syslog messages that did not parse, kept whole in message with parse_error.")
            case .partialTimeouts: CounterSpec("partial_timeouts", "Container log records whose last line did not come within partial-timeout, handed on as they were with \"partial\":true (also in partial_records).")
            case .outputRetries: CounterSpec("output_retries", "Requests an HTTP or postgres output sends again: the server answered 429, 5xx or an error it may recover from (postgres: also a batch whose connection was lost).")
            case .outputTimeouts: CounterSpec("output_timeouts", "Requests (postgres: connects and batch steps) an HTTP or postgres output gave up waiting for (timeout=), sent again on a new connection.")
            case .tlsHandshakes: CounterSpec("tls_handshakes", "TLS handshakes completed by the tcp, syslog and http inputs.")
            case .tlsHandshakeFailures: CounterSpec("tls_handshake_failures", "TLS handshakes that failed (protocol version, cipher, client certificate missing or refused, not TLS at all); only that connection was closed.")
            case .released: CounterSpec("events_released", "Events whose processing ended (delivered, dropped, aggregated or rejected), back in the pool.", inSummary: false)
            }
        }
    }

    /// Every counter: the core ones, then each plugin's in the registry's order.
    static let specs: [CounterSpec] = {
        let specs = Core.allCases.map(\.spec) + InputDefinition.plugins.flatMap { $0.counters }
            + Action.plugins.flatMap { $0.counters } + OutputDefinition.plugins.flatMap { $0.counters }
        precondition(Set(specs.map(\.name)).count == specs.count, "two counters share a name")
        return specs
    }()

    public static var allCases: [Counter] { specs.indices.map { Counter(rawValue: $0) } }
    /// The metric's name (`sluice_<name>_total`) and the exit summary's key.
    public var name: String { Counter.specs[rawValue].name }
    /// One line for the metric's `# HELP`.
    public var help: String { Counter.specs[rawValue].help }
    /// Whether the exit summary lists it when not zero (the first five lead the line anyway).
    var inSummary: Bool { Counter.specs[rawValue].inSummary }

    init(rawValue: Int) { self.rawValue = rawValue }
    init(_ core: Core) { rawValue = core.rawValue }

    /// A plugin's counter, from the declaration its `counters` lists.
    init(plugin spec: CounterSpec) {
        guard let i = Counter.specs.indices.dropFirst(Core.allCases.count).first(where: { Counter.specs[$0].name == spec.name }) else {
            preconditionFailure("counter '\(spec.name)' is in no plugin's counters: list its CounterSpec there")
        }
        rawValue = i
    }
}

/// A counter's declaration.
public struct CounterSpec: Sendable {
    public let name: String
    public let help: String
    public let inSummary: Bool

    public init(_ name: String, _ help: String, inSummary: Bool = true) {
        self.name = name
        self.help = help
        self.inSummary = inSummary
    }
}

extension Counter {
    public static var eventsIn: Counter { Counter(.eventsIn) }
    public static var bytesIn: Counter { Counter(.bytesIn) }
    public static var eventsOut: Counter { Counter(.eventsOut) }
    public static var bytesOut: Counter { Counter(.bytesOut) }
    public static var discarded: Counter { Counter(.discarded) }
    public static var outputBatches: Counter { Counter(.outputBatches) }
    public static var aggregated: Counter { Counter(.aggregated) }
    public static var aggregateRows: Counter { Counter(.aggregateRows) }
    public static var aggregateSkipped: Counter { Counter(.aggregateSkipped) }
    public static var derived: Counter { Counter(.derived) }
    public static var rejected: Counter { Counter(.rejected) }
    public static var deadLettered: Counter { Counter(.deadLettered) }
    public static var invalidJSON: Counter { Counter(.invalidJSON) }
    public static var cutRecords: Counter { Counter(.cutRecords) }
    public static var cutBytes: Counter { Counter(.cutBytes) }
    public static var partialRecords: Counter { Counter(.partialRecords) }
    public static var emptyLines: Counter { Counter(.emptyLines) }
    public static var parseTooLarge: Counter { Counter(.parseTooLarge) }
    public static var editNotObject: Counter { Counter(.editNotObject) }
    public static var fieldMissing: Counter { Counter(.fieldMissing) }
    public static var fieldWrongType: Counter { Counter(.fieldWrongType) }
    public static var editTooLarge: Counter { Counter(.editTooLarge) }
    public static var connectionsAccepted: Counter { Counter(.connectionsAccepted) }
    public static var connectionsRejected: Counter { Counter(.connectionsRejected) }
    public static var connectionsTimedOut: Counter { Counter(.connectionsTimedOut) }
    public static var connectionsTooSlow: Counter { Counter(.connectionsTooSlow) }
    public static var unrouted: Counter { Counter(.unrouted) }
    public static var inputErrors: Counter { Counter(.inputErrors) }
    public static var outputErrors: Counter { Counter(.outputErrors) }
    public static var syslogParseErrors: Counter { Counter(.syslogParseErrors) }
    public static var partialTimeouts: Counter { Counter(.partialTimeouts) }
    public static var outputRetries: Counter { Counter(.outputRetries) }
    public static var outputTimeouts: Counter { Counter(.outputTimeouts) }
    public static var tlsHandshakes: Counter { Counter(.tlsHandshakes) }
    public static var tlsHandshakeFailures: Counter { Counter(.tlsHandshakeFailures) }
    public static var released: Counter { Counter(.released) }
}

/// One worker's counters for every pipeline: plain integers written only by the worker (no
/// atomic read-modify-write on the hot path) and read with relaxed loads by the control thread.
public struct CounterBlock {
    public let values: UnsafeMutablePointer<UInt64>
    public let pipelines: Int
    /// Counters per pipeline, in whole cache lines. Kept in the block: the static it comes from
    /// is a lazily initialised global, a `swift_once` call on every `add`.
    let stride: Int
    /// Per plugin instance: every input has a row of (events, bytes) and every action a
    /// row of (dropped, consumed); rows are numbered by the node (`PluginRows`). Row 0 exists
    /// always, so a framer that was given no row counts there.
    public let inputRows: Int
    public let actionRows: Int
    let inputValues: UnsafeMutablePointer<UInt64>
    let actionValues: UnsafeMutablePointer<UInt64>

    public init(pipelines: Int, inputRows: Int = 1, actionRows: Int = 1) {
        self.pipelines = pipelines
        stride = (Counter.specs.count + 7) & ~7
        values = .allocate(capacity: max(pipelines, 1) * stride + 16)
        values.initialize(repeating: 0, count: max(pipelines, 1) * stride + 16)
        self.inputRows = max(inputRows, 1)
        self.actionRows = max(actionRows, 1)
        inputValues = .allocate(capacity: self.inputRows * 2)
        inputValues.initialize(repeating: 0, count: self.inputRows * 2)
        actionValues = .allocate(capacity: self.actionRows * 2)
        actionValues.initialize(repeating: 0, count: self.actionRows * 2)
    }

    public func deallocate() {
        values.deallocate()
        inputValues.deallocate()
        actionValues.deallocate()
    }

    /// One record framed by input row `row`.
    /// Bytes of a record that became part of another event (a joined partial line).
    @inline(__always) public func addInputBytes(row: Int32, bytes: Int) {
        inputValues[Int(row) &* 2 &+ 1] &+= UInt64(truncatingIfNeeded: bytes)
    }

    @inline(__always) public func addInput(row: Int32, bytes: Int) {
        let base = Int(row) &* 2
        inputValues[base] &+= 1
        inputValues[base &+ 1] &+= UInt64(truncatingIfNeeded: bytes)
    }

    /// An event an action dropped (`consumed`: folded into an aggregate).
    @inline(__always) public func addActionVerdict(row: Int, consumed: Bool) {
        actionValues[row &* 2 &+ (consumed ? 1 : 0)] &+= 1
    }

    public func readInput(row: Int) -> (events: UInt64, bytes: UInt64) {
        (sl_load_relaxed(inputValues + row * 2), sl_load_relaxed(inputValues + row * 2 + 1))
    }

    public func readAction(row: Int) -> (dropped: UInt64, consumed: UInt64) {
        (sl_load_relaxed(actionValues + row * 2), sl_load_relaxed(actionValues + row * 2 + 1))
    }

    public func add(_ counter: Counter, _ amount: Int, pipeline: Int) {
        values[pipeline &* stride &+ counter.rawValue] &+= UInt64(truncatingIfNeeded: amount)
    }

    /// Control thread side: a relaxed read of a value another thread writes.
    public func read(_ counter: Counter, pipeline: Int) -> UInt64 {
        sl_load_relaxed(values + pipeline * stride + counter.rawValue)
    }
}
