/// Where one of an output's two write buffers is in its life. A buffer fills while `open`, goes
/// out (written, synced, or sent and waiting for the peer), and is `open` again once its events
/// are acknowledged. Transitions go through `OutputBatcher.move`, which asserts them.
enum OutputBufferState: Equatable {
    /// Taking events (the filling buffer) or empty.
    case open
    /// A write or send of its bytes from `written` on is in flight (one per output at a time).
    case writing(written: Int)
    /// Its write failed; it is written again from `written` when the backoff has passed.
    case retrying(written: Int)
    /// tcp: to be sent whole once connected (flushed while disconnected, or sent on a
    /// connection that was lost before the peer acknowledged it).
    case awaitingConnection
    /// file with sync=true: written in full, its fsync in flight.
    case syncing
    /// tcp: the kernel took all of it; safe once the peer's TCP acknowledged every byte.
    case sentAwaitingPeer
    /// http: a request with its events (all, or the part `OutputBatcher.requests` names) is
    /// sent; the server's answer acknowledges, retries or rejects them.
    case awaitingResponse
    /// Safe at the destination; acknowledged once the dead-letter lines of the events it
    /// rejected are written.
    case awaitingDeadLetter
    /// nats: the sink's own thread has it; acknowledged once the sink confirms all of it.
    case handedOff
    /// Two lanes: answered (safe at the destination) on its own connection while the batch
    /// that went out before it is still out; acknowledged right after that one.
    case answeredAwaitingEarlier

    @inline(__always) var isOpen: Bool {
        if case .open = self { return true }
        return false
    }

    /// The transitions the batcher makes; any other is a bug.
    static func allows(_ from: OutputBufferState, _ to: OutputBufferState) -> Bool {
        switch (from, to) {
        case (.open, .writing(written: 0)), (.open, .awaitingConnection), (.open, .sentAwaitingPeer),
             (.open, .awaitingDeadLetter), (.open, .open), (.open, .handedOff):
            return true  // the last four but one: a batch of placeholders only, nothing to write
        case (.writing, .writing), (.writing, .retrying), (.writing, .syncing), (.writing, .sentAwaitingPeer),
             (.writing, .awaitingConnection), (.writing, .awaitingDeadLetter), (.writing, .open), (.writing, .awaitingResponse):
            return true
        case (.awaitingResponse, .open), (.awaitingResponse, .awaitingDeadLetter), (.awaitingResponse, .retrying(written: 0)),
             (.awaitingResponse, .awaitingConnection), (.awaitingResponse, .writing(written: 0)):
            return true  // acknowledged; retried; connection lost; the next part of the batch
        case (.retrying, .writing), (.retrying, .awaitingConnection): return true
        case (.awaitingConnection, .writing(written: 0)), (.awaitingConnection, .sentAwaitingPeer): return true
        case (.awaitingConnection, .open), (.retrying, .open):
            return true  // a disk buffer's drain giving back what it has not sent, at a stop
        case (.syncing, .awaitingDeadLetter), (.syncing, .open): return true
        case (.sentAwaitingPeer, .awaitingConnection), (.sentAwaitingPeer, .awaitingDeadLetter), (.sentAwaitingPeer, .open):
            return true
        case (.awaitingDeadLetter, .open): return true
        case (.handedOff, .open), (.handedOff, .awaitingDeadLetter): return true
        case (.open, .answeredAwaitingEarlier), (.writing, .answeredAwaitingEarlier), (.awaitingResponse, .answeredAwaitingEarlier),
             (.retrying, .answeredAwaitingEarlier), (.awaitingConnection, .answeredAwaitingEarlier):
            return true  // a batch of placeholders only, or the last range answered, behind the earlier batch
        case (.answeredAwaitingEarlier, .open), (.answeredAwaitingEarlier, .awaitingDeadLetter): return true
        default: return false
        }
    }
}
