import CSupport
import Glibc

/// One accepted connection. Its life cycle: `head` (reading a request's line and headers) →
/// `body` (framing the body into events) → `answering` (waiting, with ack=output, for the
/// request's events to be acknowledged) → `sending` → `head` again (keep-alive), until it ends
/// (`ended`: the peer closed, a limit was hit, or the node stops) and is `closed` (no more
/// exchange; the socket closes once no receive or send is in flight). A closed
/// connection keeps its slot until its last events are acknowledged, so no later connection
/// is credited with them.
struct HTTPConnection {
    enum Phase: Equatable { case head, body, answering, sending, closed }
    enum BulkLine: Equatable { case action, docStart, docAfterBrace, docBody, skipDoc }

    var fd: Int32 = -1
    /// The slot is in use: open, or closed with events not yet acknowledged.
    var active = false
    var phase = Phase.closed
    var listener = 0
    var pipeline = 0
    /// The low byte of the source id's generation: acknowledgements of an earlier connection
    /// in the same slot are not counted for this one.
    var generation = 0
    var receiveArmed = false
    var cancelRequested = false
    var needsRearm = false
    /// No more reading: the peer closed, a receive failed, or the connection is being closed.
    var ended = false
    var closeAfterAnswer = false
    var queued = false
    var sendsInFlight = 0
    var queue = ReceiveQueue()
    var tls = TLSSession()
    var lastReceiveNanos: UInt64 = 0
    var requestStartNanos: UInt64 = 0

    // The request being read.
    var request = HTTPRequestHead()
    var headLength = 0
    var bodyLeft = 0
    var chunked = ChunkedDecoder()
    /// Body bytes after decompression (what `max-body` limits).
    var bodyBytes = 0
    var bulk = false
    /// The pool was full when the request came: its body is read and dropped, then answered 429.
    var discarding = false
    var bulkLine = BulkLine.action
    var actionLength = 0
    var indexPrefixLength = 0
    var pathIndexLength = 0
    var items = 0
    var itemErrors = false
    /// The last document's item in the answer (and its operation), repeated for the next
    /// document of the same operation on the same index; nil at the start of a request.
    var lastItem: Range<Int>? = nil
    var lastItemOperation = HTTPBulk.Operation.index
    /// Events of this connection not yet acknowledged, and of the current request.
    var outstanding = 0
    var requestEvents = 0
    /// Bytes framed so far on the connection (the events' offsets).
    var framed: UInt64 = 0
    var framer = LineFramer(sourceID: 0, pipelineID: 0, maxEventBytes: 0)

    /// Head bytes, then the path's index name, the `{"_index":"…"` prefix, and an action line.
    var scratch: UnsafeMutableRawPointer? = nil
    var response = HTTPResponse()
    var inflater: OpaquePointer? = nil
    var inflated: UnsafeMutableRawPointer? = nil
    var inflatedStart = 0
    var inflatedEnd = 0
    var inflaterMayHaveMore = false
    var inflateStreamEnded = false

    mutating func freeMemory() {
        tls.free()
        scratch?.deallocate()
        scratch = nil
        response.free()
        if let i = inflater { sl_inflater_destroy(i) }
        inflater = nil
        inflated?.deallocate()
        inflated = nil
    }

    /// Ready for the next request on the same connection.
    mutating func resetRequest() {
        request = HTTPRequestHead()
        headLength = 0
        bodyLeft = 0
        chunked = ChunkedDecoder()
        bodyBytes = 0
        bulk = false
        discarding = false
        bulkLine = .action
        actionLength = 0
        indexPrefixLength = 0
        pathIndexLength = 0
        items = 0
        itemErrors = false
        lastItem = nil
        requestEvents = 0
        response.reset()
        inflatedStart = 0
        inflatedEnd = 0
        inflaterMayHaveMore = false
        inflateStreamEnded = false
        if let i = inflater { sl_inflater_reset(i) }
        phase = .head
    }
}

/// Where the parts of a connection's scratch memory start.
enum HTTPScratch {
    /// Elasticsearch's limit on index names.
    static let maxIndexNameBytes = 255
    /// An action line of the bulk API (`{"index":{"_index":…,"_id":…}}`); longer ones are
    /// answered 400.
    static let maxActionLineBytes = 4096
    static let prefixCapacity = 16 + maxIndexNameBytes

    static func bytes(maxHeaderBytes: Int) -> Int { maxHeaderBytes + maxIndexNameBytes + prefixCapacity + maxActionLineBytes }
    static func pathIndex(_ maxHeaderBytes: Int) -> Int { maxHeaderBytes }
    static func prefix(_ maxHeaderBytes: Int) -> Int { maxHeaderBytes + maxIndexNameBytes }
    static func action(_ maxHeaderBytes: Int) -> Int { maxHeaderBytes + maxIndexNameBytes + prefixCapacity }
}

