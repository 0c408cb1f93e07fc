import CSupport
import Glibc

/// The http family on one worker: its listening sockets (every worker listens on each http
/// input's address with SO_REUSEPORT, as tcp does, with tcp's `Listener`), the connections it
/// accepted and the provided buffer ring their multishot receives fill (`ReceiveBuffers`). Each
/// connection reads one request at a time: head, body (framed into events as it arrives),
/// answer; a pipelined request waits in its receive buffers until the answer before it is sent.
/// Over TLS the same parser reads the decrypted bytes (`TLSSession`) and answers are encrypted.
final class HTTPFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var listeners: [Listener] = []
        var options: [HTTPServerOptions] = []
        var connectionCapacity = 0

        mutating func merge(_ other: Assignment) {
            listeners += other.listeners
            options += other.options
            connectionCapacity += other.connectionCapacity
        }

        func closeAll() {
            for l in listeners where l.fd >= 0 { Glibc.close(l.fd) }
        }
    }

    /// While stopping, a connection with no request under way and silent this long is closed.
    static let stopQuietNanos: UInt64 = 100_000_000
    /// Its provided-buffer group in the ring: the family kind, so no two families share one.
    static let bufferGroup = Int32(kind.rawValue)
    /// Decompressed bytes made per inflate call, per connection sending gzip.
    static let inflateBufferBytes = 64 * 1024

    let worker: Int
    let maxEventBytes: Int
    let shutdownTimeoutNanos: UInt64
    var listeners: [Listener]
    /// Per listener: its input's request limits and acknowledgement.
    var options: [HTTPServerOptions]
    var connections: UnsafeMutablePointer<HTTPConnection>
    var connectionCapacity: Int
    /// Connections with an open socket.
    var openConnections = 0
    /// Connection slots in use: open, or closed with events not yet acknowledged.
    var usedSlots = 0
    var readyConnections: UnsafeMutablePointer<Int32>
    var readyCount = 0
    var received: ReceiveBuffers
    var nextGeneration = 1
    var timerCheckAtNanos: UInt64 = 0
    /// Since when the pool has been exhausted (0: it is not).
    var poolFullSinceNanos: UInt64 = 0

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        maxEventBytes = settings.pool.maxEventSizeBytes
        shutdownTimeoutNanos = UInt64(settings.shutdownTimeoutMicros) * 1000
        listeners = assignment.listeners
        options = assignment.options
        connectionCapacity = min(max(assignment.connectionCapacity, 1), SourceIDs.maxSourcesPerWorker)
        connections = .allocate(capacity: connectionCapacity)
        connections.initialize(repeating: HTTPConnection(), count: connectionCapacity)
        readyConnections = .allocate(capacity: connectionCapacity)
        received = ReceiveBuffers(count: settings.recvBuffers, size: settings.recvBufferBytes)
    }

    static func prepare(_ http: HTTPInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        for w in 0..<preparation.workerCount {
            let fd: Int32
            do { fd = try SocketAddress.listen(host: http.host, port: http.port) } catch { throw preparation.failure("http", "\(error)") }
            let listener = Listener(fd: fd, StreamListening(maxConnections: http.maxConnections, idleTimeoutMicros: http.idleTimeoutMicros, tls: http.tls), preparation)
            assignments[w].inputs.http.listeners.append(listener)
            assignments[w].inputs.http.options.append(HTTPServerOptions(http))
            assignments[w].inputs.http.connectionCapacity += http.maxConnections
        }
    }

    func start(_ context: InputContext) throws(SystemError) {
        guard !listeners.isEmpty else { return }
        try received.register(on: context.ring, group: HTTPFamily.bufferGroup)
        for l in listeners.indices { armAccept(l, context) }
    }

    /// While the pool is exhausted (the worker then does not call `service`), heads are still
    /// read, and once it has been so for `refuse-after` new requests are answered 429. Idle
    /// connections, requests over `request-timeout` and connections of a stopping pipeline are
    /// closed (looked at about once a second, every 25 ms while stopping).
    func maintain(_ context: InputContext) {
        if context.poolExhausted {
            if poolFullSinceNanos == 0 { poolFullSinceNanos = context.now }
            if readyCount > 0 { _ = serviceConnections(context, eventsFree: false) }
        } else {
            poolFullSinceNanos = 0
        }
        guard openConnections > 0 && context.now >= timerCheckAtNanos else { return }
        timerCheckAtNanos = context.now + (context.stopping || context.reconfiguring ? HTTPFamily.stopQuietNanos / 4 : 1_000_000_000)
        closeExpiredConnections(context)
    }

    func service(_ context: InputContext) -> Bool {
        guard readyCount > 0 || received.recycled else { return false }
        return serviceConnections(context)
    }

    static let kind = SourceIDs.Kind.http
    /// A multishot accept on a listener (`a`); a multishot receive, an answer's send, a
    /// `100 Continue`'s send and a send of TLS ciphertext on a connection (`a`, its generation `b`).
    enum Completion: UInt8 { case accept, receive, send, sendContinue, tlsSend }

    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        switch kind {
        case .accept: acceptCompleted(listener: a, result: result, flags: flags, context)
        case .receive: receiveCompleted(connection: a, result: result, flags: flags, context)
        case .send: sendCompleted(connection: a, result: result, continue: false, context)
        case .sendContinue: sendCompleted(connection: a, result: result, continue: true, context)
        case .tlsSend: tlsSendCompleted(connection: a, result: result, context)
        }
    }

    /// Listeners close at once; a connection in the middle of a request reads it to its end and
    /// answers it (after its events are acknowledged with ack=output), then closes; connections
    /// between requests close once quiet. A sender whose request was never answered sends it
    /// again: nothing it sent is lost.
    func stop(pipeline: Int?, _ context: InputContext) {
        for l in listeners.indices where (pipeline.map { $0 == listeners[l].pipeline } ?? true) && listeners[l].fd >= 0 {
            if listeners[l].armed { context.ring.cancel(target: HTTPFamily.userData(.accept, l), userData: SluiceCore.userData(.cancel, 0)) }
            context.ring.close(fd: listeners[l].fd, userData: SluiceCore.userData(.close, 0))
            listeners[l].fd = -1
        }
        timerCheckAtNanos = 0
    }

    func isQuiet(pipeline slot: Int) -> Bool {
        if listeners.contains(where: { $0.pipeline == slot && $0.fd >= 0 }) { return false }
        if openConnections > 0 {
            for c in 0..<connectionCapacity where connections[c].fd >= 0 && connections[c].pipeline == slot { return false }
        }
        return true
    }

    func isFinished(stopping: Bool) -> Bool {
        if !stopping && listeners.contains(where: { $0.fd >= 0 }) { return false }
        return openConnections == 0
    }

    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 { deadline }

    func install(_ assignment: Assignment, _ context: InputContext) {
        guard !assignment.listeners.isEmpty else { return }
        growConnections(by: assignment.connectionCapacity)
        if !received.isRegistered {
            do {
                try received.register(on: context.ring, group: HTTPFamily.bufferGroup)
            } catch {
                Log.error("worker \(worker)", "\(error): the new http listeners are not started")
                for l in assignment.listeners {
                    Glibc.close(l.fd)
                    context.counters.add(.inputErrors, 1, pipeline: l.pipeline)
                }
                return
            }
        }
        for (l, o) in zip(assignment.listeners, assignment.options) {
            listeners.append(l)
            options.append(o)
            armAccept(listeners.count - 1, context)
        }
    }

    func retire(pipeline slot: Int) {}

    /// One event of a request came back acknowledged by every output: with `ack=output`, the
    /// request's answer goes out when the last one does (the connection is served next turn).
    @inline(__always) func acknowledged(sourceID id: UInt32, offset: UInt64) {
        let c = SourceIDs.index(id)
        guard c < connectionCapacity, connections[c].generation == SourceIDs.generation(id), connections[c].outstanding > 0 else { return }
        connections[c].outstanding -= 1
        if connections[c].outstanding == 0 { markReady(c) }
    }

    func close() {
        for l in listeners.indices where listeners[l].fd >= 0 { Glibc.close(listeners[l].fd) }
        for c in 0..<connectionCapacity {
            if connections[c].fd >= 0 { Glibc.close(connections[c].fd) }
            connections[c].freeMemory()
        }
        received.unregister()
    }

    /// More connection slots for listeners a reload added (existing indices stay valid).
    func growConnections(by extra: Int) {
        let capacity = min(connectionCapacity + extra, SourceIDs.maxSourcesPerWorker)
        guard capacity > connectionCapacity else { return }
        let grown = UnsafeMutablePointer<HTTPConnection>.allocate(capacity: capacity)
        grown.moveInitialize(from: connections, count: connectionCapacity)
        (grown + connectionCapacity).initialize(repeating: HTTPConnection(), count: capacity - connectionCapacity)
        connections.deallocate()
        connections = grown
        let ready = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        ready.update(from: readyConnections, count: readyCount)
        readyConnections.deallocate()
        readyConnections = ready
        connectionCapacity = capacity
    }
}

/// One http input's limits, as each of its listeners' connections apply them.
struct HTTPServerOptions {
    let acknowledgeOnOutput: Bool
    let maxBodyBytes: Int
    let maxHeaderBytes: Int
    let maxHeaderCount: Int
    let requestTimeoutNanos: UInt64
    let refuseAfterNanos: UInt64

    init(_ http: HTTPInput) {
        acknowledgeOnOutput = http.acknowledge == .output
        maxBodyBytes = http.maxBodyBytes
        maxHeaderBytes = http.maxHeaderBytes
        maxHeaderCount = http.maxHeaderCount
        requestTimeoutNanos = UInt64(http.requestTimeoutMicros) * 1000
        refuseAfterNanos = UInt64(http.refuseAfterMicros) * 1000
    }
}
