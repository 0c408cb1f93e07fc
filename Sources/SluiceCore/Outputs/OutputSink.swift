/// What a sink made of a write's completion.
enum SinkWriteResult {
    /// The destination took this many bytes.
    case wrote(Int)
    /// The destination refused; the batch is written again after a backoff, from `wrote` bytes
    /// past where this write started (a datagram sink: the datagrams before the failed one went
    /// out). `reported`: the sink already logged why.
    case failed(Int32, reported: Bool, wrote: Int = 0)
    /// tcp: the connection is gone; everything not acknowledged by the peer is sent again.
    case connectionLost(Int32)
    /// http, postgres: part of the request went out and the sink sent the rest itself (it
    /// reports `.wrote` with the whole count given once all of it is out).
    case continuing
    /// A disk buffer with buffer-full=drop-newest found the disk full: the batch is dropped,
    /// counted, and its events acknowledged.
    case dropped(Int32)
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
    /// The destination answered for each event of the request on its own (accepted, to retry,
    /// refused); the view is valid until the next request.
    case itemized(ItemVerdicts)
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
    /// Every output that speaks HTTP (`http`, `clickhouse`, `elasticsearch`): the endpoint says how.
    case http(HTTPSink)
    /// Hands whole buffers of message records to a publisher thread of its own.
    case nats(NATSSink)
    /// One datagram per event (`syslog` over UDP).
    case datagram(DatagramSink)
    /// The first stage of an output with buffer=disk: its segment files.
    case disk(DiskSink)
    /// libpq's connection, its socket polled through the ring.
    case postgres(PostgresSink)

    /// Whether buffers go to a thread of the sink's own, which confirms them (nats).
    var handsOff: Bool {
        if case .nats = self { return true }
        return false
    }

    /// nats: the event's message record at `out`, its length; nil when the destination cannot
    /// take it (the batcher rejects it).
    @inline(__always) func encodeMessage(_ event: Event, into out: UnsafeMutableRawPointer, context: OutputContext) -> Int? {
        guard case .nats(let n) = self else { preconditionFailure("message records asked of a sink that writes lines") }
        return n.encode(event, into: out, context: context)
    }

    /// nats: gives buffer `b` to the sink's thread.
    mutating func handOff(_ b: Int, records: UnsafeRawPointer, bytes: Int) {
        guard case .nats(var n) = self else { preconditionFailure("hand-off to a sink that writes") }
        n.handOff(b, records: records, bytes: bytes)
        self = .nats(n)
    }

    /// nats: whether buffer `b`'s hand-off is confirmed.
    @inline(__always) func handOffConfirmed(_ b: Int) -> Bool {
        guard case .nats(let n) = self else { preconditionFailure("hand-off asked of a sink that writes") }
        return n.confirmed(b)
    }

    /// nats: its eventfd read completed; false when it belonged to a sink a reload replaced.
    mutating func notified(tag: Int, context: OutputContext) -> Bool {
        guard case .nats(var n) = self else { return false }
        let mine = n.notified(tag: tag, context: context)
        self = .nats(n)
        return mine
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

    /// Whether each event goes out on its own (datagrams): the batcher hands the sink where
    /// every event's bytes end (`writeDatagrams`).
    var sendsDatagrams: Bool {
        if case .datagram = self { return true }
        return false
    }

    /// The connection of a sink that connects out (tcp, http, datagram).
    var outbound: OutboundConnection? {
        switch self {
        case .tcp(let t): t.connection
        case .http(let h): h.connection
        case .datagram(let d): d.connection
        default: nil
        }
    }

    /// Whether a write can be submitted now (tcp, http, datagram: connected).
    var isReady: Bool {
        if let c = outbound { return c.connected }
        switch self {
        case .disk(let d): return d.buffer.pointee.isWritable
        case .postgres(let p): return p.isReady
        default: return true
        }
    }

    /// tcp, http, datagram: a connect is in flight (its completion would reach a replacement output).
    var isConnecting: Bool {
        if let c = outbound { return c.connecting }
        switch self {
        case .disk(let d): return d.buffer.pointee.creating != .none
        case .postgres(let p): return p.isConnecting
        default: return false
        }
    }

    mutating func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        switch self {
        case .devnull: preconditionFailure("devnull writes nothing")
        case .nats: preconditionFailure("nats hands its buffers off")
        case .stdout(let s): s.write(from: bytes, count: count, context: context)
        case .file(let s): s.write(from: bytes, count: count, context: context)
        case .tcp(let s): s.write(from: bytes, count: count, context: context)
        case .disk(let d): d.buffer.pointee.write(from: bytes, count: count, context: context)
        case .http(var s):
            s.write(from: bytes, count: count, context: context)
            self = .http(s)
        case .datagram: preconditionFailure("datagrams are written with writeDatagrams")
        case .postgres(var s):
            s.write(from: bytes, count: count, context: context)
            self = .postgres(s)
        }
    }

