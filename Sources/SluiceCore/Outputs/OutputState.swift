import CSupport
import Glibc

/// One worker's instance of a pipeline's output: two write buffers (one filling while the
/// other is written), the handles of the events each holds, and the write in flight. Events
/// are released (acked) only when their buffer's write, and fsync when asked, completed.
struct OutputState {
    enum Kind { case devnull, fd, tcp }
    let pipeline: Int
    /// This output's place among its pipeline's outputs, and its bit in `EventHeader.routes`.
    let index: Int
    let routeBit: UInt32
    /// The events it writes (this worker's copy); nil: all.
    var route: Condition?
    let hasRoute: Bool
    let kind: Kind
    var fd: Int32
    /// tcp: the receiver, the connection state and the reconnection schedule.
    let address: UnsafeMutablePointer<sockaddr_in>?
    var connected = false
    var connecting = false
    var reconnectAtNanos: UInt64 = 0
    var reconnectDelayNanos: UInt64 = 0
    let reconnectMaxNanos: UInt64
    var outageLogged = false
    /// tcp: the batch in flight was sent; it is acknowledged once the peer's TCP has it all.
    var awaitingPeerAck = false
    /// tcp: a buffer sent in full whose bytes the peer's TCP has not all acknowledged yet. The
    /// other buffer may be sent meanwhile: waiting for the acknowledgement before sending more
    /// made every batch wait for the peer's delayed ACK (up to 40 ms on Linux when a batch is
    /// one small segment). Its events are released once the peer has its bytes.
    var unacked = -1
    /// tcp, after a lost connection: the buffer to send again after `inflight` (both were out).
    var resendNext = -1
    static let peerAckPollNanos: UInt64 = 200_000
    let ownsFD: Bool
    let sync: Bool
    let bufferCapacity: Int
    let buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    var used = (0, 0)
    var handles: (EventBatch, EventBatch)
    var filling = 0
    /// Buffer being written, or -1.
    var inflight = -1
    var inflightWritten = 0
    var oldestNanos: UInt64 = 0
    var retryAtNanos: UInt64 = 0
    var retryDelayNanos: UInt64 = 0
    var errorLogged = false
    /// `format=json`: events that are not valid JSON are rejected.
    let requireJSON: Bool
    /// Where rejected events go, when configured.
    var deadLetter: UnsafeMutablePointer<DeadLetterQueue>?
    /// Per buffer: the dead-letter sequence number that must be durable before the buffer's
    /// batch is acknowledged (it holds events rejected up to there).
    var deadLetterNeeded: (UInt64, UInt64) = (0, 0)
    /// The buffer written (or acknowledged by the peer) whose acknowledgement waits for the
    /// dead-letter write, or -1.
    var deferredBuffer = -1
    var rejectionLogged = false
    /// A failed dead-letter write is tried again at this time (0: none waiting), backing off
    /// like the output's own writes.
    var deadLetterRetryAtNanos: UInt64 = 0
    var deadLetterRetryDelayNanos: UInt64 = 0

    static let initialRetryNanos: UInt64 = 10_000_000
    static let maxRetryNanos: UInt64 = 5_000_000_000

    /// The next wait of an exponential backoff: `initialRetryNanos` first, then doubled up to
    /// `limit` (failed writes, dead-letter writes, reconnects).
    @inline(__always) static func backoff(after delay: UInt64, limit: UInt64 = maxRetryNanos) -> UInt64 {
        delay == 0 ? initialRetryNanos : min(delay * 2, limit)
    }

    /// This pipeline's flush interval (its own `settings:` or the node's).
    let flushIntervalNanos: UInt64

