import Glibc

/// One worker's instance of a pipeline's output: the mechanics every output shares — two write
/// buffers (one filling while the other is out), the handles of the events each holds, flushes
/// by count, bytes or interval, acknowledgements in order, retries with backoff, dead letters
/// and `format=json` rejection — around a sink that only writes and says when bytes are safe.
/// Events are acknowledged only when their buffer is safe at the destination.
struct OutputBatcher {
    let pipeline: Int
    /// This output's place among its pipeline's outputs, and its bit in `EventHeader.routes`.
    let index: Int
    let routeBit: UInt32
    /// The events it writes (this worker's copy); nil: all.
    var route: Condition?
    let hasRoute: Bool
    var sink: OutputSink
    /// A sink that answers with two connections (`connections=2`: postgres, clickhouse): the
    /// second one. Buffer b always goes out on lane b, so one batch is sent while the other
    /// waits for its answer (a COMMIT, an insert); the answers are taken in order
    /// (`answeredAwaitingEarlier`). nil with one lane.
    var secondLane: OutputSink?
    /// 1 or 2 (a disk buffer's stages take 1).
    let lanes: Int
    /// How each event becomes the bytes of the buffer (its line, or a protocol's record).
    var encoder: OutputEncoder
    /// devnull: events are acknowledged as they come; nothing is buffered.
    let acknowledgesAtOnce: Bool
    /// nats: events are encoded as message records and buffers handed to the sink's thread
    /// (`OutputBatcher+HandOff.swift`).
    let handsOff: Bool
    /// Bytes a sink's record adds to an event's line, at most (nats' subject and id).
    let recordOverheadBytes: Int
    /// This pipeline's flush interval (its own `settings:` or the node's).
    let flushIntervalNanos: UInt64
    let bufferCapacity: Int
    let buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    var used = (0, 0)
    var handles: (EventBatch, EventBatch)
    /// Per buffer, per event in its batch: where its line ends in the buffer (a placeholder's
    /// is its predecessor's), so a sink that answers can send part of a batch.
    let lineEnds: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>)
    /// Per buffer, the part of it out, for a sink that answers (`OutputBatcher+Requests.swift`).
    let requests: UnsafeMutablePointer<RequestRanges>
    var states: (OutputBufferState, OutputBufferState) = (.open, .open)
    /// The buffer taking events. When both buffers are out, it is the one that went out first.
    var filling = 0
    /// When the filling buffer's first event came.
    var oldestNanos: UInt64 = 0
    /// The schedule of a failed write (the buffer in `retrying`).
    var writeRetry = Backoff()
    var errorLogged = false
    /// `format=json`: events that are not valid JSON are rejected.
    let requireJSON: Bool
    /// Where rejected events go, when configured.
    var deadLetter: UnsafeMutablePointer<DeadLetterQueue>?
    /// Per buffer: the dead-letter sequence number that must be durable before the buffer's
    /// batch is acknowledged (it holds events rejected up to there).
    var deadLetterNeeded: (UInt64, UInt64) = (0, 0)
    /// A failed dead-letter write is tried again, backing off like the output's own writes.
    var deadLetterRetry = Backoff()
    var rejectionLogged = false
    /// buffer=disk, stage 1: events are written as records into this buffer (`sink` is its
    /// `.disk`), and a batch is acknowledged to the inputs once it is there.
    let diskBuffer: UnsafeMutablePointer<DiskBuffer>?
    /// buffer=disk, stage 2 (the drain): events read from this buffer; acknowledged to it.
    let drainedBuffer: UnsafeMutablePointer<DiskBuffer>?
    /// Bytes in front of each event's line in a buffer: a record header with a disk buffer.
    let recordHeaderBytes: Int
    /// Per buffer, the events whose slots went back before the destination answered
    /// (`OutputBatcher+Detached.swift`); nil when this output keeps every slot.
    let detachedLedgers: UnsafeMutablePointer<DetachedLedger>?
    /// With detached events: the most events of one buffer that keep their slots (half the
    /// worker's share of the pool, so the other buffer can fill while it is out).
    let heldSlotLimit: Int
    /// With detached events: a buffer goes out once it holds this many bytes
    /// (`--output-buffer-size`). The pool no longer bounds a batch, and a buffer's capacity
    /// is at least two of the largest encodings (megabytes for a row of a 1 MiB event), so
    /// without this a batch of ordinary rows would grow to that.
    let detachedBatchBytes: Int

    /// `disk`: what the start found in this worker's buffer directory and where its stats go
    /// (buffer=disk); the batcher is then stage 1 and makes its drain. `drainOf`: this batcher
    /// is the drain of that buffer.
    init(pipeline: Int, index: Int = 0, route: Condition? = nil, definition: OutputDefinition, fd: Int32, deadLetterFD: Int32 = -1,
         settings: NodeSettings, maxEventBytes: Int, tuning: PipelineTuning = PipelineTuning(),
         disk: (recovery: BufferRecovery, stats: BufferStats)? = nil, drainOf: UnsafeMutablePointer<DiskBuffer>? = nil,
         slotShare: Int = PoolConfiguration.defaultCapacity) {
        self.pipeline = pipeline
        self.index = index
        routeBit = 1 << UInt32(index)
        self.route = route
        hasRoute = route != nil
        flushIntervalNanos = UInt64(tuning.flushIntervalMicros ?? settings.flushIntervalMicros) * 1000
        let batchSize = tuning.batchSize ?? (settings.batchSizeIsDefault ? definition.preferredBatchSize : nil) ?? settings.batchSize
        // A drain's events passed the stage-1 check already.
        requireJSON = definition.delivery.requireJSON && drainOf == nil
        drainedBuffer = drainOf
        if deadLetterFD >= 0 {
            deadLetter = .allocate(capacity: 1)
            deadLetter!.initialize(to: DeadLetterQueue(fd: deadLetterFD, capacity: DeadLetterQueue.capacity(maxEventBytes: maxEventBytes)))
        }
        // Room for at least two of the largest encodings, so any single event always fits.
        recordOverheadBytes = definition.recordOverheadBytes
        encoder = definition.encoder()
        let worstEvent = encoder.bound(lineBytes: OutputBatcher.longestLineBytes(settings: settings, maxEventBytes: maxEventBytes)) + recordOverheadBytes
        if case .devnull = definition, disk == nil {
            bufferCapacity = 0
            let dummy = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 64)
            buffers = (dummy, dummy)
        } else {
            bufferCapacity = max(OutputBatcher.bufferBytes(definition, settings: settings, tuning: tuning), 2 * worstEvent)
            buffers = (.allocate(byteCount: bufferCapacity, alignment: 4096), .allocate(byteCount: bufferCapacity, alignment: 4096))
        }
        handles = (EventBatch(capacity: batchSize), EventBatch(capacity: batchSize))
        lineEnds = (.allocate(capacity: batchSize), .allocate(capacity: batchSize))
        requests = .allocate(capacity: 2)
        requests.initialize(to: RequestRanges(batchSize: batchSize))
        (requests + 1).initialize(to: RequestRanges(batchSize: batchSize))
        if let disk {
            let buffer = UnsafeMutablePointer<DiskBuffer>.allocate(capacity: 1)
            let drain = UnsafeMutablePointer<OutputBatcher>.allocate(capacity: 1)
            drain.initialize(to: OutputBatcher(pipeline: pipeline, index: index, definition: definition, fd: fd,
                                               deadLetterFD: deadLetterFD >= 0 ? dup(deadLetterFD) : -1, settings: settings,
                                               maxEventBytes: maxEventBytes, tuning: tuning, drainOf: buffer))
            buffer.initialize(to: DiskBuffer(pipeline: pipeline, output: index, options: definition.buffer, recovery: disk.recovery,
                                             maxPayloadBytes: worstEvent, stats: disk.stats,
                                             liveEvents: settings.pool.capacity + settings.pool.mediumSlots + settings.pool.largeSlots, drain: drain))
            diskBuffer = buffer
            recordHeaderBytes = BufferRecord.headerBytes
            sink = .disk(DiskSink(buffer: buffer))
            lanes = 1
        } else {
            diskBuffer = nil
            recordHeaderBytes = 0
            sink = definition.sink(fd: fd, bufferBytes: bufferCapacity, batchSize: batchSize)
            // A drain acknowledges to its disk buffer in record order, one batch at a time.
            lanes = sink.answers && drainOf == nil ? definition.lanes : 1
            if lanes == 2 { secondLane = definition.sink(fd: fd, bufferBytes: bufferCapacity, batchSize: batchSize) }
        }
        acknowledgesAtOnce = sink.acknowledgesAtOnce
        handsOff = sink.handsOff
        if disk == nil && drainOf == nil && sink.answers && definition.detachesEvents {
            let ledgers = UnsafeMutablePointer<DetachedLedger>.allocate(capacity: 2)
            // Raw bytes are kept only for the dead-letter file, as many as a batch's encoded
            // bytes (an event whose bytes do not fit keeps its slot).
            let rawBytes = deadLetterFD >= 0 ? OutputBatcher.bufferBytes(definition, settings: settings, tuning: tuning) : 0
            ledgers.initialize(to: DetachedLedger(capacity: batchSize, rawCapacity: rawBytes))
            (ledgers + 1).initialize(to: DetachedLedger(capacity: batchSize, rawCapacity: rawBytes))
            detachedLedgers = ledgers
            heldSlotLimit = max(1, slotShare / 2)
            detachedBatchBytes = OutputBatcher.bufferBytes(definition, settings: settings, tuning: tuning)
        } else {
            detachedLedgers = nil
            heldSlotLimit = .max
            detachedBatchBytes = .max
        }
    }

    /// The output buffer size set for the pipeline, else for the node, else the output's own
    /// preference, else the node's default.
    static func bufferBytes(_ definition: OutputDefinition, settings: NodeSettings, tuning: PipelineTuning) -> Int {
        tuning.outputBufferBytes ?? (settings.outputBufferBytesIsDefault ? definition.preferredOutputBufferBytes : nil) ?? settings.outputBufferBytes
    }

    /// The longest line an output may have to write for one event (a record of a disk buffer
    /// is at most this long after its header).
    static func longestLineBytes(settings: NodeSettings, maxEventBytes: Int) -> Int {
        maxEventBytes + 4 * settings.pool.maxFields + 8 + settings.pool.eventSizeBytes
    }

    var isIdle: Bool {
        states.0.isOpen && states.1.isOpen && used.0 == 0 && used.1 == 0 && handles.0.count == 0 && handles.1.count == 0
            && (deadLetter?.pointee.isIdle ?? true) && (diskBuffer?.pointee.isQuiet ?? true)
    }

    /// Every event given to this output so far was acknowledged: a batch keeps its handles
    /// until then, whatever its state. (A disk buffer with buffer-sync=batch holds events past
    /// their batch: such an output answers no.)
    @inline(__always) var holdsNoEvents: Bool { handles.0.count == 0 && handles.1.count == 0 && diskBuffer == nil }

    @inline(__always) func buffer(_ i: Int) -> UnsafeMutableRawPointer { i == 0 ? buffers.0 : buffers.1 }
    @inline(__always) func usedBytes(_ i: Int) -> Int { i == 0 ? used.0 : used.1 }
    @inline(__always) mutating func setUsed(_ i: Int, _ v: Int) { if i == 0 { used.0 = v } else { used.1 = v } }
    @inline(__always) func batch(_ i: Int) -> EventBatch { i == 0 ? handles.0 : handles.1 }
    /// Adds the handle and where its line ends (`used` of the buffer after it).
    @inline(__always) mutating func appendHandle(_ i: Int, _ h: EventHandle) {
        if i == 0 {
            lineEnds.0[handles.0.count] = Int32(truncatingIfNeeded: used.0)
            handles.0.append(h)
        } else {
            lineEnds.1[handles.1.count] = Int32(truncatingIfNeeded: used.1)
            handles.1.append(h)
        }
    }
    @inline(__always) mutating func clearHandles(_ i: Int) {
        if i == 0 { handles.0.count = 0 } else { handles.1.count = 0 }
        detachedLedgers?[i].reset()
    }
    @inline(__always) func state(_ i: Int) -> OutputBufferState { i == 0 ? states.0 : states.1 }
    @inline(__always) func hasPending(_ b: Int) -> Bool { batch(b).count > 0 }
    /// Buffer `b` takes no more events: its batch is full, or (detached events) as many of them
    /// keep their slots as one buffer may hold.
    @inline(__always) func isBatchFull(_ b: Int) -> Bool {
        if batch(b).isFull { return true }
        guard let l = detachedLedgers else { return false }
        return batch(b).count - l[b].count >= heldSlotLimit
    }

    /// The one place a buffer's state changes; a transition the design does not make stops
    /// the node (a lifecycle bug loses or duplicates acknowledgements otherwise).
    mutating func move(_ b: Int, to new: OutputBufferState) {
        let old = state(b)
        precondition(OutputBufferState.allows(old, new), "output buffer \(b): \(old) → \(new) is not a transition")
        if b == 0 { states.0 = new } else { states.1 = new }
    }

    /// The buffer that went out first (when only one is out: that one; none: an open one).
    var olderOut: Int { state(filling).isOpen ? 1 - filling : filling }

    /// Upper bound of the event's line (`EventEncoder`), from what the event holds, not from
    /// its slot's size: an unchanged record is its bytes and a newline; a changed one is each
    /// field's key and value with their quotes, colon and comma, the braces and a newline.
    /// Judging room by the slot's capacity instead made every event in a large slot (a line
    /// over the pool's event size) count as a whole max-event-size, so buffers of realistic
    /// logs went out after a few events.
    @inline(__always) static func worstCase(_ event: Event) -> Int {
        let h = event.header
        if !h.pointee.flags.contains(.modified) { return Int(h.pointee.rawLength) + 1 }
        let fields = event.fields
        var n = 3
        var i = 0
        let count = event.fieldCount
        while i < count {
            n += Int(fields[i].keyLength) + Int(fields[i].valueLength) + 4
            i += 1
        }
        return n
    }

    /// Upper bound of this output's encoding of an event in this slot.
    @inline(__always) func encodedBound(_ event: Event) -> Int { encoder.bound(event) }

    /// Upper bound of what this output writes for an event in this slot: its record with a disk
    /// buffer (the event's line and a record header), else its encoding (and a message record's
    /// overhead, nats).
    @inline(__always) func worstCase(_ event: Event) -> Int {
        diskBuffer != nil ? OutputBatcher.worstCase(event) + recordHeaderBytes : encodedBound(event) + recordOverheadBytes
    }

    @inline(__always) func canAccept(_ event: Event) -> Bool {
        if acknowledgesAtOnce { return true }
        if let d = deadLetter, !d.pointee.hasRoom(forEventBytes: Int(event.header.pointee.dataCapacity)) { return false }
        return state(filling).isOpen && !isBatchFull(filling) && usedBytes(filling) + worstCase(event) <= bufferCapacity
    }

    /// Encodes the event into the filling buffer (devnull: acknowledges it at once).
    @inline(__always) mutating func append(_ event: Event, handle: EventHandle, context: OutputContext) {
        if acknowledgesAtOnce {
            context.count(.eventsOut, 1)
            context.count(.bytesOut, Int(event.header.pointee.rawLength) + 1)
            // Metrics: devnull acks at once, at this turn's clock.
            context.recordLatency(of: event, ackNanos: context.now)
            if let d = drainedBuffer {
                deliveredAtOnce(event, handle: handle, buffer: d, context: context)
                return
            }
            context.acknowledge(handle)
            return
        }
        if requireJSON, let reason = OutputBatcher.jsonProblem(event) {
            reject(event, handle: handle, reason: reason, context: context)
            return
        }
        let f = filling
        let start = usedBytes(f)
        let n: Int
        if let d = diskBuffer {
            n = BufferRecord.encode(event, sequence: d.pointee.nextSequence, wallNanos: event.header.pointee.receivedNanos &+ d.pointee.wallOffsetNanos,
                                    into: buffer(f) + start)
            d.pointee.nextSequence &+= 1
        } else if handsOff {
            guard let length = sink.encodeMessage(event, into: buffer(f) + start, context: context) else {
                reject(event, handle: handle, reason: "larger than the server's max_payload", context: context)
                return
            }
            n = length
        } else {
            switch encoder.encode(event, into: buffer(f) + start) {
            case .wrote(let count): n = count
            case .refused(let reason):
                reject(event, handle: handle, reason: reason.description, context: context)
                return
            }
        }
        if batch(f).count == 0 { oldestNanos = context.now }
        setUsed(f, start + n)
        hold(f, event, handle: handle, context: context)
        // Out now when the next event, were it like this one, would not fit.
        if isBatchFull(f) || usedBytes(f) + n > bufferCapacity || usedBytes(f) >= detachedBatchBytes { _ = flush(context: context) }
    }

    /// Whether this output writes the event (its route matches, or it has none).
    @inline(__always) func routeMatches(_ event: Event) -> Bool {
        guard hasRoute else { return true }
        return route.unsafelyUnwrapped.matches(event)
    }

    /// An event this output does not write (dropped by an action, rejected, or routed
    /// elsewhere): no bytes, but it is acknowledged with the batch it sits in, so the stream's
    /// acknowledgements stay in order.
    @inline(__always) mutating func appendPlaceholder(_ handle: EventHandle, context: OutputContext) {
        if acknowledgesAtOnce {
            context.acknowledge(handle)
            return
        }
        let f = filling
        if batch(f).count == 0 { oldestNanos = context.now }
        if detachedLedgers != nil {
            hold(f, context.event(handle), handle: handle, context: context)
        } else {
            appendHandle(f, handle)
        }
        if isBatchFull(f) { _ = flush(context: context) }
    }

    /// Whether the filling buffer may go out now: it is open, and the other is not out, or (tcp)
    /// only waits for the peer's acknowledgement or its dead letters. Waiting for the peer
    /// before sending more made every batch wait for the peer's delayed ACK (up to 40 ms on
    /// Linux when a batch is one small segment).
    var fillingMayGoOut: Bool {
        guard state(filling).isOpen else { return false }
        if let d = diskBuffer, d.pointee.options.full == .block, !d.pointee.hasRoom(forBytes: usedBytes(filling)) { return false }
        switch state(1 - filling) {
        case .open: return true
        case .writing, .awaitingResponse, .answeredAwaitingEarlier: return lanes == 2
        case .sentAwaitingPeer, .awaitingDeadLetter: return sink.waitsForPeer
        case .handedOff: return handsOff
        default: return false
        }
    }

    /// Starts writing the filling buffer unless it cannot go out now; false when busy.
    mutating func flush(context: OutputContext) -> Bool {
        if acknowledgesAtOnce { return true }
        flushDeadLetter(context: context)
        if !fillingMayGoOut {
            if let d = diskBuffer, state(filling).isOpen, hasPending(filling), !d.pointee.hasRoom(forBytes: usedBytes(filling)) {
                d.pointee.noteFull(blocking: true, logName: context.logName, now: context.now)
            }
            return false
        }
        if !hasPending(filling) { return true }
        let b = filling
        filling = 1 - filling
        if filling == 0 { deadLetterNeeded.0 = 0 } else { deadLetterNeeded.1 = 0 }
        flushDeadLetter(context: context)
        if handsOff {
            handOff(b, context: context)
            return true
        }
        if let d = diskBuffer, !bufferGoesToDisk(b, d, context: context) { return true }
        if usedBytes(b) == 0 {
            // Only placeholders: nothing to write. Behind a batch still out, acknowledged after it.
            if !state(filling).isOpen {
                move(b, to: sink.answers ? .answeredAwaitingEarlier : .sentAwaitingPeer)
                return true
            }
            acknowledge(buffer: b, context: context)
            return true
        }
        if sink.answers {
            startRequests(b, context: context)
            return true
        }
        if !sink.isReady {
            move(b, to: .awaitingConnection)  // sent once connected
            return true
        }
        move(b, to: .writing(written: 0))
        submit(b, from: 0, context: context)
        return true
    }

    /// Writes buffer `b` from byte `offset` on (a datagram sink: one datagram per event from there).
    mutating func submit(_ b: Int, from offset: Int, context: OutputContext) {
        if sink.sendsDatagrams {
            sink.writeDatagrams(buffer: buffer(b), ends: b == 0 ? lineEnds.0 : lineEnds.1, count: batch(b).count, fromByte: offset,
                                context: context)
        } else {
            sink.write(from: buffer(b) + offset, count: usedBytes(b) - offset, context: context)
        }
    }

    /// Flushes on idle / interval / stop and retries a failed write when its backoff passed;
    /// with a disk buffer, then drains it. True when something moved.
    mutating func tick(idle: Bool, context: OutputContext) -> Bool {
        let own = tickBatches(idle: idle, context: context)
        guard let d = diskBuffer else { return own }
        return tickDiskBuffer(d, idle: idle, context: context) || own
    }

    mutating func tickBatches(idle: Bool, context: OutputContext) -> Bool {
        if deadLetterRetry.takeDue(now: context.now) { resumeDeadLetter(context: context) }
        if acknowledgesAtOnce { return false }
        if deadLetter != nil && idle { flushDeadLetter(context: context) }
        sink.tick(context: context)
        if lanes == 2 { secondLane!.tick(context: context.onLane(1)) }
        // A buffer the peer acknowledged here gave events back and reopened the filling buffer:
        // that is progress, or the worker would sleep (up to 100 ms) with events waiting for room.
        var acknowledged = false
        if states.0 == .sentAwaitingPeer || states.1 == .sentAwaitingPeer { acknowledged = pollPeer(context: context) }
        if handsOff { acknowledged = confirmHandOffs(context: context) || acknowledged }
        if writeRetry.isWaiting {
            if writeRetry.takeDue(now: context.now) { retryWrite(context: context) }
            return acknowledged
        }
        guard hasPending(filling) else { return acknowledged }
        if idle || context.now &- oldestNanos >= flushIntervalNanos {
            return flush(context: context) || acknowledged
        }
        return acknowledged
    }

    func deadline(now: UInt64) -> UInt64? {
        var own = ownDeadline(now: now)
        if deadLetterRetry.isWaiting { own = min(deadLetterRetry.atNanos, own ?? .max) }
        if let d = diskBuffer {
            // Two ifs, not a loop over an array literal: that array was a malloc every loop turn.
            if let other = d.pointee.deadline(now: now) { own = min(other, own ?? .max) }
            if let other = d.pointee.drain.pointee.deadline(now: now) { own = min(other, own ?? .max) }
        }
        return own
    }

    func ownDeadline(now: UInt64) -> UInt64? {
        if acknowledgesAtOnce { return nil }
        if lanes == 2 {
            let second = secondLane!
            let due = earliest(earliest(sink.reconnectDeadline, second.reconnectDeadline),
                               earliest(sink.responseDeadline, second.responseDeadline))
            if writeRetry.isWaiting { return earliest(due, writeRetry.atNanos) }
            if fillingMayGoOut && hasPending(filling) { return earliest(due, oldestNanos + flushIntervalNanos) }
            return due
        }
        if let reconnect = sink.reconnectDeadline { return reconnect }
        if states.0 == .sentAwaitingPeer || states.1 == .sentAwaitingPeer { return now + TCPSink.peerAckPollNanos }
        if let timeout = sink.responseDeadline { return timeout }
        if writeRetry.isWaiting { return writeRetry.atNanos }
        // A filling buffer that cannot go out yet waits for a completion, not a timer.
        if fillingMayGoOut && hasPending(filling) { return oldestNanos + flushIntervalNanos }
        return nil
    }

    @inline(__always) func earliest(_ a: UInt64?, _ b: UInt64?) -> UInt64? {
        guard let a else { return b }
        guard let b else { return a }
        return min(a, b)
    }

    /// A connect of either lane is in flight (its completion would reach a replacement).
    var isConnecting: Bool { sink.isConnecting || (secondLane?.isConnecting ?? false) }

    /// The lane buffer `b` goes out on.
    @inline(__always) func laneOf(_ b: Int) -> Int { lanes == 2 ? b : 0 }

    /// The buffer whose write is in flight (one at a time per output, one per lane with two).
    var writingBuffer: Int? {
        if case .writing = states.0 { return 0 }
        if case .writing = states.1 { return 1 }
        return nil
    }

    mutating func writeCompleted(result: Int32, lane: Int, context: OutputContext) {
        guard let b = lanes == 2 ? lane : writingBuffer, case .writing(let written) = state(b) else {
            preconditionFailure("write completion without a write in flight")
        }
        let outcome = lane == 0 ? sink.written(result: result, context: context) : secondLane!.written(result: result, context: context.onLane(1))
        switch outcome {
        case .connectionLost(let error):
            connectionLost(result: error, lane: lane, context: context)
        case .failed(let error, let reported, let wrote):
            // The destination refused: keep the batch, back off, retry. Nothing is acked, so the
            // pool fills and the inputs pause until the output recovers.
            context.count(.outputErrors, 1)
            writeRetry.failed(now: context.now)
            move(b, to: .retrying(written: written + wrote))
            if !errorLogged && !reported {
                Log.error(context.logName, "\(SystemError(negated: error, operation: "write")); retrying with backoff, events held")
            }
            errorLogged = true
        case .continuing:
            return
        case .dropped(let error):
            dropBatch(b, error: error, context: context)
        case .wrote(let n):
            let total = written + n
            if sink.answers {
                bufferWritten(b, context: context)  // the answer says whether it is safe
                return
            }
            writeRetry.succeeded()
            errorLogged = false
            move(b, to: .writing(written: total))
            if total < usedBytes(b) {
                submit(b, from: total, context: context)
                return
            }
            bufferWritten(b, context: context)
        }
    }

    /// All of buffer `b` is written: it is safe now, after its fsync, or after the peer's ack.
    mutating func bufferWritten(_ b: Int, context: OutputContext) {
        switch diskBuffer?.pointee.committed(b, context: context) ?? sink.whenWritten(context: context) {
        case .now: acknowledge(buffer: b, context: context)
        case .afterSync: move(b, to: .syncing)
        case .afterPeerAcknowledged:
            move(b, to: .sentAwaitingPeer)
            // Sent again after a lost connection: its successor goes next, in order.
            if state(1 - b) == .awaitingConnection { send(1 - b, context: context) }
            pollPeer(context: context)
        case .afterResponse: move(b, to: .awaitingResponse)
        }
    }

    /// Writes buffer `b` whole (one waiting for a connection); a batch of placeholders only
    /// waits for the peer behind the other.
    mutating func send(_ b: Int, context: OutputContext) {
        if sink.answers {
            sendRequest(b, context: context)  // the part of the batch still unanswered
            return
        }
        if usedBytes(b) == 0 {
            move(b, to: .sentAwaitingPeer)
            return
        }
        move(b, to: .writing(written: 0))
        submit(b, from: 0, context: context)
    }

    /// The backoff passed: every buffer waiting for it goes again (two with two lanes), the
    /// earlier first.
    mutating func retryWrite(context: OutputContext) {
        let older = olderOut
        var retried = false
        for k in 0..<2 {
            let b = k == 0 ? older : 1 - older
            guard case .retrying(let written) = state(b) else { continue }
            retried = true
            if sink.answers {
                sendRequest(b, context: context)
                continue
            }
            move(b, to: .writing(written: written))
            submit(b, from: written, context: context)
        }
        precondition(retried, "write retry without a failed write")
    }

    mutating func syncCompleted(result: Int32, context: OutputContext) {
        guard sink.synced(result: result, context: context) else { return }
        let b = state(0) == .syncing ? 0 : 1
        precondition(state(b) == .syncing, "fsync completion without an fsync in flight")
        acknowledge(buffer: b, context: context)
    }

    /// The destination has buffer `b`: count its batch and give its events back — once the
    /// dead-letter lines of the events it rejected are written. Buffers are acknowledged in the
    /// order they went out.
    mutating func acknowledge(buffer b: Int, context: OutputContext) {
        if b != olderOut && !state(1 - b).isOpen {
            // Answered on its lane before the batch that went out first: acknowledged right
            // after that one (`reopen`), so acknowledgements stay in order.
            move(b, to: .answeredAwaitingEarlier)
            return
        }
        precondition(b == olderOut || state(1 - b).isOpen, "output buffer \(b) acknowledged before the one that went out first")
        if let d = deadLetter, d.pointee.durable < deadLetterNeeded(b) {
            move(b, to: .awaitingDeadLetter)  // the dead-letter write completes it
            flushDeadLetter(context: context)
            return
        }
        let h = batch(b)
        if diskBuffer != nil || drainedBuffer != nil {
            acknowledgeBuffered(b, context: context)
            return
        }
        var dropped = 0
        // Metrics: one clock read per batch, one receive → ack latency per delivered event.
        let ackNanos = monotonicNanos()
        for i in 0..<h.count {
            let handle = h[i]
            if EventHandles.isDetached(handle) {
                if !acknowledgeDetached(b, handle, ackNanos: ackNanos, context: context) { dropped += 1 }
                continue
            }
            let event = context.event(handle)
            if !event.isWritten(by: routeBit) {
                dropped += 1
            } else {
                context.recordLatency(of: event, ackNanos: ackNanos)
            }
            context.acknowledge(handle)
        }
        context.count(.eventsOut, h.count - dropped)
        context.count(.bytesOut, usedBytes(b))
        if usedBytes(b) > 0 { context.count(.outputBatches, 1) }
        reopen(b, context: context)
    }

    /// Buffer `b` was acknowledged: it takes events again, and a full filling buffer, which
    /// waited for this moment, goes out.
    mutating func reopen(_ b: Int, context: OutputContext) {
        clearHandles(b)
        setUsed(b, 0)
        move(b, to: .open)
        if state(1 - b) == .answeredAwaitingEarlier { acknowledge(buffer: 1 - b, context: context) }
        if isBatchFull(filling) || usedBytes(filling) > bufferCapacity / 2 || usedBytes(filling) >= detachedBatchBytes { _ = flush(context: context) }
    }

    /// Closes the sink's descriptor (the worker's last act).
    func close() {
        sink.close()
        secondLane?.close()
        if let d = diskBuffer {
            d.pointee.drain.pointee.close()
            d.pointee.close()
        }
    }

    /// Closes and frees everything of an idle output a reload replaces.
    mutating func dispose() {
        route?.disposeScratch()
        route = nil
        sink.dispose()
        secondLane?.dispose()
        encoder.dispose()
        if let d = deadLetter {
            d.pointee.dispose()
            d.deinitialize(count: 1)
            d.deallocate()
            deadLetter = nil
        }
        if let d = diskBuffer {
            d.pointee.close()
            d.pointee.drain.pointee.dispose()
            d.pointee.drain.deinitialize(count: 1)
            d.pointee.drain.deallocate()
            d.pointee.deallocate()
            d.deinitialize(count: 1)
            d.deallocate()
        }
        buffers.0.deallocate()
        if !acknowledgesAtOnce { buffers.1.deallocate() }
        handles.0.deallocate()
        handles.1.deallocate()
        lineEnds.0.deallocate()
        lineEnds.1.deallocate()
        requests[0].deallocate()
        requests[1].deallocate()
        requests.deinitialize(count: 2)
        requests.deallocate()
        if let l = detachedLedgers {
            l[0].deallocate()
            l[1].deallocate()
            l.deinitialize(count: 2)
            l.deallocate()
        }
    }
}