    /// datagram: the events of a buffer (`count`, the i-th ending at `ends[i]`) from `fromByte`.
    mutating func writeDatagrams(buffer: UnsafeRawPointer, ends: UnsafePointer<Int32>, count: Int, fromByte: Int, context: OutputContext) {
        guard case .datagram(var d) = self else { preconditionFailure("writeDatagrams on a sink that streams") }
        d.write(buffer: buffer, ends: ends, count: count, fromByte: fromByte, context: context)
        self = .datagram(d)
    }

    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        switch self {
        case .devnull: preconditionFailure("devnull writes nothing")
        case .nats: preconditionFailure("nats hands its buffers off")
        case .stdout(var s):
            let outcome = s.written(result: result, context: context)
            self = .stdout(s)
            return outcome
        case .file(let s): return s.written(result: result)
        case .tcp(let s): return s.written(result: result)
        case .disk(let d): return d.buffer.pointee.written(result: result, context: context)
        case .http(var s):
            let outcome = s.written(result: result, context: context)
            self = .http(s)
            return outcome
        case .datagram(var d):
            let outcome = d.written(result: result, context: context)
            self = .datagram(d)
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
        case .http(let h): return h.connection.reconnect.maxNanos
        case .postgres(let p): return p.retryMaxNanos
        default: return Backoff.maxNanos
        }
    }

    func whenWritten(context: OutputContext) -> SinkSafety {
        switch self {
        case .devnull, .stdout, .datagram: return .now
        case .file(let s): return s.whenWritten(context: context)
        case .tcp: return .afterPeerAcknowledged
        case .http, .postgres: return .afterResponse
        case .nats: preconditionFailure("nats hands its buffers off")
        case .disk: preconditionFailure("a disk buffer's batch is committed by the batcher (OutputBatcher.bufferWritten)")
        }
    }

    /// Whether the fsync made the bytes safe (false: the sink submitted it again).
    func synced(result: Int32, context: OutputContext) -> Bool {
        switch self {
        case .file(let s): return s.synced(result: result, context: context)
        default: preconditionFailure("fsync completion for an output that does not sync")
        }
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
        case .nats(var n):
            n.tick(context: context)
            self = .nats(n)
        case .datagram(var d):
            d.tick(context: context)
            self = .datagram(d)
        case .disk(let d): d.buffer.pointee.tickWriter(context: context)
        case .postgres(var p):
            p.tick(context: context)
            self = .postgres(p)
        default: return
        }
    }

    /// tcp, http while disconnected: when the next connect is due (nothing can be written before).
    var reconnectDeadline: UInt64? {
        if let c = outbound { return c.reconnectDeadline }
        switch self {
        case .disk(let d) where !d.buffer.pointee.isWritable && d.buffer.pointee.segmentWanted && d.buffer.pointee.creating == .none:
            return d.buffer.pointee.createRetry.atNanos
        case .postgres(let p): return p.reconnectDeadline
        default: return nil
        }
    }

    /// tcp, http: whether the connect made the sink ready.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        switch self {
        case .tcp(var t):
            let connected = t.connection.connectCompleted(result: result, context: context)
            self = .tcp(t)
            return connected
        case .http(var h):
            let connected = h.connection.connectCompleted(result: result, context: context)
            self = .http(h)
            return connected
        case .datagram(var d):
            let connected = d.connection.connectCompleted(result: result, context: context)
            self = .datagram(d)
            return connected
        case .disk(let d): return d.buffer.pointee.creationCompleted(result: result, context: context)
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
        case .devnull, .stdout, .disk: break  // disk: the batcher closes its buffer
        case .file(let s): s.close()
        case .tcp(let t): t.close()
        case .http(let h): h.close()
        case .nats(let n): n.close()
        case .datagram(let d): d.close()
        case .postgres(let p): p.close()
        }
    }

    /// Closes and frees everything (an idle output a reload replaces).
    func dispose() {
        switch self {
        case .tcp(let t): t.dispose()
        case .http(let h): h.dispose()
        case .nats(let n): n.dispose()
        case .datagram(let d): d.dispose()
        case .postgres(let p): p.dispose()
        default: close()
        }
    }
}