    init(pipeline: Int, index: Int = 0, route: Condition? = nil, definition: OutputDefinition, fd: Int32, deadLetterFD: Int32 = -1,
         settings: NodeSettings, maxEventBytes: Int, tuning: PipelineTuning = PipelineTuning()) {
        self.pipeline = pipeline
        self.index = index
        routeBit = 1 << UInt32(index)
        self.route = route
        hasRoute = route != nil
        flushIntervalNanos = UInt64(tuning.flushIntervalMicros ?? settings.flushIntervalMicros) * 1000
        let batchSize = tuning.batchSize ?? settings.batchSize
        requireJSON = definition.delivery.requireJSON
        if deadLetterFD >= 0 {
            deadLetter = .allocate(capacity: 1)
            deadLetter!.initialize(to: DeadLetterQueue(fd: deadLetterFD, capacity: DeadLetterQueue.capacity(maxEventBytes: maxEventBytes)))
        }
        var address: UnsafeMutablePointer<sockaddr_in>? = nil
        var reconnectMax: UInt64 = 0
        switch definition {
        case .devnull: kind = .devnull; sync = false; ownsFD = false
        case .stdout: kind = .fd; sync = false; ownsFD = false
        case .file(let f): kind = .fd; sync = f.sync; ownsFD = true
        case .tcp(let t):
            kind = .tcp; sync = false; ownsFD = true
            address = .allocate(capacity: 1)
            address!.initialize(to: SocketAddress.ipv4(t.host, port: t.port)!)
            reconnectMax = UInt64(t.reconnectMaxMicros) * 1000
        }
        self.address = address
        reconnectMaxNanos = reconnectMax
        self.fd = fd
        // Room for at least two of the largest encodings, so any single event always fits.
        let worstEvent = maxEventBytes + 4 * settings.pool.maxFields + 8 + settings.pool.eventSizeBytes
        bufferCapacity = kind == .devnull ? 0 : max(tuning.outputBufferBytes ?? settings.outputBufferBytes, 2 * worstEvent)
        if kind == .devnull {
            let dummy = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            buffers = (dummy, dummy)
        } else {
            buffers = (.allocate(byteCount: bufferCapacity, alignment: 4096), .allocate(byteCount: bufferCapacity, alignment: 4096))
        }
        handles = (EventBatch(capacity: batchSize), EventBatch(capacity: batchSize))
    }

    /// Whether this output writes the event (its route matches, or it has none).
    @inline(__always) func routeMatches(_ event: Event) -> Bool {
        guard hasRoute else { return true }
        return route.unsafelyUnwrapped.matches(event)
    }

    var isIdle: Bool {
        inflight < 0 && unacked < 0 && resendNext < 0 && used.0 == 0 && used.1 == 0 && handles.0.count == 0 && handles.1.count == 0 && (deadLetter?.pointee.isIdle ?? true)
    }

    @inline(__always) func buffer(_ i: Int) -> UnsafeMutableRawPointer { i == 0 ? buffers.0 : buffers.1 }
    @inline(__always) func usedBytes(_ i: Int) -> Int { i == 0 ? used.0 : used.1 }
    @inline(__always) mutating func setUsed(_ i: Int, _ v: Int) { if i == 0 { used.0 = v } else { used.1 = v } }
    @inline(__always) func batch(_ i: Int) -> EventBatch { i == 0 ? handles.0 : handles.1 }
    @inline(__always) mutating func appendHandle(_ i: Int, _ h: EventHandle) { if i == 0 { handles.0.append(h) } else { handles.1.append(h) } }
    @inline(__always) mutating func clearHandles(_ i: Int) { if i == 0 { handles.0.count = 0 } else { handles.1.count = 0 } }

    /// Upper bound of any encoding of an event in this slot.
    @inline(__always) static func worstCase(_ event: Event) -> Int {
        Int(event.header.pointee.dataCapacity) + 4 * Int(event.header.pointee.fieldCapacity) + 4
    }

    @inline(__always) func canAccept(_ event: Event) -> Bool {
        if kind == .devnull { return true }
        if let d = deadLetter, !d.pointee.hasRoom(forEventBytes: Int(event.header.pointee.dataCapacity)) { return false }
        return fillingFree && !batch(filling).isFull && usedBytes(filling) + OutputState.worstCase(event) <= bufferCapacity
    }

    /// The filling buffer holds no batch that is still out (tcp: sent, or to be sent again).
    @inline(__always) var fillingFree: Bool { filling != unacked && filling != resendNext && filling != inflight }

    /// Encodes the event into the filling buffer (devnull: acks it at once).
    @inline(__always) mutating func append(_ event: Event, handle: EventHandle, worker: Worker) {
        if kind == .devnull {
            worker.counters.add(.eventsOut, 1, pipeline: pipeline)
            worker.counters.add(.bytesOut, Int(event.header.pointee.rawLength) + 1, pipeline: pipeline)
            // Issue 5 (metrics): devnull acks at once, at this turn's clock.
            worker.latency.record(worker.now &- min(event.header.pointee.receivedNanos, worker.now), pipeline: pipeline)
            worker.outputAcked(handle)
            return
        }
        if requireJSON, let reason = OutputState.jsonProblem(event) {
            reject(event, handle: handle, reason: reason, worker: worker)
            return
        }
        let f = filling
        let start = usedBytes(f)
        let n = EventEncoder.encodeLine(event, into: buffer(f) + start)
        if batch(f).count == 0 { oldestNanos = worker.now }
        setUsed(f, start + n)
        appendHandle(f, handle)
        if batch(f).isFull || usedBytes(f) + OutputState.worstCase(event) > bufferCapacity { _ = flush(worker: worker) }
    }

