/// Events whose slot an output gave back before the destination answered (detached). A sink that
/// answers (postgres, clickhouse) needs an event's slot only to encode it: once its row is in
/// the output's buffer, what the acknowledgement still needs is its commit identity (source ID
/// and offset), its receive time (latency) and, with a dead-letter file, its raw bytes (a row the
/// server refuses goes there as read). Keeping those in the batch's ledger instead of the slot lets
/// a batch be as large as the output buffer's bytes allow, not a worker's share of the pool: the
/// destination's per-batch cost (a COMMIT's WAL flush, a ClickHouse part) is paid per output
/// buffer, not per 1,024 events. The offset is still committed only once the destination
/// answered for the whole batch, in order, as for an event that kept its slot.
///
/// Only an event that nothing else holds is detached: this worker's slab (its commit runs here),
/// this output its last acknowledgement (one output in the pipeline), and no link to other slots
/// (`EventFlags.linked`: joined, split, grown). Any other event keeps its slot in the same batch;
/// acknowledgements run over the batch in order either way.
struct DetachedEvent {
    var offset: UInt64
    var receivedNanos: UInt64
    var sourceID: UInt32
    /// Its raw bytes in the ledger's copy (`rawLength` 0 without a dead-letter file).
    var rawStart: UInt32
    var rawLength: UInt32
    /// Written by this output (routed, not discarded, not refused): counted out when acknowledged.
    var delivered: Bool
}

/// One output buffer's detached events, in the order of their batch, and the copy of their raw
/// bytes (only with a dead-letter file). Preallocated: entries for a batch, raw bytes as many as
/// the output buffer holds; an event that would not fit keeps its slot instead.
struct DetachedLedger {
    let entries: UnsafeMutablePointer<DetachedEvent>
    let capacity: Int
    var count = 0
    let raw: UnsafeMutableRawPointer?
    let rawCapacity: Int
    var rawUsed = 0

    init(capacity: Int, rawCapacity: Int) {
        self.capacity = capacity
        entries = .allocate(capacity: capacity)
        self.rawCapacity = rawCapacity
        raw = rawCapacity > 0 ? .allocate(byteCount: rawCapacity, alignment: 16) : nil
    }

    func deallocate() {
        entries.deallocate()
        raw?.deallocate()
    }

    mutating func reset() {
        count = 0
        rawUsed = 0
    }

    /// Records the event when it can go without its slot; returns the handle that stands for it
    /// in the batch (`EventHandles.detached`), nil when it keeps its slot.
    @inline(__always) mutating func detach(_ event: Event, handle: EventHandle, ownSlab: Int, routeBit: UInt32) -> EventHandle? {
        guard count < capacity, event.canDetach(handle, ownSlab: ownSlab) else { return nil }
        let h = event.header
        var start = 0
        var length = 0
        if let raw {
            let bytes = event.raw
            length = bytes.count
            guard rawUsed + length <= rawCapacity else { return nil }
            start = rawUsed
            // Safe: `rawUsed + length` is within the copy's capacity (checked above).
            if length > 0 { (raw + start).copyMemory(from: bytes.baseAddress!, byteCount: length) }
            rawUsed += length
        }
        let delivered = event.isWritten(by: routeBit)
        entries[count] = DetachedEvent(offset: h.pointee.offset, receivedNanos: h.pointee.receivedNanos, sourceID: h.pointee.sourceID,
                                       rawStart: UInt32(truncatingIfNeeded: start), rawLength: UInt32(truncatingIfNeeded: length),
                                       delivered: delivered)
        count += 1
        return EventHandles.detached(count - 1)
    }

    @inline(__always) func rawBytes(_ i: Int) -> UnsafeRawBufferPointer {
        guard let raw else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: raw + Int(entries[i].rawStart), count: Int(entries[i].rawLength))
    }
}

extension Event {
    /// The output with `routeBit` writes the event: routed to it, and no action dropped it.
    @inline(__always) func isWritten(by routeBit: UInt32) -> Bool {
        !has(EventFlags.discarded) && header.pointee.routes & routeBit != 0
    }

    /// Nothing but the output acknowledging it now holds the event (`handle`): it is of this
    /// worker's slab (its commit runs here), that output is its last acknowledgement, and no
    /// slot is linked to it (joined, split, grown). Its slot may then go back before the
    /// acknowledgement, which needs only its source and offset (detached events, held events
    /// of a disk buffer's group commit).
    @inline(__always) func canDetach(_ handle: EventHandle, ownSlab: Int) -> Bool {
        let h = header
        return EventHandles.slab(handle) == ownSlab && h.pointee.pendingAcks == 1 && h.pointee.flags.isDisjoint(with: .linked)
    }
}

extension EventHandles {
    /// The slab number no slab has (`maxSlabs` is one less): a handle with it names entry `slot`
    /// of its output buffer's `DetachedLedger`, not a slot of the pool.
    static let detachedSlab = maxSlabs
    @inline(__always) static func detached(_ entry: Int) -> EventHandle { make(slab: detachedSlab, slot: entry) }
    @inline(__always) static func isDetached(_ handle: EventHandle) -> Bool { slab(handle) == detachedSlab }
}

extension OutputBatcher {
    /// Puts the event into buffer `f`'s batch: detached (its slot goes back now) when it can be,
    /// else by its handle.
    @inline(__always) mutating func hold(_ f: Int, _ event: Event, handle: EventHandle, context: OutputContext) {
        if let l = detachedLedgers, let entry = l[f].detach(event, handle: handle, ownSlab: context.slabIndex, routeBit: routeBit) {
            appendHandle(f, entry)
            context.releaseDetached(handle)
            return
        }
        appendHandle(f, handle)
    }

    /// Bytes a dead-letter line of the event at `i` of buffer `b` needs room for.
    func rejectionBytes(_ b: Int, at i: Int, context: OutputContext) -> Int {
        let handle = batch(b)[i]
        if EventHandles.isDetached(handle) { return Int(detachedLedgers.unsafelyUnwrapped[b].entries[EventHandles.slot(handle)].rawLength) }
        return Int(context.event(handle).header.pointee.dataCapacity)
    }

    /// The server refused the event at `i` of buffer `b`: its dead-letter line, and it is no longer
    /// counted as delivered here.
    mutating func recordRejection(inBuffer b: Int, at i: Int, reason: String, context: OutputContext) {
        let handle = batch(b)[i]
        guard EventHandles.isDetached(handle) else {
            recordRejection(context.event(handle), reason: reason, inBuffer: b, context: context)
            return
        }
        let l = detachedLedgers.unsafelyUnwrapped + b
        let entry = EventHandles.slot(handle)
        l.pointee.entries[entry].delivered = false
        recordRejection(raw: l.pointee.rawBytes(entry), offset: l.pointee.entries[entry].offset, reason: reason, inBuffer: b, context: context)
    }

    /// Acknowledges the detached event `handle` of buffer `b`: its offset commits (no slot to
    /// give back). False when it was not delivered here (a placeholder, a refused row).
    @inline(__always) func acknowledgeDetached(_ b: Int, _ handle: EventHandle, ackNanos: UInt64, context: OutputContext) -> Bool {
        let e = detachedLedgers.unsafelyUnwrapped[b].entries[EventHandles.slot(handle)]
        if e.delivered { context.recordLatency(receivedNanos: e.receivedNanos, ackNanos: ackNanos) }
        context.commitDetached(sourceID: e.sourceID, offset: e.offset)
        return e.delivered
    }
}
