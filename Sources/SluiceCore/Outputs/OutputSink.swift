/// What a sink made of a write's completion.
enum SinkWriteResult {
    /// The destination took this many bytes.
    case wrote(Int)
    /// The destination refused; the batch is written again after a backoff. `reported`: the
    /// sink already logged why.
    case failed(Int32, reported: Bool)
    /// tcp: the connection is gone; everything not acknowledged by the peer is sent again.
    case connectionLost(Int32)
}

/// When the bytes of a buffer written in full are safe.
enum SinkSafety {
    case now
    /// file with sync=true: the sink submitted the fsync; `OutputBatcher.syncCompleted` says.
    case afterSync
    /// tcp: once the peer's TCP acknowledged them (`unacknowledgedBytes`, polled).
    case afterPeerAcknowledged
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

    init(_ definition: OutputDefinition, fd: Int32) {
        switch definition {
        case .devnull: self = .devnull
        case .stdout: self = .stdout(StdoutSink(fd: fd))
        case .file(let f): self = .file(FileSink(fd: fd, sync: f.sync))
        case .tcp(let t): self = .tcp(TCPSink(t))
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

    /// Whether a write can be submitted now (tcp: connected).
    var isReady: Bool {
        if case .tcp(let t) = self { return t.connected }
        return true
    }

    /// tcp: a connect is in flight (its completion would reach a replacement output).
    var isConnecting: Bool {
        if case .tcp(let t) = self { return t.connecting }
        return false
    }

    func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        switch self {
        case .devnull: preconditionFailure("devnull writes nothing")
        case .stdout(let s): s.write(from: bytes, count: count, context: context)
        case .file(let s): s.write(from: bytes, count: count, context: context)
        case .tcp(let s): s.write(from: bytes, count: count, context: context)
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
        }
    }

    func whenWritten(context: OutputContext) -> SinkSafety {
        switch self {
        case .devnull, .stdout: return .now
        case .file(let s): return s.whenWritten(context: context)
        case .tcp: return .afterPeerAcknowledged
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

    /// tcp: connects when the reconnect backoff has passed.
    mutating func tick(context: OutputContext) {
        guard case .tcp(var t) = self else { return }
        t.tick(context: context)
        self = .tcp(t)
    }

    /// tcp while disconnected: when the next connect is due (nothing can be written before).
    var reconnectDeadline: UInt64? {
        if case .tcp(let t) = self, !t.connected, !t.connecting { return t.reconnect.atNanos }
        return nil
    }

    /// tcp: whether the connect made the sink ready.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        guard case .tcp(var t) = self else { preconditionFailure("connect completion for an output without a connection") }
        let connected = t.connectCompleted(result: result, context: context)
        self = .tcp(t)
        return connected
    }

    /// tcp: closes the lost connection and schedules the next one.
    mutating func disconnect(result: Int32, context: OutputContext) {
        guard case .tcp(var t) = self else { preconditionFailure("connection lost on an output without a connection") }
        t.disconnect(result: result, context: context)
        self = .tcp(t)
    }

    /// Closes the descriptor it owns (stdout's is not its own).
    func close() {
        switch self {
        case .devnull, .stdout: break
        case .file(let s): s.close()
        case .tcp(let t): t.close()
        }
    }

    /// Closes and frees everything (an idle output a reload replaces).
    func dispose() {
        close()
        if case .tcp(let t) = self { t.address.deallocate() }
    }
}
