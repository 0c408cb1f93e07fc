import CSupport

/// What the node counts, per worker and pipeline; the control thread sums them.
public enum Counter: Int, CaseIterable, Sendable {
    case eventsIn, bytesIn, eventsOut, bytesOut, discarded, cutRecords, cutBytes, invalidJSON
    case partialRecords, connectionsAccepted, connectionsRejected, inputErrors, outputErrors
    case outputBatches, modifySkipped, emptyLines, connectionsTimedOut, aggregated, aggregateSkipped, aggregateRows
    case rejected, deadLettered, connectionsTooSlow, released, unrouted, modifyTooLarge
    case maskFailed, parseREFailed, decodeFailed, convertDateFailed, convertLogLevelFailed, parseTooLarge
    case editNotObject, fieldMissing, fieldWrongType, editTooLarge
    case derived, joined, throttleDropped, throttleEvicted, splitSkipped
    case framingErrors, syslogParseErrors, datagramsDropped
    case containerLogParseErrors, partialLinesJoined, partialTimeouts
    case httpRequests, httpErrors
    case outputRetries, outputTimeouts
    case tlsHandshakes, tlsHandshakeFailures
    case natsRepublished, natsRedelivered, natsProgressAcks

    public var name: String {
        switch self {
        case .eventsIn: "events_in"
        case .bytesIn: "bytes_in"
        case .eventsOut: "events_out"
        case .bytesOut: "bytes_out"
        case .discarded: "discarded"
        case .cutRecords: "cut_records"
        case .cutBytes: "cut_bytes"
        case .invalidJSON: "invalid_json"
        case .partialRecords: "partial_records"
        case .connectionsAccepted: "connections_accepted"
        case .connectionsRejected: "connections_rejected"
        case .inputErrors: "input_errors"
        case .outputErrors: "output_errors"
        case .outputBatches: "output_batches"
        case .modifySkipped: "modify_skipped"
        case .emptyLines: "empty_lines"
        case .connectionsTimedOut: "connections_timed_out"
        case .aggregated: "aggregated"
        case .aggregateSkipped: "aggregate_skipped"
        case .aggregateRows: "aggregate_rows"
        case .rejected: "rejected"
        case .deadLettered: "dead_lettered"
        case .connectionsTooSlow: "connections_too_slow"
        case .released: "events_released"
        case .unrouted: "unrouted"
        case .modifyTooLarge: "modify_too_large"
        case .maskFailed: "mask_failed"
        case .parseREFailed: "parse_re_failed"
        case .decodeFailed: "decode_failed"
        case .convertDateFailed: "convert_date_failed"
        case .convertLogLevelFailed: "convert_log_level_failed"
        case .parseTooLarge: "parse_too_large"
        case .editNotObject: "edit_not_object"
        case .fieldMissing: "field_missing"
        case .fieldWrongType: "field_wrong_type"
        case .editTooLarge: "edit_too_large"
        case .derived: "events_derived"
        case .joined: "joined"
        case .throttleDropped: "throttle_dropped"
        case .throttleEvicted: "throttle_evicted"
        case .splitSkipped: "split_skipped"
        case .framingErrors: "framing_errors"
        case .syslogParseErrors: "syslog_parse_errors"
        case .datagramsDropped: "datagrams_dropped"
        case .containerLogParseErrors: "container_log_parse_errors"
        case .partialLinesJoined: "partial_lines_joined"
        case .partialTimeouts: "partial_timeouts"
        case .httpRequests: "http_requests"
        case .httpErrors: "http_errors"
        case .outputRetries: "output_retries"
        case .outputTimeouts: "output_timeouts"
        case .tlsHandshakes: "tls_handshakes"
        case .tlsHandshakeFailures: "tls_handshake_failures"
        case .natsRepublished: "nats_republished"
        case .natsRedelivered: "nats_redelivered"
        case .natsProgressAcks: "nats_progress_acks"
        }
    }