    /// Why the event is not valid JSON, or nil when it is (decoded events are known valid).
    static func jsonProblem(_ event: Event) -> String? {
        if event.has(EventFlags.decoded) { return nil }
        let outcome = JSONScanner.scan(event.raw, fields: event.fields, fieldCapacity: 0)
        if case .invalid(let offset, let reason) = outcome { return "not valid JSON: \(reason) at byte \(offset)" }
        return nil
    }

    /// A permanently rejected event: it goes to the dead-letter file (or is dropped, counted and
    /// logged without one) and waits in this batch, so it is acknowledged in stream order and
    /// only once its dead-letter line is written.
    mutating func reject(_ event: Event, handle: EventHandle, reason: String, worker: Worker) {
        worker.counters.add(.rejected, 1, pipeline: pipeline)
        if let d = deadLetter {
            let sequence = d.pointee.append(event: event, reason: reason, pipeline: worker.pipelineNames[pipeline])
            if filling == 0 { deadLetterNeeded.0 = sequence } else { deadLetterNeeded.1 = sequence }
            worker.counters.add(.deadLettered, 1, pipeline: pipeline)
        } else if !rejectionLogged {
            Log.warn("output \(worker.pipelineNames[pipeline])", "rejected an event (\(reason)); no dead-letter file is set, so rejected events are dropped and counted (rejected)")
            rejectionLogged = true
        }
        event.header.pointee.routes &= ~routeBit  // not delivered here (other outputs may write it)
        appendPlaceholder(handle, worker: worker)
    }

    func deadLetterNeeded(_ b: Int) -> UInt64 { b == 0 ? deadLetterNeeded.0 : deadLetterNeeded.1 }

    /// Starts the dead-letter write if lines wait and none is in flight.
    mutating func flushDeadLetter(worker: Worker) {
        guard let d = deadLetter, !d.pointee.writing, d.pointee.used > 0 else { return }
        d.pointee.startWrite()
        worker.ring.write(fd: d.pointee.fd, from: d.pointee.writeBuffer + d.pointee.written, count: d.pointee.writeBytes - d.pointee.written,
                          offset: UInt64.max, userData: userData(.deadLetterWrite, pipeline, index))
    }

    mutating func deadLetterWriteCompleted(result: Int32, worker: Worker) {
        guard let d = deadLetter else { return }
        if result < 0 {
            // Keep the write (nothing it holds is acknowledged), back off, and try again from
            // `tick`: retrying at once spun a worker at 100% CPU on a full disk.
            worker.counters.add(.outputErrors, 1, pipeline: pipeline)
            if deadLetterRetryDelayNanos == 0 {
                Log.error("output \(worker.pipelineNames[pipeline])", "dead-letter \(SystemError(negated: result, operation: "write")); retrying with backoff, events held")
            }
            deadLetterRetryDelayNanos = OutputState.backoff(after: deadLetterRetryDelayNanos)
            deadLetterRetryAtNanos = worker.now + deadLetterRetryDelayNanos
            return
        }
        deadLetterRetryDelayNanos = 0
        d.pointee.written += Int(result)
        resumeDeadLetter(worker: worker)
    }

    /// Writes the rest of the dead-letter buffer, or finishes it and acknowledges what waited.
    mutating func resumeDeadLetter(worker: Worker) {
        guard let d = deadLetter else { return }
        if d.pointee.written < d.pointee.writeBytes {
            worker.ring.write(fd: d.pointee.fd, from: d.pointee.writeBuffer + d.pointee.written, count: d.pointee.writeBytes - d.pointee.written,
                              offset: UInt64.max, userData: userData(.deadLetterWrite, pipeline, index))
            return
        }
        d.pointee.finishWrite()
        flushDeadLetter(worker: worker)
        if deferredBuffer >= 0 && d.pointee.durable >= deadLetterNeeded(deferredBuffer) {
            let b = deferredBuffer
            deferredBuffer = -1
            acknowledge(buffer: b, worker: worker)
            if kind == .tcp { checkPeerAck(worker: worker) }  // the next buffer may be acknowledged too
        }
    }

