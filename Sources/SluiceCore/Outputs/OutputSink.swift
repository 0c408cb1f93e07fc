/// What a sink made of a write's completion.
enum SinkWriteResult {
    /// The destination took this many bytes.
    case wrote(Int)
    /// The destination refused; the batch is written again after a backoff. `reported`: the
    /// sink already logged why.
    case failed(Int32, reported: Bool)
    /// tcp: the connection is gone; everything not acknowledged by the peer is sent again.
    case connectionLost(Int32)
    /// http, postgres: part of the request went out and the sink sent the rest itself (it
    /// reports `.wrote` with the whole count given once all of it is out).
    case continuing
}

/// What a sink that answers (http, postgres) made of the response to its request; the batcher
/// acts on it.
enum SinkResponse {
    /// More of the response is to come (another receive is in flight).
    case incomplete
    /// The destination has the request's events.
    case accepted
    /// Try the same events again later: not before `afterNanos` when the server said so
    /// (Retry-After), else after the output's backoff. `reason` for the log.
    case retry(afterNanos: UInt64, reason: String)
    /// The destination refuses these events for good (`reason`: its own words). `line`: which
    /// of the request's lines (0-based, events with bytes only) it refused, when it says
    /// (PostgreSQL's `COPY …, line N`); nil: the batch is halved to find it.
    case rejected(String, line: Int?)
    /// The connection failed or the answer did not come in time: sent again on a new one.
    case connectionLost(Int32)
}

/// When the bytes of a buffer written in full are safe.
enum SinkSafety {
    case now
    /// file with sync=true: the sink submitted the fsync; `OutputBatcher.syncCompleted` says.
    case afterSync
    /// tcp: once the peer's TCP acknowledged them (`unacknowledgedBytes`, polled).
    case afterPeerAcknowledged
    /// http, postgres: once the server answered (`received`, a completion per piece).
    case afterResponse
}

/// Where an output's bytes go. Each sink (in `Plugins/Outputs/<name>/`) only writes a buffer
/// through the context's ring and says when its bytes are safe; the batcher does the rest.
/// An enum, not a protocol, so dispatch is a switch (like `Action.Kind`).
enum OutputSink {
    /// Counts events and acknowledges them as they come: no buffer, no write.
    case devnull
    case stdout(StdoutSink)
    case file(FileSink)
    case tcp(TCPSink)
    /// Every output that speaks HTTP (`http`, `clickhouse`): the endpoint says how.
    case http(HTTPSink)
    /// libpq's connection, its socket polled through the ring.
    case postgres(PostgresSink)

    /// `bufferBytes`: the batcher's buffer size (the largest body a sink is given).
    init(_ definition: OutputDefinition, fd: Int32, bufferBytes: Int) {
        switch definition {
        case .devnull: self = .devnull
        case .stdout: self = .stdout(StdoutSink(fd: fd))
        case .file(let f): self = .file(FileSink(fd: fd, sync: f.sync))
        case .tcp(let t): self = .tcp(TCPSink(t))
        case .http(let h): self = .http(HTTPSink(h.endpoint, bufferBytes: bufferBytes))
        case .clickhouse(let c): self = .http(HTTPSink(c.endpoint, bufferBytes: bufferBytes))
        case .postgres(let p): self = .postgres(PostgresSink(p))
        }
    }

    var acknowledgesAtOnce: Bool {
        if case .devnull = self { return true }
        return false
    }

    /// Whether another buffer may be sent while one waits for the peer's acknowledgement.
    var waitsForPeer: Bool {
        if case .tcp = self { return true }
        return false
    }

    /// Whether the destination answers each write (http, postgres): one request at a time,
    /// acknowledged, retried or rejected by the answer (`received`), and a batch may go out in parts.
    var answers: Bool {
        switch self {
        case .http, .postgres: return true
        default: return false
        }
    }

    /// Whether a write can be submitted now (tcp, http: connected).
    var isReady: Bool {
        switch self {
        case .tcp(let t): return t.connected
        case .http(let h): return h.connected
        case .postgres(let p): return p.isReady
        default: return true
        }
    }

    /// tcp, http: a connect is in flight (its completion would reach a replacement output).
    var isConnecting: Bool {
        switch self {
        case .tcp(let t): return t.connecting
        case .http(let h): return h.connecting
        case .postgres(let p): return p.isConnecting
        default: return false
        }
    }

