import Glibc

/// Outputs whose bytes are safe only once the peer acknowledged them (tcp): two buffers may be
/// out at once, acknowledged in order as the peer's TCP acknowledges their bytes; a lost
/// connection sends both again, the earlier first.
extension OutputBatcher {
    /// Acknowledges what the peer has; when the connection closed meanwhile (a receiver that
    /// went away after reading only part), sends it again on a new connection. With two buffers
    /// out, the earlier is acknowledged once no more than the later one's bytes are still
    /// unacknowledged in the socket; the later (or only) one once none are. Whether a buffer
    /// was acknowledged (or moved on to wait for its dead letters).
    @discardableResult
    mutating func pollPeer(context: OutputContext) -> Bool {
        guard states.0 != .awaitingDeadLetter, states.1 != .awaitingDeadLetter, sink.isReady else { return false }
        guard let outstanding = sink.unacknowledgedBytes() else {
            // With a send in flight, its completion reports the loss (closing the socket under
            // it now would let that completion land on the wrong buffer).
            if writingBuffer != nil { return false }
            connectionLost(result: -ECONNRESET, context: context)
            return false
        }
        let older = olderOut
        let later = 1 - older
        var acknowledged = false
        if state(older) == .sentAwaitingPeer {
            // Bytes of the later buffer the kernel has taken (a send still in flight may have
            // queued more: then this waits longer, never shorter).
            let laterBytes: Int
            switch state(later) {
            case .writing(let written): laterBytes = written
            case .sentAwaitingPeer: laterBytes = usedBytes(later)
            default: laterBytes = 0
            }
            guard outstanding <= laterBytes else { return false }  // polled again from tick
            acknowledge(buffer: older, context: context)
            acknowledged = true
            if !state(older).isOpen { return true }  // waits for its dead letters
        }
        if state(later) == .sentAwaitingPeer && outstanding == 0 {
            acknowledge(buffer: later, context: context)
            acknowledged = true
        }
        return acknowledged
    }

    mutating func connectCompleted(result: Int32, lane: Int, context: OutputContext) {
        if lanes == 2 {
            guard lane == 0 ? sink.connectCompleted(result: result, context: context)
                    : secondLane!.connectCompleted(result: result, context: context.onLane(1)) else { return }
            // The lane's own buffer, when it waited for this connection; else what is pending.
            if state(lane) == .awaitingConnection {
                send(lane, context: context)
            } else if hasPending(filling) {
                _ = flush(context: context)
            }
            return
        }
        guard sink.connectCompleted(result: result, context: context) else { return }
        // What waited for the connection goes first, the earlier buffer before the later.
        let older = olderOut
        if state(older) == .awaitingConnection {
            send(older, context: context)
        } else if state(1 - older) == .awaitingConnection {
            send(1 - older, context: context)
        } else if hasPending(filling) {
            _ = flush(context: context)
        }
    }

    /// Every buffer the peer has not acknowledged stays and is sent again, whole, on the next
    /// connection (one waiting only for its dead letters is already safe); http: the request
    /// the server did not answer is sent again.
    mutating func connectionLost(result: Int32, lane: Int = 0, context: OutputContext) {
        if lane == 0 { sink.disconnect(result: result, context: context) } else { secondLane!.disconnect(result: result, context: context.onLane(1)) }
        // With two lanes only the lane's own buffer was on the lost connection.
        for b in 0..<2 where lanes == 1 || b == lane {
            switch state(b) {
            case .writing, .sentAwaitingPeer, .awaitingResponse: move(b, to: .awaitingConnection)
            default: break
            }
        }
    }
}
