import CSupport
import Glibc

/// How a stream input's connections are limited, framed and decoded: what tells `tcp`,
/// `syslog` over TCP and `unix` (stream) apart.
struct StreamListening {
    /// Open connections allowed across the node (`max-connections`).
    var maxConnections: Int
    /// Close connections silent this long (0: never).
    var idleTimeoutMicros: Int
    /// Bytes per second a connection must average over each window (0: no minimum).
    var minBytesPerSecond = 0
    var minRateWindowMicros = 30_000_000
    var framing = LineFramer.Framing.newline
    var decoder = RecordDecoder.Kind.none
    /// The listener speaks TLS (`tls-cert=`…); nil: plain.
    var tls: TLSServerOptions? = nil
}

/// A listening socket of one worker (every worker listens on the same port with SO_REUSEPORT).
struct Listener {
    var fd: Int32
    let pipeline: Int
    let listening: StreamListening
    /// The input's max-connections, over all workers (counted in `openAcrossWorkers`).
    var maxConnections: Int { listening.maxConnections }
    /// The input's open connections over all workers (`NodeShared.openConnections`).
    var openAcrossWorkers: UnsafeMutablePointer<UInt64>? = nil
    let idleTimeoutNanos: UInt64
    /// Bytes a connection must receive per `minRateWindowNanos` (0: no minimum).
    var minBytesPerWindow: UInt64 = 0
    var minRateWindowNanos: UInt64 = 0
    /// The input's per-plugin counter row.
    var inputRow: Int32 = 0
    /// A unix socket's file, removed when the listener closes.
    var unixPath: String? = nil
    var open = 0
    var armed = false
    /// Its connections' TLS sessions are made from this (nil: plain).
    var tls: TLSServerContext? { listening.tls?.context }
    /// A connection still in its TLS handshake this long after it was accepted is closed.
    let tlsHandshakeTimeoutNanos: UInt64

    init(fd: Int32, _ listening: StreamListening, _ preparation: InputPreparation) {
        self.fd = fd
        pipeline = preparation.slot
        self.listening = listening
        idleTimeoutNanos = UInt64(listening.idleTimeoutMicros) * 1000
        openAcrossWorkers = preparation.openConnections + Int(preparation.inputRow)
        minRateWindowNanos = UInt64(listening.minRateWindowMicros) * 1000
        minBytesPerWindow = UInt64(listening.minBytesPerSecond) * UInt64(listening.minRateWindowMicros) / 1_000_000
        inputRow = preparation.inputRow
        tlsHandshakeTimeoutNanos = UInt64(listening.tls?.handshakeTimeoutMicros ?? 0) * 1000
    }

    /// Closes the socket outside the ring (setup failures, exit) and removes a unix socket's file.
    func closeSocket() {
        Glibc.close(fd)
        if let unixPath { unlink(unixPath) }
    }
}

/// One accepted connection: a stream whose received buffers wait in arrival order until framed.
struct Connection {
    var fd: Int32 = -1
    var active = false
    var listener = 0
    var pipeline = 0
    var receiveArmed = false
    var needsRearm = false
    /// The peer closed, or the connection failed: frame what is queued, then close.
    var ended = false
    var queued = false
    var queue = ReceiveQueue()
    var tls = TLSSession()
    /// Bytes framed so far (the stream offset).
    var received: UInt64 = 0
    /// The connection broke its framing: what still arrives is dropped until it closes.
    var discarding = false
    /// Bytes the kernel has handed over so far, framed or still queued (what `min-rate` measures).
    var arrived: UInt64 = 0
    var lastReceiveNanos: UInt64 = 0
    /// Start of the current min-rate window and the bytes arrived before it.
    var windowStartNanos: UInt64 = 0
    var windowStartBytes: UInt64 = 0
    var framer = LineFramer(sourceID: 0, pipelineID: 0, maxEventBytes: 0)
}

