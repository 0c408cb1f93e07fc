import CSupport
import Glibc

/// The datagram family on one worker: UDP sockets (every worker binds each udp or syslog/udp
/// input's port with SO_REUSEPORT) and unix datagram sockets (one worker each), read with
/// multishot recvmsg into a provided buffer ring. Each datagram is one record
/// (`LineFramer.frameDatagram`, decoded when the input is syslog); a socket is one stream.
/// Datagrams the kernel dropped for a full receive queue are counted (datagrams_dropped), so
/// loss under overload is never silent: from SO_RXQ_OVFL on each datagram, and from the
/// socket's drop count (SO_MEMINFO) about once a second and at close, since a flood that ends
/// while the queue is full leaves no later datagram to carry the count.
final class DatagramFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var sockets: [DatagramSocket] = []
        mutating func merge(_ other: Assignment) { sockets += other.sockets }
        func closeAll() { for s in sockets where s.fd >= 0 { s.closeSocket() } }
    }

    /// Its provided-buffer group in the ring: the family kind, so no two families share one.
    static let bufferGroup = Int32(kind.rawValue)
    /// While stopping, a socket silent this long is closed (what was sent before is read).
    static let stopQuietNanos: UInt64 = 100_000_000
    /// The kernel receive buffer asked for each UDP socket (SO_RCVBUF; the kernel caps it at
    /// net.core.rmem_max).
    static let socketReceiveBufferBytes = 4 << 20

    let worker: Int
    let maxEventBytes: Int
    let receiveBuffers: Int
    let receiveBufferBytes: Int
    var sockets: [DatagramSocket]
    var bufferRing: BufferRing?
    let header: OpaquePointer
    /// Received buffers not framed yet, in arrival order: a ring of (socket, buffer id, length).
    var queue: UnsafeMutablePointer<(socket: Int32, buffer: Int32, length: Int32)>
    var queueHead = 0
    var queueCount = 0
    var decodeScratch: UnsafeMutableRawPointer?

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        maxEventBytes = settings.pool.maxEventSizeBytes
        receiveBuffers = settings.recvBuffers
        receiveBufferBytes = settings.recvBufferBytes
        sockets = []
        header = sl_recvmsg_header_create()!
        queue = .allocate(capacity: settings.recvBuffers)
        adopt(assignment.sockets)
    }

    static func prepareUDP(host: String, port: UInt16, decoder: RecordDecoder.Kind, input: String,
                           _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        for w in 0..<preparation.workerCount {
            let fd: Int32
            do { fd = try SocketAddress.bindUDP(host: host, port: port, receiveBufferBytes: socketReceiveBufferBytes) } catch { throw preparation.failure(input, "\(error)") }
            assignments[w].inputs.datagram.sockets.append(DatagramSocket(fd: fd, pipeline: preparation.slot, inputRow: preparation.inputRow, decoder: decoder))
        }
    }

    static func prepareUnix(path: String, permissions: Int, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let fd: Int32
        do { fd = try SocketAddress.bindUnix(path: path, stream: false, permissions: permissions) } catch { throw preparation.failure("unix", "\(error)") }
        SocketAddress.enableDropCounting(fd)
        var socket = DatagramSocket(fd: fd, pipeline: preparation.slot, inputRow: preparation.inputRow, decoder: .none)
        socket.unixPath = path
        let w = preparation.nextReader % preparation.workerCount
        preparation.nextReader += 1
        assignments[w].inputs.datagram.sockets.append(socket)
    }

    /// Gives each new socket its framer (and the decode scratch, allocated with the first
    /// socket that decodes).
    func adopt(_ added: [DatagramSocket]) {
        for var socket in added {
            if socket.decoder != .none && decodeScratch == nil { decodeScratch = .allocate(byteCount: maxEventBytes, alignment: 64) }
            socket.framer = LineFramer(sourceID: SourceIDs.make(worker: worker, kind: .datagram, generation: 0, index: sockets.count),
                                       pipelineID: UInt16(socket.pipeline), maxEventBytes: maxEventBytes)
            socket.framer.inputRow = socket.inputRow
            if socket.decoder != .none { socket.framer.decoder = RecordDecoder(kind: socket.decoder, scratch: decodeScratch) }
            sockets.append(socket)
        }
    }

    func start(_ context: InputContext) throws(SystemError) {
        guard !sockets.isEmpty else { return }
        bufferRing = try context.ring.makeBufferRing(count: receiveBuffers, size: receiveBufferBytes, group: DatagramFamily.bufferGroup)
        for s in sockets.indices { arm(s, context) }
    }

    /// Looks at each socket's drop count about once a second.
    static let dropsCheckNanos: UInt64 = 1_000_000_000
    var dropsCheckAtNanos: UInt64 = 0

    /// While stopping, closes the sockets that fell quiet; counts drops about once a second.
    func maintain(_ context: InputContext) {
        if context.now >= dropsCheckAtNanos && !sockets.isEmpty {
            dropsCheckAtNanos = context.now + DatagramFamily.dropsCheckNanos
            for s in sockets.indices where sockets[s].fd >= 0 { countDrops(s, seen: SocketAddress.dropCount(sockets[s].fd), context) }
        }
        for s in sockets.indices where sockets[s].fd >= 0 && sockets[s].stopping && !sockets[s].closing
            && context.now &- sockets[s].lastReceiveNanos > DatagramFamily.stopQuietNanos {
            sockets[s].closing = true
            if sockets[s].armed {
                context.ring.cancel(target: DatagramFamily.userData(.receive, s), userData: SluiceCore.userData(.cancel, 0))
            }
        }
        for s in sockets.indices where sockets[s].fd >= 0 && sockets[s].closing && !sockets[s].armed && sockets[s].queued == 0 {
            countDrops(s, seen: SocketAddress.dropCount(sockets[s].fd), context)
            context.ring.close(fd: sockets[s].fd, userData: SluiceCore.userData(.close, 0))
            if let path = sockets[s].unixPath { unlink(path) }
            sockets[s].fd = -1
        }
    }

    func service(_ context: InputContext) -> Bool {
        guard queueCount > 0 || needsRearm else { return false }
        var progressed = false
        let buffers = bufferRing!
        while queueCount > 0 {
            let entry = queue[queueHead]
            let s = Int(entry.socket)
            if frame(entry, socket: s, buffers: buffers, context) == false { break }
            buffers.recycle(Int(entry.buffer))
            sockets[s].queued -= 1
            queueHead = (queueHead + 1) % receiveBuffers
            queueCount -= 1
            progressed = true
        }
        context.dispatch(to: context.workerIndex)
        if needsRearm && queueCount < receiveBuffers {
            needsRearm = false
            for s in sockets.indices where sockets[s].fd >= 0 && !sockets[s].armed && !sockets[s].closing { arm(s, context) }
        }
        return progressed
    }

    var needsRearm = false

    /// Frames one received buffer: false when no event is free (it stays queued).
    func frame(_ entry: (socket: Int32, buffer: Int32, length: Int32), socket s: Int, buffers: BufferRing, _ context: InputContext) -> Bool {
        var payload: UnsafeMutableRawPointer?
        var length: UInt32 = 0
        var drops: Int64 = -1
        var truncated: Int32 = 0
        let p = sockets[s].pipeline
        guard sl_recvmsg_parse(buffers.buffer(Int(entry.buffer)), entry.length, header, &payload, &length, &drops, &truncated) == 0, let payload else {
            context.counters.add(.inputErrors, 1, pipeline: p)
            return true
        }
        if drops >= 0 { countDrops(s, seen: UInt32(truncatingIfNeeded: drops), context) }
        while true {
            let stop = context.frameDatagram(&sockets[s].framer, UnsafeRawBufferPointer(start: payload, count: Int(length)), at: sockets[s].received + 1)
            if stop == .batchFull {
                context.dispatch(to: context.workerIndex)
                continue
            }
            if stop == .poolExhausted {
                context.waitForFreeEvents()
                return false
            }
            break
        }
        sockets[s].received += 1
        if truncated != 0 {
            // Longer than a receive buffer (--recv-buffer-size): the rest is gone, counted as cut.
            context.counters.add(.cutRecords, 1, pipeline: p)
        }
        return true
    }

    /// Counts the drops of socket `s` the kernel reports beyond those already counted (both
    /// sources read the same per-socket count; it only grows, modulo 2^32).
    func countDrops(_ s: Int, seen: UInt32?, _ context: InputContext) {
        guard let seen else { return }
        let lost = seen &- sockets[s].dropsSeen
        guard lost > 0 && lost < 1 << 31 else { return }
        context.counters.add(.datagramsDropped, Int(lost), pipeline: sockets[s].pipeline)
        sockets[s].dropsSeen = seen
    }

    static let kind = SourceIDs.Kind.datagram
    /// A multishot recvmsg on socket `a`.
    enum Completion: UInt8 { case receive }

    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        let s = a
        if result > 0, let id = CompletionFlags.bufferID(flags) {
            queue[(queueHead + queueCount) % receiveBuffers] = (Int32(s), Int32(id), result)
            queueCount += 1
            sockets[s].queued += 1
            sockets[s].lastReceiveNanos = context.now
        }
        if CompletionFlags.hasMore(flags) { return }
        sockets[s].armed = false
        if result == -ENOBUFS || (result >= 0 && !sockets[s].closing) {
            // Every buffer waits to be framed: re-armed once some come back (datagrams wait in
            // the socket's queue meanwhile; what overflows it is counted by SO_RXQ_OVFL).
            needsRearm = true
            return
        }
        if result < 0 && result != -ECANCELED {
            context.counters.add(.inputErrors, 1, pipeline: sockets[s].pipeline)
            Log.warn("input udp", "\(SystemError(negated: result, operation: "recvmsg")); closing the socket")
        }
        sockets[s].closing = true
    }

    func arm(_ s: Int, _ context: InputContext) {
        context.ring.receiveMessagesMultishot(fd: sockets[s].fd, header: header, bufferGroup: DatagramFamily.bufferGroup, userData: DatagramFamily.userData(.receive, s))
        sockets[s].armed = true
    }

    /// Sockets keep reading until they fall quiet (`stopQuietNanos`): what senders sent just
    /// before the stop is not lost.
    func stop(pipeline: Int?, _ context: InputContext) {
        for s in sockets.indices where (pipeline.map { $0 == sockets[s].pipeline } ?? true) && sockets[s].fd >= 0 && !sockets[s].stopping {
            sockets[s].stopping = true
            sockets[s].lastReceiveNanos = max(sockets[s].lastReceiveNanos, context.now)
        }
    }

    func isQuiet(pipeline slot: Int) -> Bool { !sockets.contains { $0.pipeline == slot && $0.fd >= 0 } }
    func isFinished(stopping: Bool) -> Bool { !sockets.contains { $0.fd >= 0 } }

    /// A stopping socket is looked at every 25 ms.
    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 {
        sockets.contains { $0.fd >= 0 && $0.stopping } ? min(deadline, now + DatagramFamily.stopQuietNanos / 4) : deadline
    }

    func install(_ assignment: Assignment, _ context: InputContext) {
        guard !assignment.sockets.isEmpty else { return }
        if bufferRing == nil {
            do {
                bufferRing = try context.ring.makeBufferRing(count: receiveBuffers, size: receiveBufferBytes, group: DatagramFamily.bufferGroup)
            } catch {
                Log.error("worker \(worker)", "\(error): the new datagram sockets are not started")
                for s in assignment.sockets {
                    s.closeSocket()
                    context.counters.add(.inputErrors, 1, pipeline: s.pipeline)
                }
                return
            }
        }
        let first = sockets.count
        adopt(assignment.sockets)
        for s in first..<sockets.count { arm(s, context) }
    }

    func retire(pipeline slot: Int) {}

    /// A datagram has no offset to commit: its sender never waits for one.
    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {}

    func close() {
        for s in sockets where s.fd >= 0 { s.closeSocket() }
        bufferRing = nil
        sl_recvmsg_header_destroy(header)
        queue.deallocate()
        decodeScratch?.deallocate()
        decodeScratch = nil
    }
}

/// One datagram socket of one worker: one stream, its records numbered in arrival order.
struct DatagramSocket {
    var fd: Int32
    let pipeline: Int
    let inputRow: Int32
    let decoder: RecordDecoder.Kind
    var framer = LineFramer(sourceID: 0, pipelineID: 0, maxEventBytes: 0)
    /// A unix socket's file, removed when the socket closes.
    var unixPath: String? = nil
    var armed = false
    var stopping = false
    var closing = false
    /// Buffers of this socket waiting in the family's queue.
    var queued = 0
    /// Datagrams framed (the stream offset).
    var received: UInt64 = 0
    /// The socket's SO_RXQ_OVFL count last seen.
    var dropsSeen: UInt32 = 0
    var lastReceiveNanos: UInt64 = 0

    init(fd: Int32, pipeline: Int, inputRow: Int32, decoder: RecordDecoder.Kind) {
        self.fd = fd
        self.pipeline = pipeline
        self.inputRow = inputRow
        self.decoder = decoder
    }

    func closeSocket() {
        Glibc.close(fd)
        if let unixPath { unlink(unixPath) }
    }
}
