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
    private(set) var fd: Int32 = -1
    let address: UnsafeMutablePointer<sockaddr_in>
    let reconnectMaxNanos: UInt64
    private(set) var connected = false
    private(set) var connecting = false
    /// When to connect next (0 at start: at once).
    private(set) var reconnect = Backoff()
    var outageLogged = false

    init(_ definition: TCPOutput) {
        self.init(host: definition.host, port: definition.port, reconnectMaxMicros: definition.reconnectMaxMicros)
    }

    /// Also the sink of outputs that frame their own records over TCP (`syslog`).
    init(host: String, port: UInt16, reconnectMaxMicros: Int) {
        address = .allocate(capacity: 1)
        address.initialize(to: SocketAddress.ipv4(host, port: port)!)
        reconnectMaxNanos = UInt64(reconnectMaxMicros) * 1000
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

    mutating func tick(context: OutputContext) {
        if !connected && !connecting && context.now >= reconnect.atNanos { startConnect(context: context) }
    }

    /// Opens the socket and starts a connect through the ring.
    mutating func startConnect(context: OutputContext) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else {
            scheduleReconnect(context: context, reason: SystemError.lastErrno("socket").description)
            return
        }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = s
        connecting = true
        context.ring.connect(fd: s, address: UnsafeRawPointer(address), length: MemoryLayout<sockaddr_in>.size,
                             userData: context.userData(.outputConnect))
    }

    /// Whether the connection is up.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        precondition(connecting, "connect completion without a connect in flight")
        connecting = false
        guard result == 0 else {
            context.count(.outputErrors, 1)  // each failed connect: /metrics shows an outage's attempts
            Glibc.close(fd)
            fd = -1
            scheduleReconnect(context: context, reason: SystemError(negated: result, operation: "connect").description)
            return false
        }
        connected = true
        reconnect.succeeded()
        if outageLogged {
            Log.info(context.logName, "connected again")
            outageLogged = false
        }
        return true
    }

    /// Closes the lost connection (through the ring: a send may still reference it) and
    /// schedules the next.
    mutating func disconnect(result: Int32, context: OutputContext) {
        context.count(.outputErrors, 1)
        context.ring.close(fd: fd, userData: userData(.close, 0))
        fd = -1
        connected = false
        scheduleReconnect(context: context, reason: SystemError(negated: result, operation: "send").description)
    }

    mutating func scheduleReconnect(context: OutputContext, reason: String) {
        reconnect.failedWithJitter(now: context.now, limit: reconnectMaxNanos)
        if !outageLogged {
            Log.error(context.logName, "\(reason); reconnecting with backoff, events held")
            outageLogged = true
        }
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }
}
