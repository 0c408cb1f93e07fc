import CSupport
import Glibc

/// The socket of a sink that connects out (`tcp`, the HTTP outputs, `syslog` over UDP): opened
/// and connected through the worker's ring when due, closed and connected again after a failure
/// with exponential backoff and jitter up to the output's limit; the outage is logged once and
/// the return once (`Reconnection`). The sink owns one and says what a failure of its own
/// protocol means.
struct OutboundConnection {
    private(set) var fd: Int32 = -1
    let address: UnsafeMutablePointer<sockaddr_in>
    /// `host:port`, for the log.
    let endpoint: String
    /// SOCK_STREAM (TCP_NODELAY set) or SOCK_DGRAM (a connect only sets the peer).
    let stream: Bool
    private(set) var connected = false
    private(set) var connecting = false
    private(set) var reconnect: Reconnection

    init(host: String, port: UInt16, stream: Bool, reconnectMaxNanos: UInt64) {
        address = .allocate(capacity: 1)
        address.initialize(to: SocketAddress.ipv4(host, port: port)!)
        endpoint = "\(host):\(port)"
        self.stream = stream
        reconnect = Reconnection(maxNanos: reconnectMaxNanos)
    }

    /// Not connected, and no connect in flight: when the next one is due.
    var reconnectDeadline: UInt64? { !connected && !connecting ? reconnect.atNanos : nil }

    /// Starts a connect when one is due.
    mutating func tick(context: OutputContext) {
        if !connected && !connecting && reconnect.isDue(now: context.now) { startConnect(context: context) }
    }

    /// Opens the socket and starts a connect through the ring.
    mutating func startConnect(context: OutputContext) {
        let kind = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let s = socket(AF_INET, kind | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else {
            failed(context: context, reason: SystemError.lastErrno("socket").description)
            return
        }
        if stream {
            var one: Int32 = 1
            setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        fd = s
        connecting = true
        context.ring.connect(fd: s, address: UnsafeRawPointer(address), length: MemoryLayout<sockaddr_in>.size,
                             userData: context.userData(.outputConnect))
    }

    /// The connect completed; whether the connection is up.
    mutating func connectCompleted(result: Int32, context: OutputContext) -> Bool {
        precondition(connecting, "connect completion without a connect in flight")
        connecting = false
        guard result == 0 else {
            context.count(.outputErrors, 1)  // each failed connect: /metrics shows an outage's attempts
            Glibc.close(fd)
            fd = -1
            failed(context: context, reason: SystemError(negated: result, operation: "connect to \(endpoint)").description)
            return false
        }
        connected = true
        reconnect.succeeded(context: context, destination: endpoint)
        return true
    }

    /// The connection failed (`reason` for the log): it is closed through the ring (an
    /// operation may still reference the socket) and the next connect is scheduled.
    mutating func lost(context: OutputContext, reason: String) {
        context.count(.outputErrors, 1)
        if fd >= 0 { context.ring.close(fd: fd, userData: userData(.close, 0)) }
        fd = -1
        connected = false
        failed(context: context, reason: reason)
    }

    /// The server closed a connection that did its work (an HTTP response with `Connection:
    /// close`): closed through the ring, and a new one at once.
    mutating func closedByPeer(context: OutputContext) {
        if fd >= 0 { context.ring.close(fd: fd, userData: userData(.close, 0)) }
        fd = -1
        connected = false
        reconnect.now(context.now)
    }

    /// No connection now: the next try after the backoff, the outage logged once.
    mutating func failed(context: OutputContext, reason: String) {
        reconnect.failed(context: context, reason)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
    }

    func dispose() {
        close()
        address.deallocate()
    }
}