extension HTTPFamily {
    func armAccept(_ l: Int, _ context: InputContext) {
        guard listeners[l].fd >= 0 else { return }
        context.ring.acceptMultishot(fd: listeners[l].fd, userData: HTTPFamily.userData(.accept, l))
        listeners[l].armed = true
    }

    func acceptCompleted(listener l: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        if !CompletionFlags.hasMore(flags) {
            listeners[l].armed = false
            if !context.stopping && listeners[l].fd >= 0 { armAccept(l, context) }
        }
        guard result >= 0 else {
            if result != -ECANCELED {
                context.counters.add(.inputErrors, 1, pipeline: listeners[l].pipeline)
                Log.warn("input http", "\(SystemError(negated: result, operation: "accept"))")
            }
            return
        }
        if listeners[l].fd < 0 {
            Glibc.close(result)  // accepted as the listener closed: the sender retries its request
            return
        }
        adoptConnection(fd: result, listener: l, context)
    }

    /// Takes an accepted connection in, or closes it at once (counted as rejected) at
    /// `max-connections` or when every slot is in use.
    func adoptConnection(fd: Int32, listener l: Int, _ context: InputContext) {
        let open = listeners[l].openAcrossWorkers.map { sl_fetch_add($0, 1) } ?? UInt64(listeners[l].open)
        guard open < UInt64(listeners[l].maxConnections), let c = (0..<connectionCapacity).first(where: { !connections[$0].active }) else {
            if let count = listeners[l].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }
            context.counters.add(.connectionsRejected, 1, pipeline: listeners[l].pipeline)
            Glibc.close(fd)
            return
        }
        var tls = TLSSession()
        if let server = listeners[l].tls {
            guard let session = TLSSession(server, now: context.now) else {
                if let count = listeners[l].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }
                context.counters.add(.inputErrors, 1, pipeline: listeners[l].pipeline)
                Log.warn("input http", "no memory for a TLS session; closing the connection")
                Glibc.close(fd)
                return
            }
            tls = session
        }
        listeners[l].open += 1
        openConnections += 1
        usedSlots += 1
        context.counters.add(.connectionsAccepted, 1, pipeline: listeners[l].pipeline)
        let o = options[l]
        var connection = HTTPConnection()
        connection.fd = fd
        connection.active = true
        connection.phase = .head
        connection.listener = l
        connection.pipeline = listeners[l].pipeline
        connection.generation = nextGeneration & 0xFF
        nextGeneration &+= 1
        connection.lastReceiveNanos = context.now
        connection.tls = tls
        connection.scratch = .allocate(byteCount: HTTPScratch.bytes(maxHeaderBytes: o.maxHeaderBytes), alignment: 16)
        connection.framer = LineFramer(sourceID: SourceIDs.make(worker: worker, kind: .http, generation: connection.generation, index: c),
                                       pipelineID: UInt16(listeners[l].pipeline), maxEventBytes: maxEventBytes)
        connection.framer.inputRow = listeners[l].inputRow
        connections[c] = connection
        armReceive(c, context)
    }

    func armReceive(_ c: Int, _ context: InputContext) {
        context.ring.receiveMultishot(fd: connections[c].fd, bufferGroup: received.group, userData: HTTPFamily.userData(.receive, c))
        connections[c].receiveArmed = true
        connections[c].needsRearm = false
    }

    func receiveCompleted(connection c: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        let more = CompletionFlags.hasMore(flags)
        if result > 0, let id = CompletionFlags.bufferID(flags) {
            connections[c].lastReceiveNanos = context.now
            received.append(id, bytes: result, to: &connections[c].queue)
            markReady(c)
        }
        if more { return }
        connections[c].receiveArmed = false
        if result == -ENOBUFS && !connections[c].ended {
            // Every receive buffer waits to be read (the pool is full): re-arm once some come back.
            connections[c].needsRearm = true
            return
        }
        // Ended meanwhile (timed out, its receive cancelled): a receive that stopped for want
        // of buffers instead of the cancel is its last completion too, so the connection closes
        // now; it would otherwise keep its descriptor with nothing left to close it.
        if result > 0 && !connections[c].ended {
            armReceive(c, context)
            return
        }
        if result < 0 && result != -ECANCELED && result != -ECONNRESET && result != -ENOBUFS {
            context.counters.add(.inputErrors, 1, pipeline: connections[c].pipeline)
            Log.warn("input http", "\(SystemError(negated: result, operation: "recv")); closing the connection")
        }
        connections[c].ended = true
        markReady(c)
    }

    func markReady(_ c: Int) {
        if connections[c].queued { return }
        connections[c].queued = true
        readyConnections[readyCount] = Int32(c)
        readyCount += 1
    }

    /// Stops reading the connection; it closes once its answer (if any) is sent.
    func endReading(_ c: Int, _ context: InputContext) {
        connections[c].ended = true
        if connections[c].receiveArmed && !connections[c].cancelRequested {
            connections[c].cancelRequested = true
            context.ring.cancel(target: HTTPFamily.userData(.receive, c), userData: SluiceCore.userData(.cancel, 0))
        }
        markReady(c)
    }

    /// Sends what the answer still holds.
    func sendAnswer(_ c: Int, _ context: InputContext) {
        connections[c].phase = .sending
        if connections[c].tls.isOn { return sendTLSAnswer(c, context) }
        let pending = connections[c].response.pending
        connections[c].sendsInFlight += 1
        context.ring.send(fd: connections[c].fd, from: pending.baseAddress!, count: pending.count,
                          userData: HTTPFamily.userData(.send, c, connections[c].generation))
    }

    func sendCompleted(connection c: Int, result: Int32, continue: Bool, _ context: InputContext) {
        connections[c].sendsInFlight -= 1
        if `continue` {
            if result < 0 { endReading(c, context) }
            markReady(c)
            return
        }
        guard result >= 0 else {
            if result != -EPIPE && result != -ECONNRESET {
                context.counters.add(.inputErrors, 1, pipeline: connections[c].pipeline)
                Log.warn("input http", "\(SystemError(negated: result, operation: "send")); closing the connection")
            }
            connections[c].phase = .closed  // nothing more is sent: the connection closes
            endReading(c, context)
            return
        }
        connections[c].response.sent += Int(result)
        if !connections[c].response.isComplete {
            sendAnswer(c, context)
            return
        }
        answerSent(c, context)
    }

    /// The connection closes after this answer.
    func closesAfterAnswer(_ c: Int, _ context: InputContext) -> Bool {
        connections[c].closeAfterAnswer || context.stopping || context.pipelineStopping(connections[c].pipeline)
    }

    /// The whole answer went out: the connection closes, or reads its next request.
    func answerSent(_ c: Int, _ context: InputContext) {
        if closesAfterAnswer(c, context) {
            connections[c].phase = .closed
            endReading(c, context)
            return
        }
        connections[c].resetRequest()
        markReady(c)  // a pipelined request may already wait
    }

    /// Closes the socket once nothing is read or sent on it any more; the slot is freed once
    /// the connection's last events are acknowledged too.
    func closeIfDone(_ c: Int, _ context: InputContext) {
        guard connections[c].ended, !connections[c].receiveArmed, connections[c].sendsInFlight == 0, connections[c].phase != .sending else { return }
        if connections[c].fd >= 0 {
            context.ring.close(fd: connections[c].fd, userData: SluiceCore.userData(.close, c))
            connections[c].fd = -1
            let l = connections[c].listener
            if let count = listeners[l].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }
            listeners[l].open -= 1
            openConnections -= 1
            context.abandon(&connections[c].framer)
            received.drop(&connections[c].queue)
            connections[c].tls.free()
            connections[c].phase = .closed
        }
        if connections[c].outstanding == 0 {
            connections[c].freeMemory()
            connections[c] = HTTPConnection()
            usedSlots -= 1
        }
    }

    /// Closes connections idle between requests for `idle-timeout` (at once, once quiet, while
    /// stopping) and those whose request took longer than `request-timeout` to arrive (a sender
    /// trickling its headers or body: slowloris).
    func closeExpiredConnections(_ context: InputContext) {
        let now = context.now
        for c in 0..<connectionCapacity where connections[c].fd >= 0 && !connections[c].ended {
            let l = connections[c].listener
            let p = connections[c].pipeline
            let closing = context.stopping || context.pipelineStopping(p)
            if connections[c].tls.handshakeExpired(now: now, timeoutNanos: listeners[l].tlsHandshakeTimeoutNanos) {
                // A TLS handshake that never completes holds a connection slot: closed after
                // tls-handshake-timeout, however slowly its sender keeps it busy.
                context.counters.add(.connectionsTimedOut, 1, pipeline: p)
                connections[c].phase = .closed
                endReading(c, context)
                continue
            }
            switch connections[c].phase {
            case .head where connections[c].headLength == 0 && connections[c].queue.isEmpty && !connections[c].tls.hasPlaintext:
                var limit = listeners[l].idleTimeoutNanos
                if closing { limit = limit == 0 ? HTTPFamily.stopQuietNanos : min(limit, HTTPFamily.stopQuietNanos) }
                guard limit > 0, now &- connections[c].lastReceiveNanos > limit else { continue }
                if !closing { context.counters.add(.connectionsTimedOut, 1, pipeline: p) }
                endReading(c, context)
            case .head, .body:
                // Held back by a full pool: the time is ours, not the sender's.
                if context.poolExhausted || connections[c].needsRearm { continue }
                let forced = closing && now &- context.stopNanos(pipeline: p) > shutdownTimeoutNanos
                guard forced || now &- connections[c].requestStartNanos > options[l].requestTimeoutNanos else { continue }
                context.counters.add(.connectionsTimedOut, 1, pipeline: p)
                Log.warn("input http", "a request took longer than \(forced ? "--shutdown-timeout" : "request-timeout") to arrive; closing its connection")
                context.abandon(&connections[c].framer)
                endReading(c, context)
            case .answering, .sending, .closed:
                continue
            }
        }
    }
}