    /// An event this output does not write (dropped by an action, rejected, or routed
    /// elsewhere): no bytes, but it is acknowledged with the batch it sits in, so the stream's
    /// acknowledgements stay in order.
    @inline(__always) mutating func appendPlaceholder(_ handle: EventHandle, worker: Worker) {
        if kind == .devnull {
            worker.outputAcked(handle)
            return
        }
        let f = filling
        if batch(f).count == 0 { oldestNanos = worker.now }
        appendHandle(f, handle)
        if batch(f).isFull { _ = flush(worker: worker) }
    }

    @inline(__always) func hasPending(_ b: Int) -> Bool { batch(b).count > 0 }

    /// Starts writing the filling buffer unless a write is in flight; false when busy.
    mutating func flush(worker: Worker) -> Bool {
        if kind == .devnull { return true }
        flushDeadLetter(worker: worker)
        if inflight >= 0 { return false }
        if !fillingFree { return false }  // tcp: the other buffer is still unacknowledged
        if !hasPending(filling) { return true }
        inflight = filling
        inflightWritten = 0
        filling = 1 - filling
        if filling == 0 { deadLetterNeeded.0 = 0 } else { deadLetterNeeded.1 = 0 }
        flushDeadLetter(worker: worker)
        if usedBytes(inflight) == 0 {
            if unacked >= 0 {
                awaitingPeerAck = true  // only dropped events, behind an unacknowledged batch: acknowledged after it
                return true
            }
            acknowledge(buffer: inflight, worker: worker)  // only dropped events: nothing to write
            return true
        }
        if kind == .tcp && !connected { return true }  // sent once connected
        submitWrite(worker: worker)
        return true
    }

    func submitWrite(worker: Worker) {
        let b = inflight
        if kind == .tcp {
            worker.ring.send(fd: fd, from: buffer(b) + inflightWritten, count: usedBytes(b) - inflightWritten, userData: userData(.outputWrite, pipeline, index))
            return
        }
        worker.ring.write(fd: fd, from: buffer(b) + inflightWritten, count: usedBytes(b) - inflightWritten,
                          offset: UInt64.max, userData: userData(.outputWrite, pipeline, index))
    }

    /// Flushes on idle / interval / stop and retries a failed write when its backoff passed.
    mutating func tick(now: UInt64, idle: Bool, worker: Worker) -> Bool {
        if deadLetterRetryAtNanos != 0 && now >= deadLetterRetryAtNanos {
            deadLetterRetryAtNanos = 0
            resumeDeadLetter(worker: worker)
        }
        if kind == .devnull { return false }
        if deadLetter != nil && idle { flushDeadLetter(worker: worker) }
        if kind == .tcp && !connected && !connecting && now >= reconnectAtNanos { startConnect(worker: worker) }
        if awaitingPeerAck || unacked >= 0 { checkPeerAck(worker: worker) }
        if retryAtNanos != 0 {
            if now >= retryAtNanos {
                retryAtNanos = 0
                submitWrite(worker: worker)
            }
            return false
        }
        guard inflight < 0, hasPending(filling) else { return false }
        if idle || now &- oldestNanos >= flushIntervalNanos {
            return flush(worker: worker)
        }
        return false
    }

    func deadline(now: UInt64) -> UInt64? {
        if deadLetterRetryAtNanos != 0 { return min(deadLetterRetryAtNanos, ownDeadline(now: now) ?? .max) }
        return ownDeadline(now: now)
    }

    func ownDeadline(now: UInt64) -> UInt64? {
        if kind == .devnull { return nil }
        if kind == .tcp && !connected && !connecting { return reconnectAtNanos }
        if awaitingPeerAck || unacked >= 0 { return now + OutputState.peerAckPollNanos }
        if retryAtNanos != 0 { return retryAtNanos }
        if inflight < 0 && hasPending(filling) { return oldestNanos + flushIntervalNanos }
        return nil
    }

