import CSupport
import Glibc

/// The stream-socket family on one worker: its listening sockets (every worker listens on each
/// tcp or syslog input's address with SO_REUSEPORT; a unix socket has one listener), the
/// connections it accepted, and the provided buffer ring their multishot receives fill.
/// Received buffers queue per connection (`ReceiveBuffers`: no allocation) and go back to the
/// kernel once framed, or once decrypted over TLS (`TLSSession`). The `tcp`, `syslog`
/// (transport=tcp) and `unix` (mode=stream) inputs differ only in their `StreamListening`:
/// framing, decoding and TLS.
final class TCPFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var listeners: [Listener] = []
        /// Connection entries the listeners need on this worker (each may hold all of its
        /// input's `max-connections`).
        var connectionCapacity = 0

        mutating func merge(_ other: Assignment) {
            listeners += other.listeners
            connectionCapacity += other.connectionCapacity
        }

        func closeAll() {
            for l in listeners where l.fd >= 0 { l.closeSocket() }
        }
    }

    /// While stopping, a connection silent this long is closed (what its peer sent is read).
    static let stopQuietNanos: UInt64 = 100_000_000
    /// Its provided-buffer group in the ring: the family kind, so no two families share one.
    static let bufferGroup = Int32(kind.rawValue)

    let worker: Int
    let maxEventBytes: Int
    /// A connection of a pipeline being reloaded that never falls quiet is closed this late.
    let shutdownTimeoutNanos: UInt64
    var listeners: [Listener]
    var connections: UnsafeMutablePointer<Connection>
    var connectionCapacity: Int
    var activeConnections = 0
    /// Connections with received buffers or an end to handle, in arrival order.
    var readyConnections: UnsafeMutablePointer<Int32>
    var readyCount = 0
    var received: ReceiveBuffers
    /// Bumped per accepted connection: its low byte is the connection's source-id generation.
    var nextSourceID: UInt32
    var idleCheckAtNanos: UInt64 = 0
    /// Where decoding framers copy a record while rewriting its slot (`maxEventBytes`),
    /// allocated with the first listener that decodes.
    var decodeScratch: UnsafeMutableRawPointer?

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        maxEventBytes = settings.pool.maxEventSizeBytes
        shutdownTimeoutNanos = UInt64(settings.shutdownTimeoutMicros) * 1000
        listeners = assignment.listeners
        nextSourceID = UInt32(worker) << 24 | 1
        connectionCapacity = max(assignment.connectionCapacity, 1)
        connections = .allocate(capacity: connectionCapacity)
        connections.initialize(repeating: Connection(), count: connectionCapacity)
        readyConnections = .allocate(capacity: connectionCapacity)
        received = ReceiveBuffers(count: settings.recvBuffers, size: settings.recvBufferBytes)
        allocateDecodeScratch(for: listeners)
    }

    func allocateDecodeScratch(for added: [Listener]) {
        guard decodeScratch == nil, added.contains(where: { $0.listening.decoder != .none }) else { return }
        decodeScratch = .allocate(byteCount: maxEventBytes, alignment: 64)
    }

    /// Every worker listens and may hold every connection: the limit is kept node-wide by one
    /// count (SO_REUSEPORT does not spread connections evenly).
    static func prepare(_ tcp: TCPInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try prepare(host: tcp.host, port: tcp.port, tcp.listening, input: "tcp", &preparation, into: &assignments)
    }

    /// A listener on `host:port` on every worker (SO_REUSEPORT).
    static func prepare(host: String, port: UInt16, _ listening: StreamListening, input: String,
                        _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        for w in 0..<preparation.workerCount {
            let fd: Int32
            do { fd = try SocketAddress.listen(host: host, port: port) } catch { throw preparation.failure(input, "\(error)") }
            add(Listener(fd: fd, listening, preparation), worker: w, &assignments)
        }
    }

    /// One listener on a unix socket at `path` (created with `permissions`, removed at stop),
    /// on the next worker in the round robin of readers.
    static func prepareUnix(path: String, permissions: Int, _ listening: StreamListening,
                            _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let fd: Int32
        do { fd = try SocketAddress.bindUnix(path: path, stream: true, permissions: permissions) } catch { throw preparation.failure("unix", "\(error)") }
        var listener = Listener(fd: fd, listening, preparation)
        listener.unixPath = path
        let w = preparation.nextReader % preparation.workerCount
        preparation.nextReader += 1
        add(listener, worker: w, &assignments)
    }

    static func add(_ listener: Listener, worker w: Int, _ assignments: inout [WorkerAssignment]) {
        assignments[w].inputs.tcp.listeners.append(listener)
        assignments[w].inputs.tcp.connectionCapacity += listener.listening.maxConnections
    }

    func start(_ context: InputContext) throws(SystemError) {
        guard !listeners.isEmpty else { return }
        try received.register(on: context.ring, group: TCPFamily.bufferGroup)
        for l in listeners.indices { armAccept(l, context) }
    }

    /// Connections idle, too slow, or of a stopping pipeline are closed (looked at about once a
    /// second, every 25 ms while stopping).
    func maintain(_ context: InputContext) {
        guard activeConnections > 0 && context.now >= idleCheckAtNanos else { return }
        idleCheckAtNanos = context.now + (context.stopping || context.reconfiguring ? TCPFamily.stopQuietNanos / 4 : 1_000_000_000)
        closeIdleConnections(context)
    }

    func service(_ context: InputContext) -> Bool {
        guard readyCount > 0 || received.recycled else { return false }
        return serviceConnections(context)
    }

    static let kind = SourceIDs.Kind.tcp
    /// A multishot accept on a listener (`a`); a multishot receive on a connection (`a`); a
    /// send of TLS ciphertext (handshake, alert) on a connection (`a`).
    enum Completion: UInt8 { case accept, receive, tlsSend }

    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        switch kind {
        case .accept: acceptCompleted(listener: a, result: result, flags: flags, context)
        case .receive: receiveCompleted(connection: a, result: result, flags: flags, context)
        case .tlsSend: tlsSendCompleted(connection: a, result: result, context)
        }
    }

    /// Listeners close at once (their backlog accepted first), but open connections are read
    /// until they fall quiet (`stopQuietNanos`) or the peer closes, so what senders already
    /// wrote is not lost; their last partial line is delivered flagged.
    func stop(pipeline: Int?, _ context: InputContext) {
        for l in listeners.indices where (pipeline.map { $0 == listeners[l].pipeline } ?? true) && listeners[l].fd >= 0 {
            closeListener(l, context)
        }
        idleCheckAtNanos = 0
    }

    func isQuiet(pipeline slot: Int) -> Bool {
        if listeners.contains(where: { $0.pipeline == slot && $0.fd >= 0 }) { return false }
        if activeConnections > 0 {
            for c in 0..<connectionCapacity where connections[c].active && connections[c].pipeline == slot { return false }
        }
        return true
    }

    func isFinished(stopping: Bool) -> Bool {
        if !stopping && listeners.contains(where: { $0.fd >= 0 }) { return false }
        return activeConnections == 0
    }

    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 { deadline }

    func install(_ assignment: Assignment, _ context: InputContext) {
        guard !assignment.listeners.isEmpty else { return }
        growConnections(by: assignment.connectionCapacity)
        allocateDecodeScratch(for: assignment.listeners)
        if !received.isRegistered {
            do {
                try received.register(on: context.ring, group: TCPFamily.bufferGroup)
            } catch {
                Log.error("worker \(worker)", "\(error): the new tcp listeners are not started")
                for l in assignment.listeners {
                    l.closeSocket()
                    context.counters.add(.inputErrors, 1, pipeline: l.pipeline)
                }
                return
            }
        }
        for l in assignment.listeners {
            listeners.append(l)
            armAccept(listeners.count - 1, context)
        }
    }

    func retire(pipeline slot: Int) {}

    /// A connection has no offset to commit: its sender saw the bytes taken when TCP acknowledged them.
    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {}

    func close() {
        for l in listeners.indices where listeners[l].fd >= 0 { listeners[l].closeSocket() }
        for c in 0..<connectionCapacity where connections[c].active {
            Glibc.close(connections[c].fd)
            connections[c].tls.free()
        }
        received.unregister()
        decodeScratch?.deallocate()
        decodeScratch = nil
    }

    func closeListener(_ l: Int, _ context: InputContext) {
        if listeners[l].armed { context.ring.cancel(target: TCPFamily.userData(.accept, l), userData: SluiceCore.userData(.cancel, 0)) }
        acceptBacklog(l, context)
        context.ring.close(fd: listeners[l].fd, userData: SluiceCore.userData(.close, 0))
        if let path = listeners[l].unixPath { unlink(path) }
        listeners[l].fd = -1
    }

    /// More connection slots for listeners a reload added (existing indices stay valid).
    func growConnections(by extra: Int) {
        let capacity = connectionCapacity + extra
        let grown = UnsafeMutablePointer<Connection>.allocate(capacity: capacity)
        grown.moveInitialize(from: connections, count: connectionCapacity)
        (grown + connectionCapacity).initialize(repeating: Connection(), count: extra)
        connections.deallocate()
        connections = grown
        let ready = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        ready.update(from: readyConnections, count: readyCount)
        readyConnections.deallocate()
        readyConnections = ready
        connectionCapacity = capacity
    }
}