extension TCPFamily {
    func armAccept(_ l: Int, _ context: InputContext) {
        guard listeners[l].fd >= 0 else { return }
        context.ring.acceptMultishot(fd: listeners[l].fd, userData: TCPFamily.userData(.accept, l))
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
                Log.warn("input tcp", "\(SystemError(negated: result, operation: "accept"))")
            }
            return
        }
        adoptConnection(fd: result, listener: l, context)
    }

    /// Takes an accepted connection in, or closes it at once (counted as rejected) when the
    /// listener is at its `max-connections` share or every connection entry is in use. A
    /// connection accepted after the input began to stop is taken in too: its sender may already
    /// have written into it, and the node reads it until it falls quiet like any open one.
    func adoptConnection(fd: Int32, listener l: Int, _ context: InputContext) {
        let open = listeners[l].openAcrossWorkers.map { sl_fetch_add($0, 1) } ?? UInt64(listeners[l].open)
        guard open < UInt64(listeners[l].maxConnections), let c = (0..<connectionCapacity).first(where: { !connections[$0].active }) else {
            if let count = listeners[l].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }  // back to what it was
            context.counters.add(.connectionsRejected, 1, pipeline: listeners[l].pipeline)
            Glibc.close(fd)
            return
        }
        var tls = TLSSession()
        if let server = listeners[l].tls {
            guard let session = TLSSession(server, now: context.now) else {
                if let count = listeners[l].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }
                context.counters.add(.inputErrors, 1, pipeline: listeners[l].pipeline)
                Log.warn("input tcp", "no memory for a TLS session; closing the connection")
                Glibc.close(fd)
                return
            }
            tls = session
        }
        listeners[l].open += 1
        activeConnections += 1
        context.counters.add(.connectionsAccepted, 1, pipeline: listeners[l].pipeline)
        var connection = Connection()
        connection.fd = fd
        connection.active = true
        connection.listener = l
        connection.pipeline = listeners[l].pipeline
        connection.lastReceiveNanos = context.now
        connection.windowStartNanos = context.now
        connection.tls = tls
        connection.framer = LineFramer(sourceID: SourceIDs.make(worker: worker, kind: .tcp, generation: Int(nextSourceID & 0xFF), index: c),
                                       pipelineID: UInt16(listeners[l].pipeline), maxEventBytes: maxEventBytes)
        connection.framer.inputRow = listeners[l].inputRow
        connection.framer.framing = listeners[l].listening.framing
        if listeners[l].listening.decoder != .none {
            connection.framer.decoder = RecordDecoder(kind: listeners[l].listening.decoder, scratch: decodeScratch)
        }
        nextSourceID &+= 1
        connections[c] = connection
        armReceive(c, context)
    }

    /// Before a listener closes, takes in the connections the kernel has completed but nobody
    /// accepted yet: closing the socket would reset them, and their senders may already have
    /// written (a plain non-blocking accept loop, once, at stop; the multishot accept is
    /// cancelled first, and any connection it still reports is adopted in the same way).
    func acceptBacklog(_ l: Int, _ context: InputContext) {
        let fd = listeners[l].fd
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { return }
        while true {
            let accepted = Glibc.accept(fd, nil, nil)
            if accepted < 0 {
                if errno == EINTR { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK {
                    context.counters.add(.inputErrors, 1, pipeline: listeners[l].pipeline)
                    Log.warn("input tcp", "\(SystemError.lastErrno("accept at stop"))")
                }
                return
            }
            _ = fcntl(accepted, F_SETFD, FD_CLOEXEC)
            adoptConnection(fd: accepted, listener: l, context)
        }
    }

    func armReceive(_ c: Int, _ context: InputContext) {
        context.ring.receiveMultishot(fd: connections[c].fd, bufferGroup: received.group, userData: TCPFamily.userData(.receive, c))
        connections[c].receiveArmed = true
        connections[c].needsRearm = false
        connections[c].lastReceiveNanos = context.now
    }

    func receiveCompleted(connection c: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        let more = CompletionFlags.hasMore(flags)
        if result > 0, let id = CompletionFlags.bufferID(flags), connections[c].discarding {
            received.recycle(id)
        } else if result > 0, let id = CompletionFlags.bufferID(flags) {
            connections[c].lastReceiveNanos = context.now
            connections[c].arrived &+= UInt64(result)
            received.append(id, bytes: result, to: &connections[c].queue)
            markReady(c)
        }
        if more { return }
        connections[c].receiveArmed = false
        if result == -ENOBUFS && !connections[c].ended {
            // Every receive buffer waits to be framed (the pool is full): re-arm once some come back.
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
            Log.warn("input tcp", "\(SystemError(negated: result, operation: "recv")); closing the connection")
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

    /// Frames queued buffers of ready connections in arrival order; closes ended ones. A
    /// connection that finds no free event stays ready; the others are still served (see
    /// `runInputs`).
    func serviceConnections(_ context: InputContext) -> Bool {
        var progressed = false
        var i = 0
        while i < readyCount {
            let c = Int(readyConnections[i])
            let framedBefore = connections[c].received
            if drainConnection(c, context) {
                progressed = true
                connections[c].queued = false
                readyCount -= 1
                readyConnections[i] = readyConnections[readyCount]
            } else {
                // Still waiting for a free event: progress only if some bytes were framed.
                if connections[c].received != framedBefore { progressed = true }
                i += 1
            }
        }
        if received.recycled {
            received.recycled = false
            for c in 0..<connectionCapacity where connections[c].active && connections[c].needsRearm && !connections[c].ended { armReceive(c, context) }
        }
        return progressed
    }

    /// True when nothing of the connection waits any more: what was received is framed (over
    /// TLS: decrypted and framed), or it waits for more, or for its TLS output to be sent.
    func drainConnection(_ c: Int, _ context: InputContext) -> Bool {
        let p = connections[c].pipeline
        while let chunk = received.readable(&connections[c].queue, &connections[c].tls, context, pipeline: p) {
            let r = context.frame(&connections[c].framer, chunk, at: connections[c].received)
            received.consume(r.consumed, &connections[c].queue, &connections[c].tls)
            connections[c].received += UInt64(r.consumed)
            context.dispatch(to: context.workerIndex)
            if r.stop == .poolExhausted {
                context.waitForFreeEvents()
                return false
            }
            if r.stop == .malformed {
                discardConnection(c, context)
                break
            }
        }
        if connections[c].tls.isOn { settleTLS(c, context) }
        if connections[c].ended && !connections[c].receiveArmed && !connections[c].tls.isSending {
            context.deliverPartial(&connections[c].framer, offset: connections[c].received, to: context.workerIndex)
            closeConnection(c, context)
        }
        return true
    }

    /// After its session was read: a connection whose session failed (its alert still goes out)
    /// or was closed by the peer (close_notify) reads no more; ciphertext the session made is sent.
    func settleTLS(_ c: Int, _ context: InputContext) {
        switch connections[c].tls.phase {
        case .failed, .closed:
            connections[c].tls.queueCloseNotify()  // the peer's close_notify is answered
            if !connections[c].discarding {
                received.drop(&connections[c].queue)
                connections[c].discarding = true
                stopReceiving(c, context)
            }
        case .off, .handshaking, .established:
            break
        }
        _ = connections[c].tls.flush(context.ring, fd: connections[c].fd, userData: TCPFamily.userData(.tlsSend, c))
    }

    /// A send of TLS ciphertext completed: the rest goes next; the connection reads on (its
    /// session may have waited for room) or closes (it waited for its alert to go out).
    func tlsSendCompleted(connection c: Int, result: Int32, _ context: InputContext) {
        if !connections[c].tls.sent(result) {
            if result != -EPIPE && result != -ECONNRESET {
                context.counters.add(.inputErrors, 1, pipeline: connections[c].pipeline)
                Log.warn("input tcp", "\(SystemError(negated: result, operation: "send")) of TLS data; closing the connection")
            }
            stopReceiving(c, context)
        }
        markReady(c)
    }

    /// No more reading: the receive is cancelled, and the connection closes once what it
    /// received is framed.
    func stopReceiving(_ c: Int, _ context: InputContext) {
        connections[c].ended = true
        if connections[c].receiveArmed {
            context.ring.cancel(target: TCPFamily.userData(.receive, c), userData: SluiceCore.userData(.cancel, 0))
        }
    }

    /// Closes connections silent for longer than their listener's idle timeout (checked about
    /// once a second).
    func closeIdleConnections(_ context: InputContext) {
        let now = context.now
        // While the pool is full every connection is held back, neither idle nor slow: its
        // unread bytes would be lost if it were closed now, and its rate window restarts.
        // Not a TLS handshake past its time: it has framed nothing, so nothing is lost, and
        // handshakes that never finish must not hold their slots while the pool is full.
        let held = context.poolExhausted
        for c in 0..<connectionCapacity where connections[c].active && (held || !connections[c].ended) {
            let l = connections[c].listener
            // A TLS handshake that never completes holds a connection slot: closed after
            // tls-handshake-timeout, however slowly its sender keeps it busy.
            let handshakeLate = !connections[c].ended && connections[c].tls.handshakeExpired(now: now, timeoutNanos: listeners[l].tlsHandshakeTimeoutNanos)
            if held && !handshakeLate {
                restartRateWindow(c, now: now)
                continue
            }
            // A reload stops this pipeline, but the sender never pauses: close it after
            // --shutdown-timeout (what it sent after our last read is lost; it sees the reset).
            let p = connections[c].pipeline
            let forced = !context.stopping && context.pipelineStopping(p) && now &- context.stopNanos(pipeline: p) > shutdownTimeoutNanos
            // Held back by backpressure (no receive buffer left, so nothing is read from it):
            // neither idle nor slow; its rate window restarts. Bytes merely waiting to be framed
            // in this turn are not backpressure: they were received, and count as arrived. A
            // handshake stopped that way (other connections' partial handshakes hold the
            // buffers) is still late.
            if connections[c].needsRearm, !forced, !handshakeLate {
                restartRateWindow(c, now: now)
                continue
            }
            var limit = listeners[connections[c].listener].idleTimeoutNanos
            let closing = context.stopping || context.pipelineStopping(connections[c].pipeline)
            if closing { limit = limit == 0 ? TCPFamily.stopQuietNanos : min(limit, TCPFamily.stopQuietNanos) }
            var slow = false
            if !closing && listeners[l].minBytesPerWindow > 0 && now &- connections[c].windowStartNanos >= listeners[l].minRateWindowNanos {
                let got = connections[c].arrived &- connections[c].windowStartBytes
                slow = got < listeners[l].minBytesPerWindow
                restartRateWindow(c, now: now)
            }
            // Bytes still queued for framing: not idle, whatever the time since they came.
            let unread = !connections[c].queue.isEmpty || connections[c].tls.hasPlaintext
            let idle = !unread && limit > 0 && now &- connections[c].lastReceiveNanos > limit
            guard slow || forced || idle || handshakeLate else { continue }
            if forced {
                context.counters.add(.connectionsTimedOut, 1, pipeline: p)
                Log.warn("input tcp", "reload: a connection of pipeline \(context.pipelineName(p)) kept sending for \(shutdownTimeoutNanos / 1_000_000) ms (--shutdown-timeout); closing it so the reload can go on (the sender reconnects)")
            }
            if slow { context.counters.add(.connectionsTooSlow, 1, pipeline: connections[c].pipeline) }
            else if !closing { context.counters.add(.connectionsTimedOut, 1, pipeline: connections[c].pipeline) }
            connections[c].ended = true
            if connections[c].receiveArmed {
                context.ring.cancel(target: TCPFamily.userData(.receive, c), userData: SluiceCore.userData(.cancel, 0))
            } else {
                markReady(c)
            }
        }
    }

    /// The connection broke its framing (an octet count over max-event-size, or not a number):
    /// its records so far went on, what it still sends is dropped, and it is closed (counted
    /// in framing_errors). Other connections are not affected.
    func discardConnection(_ c: Int, _ context: InputContext) {
        context.counters.add(.framingErrors, 1, pipeline: connections[c].pipeline)
        Log.warn("input", "a connection broke its framing after \(connections[c].received) bytes (an octet count over --max-event-size \(maxEventBytes) or not a number); closing it")
        received.drop(&connections[c].queue)
        connections[c].tls.dropPlaintext()
        connections[c].discarding = true
        stopReceiving(c, context)
    }

    func restartRateWindow(_ c: Int, now: UInt64) {
        connections[c].windowStartNanos = now
        connections[c].windowStartBytes = connections[c].arrived
    }

    func closeConnection(_ c: Int, _ context: InputContext) {
        context.ring.close(fd: connections[c].fd, userData: SluiceCore.userData(.close, c))
        if let count = listeners[connections[c].listener].openAcrossWorkers { sl_fetch_add(count, UInt64.max) }
        listeners[connections[c].listener].open -= 1
        activeConnections -= 1
        connections[c].tls.free()
        connections[c] = Connection()
    }
}
