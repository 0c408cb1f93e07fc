import Glibc

/// The batcher's part in a disk buffer (buffer=disk). Stage 1 (`diskBuffer`) encodes records,
/// writes each batch to the segment being written, and acknowledges the batch's events to the
/// inputs once it is there under the sync policy; without room it blocks (the batch waits, the
/// inputs pause) or drops the batch (`buffer-full=drop-newest`, counted). Stage 2 (the drain,
/// `drainedBuffer`) takes events the buffer read back and, when the output acknowledges them,
/// gives their slots back and tells the buffer, which deletes delivered segments and saves the
/// read position.
extension OutputBatcher {
    /// Stage 1, buffer `b` goes out: false when it was dropped (no room, drop-newest) instead.
    /// A full segment is closed first, so the batch waits for the next one.
    mutating func bufferGoesToDisk(_ b: Int, _ d: UnsafeMutablePointer<DiskBuffer>, context: OutputContext) -> Bool {
        d.pointee.batchClosed(b)
        guard usedBytes(b) > 0 else { return true }
        if !d.pointee.hasRoom(forBytes: usedBytes(b)) {
            d.pointee.noteFull(blocking: false, logName: context.logName, now: context.now)
            dropBatch(b, error: 0, context: context)
            return false
        }
        d.pointee.prepareWrite(bytes: usedBytes(b), context: context)
        if !d.pointee.isWritable { d.pointee.segmentWanted = true }
        return true
    }

    /// Stage 1, drop-newest: batch `b` (being written, or about to be) is dropped; its events are
    /// acknowledged to the inputs (their offsets commit: dropped on purpose, counted).
    mutating func dropBatch(_ b: Int, error: Int32, context: OutputContext) {
        guard let d = diskBuffer else { preconditionFailure("a batch dropped by an output without a disk buffer") }
        if error != 0 { d.pointee.noteFull(blocking: false, logName: context.logName, now: context.now) }
        let h = batch(b)
        var records = 0
        for i in 0..<h.count {
            let event = context.event(h[i])
            if event.isWritten(by: routeBit) { records += 1 }
            context.acknowledge(h[i])
        }
        d.pointee.dropped(b, records: records)
        reopen(b, context: context)
    }

    /// Buffer `b` is safe: stage 1 acknowledges its events to the inputs (their records are in
    /// the disk buffer; `events_out` counts them when the drain delivers them), or with
    /// buffer-sync=batch hands them to the buffer, which does once they are synced; the drain gives
    /// its events' slots back and tells the buffer how far delivery got.
    mutating func acknowledgeBuffered(_ b: Int, context: OutputContext) {
        let h = batch(b)
        if let d = diskBuffer {
            if d.pointee.options.sync == .batch {
                d.pointee.hold(h, bytes: usedBytes(b), context: context)
                reopen(b, context: context)
                return
            }
            var records = 0
            for i in 0..<h.count {
                let event = context.event(h[i])
                if event.isWritten(by: routeBit) { records += 1 }
                context.acknowledge(h[i])
            }
            d.pointee.recordsWritten(records)
            reopen(b, context: context)
            return
        }
        guard let d = drainedBuffer, h.count > 0 else {
            reopen(b, context: context)
            return
        }
        var delivered = 0
        let ackNanos = monotonicNanos()
        let last = context.event(h[h.count - 1]).header
        let ordinal = last.pointee.sourceID, end = last.pointee.offset
        for i in 0..<h.count {
            let event = context.event(h[i])
            if event.header.pointee.routes & routeBit != 0 {
                delivered += 1
                context.recordLatency(of: event, ackNanos: ackNanos)
            }
            context.releaseBuffered(h[i])
        }
        context.count(.eventsOut, delivered)
        context.count(.bytesOut, usedBytes(b))
        if usedBytes(b) > 0 { context.count(.outputBatches, 1) }
        let count = h.count
        reopen(b, context: context)
        d.pointee.delivered(count: count, ordinal: ordinal, end: end, oldestReceivedNanos: oldestHeldReceivedNanos(context: context), context: context)
    }

    /// The drain into devnull: each event is delivered as it comes.
    mutating func deliveredAtOnce(_ event: Event, handle: EventHandle, buffer d: UnsafeMutablePointer<DiskBuffer>, context: OutputContext) {
        let ordinal = event.header.pointee.sourceID, end = event.header.pointee.offset
        context.releaseBuffered(handle)
        d.pointee.delivered(count: 1, ordinal: ordinal, end: end, oldestReceivedNanos: 0, context: context)
    }

    /// The receive time of the oldest event the drain still holds (0: none).
    func oldestHeldReceivedNanos(context: OutputContext) -> UInt64 {
        for b in [olderOut, 1 - olderOut] where batch(b).count > 0 {
            return context.event(batch(b)[0]).header.pointee.receivedNanos
        }
        return 0
    }

    /// Whether the drain's filling buffer takes a line of `bytes` (a record read back: its raw
    /// bytes and a newline) now.
    @inline(__always) func canAcceptLine(bytes: Int) -> Bool {
        if acknowledgesAtOnce { return true }
        if let d = deadLetter, !d.pointee.hasRoom(forEventBytes: bytes) { return false }
        return state(filling).isOpen && !batch(filling).isFull && usedBytes(filling) + bytes <= bufferCapacity
    }

    /// Stage 1, every turn after its own batches: the buffer's clock and files, the reader
    /// feeding the drain, the drain's own batches, the position; at a stop, the drain gives back
    /// what it has not sent.
    mutating func tickDiskBuffer(_ d: UnsafeMutablePointer<DiskBuffer>, idle: Bool, context: OutputContext) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        d.pointee.wallOffsetNanos = (UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)) &- context.now
        if d.pointee.takeRoomFreed() && writeRetry.isWaiting { writeRetry.atNanos = context.now }
        let drainContext = context.forDrain()
        var progressed = false
        if d.pointee.mode == .halting {
            let count = d.pointee.drain.pointee.abandonUnsent(context: drainContext)
            if count > 0 {
                d.pointee.abandoned(count: count)
                progressed = true
            }
        }
        progressed = d.pointee.pump(context: drainContext) || progressed
        progressed = d.pointee.drain.pointee.tick(idle: idle || d.pointee.mode != .running, context: drainContext) || progressed
        d.pointee.collect(context: context)
        d.pointee.savePositionIfDue(context: context)
        return progressed
    }

    /// The drain at a stop that leaves the buffer for the next start: the events of buffers not
    /// out (filling, waiting for a connection or a retry) go back to the pool unsent; they are
    /// read again next time. Buffers out wait for their answer. Returns how many went back.
    mutating func abandonUnsent(context: OutputContext) -> Int {
        var count = 0
        for b in 0..<2 {
            switch state(b) {
            case .open, .awaitingConnection, .retrying: break
            default: continue
            }
            let h = batch(b)
            for i in 0..<h.count { context.releaseBuffered(h[i]) }
            count += h.count
            if !state(b).isOpen {
                move(b, to: .open)
                writeRetry.succeeded()
                writeRetry.atNanos = 0
            }
            clearHandles(b)
            setUsed(b, 0)
        }
        return count
    }

    /// A `bufferFile` completion of this output's disk buffer.
    mutating func diskBufferCompleted(_ operation: DiskBufferOperation, result: Int32, context: OutputContext) {
        guard let d = diskBuffer else { preconditionFailure("disk buffer completion for an output without one") }
        d.pointee.completed(operation, result: result, context: context)
    }
}
