import CSupport
import Glibc

/// `tcp`'s sink: one connection per worker. Bytes the kernel took are safe only once the
/// peer's TCP acknowledged them (SIOCOUTQ, connection still ESTABLISHED): a send taken on a
/// connection the peer already closed is otherwise lost. A lost connection is opened again with
/// exponential backoff and jitter up to `reconnect-max`; the batcher then sends again whatever
/// the peer had not acknowledged.
struct TCPSink {
    /// While a batch waits for the peer, how often the batcher asks.
    static let peerAckPollNanos: UInt64 = 200_000
    var connection: OutboundConnection
    @inline(__always) var fd: Int32 { connection.fd }

    init(_ definition: TCPOutput) {
        self.init(host: definition.host, port: definition.port, reconnectMaxMicros: definition.reconnectMaxMicros)
    }

    /// Also the sink of outputs that frame their own records over TCP (`syslog`).
    init(host: String, port: UInt16, reconnectMaxMicros: Int) {
        connection = OutboundConnection(host: host, port: port, stream: true, reconnectMaxNanos: UInt64(reconnectMaxMicros) * 1000)
    }

    func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        context.ring.send(fd: fd, from: bytes, count: count, userData: context.userData(.outputWrite))
    }

    /// A send that took nothing or failed means the connection is gone.
    func written(result: Int32) -> SinkWriteResult {
        result > 0 ? .wrote(Int(result)) : .connectionLost(result == 0 ? -EPIPE : result)
    }

    func unacknowledgedBytes() -> Int? {
        let outstanding = sl_tcp_unacknowledged(fd)
        return outstanding >= 0 ? Int(outstanding) : nil
    }

    mutating func tick(context: OutputContext) { connection.tick(context: context) }

    /// A send failed or took nothing: the connection is gone.
    mutating func disconnect(result: Int32, context: OutputContext) {
        connection.lost(context: context, reason: SystemError(negated: result, operation: "send").description)
    }

    func close() { connection.close() }

    func dispose() { connection.dispose() }
}