    mutating func writeCompleted(result: Int32, worker: Worker) {
        let b = inflight
        precondition(b >= 0, "write completion without a write in flight")
        if kind == .tcp && result <= 0 {
            connectionLost(result: result == 0 ? -EPIPE : result, worker: worker)
            return
        }
        if result < 0 {
            if result == -EPIPE && kind == .fd && !ownsFD {
                // stdout whose reader closed the pipe: it never comes back, so the node stops
                // (the control thread drains the other pipelines and exits 1).
                if !errorLogged {
                    Log.error("output \(worker.pipelineNames[pipeline])", "stdout: the reader closed the pipe (EPIPE); nothing more can be written there, so the node stops (what was not written stays unacknowledged)")
                    errorLogged = true
                }
                worker.publish(.stdoutClosed, true)
            }
            // The destination refused: keep the batch, back off, retry. Nothing is acked, so the
            // pool fills and the inputs pause until the output recovers.
            worker.counters.add(.outputErrors, 1, pipeline: pipeline)
            retryDelayNanos = OutputState.backoff(after: retryDelayNanos)
            retryAtNanos = worker.now + retryDelayNanos
            if !errorLogged {
                Log.error("output \(worker.pipelineNames[pipeline])", "\(SystemError(negated: result, operation: "write")); retrying with backoff, events held")
                errorLogged = true
            }
            return
        }
        retryDelayNanos = 0
        errorLogged = false
        inflightWritten += Int(result)
        if inflightWritten < usedBytes(b) {
            submitWrite(worker: worker)
            return
        }
        if sync {
            worker.ring.fsync(fd: fd, dataOnly: true, userData: userData(.outputSync, pipeline, index))
            return
        }
        if kind == .tcp {
            // The kernel took the bytes; they count only once the peer's TCP acknowledged them.
            if resendNext >= 0 {
                // Sent again after a lost connection: its successor goes next, in order.
                unacked = inflight
                inflight = resendNext
                resendNext = -1
                inflightWritten = 0
                if usedBytes(inflight) > 0 { submitWrite(worker: worker) } else { awaitingPeerAck = true }
            } else if unacked < 0 {
                unacked = inflight  // the other buffer may go out while the peer acknowledges this one
                inflight = -1
            } else {
                awaitingPeerAck = true  // both are out: this one is acknowledged after `unacked`
            }
            checkPeerAck(worker: worker)
            return
        }
        acknowledge(buffer: inflight, worker: worker)
    }

    mutating func syncCompleted(result: Int32, worker: Worker) {
        if result < 0 {
            worker.counters.add(.outputErrors, 1, pipeline: pipeline)
            Log.error("output \(worker.pipelineNames[pipeline])", "\(SystemError(negated: result, operation: "fsync")); retrying")
            worker.ring.fsync(fd: fd, dataOnly: true, userData: userData(.outputSync, pipeline, index))
            return
        }
        acknowledge(buffer: inflight, worker: worker)
    }

    /// The destination has buffer `b` (the one in flight, or tcp's `unacked`): count its batch
    /// and give its events back.
    mutating func acknowledge(buffer b: Int, worker: Worker) {
        if let d = deadLetter, d.pointee.durable < deadLetterNeeded(b) {
            deferredBuffer = b  // the dead-letter write completes it
            flushDeadLetter(worker: worker)
            return
        }
        let h = batch(b)
        var dropped = 0
        // Issue 5 (metrics): one clock read per batch, one receive → ack latency per delivered event.
        let ackNanos = monotonicNanos()
        for i in 0..<h.count {
            let handle = h[i]
            let event = worker.slabTable[EventHandles.slab(handle)].event(handle)
            if event.has(EventFlags.discarded) || event.header.pointee.routes & routeBit == 0 {
                dropped += 1
            } else {
                worker.latency.record(ackNanos &- min(event.header.pointee.receivedNanos, ackNanos), pipeline: pipeline)
            }
            worker.outputAcked(handle)
        }
        worker.counters.add(.eventsOut, h.count - dropped, pipeline: pipeline)
        worker.counters.add(.bytesOut, usedBytes(b), pipeline: pipeline)
        if usedBytes(b) > 0 { worker.counters.add(.outputBatches, 1, pipeline: pipeline) }
        clearHandles(b)
        setUsed(b, 0)
        if b == inflight { inflight = -1 }
        if b == unacked { unacked = -1 }
        // A full filling buffer waits for this moment.
        if batch(filling).isFull || usedBytes(filling) > bufferCapacity / 2 { _ = flush(worker: worker) }

    }