    mutating func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        switch self {
        case .devnull: preconditionFailure("devnull writes nothing")
        case .stdout(let s): s.write(from: bytes, count: count, context: context)
        case .file(let s): s.write(from: bytes, count: count, context: context)
        case .tcp(let s): s.write(from: bytes, count: count, context: context)
        case .http(var s):
            s.write(from: bytes, count: count, context: context)
            self = .http(s)
        case .postgres(var s):
            s.write(from: bytes, count: count, context: context)
            self = .postgres(s)
        }
    }

    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        switch self {
        case .devnull: preconditionFailure("devnull writes nothing")
        case .stdout(var s):
            let outcome = s.written(result: result, context: context)
            self = .stdout(s)
            return outcome
        case .file(let s): return s.written(result: result)
        case .tcp(let s): return s.written(result: result)
        case .http(var s):
            let outcome = s.written(result: result, context: context)
            self = .http(s)
            return outcome
        case .postgres(var s):
            let outcome = s.written(result: result, context: context)
            self = .postgres(s)
            return outcome
        }
    }

    /// http, postgres: a receive of the answer (postgres: a poll for it) completed.
    mutating func received(result: Int32, context: OutputContext) -> SinkResponse {
        switch self {
        case .http(var h):
            let response = h.received(result: result, context: context)
            self = .http(h)
            return response
        case .postgres(var p):
            let response = p.received(result: result, context: context)
            self = .postgres(p)
            return response
        default: preconditionFailure("receive completion for an output that reads no answer")
        }
    }

    /// http, postgres: when the request in flight (or the connect) times out.
    var responseDeadline: UInt64? {
        switch self {
        case .http(let h): return h.responseDeadline
        case .postgres(let p): return p.responseDeadline
        default: return nil
        }
    }

    /// http, postgres: the longest wait between retries.
    var retryMaxNanos: UInt64 {
        switch self {
        case .http(let h): return h.retryMaxNanos
        case .postgres(let p): return p.retryMaxNanos
        default: return Backoff.maxNanos
        }
    }

    func whenWritten(context: OutputContext) -> SinkSafety {
        switch self {
        case .devnull, .stdout: return .now
        case .file(let s): return s.whenWritten(context: context)
        case .tcp: return .afterPeerAcknowledged
        case .http, .postgres: return .afterResponse
        }
    }

    /// Whether the fsync made the bytes safe (false: the sink submitted it again).
    func synced(result: Int32, context: OutputContext) -> Bool {
        guard case .file(let s) = self else { preconditionFailure("fsync completion for an output that does not sync") }
        return s.synced(result: result, context: context)
    }

    /// tcp: bytes the peer has not acknowledged yet; nil when the connection is gone.
    func unacknowledgedBytes() -> Int? {
        guard case .tcp(let t) = self else { preconditionFailure("peer acknowledgement asked of a sink without a peer") }
        return t.unacknowledgedBytes()
    }

    /// tcp, http: connects when the reconnect backoff has passed (http: and times out a
    /// request with no answer).
    mutating func tick(context: OutputContext) {
        switch self {
        case .tcp(var t):
            t.tick(context: context)
            self = .tcp(t)
        case .http(var h):
            h.tick(context: context)
            self = .http(h)
        case .postgres(var p):
            p.tick(context: context)
            self = .postgres(p)
        default: return
        }
    }

    /// tcp, http while disconnected: when the next connect is due (nothing can be written before).
    var reconnectDeadline: UInt64? {
        switch self {
        case .tcp(let t) where !t.connected && !t.connecting: return t.reconnect.atNanos
        case .http(let h) where !h.connected && !h.connecting: return h.reconnect.atNanos
        case .postgres(let p): return p.reconnectDeadline
        default: return nil
        }
    }

    /// tcp, http: whether the connect made the sink ready.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        switch self {
        case .tcp(var t):
            let connected = t.connectCompleted(result: result, context: context)
            self = .tcp(t)
            return connected
        case .http(var h):
            let connected = h.connectCompleted(result: result, context: context)
            self = .http(h)
            return connected
        case .postgres(var p):
            let connected = p.connectCompleted(result: result, context: context)
            self = .postgres(p)
            return connected
        default: preconditionFailure("connect completion for an output without a connection")
        }
    }

    /// tcp, http: closes the lost connection and schedules the next one.
    mutating func disconnect(result: Int32, context: OutputContext) {
        switch self {
        case .tcp(var t):
            t.disconnect(result: result, context: context)
            self = .tcp(t)
        case .http(var h):
            h.disconnect(result: result, context: context)
            self = .http(h)
        case .postgres(var p):
            p.disconnect(result: result, context: context)
            self = .postgres(p)
        default: preconditionFailure("connection lost on an output without a connection")
        }
    }

    /// Closes the descriptor it owns (stdout's is not its own).
    func close() {
        switch self {
        case .devnull, .stdout: break
        case .file(let s): s.close()
        case .tcp(let t): t.close()
        case .http(let h): h.close()
        case .postgres(let p): p.close()
        }
    }

    /// Closes and frees everything (an idle output a reload replaces).
    func dispose() {
        switch self {
        case .tcp(let t):
            close()
            t.address.deallocate()
        case .http(let h): h.dispose()
        case .postgres(let p): p.dispose()
        default: close()
        }
    }
}