    /// One line for the metric's `# HELP` (metrics name: `sluice_<name>_total`).
    public var help: String {
        switch self {
        case .eventsIn: "Records framed into events by the inputs."
        case .bytesIn: "Bytes of the records framed by the inputs."
        case .eventsOut: "Events acknowledged by the outputs (written, synced or sent); an event written by two outputs counts twice."
        case .bytesOut: "Bytes written by the output."
        case .discarded: "Events dropped by actions."
        case .cutRecords: "Records longer than max-event-size, cut and flagged."
        case .cutBytes: "Bytes dropped from cut records."
        case .invalidJSON: "Events json_decode found invalid (passed on unchanged)."
        case .partialRecords: "Last records without a newline, delivered flagged partial."
        case .connectionsAccepted: "TCP connections accepted."
        case .connectionsRejected: "TCP connections refused (max-connections) or failed on accept."
        case .inputErrors: "Read, receive and accept errors of the inputs."
        case .outputErrors: "Failed writes, fsyncs and sends of the output (retried)."
        case .outputBatches: "Batches written by the output."
        case .modifySkipped: "Events modify could not edit: not decoded JSON objects."
        case .emptyLines: "Empty lines skipped by the framer."
        case .connectionsTimedOut: "TCP connections closed after idle-timeout."
        case .aggregated: "Events folded into aggregate tables."
        case .aggregateSkipped: "Events aggregate could not use, and its rows too large for an event slot (dropped)."
        case .aggregateRows: "Rows emitted by aggregate."
        case .rejected: "Events an output rejected permanently (format=json and not valid JSON, or refused by an HTTP server)."
        case .deadLettered: "Rejected events written to the dead-letter file."
        case .connectionsTooSlow: "Connections closed for sending less than min-rate."
        case .released: "Events whose processing ended (delivered, dropped, aggregated or rejected), back in the pool."
        case .unrouted: "Events no output's route matched (not written anywhere, released in order)."
        case .modifyTooLarge: "Events modify left unchanged because the change would not fit max-event-size."
        case .maskFailed: "Events mask could not mask: not decoded objects, the field not a string, or a pattern that hit a PCRE2 limit (left unchanged)."
        case .parseREFailed: "Events parse_re could not parse: not decoded objects, the field not a string, no match, or a PCRE2 limit (left unchanged)."
        case .decodeFailed: "Events decode could not decode: not decoded objects, the field not a string, or a value not in the format (left unchanged)."
        case .convertDateFailed: "Events convert_date could not convert: not decoded objects, or a value not in the from format (left unchanged)."
        case .convertLogLevelFailed: "Events convert_log_level could not convert: not decoded objects, or an unknown level (left unchanged)."
        case .parseTooLarge: "Events mask, parse_re, decode, convert_date or convert_log_level left unchanged because the result would not fit max-event-size."
        case .editNotObject: "Events a field-editing action (rename, remove_fields, keep_fields, flatten, json_encode, hash, add_host, set_time) left alone: not decoded JSON objects."
        case .fieldMissing: "Fields a field-editing action needed and did not find (rename's from, flatten, json_encode, hash, modify's ${PATH}); the event passed without that change."
        case .fieldWrongType: "Fields of a type the action cannot use (flatten of a non-object, json_encode of a scalar), or a non-object on the path to set; the event passed without that change."
        case .editTooLarge: "Events a field-editing action left unchanged because the change would not fit max-event-size."
        case .derived: "Events actions made from others (split: one per array element but the last, which stays in the original event)."
        case .joined: "Events join folded into the record before them (released when that record is acknowledged)."
        case .throttleDropped: "Events throttle dropped: over its limit for their key in the interval."
        case .throttleEvicted: "Keys throttle forgot to make room for a new one (the key first seen longest ago)."
        case .splitSkipped: "Events split passed unchanged: not decoded, without the field, or the field not a non-empty array."
        case .framingErrors: "Connections closed for breaking their framing (an RFC 6587 octet count over max-event-size or not a number)."
        case .syslogParseErrors: "Syslog messages that did not parse, kept whole in message with parse_error."
        case .datagramsDropped: "Datagrams the kernel dropped because the socket's receive queue was full (SO_RXQ_OVFL)."
        case .containerLogParseErrors: "Container log lines in neither the CRI nor the Docker JSON format, kept whole in log with parse_error."
        case .partialLinesJoined: "Container log lines a runtime split (CRI P, Docker log without a newline), folded into the event of their record."
        case .partialTimeouts: "Container log records whose last line did not come within partial-timeout, handed on as they were with \"partial\":true (also in partial_records)."
        case .httpRequests: "HTTP requests the http input read (their heads at least)."
        case .httpErrors: "HTTP requests the http input refused (4xx/5xx: malformed, over a limit, pool full); their connections were closed."
        case .outputRetries: "Requests an HTTP or postgres output sends again: the server answered 429, 5xx or an error it may recover from (postgres: also a batch whose connection was lost)."
        case .outputTimeouts: "Requests (postgres: connects and batch steps) an HTTP or postgres output gave up waiting for (timeout=), sent again on a new connection."
        case .tlsHandshakes: "TLS handshakes completed by the tcp, syslog and http inputs."
        case .tlsHandshakeFailures: "TLS handshakes that failed (protocol version, cipher, client certificate missing or refused, not TLS at all); only that connection was closed."
        case .natsRepublished: "Messages the nats output published again: no PubAck within ack-timeout, a reconnection, or an error answer (JetStream drops those it has by Nats-Msg-Id)."
        case .natsRedelivered: "Messages the nats input fetched that JetStream had delivered before (not acknowledged in time, or given back)."
        case .natsProgressAcks: "Progress acknowledgements (+WPI) the nats input sent for messages held longer than half of ack-wait."
        }
    }
}

/// One worker's counters for every pipeline: plain integers written only by the worker (no
/// atomic read-modify-write on the hot path) and read with relaxed loads by the control thread.
public struct CounterBlock {
    public let values: UnsafeMutablePointer<UInt64>
    public let pipelines: Int
    static let stride = (Counter.allCases.count + 7) & ~7  // whole cache lines per pipeline
    /// Per plugin instance: every input has a row of (events, bytes) and every action a
    /// row of (dropped, consumed); rows are numbered by the node (`PluginRows`). Row 0 exists
    /// always, so a framer that was given no row counts there.
    public let inputRows: Int
    public let actionRows: Int
    let inputValues: UnsafeMutablePointer<UInt64>
    let actionValues: UnsafeMutablePointer<UInt64>

    public init(pipelines: Int, inputRows: Int = 1, actionRows: Int = 1) {
        self.pipelines = pipelines
        values = .allocate(capacity: max(pipelines, 1) * CounterBlock.stride + 16)
        values.initialize(repeating: 0, count: max(pipelines, 1) * CounterBlock.stride + 16)
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
        values[pipeline &* CounterBlock.stride &+ counter.rawValue] &+= UInt64(truncatingIfNeeded: amount)
    }

    /// Control thread side: a relaxed read of a value another thread writes.
    public func read(_ counter: Counter, pipeline: Int) -> UInt64 {
        sl_load_relaxed(values + pipeline * CounterBlock.stride + counter.rawValue)
    }
}