    /// Acknowledges the sent batch when the peer has it; resends it on a new connection when
    /// the connection closed meanwhile (a receiver that went away after reading only part).
    /// With two buffers out, the earlier (`unacked`) is acknowledged once no more than the later
    /// one's bytes are still unacknowledged in the socket.
    mutating func checkPeerAck(worker: Worker) {
        guard (awaitingPeerAck || unacked >= 0), deferredBuffer < 0, connected else { return }
        let outstanding = sl_tcp_unacknowledged(fd)
        guard outstanding >= 0 else {
            // With the later buffer's send in flight, its completion reports the loss (closing
            // the socket under it now would let that completion land on the wrong buffer).
            if inflight >= 0 && !awaitingPeerAck { return }
            connectionLost(result: -ECONNRESET, worker: worker)
            return
        }
        if unacked >= 0 {
            // Bytes of the later buffer the kernel has taken (a send still in flight may have
            // queued more: then this waits longer, never shorter).
            let later = inflight >= 0 ? inflightWritten : 0
            guard Int(outstanding) <= later else { return }  // polled again from tick
            acknowledge(buffer: unacked, worker: worker)
            if unacked >= 0 { return }  // deferred for the dead-letter write
        }
        if awaitingPeerAck && outstanding == 0 {
            awaitingPeerAck = false
            acknowledge(buffer: inflight, worker: worker)
        }
    }

    /// Opens the socket and starts a connect through the ring.
    mutating func startConnect(worker: Worker) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else {
            scheduleReconnect(worker: worker, reason: SystemError.lastErrno("socket").description)
            return
        }
        var one: Int32 = 1
        setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        fd = s
        connecting = true
        worker.ring.connect(fd: s, address: UnsafeRawPointer(address!), length: MemoryLayout<sockaddr_in>.size, userData: userData(.outputConnect, pipeline, index))
    }

    mutating func connectCompleted(result: Int32, worker: Worker) {
        connecting = false
        guard result == 0 else {
            close(fd)
            fd = -1
            scheduleReconnect(worker: worker, reason: SystemError(negated: result, operation: "connect").description)
            return
        }
        connected = true
        reconnectDelayNanos = 0
        if outageLogged {
            Log.info("output \(worker.pipelineNames[pipeline])", "connected again")
            outageLogged = false
        }
        if inflight >= 0 {
            inflightWritten = 0
            submitWrite(worker: worker)
        } else if hasPending(filling) {
            _ = flush(worker: worker)
        }
    }

    /// The batch in flight stays and is sent again, whole, on the next connection.
    mutating func connectionLost(result: Int32, worker: Worker) {
        worker.counters.add(.outputErrors, 1, pipeline: pipeline)
        worker.ring.close(fd: fd, userData: userData(.close, 0))
        fd = -1
        connected = false
        inflightWritten = 0
        awaitingPeerAck = false
        if unacked >= 0 {
            // Both buffers go again on the next connection, the earlier first.
            resendNext = inflight
            inflight = unacked
            unacked = -1
        }
        scheduleReconnect(worker: worker, reason: SystemError(negated: result, operation: "send").description)
    }

    /// Exponential backoff from 10 ms to reconnect-max, with ±25% jitter so a fleet does not
    /// reconnect in lockstep.
    mutating func scheduleReconnect(worker: Worker, reason: String) {
        reconnectDelayNanos = OutputState.backoff(after: reconnectDelayNanos, limit: reconnectMaxNanos)
        let jitter = UInt64.random(in: 0...(reconnectDelayNanos / 2))
        reconnectAtNanos = worker.now + reconnectDelayNanos - reconnectDelayNanos / 4 + jitter
        if !outageLogged {
            Log.error("output \(worker.pipelineNames[pipeline])", "\(reason); reconnecting with backoff, events held")
            outageLogged = true
        }
    }

    func closeFile() {
        if ownsFD && fd >= 0 { Glibc.close(fd) }
    }

    /// Closes and frees everything of an idle output a reload replaces.
    mutating func dispose() {
        route?.disposeScratch()
        route = nil
        closeFile()
        fd = -1
        if let d = deadLetter {
            d.pointee.dispose()
            d.deinitialize(count: 1)
            d.deallocate()
            deadLetter = nil
        }
        buffers.0.deallocate()
        if kind != .devnull { buffers.1.deallocate() }
        handles.0.deallocate()
        handles.1.deallocate()
        address?.deallocate()
    }
}

extension Worker {
    func outputWriteCompleted(pipeline: Int, output: Int, result: Int32) { outputs[pipeline][output].writeCompleted(result: result, worker: self) }
    func outputSyncCompleted(pipeline: Int, output: Int, result: Int32) { outputs[pipeline][output].syncCompleted(result: result, worker: self) }
}
