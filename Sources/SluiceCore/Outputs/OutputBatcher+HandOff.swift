/// Outputs whose sink hands a whole buffer to a thread of its own (nats: a C library with its
/// own sockets and threads) instead of writing it through the ring: the buffer is `handedOff`
/// until the sink says its destination confirmed all of it (every PubAck came), which an
/// eventfd read in the ring announces. Both buffers may be out at once; they are confirmed, and
/// acknowledged, in the order they went out.
extension OutputBatcher {
    /// Buffer `b` goes to the sink (also a batch of placeholders only: its confirmation keeps
    /// its place behind the other buffer).
    mutating func handOff(_ b: Int, context: OutputContext) {
        move(b, to: .handedOff)
        sink.handOff(b, records: buffer(b), bytes: usedBytes(b))
        _ = confirmHandOffs(context: context)
    }

    /// Acknowledges the buffers the sink confirmed, oldest first; whether any was.
    mutating func confirmHandOffs(context: OutputContext) -> Bool {
        var any = false
        while true {
            let b = olderOut
            guard state(b) == .handedOff, sink.handOffConfirmed(b) else { return any }
            acknowledge(buffer: b, context: context)
            any = true
        }
    }

    /// The sink's eventfd read completed (`tag`: which sink armed it).
    mutating func notifyCompleted(tag: Int, context: OutputContext) {
        guard sink.notified(tag: tag, context: context) else { return }
        _ = confirmHandOffs(context: context)
    }
}
