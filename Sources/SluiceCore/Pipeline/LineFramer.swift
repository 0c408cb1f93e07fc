import Glibc

/// Cuts one stream's bytes into newline-delimited records, copying each into a pool event.
///
/// A record split across chunks stays in the event being filled, so nothing is copied twice.
/// A record that outgrows an ordinary slot moves once into a large slot; one longer than
/// `maxEventBytes` is cut there (flagged and counted) and the rest of it skipped up to the newline.
/// Empty lines carry no event and are only counted.
public struct LineFramer {
    public var sourceID: UInt32
    /// The input's row of per-plugin counters (`CounterBlock.addInput`).
    public var inputRow: Int32 = 0
    public var pipelineID: UInt16
    public let maxEventBytes: Int
    /// The record being assembled, if any.
    public private(set) var current: Event?
    /// Dropping the tail of a cut record until its newline.
    public private(set) var skipping = false

    public enum Stop: Equatable {
        /// Every byte of the chunk was used.
        case consumedAll
        /// The slab has no free event: stop reading until events come back.
        case poolExhausted
        /// The batch is full: hand it on and call again with the rest.
        case batchFull
    }

    public init(sourceID: UInt32, pipelineID: UInt16, maxEventBytes: Int) {
        self.sourceID = sourceID
        self.pipelineID = pipelineID
        self.maxEventBytes = maxEventBytes
    }

    /// Frames `chunk`, whose first byte is at `chunkOffset` in the source. Complete records go to
    /// `batch`. Returns the bytes used; the caller passes the rest again after handling `Stop`.
    public mutating func frame(_ chunk: UnsafeRawBufferPointer, chunkOffset: UInt64, nowNanos: UInt64,
                               slab: UnsafeMutablePointer<Slab>, batch: inout EventBatch,
                               counters: CounterBlock) -> (consumed: Int, stop: Stop) {
        guard let base = chunk.baseAddress else { return (0, .consumedAll) }
        let end = chunk.count
        var position = 0
        while position < end {
            if batch.isFull { return (position, .batchFull) }
            let rest = end - position
            let found = memchr(base + position, 10, rest)
            let lineEnd = found.map { UnsafeRawPointer($0) - base } ?? end
            let segment = UnsafeRawBufferPointer(start: base + position, count: lineEnd - position)
            if !append(segment, slab: slab, counters: counters) { return (position, .poolExhausted) }
            if found == nil { return (end, .consumedAll) }
            position = lineEnd + 1
            complete(offset: chunkOffset + UInt64(position), nowNanos: nowNanos, flags: 0, batch: &batch, counters: counters)
        }
        return (end, .consumedAll)
    }

    /// Ends the stream: a record without its newline goes out flagged `partial`. False when the
    /// batch is full (call again after handing it on).
    public mutating func finish(offset: UInt64, nowNanos: UInt64, batch: inout EventBatch, counters: CounterBlock) -> Bool {
        guard current != nil || skipping else { return true }
        if batch.isFull { return false }
        counters.add(.partialRecords, 1, pipeline: Int(pipelineID))
        complete(offset: offset, nowNanos: nowNanos, flags: EventFlags.partial, batch: &batch, counters: counters)
        return true
    }

    /// Gives back a half-assembled record without emitting it (a file source stopping: the
    /// record will be read again from the committed offset).
    public mutating func abandon(slab: UnsafeMutablePointer<Slab>) {
        if let e = current { slab.pointee.release(e.header.pointee.handle) }
        current = nil
        skipping = false
    }

    mutating func complete(offset: UInt64, nowNanos: UInt64, flags: UInt16, batch: inout EventBatch, counters: CounterBlock) {
        skipping = false
        guard let e = current else {
            if flags & EventFlags.partial == 0 { counters.add(.emptyLines, 1, pipeline: Int(pipelineID)) }
            return
        }
        current = nil
        let h = e.header
        h.pointee.usedLength = h.pointee.rawLength
        h.pointee.flags |= flags
        h.pointee.offset = offset
        h.pointee.receivedNanos = nowNanos
        h.pointee.sourceID = sourceID
        h.pointee.pipelineID = pipelineID
        counters.add(.eventsIn, 1, pipeline: Int(pipelineID))
        counters.add(.bytesIn, Int(h.pointee.rawLength), pipeline: Int(pipelineID))
        counters.addInput(row: inputRow, bytes: Int(h.pointee.rawLength))
        batch.append(h.pointee.handle)
    }

    /// Adds a segment (no newline in it) to the current record. False, with nothing consumed,
    /// when the pool has no event to hold it.
    mutating func append(_ segment: UnsafeRawBufferPointer, slab: UnsafeMutablePointer<Slab>, counters: CounterBlock) -> Bool {
        if segment.count == 0 { return true }
        if skipping {
            counters.add(.cutBytes, segment.count, pipeline: Int(pipelineID))
            return true
        }
        if current == nil {
            guard let e = slab.pointee.take(forFraming: true) else { return false }
            current = e
        }
        var e = current!
        var used = Int(e.header.pointee.rawLength)
        var capacity = min(Int(e.header.pointee.dataCapacity), maxEventBytes)
        if used + segment.count > capacity && capacity < maxEventBytes && Int(e.header.pointee.dataCapacity) < slab.pointee.largeDataCapacity {
            // Outgrew an ordinary slot: move into a large one (a large slot that is full is cut
            // below: moving it to another large slot gains nothing, and with the last large slot
            // kept for actions it waited for one forever; found by the framer fuzzer).
            guard let large = slab.pointee.takeLarge(forFraming: true) else {
                if slab.pointee.largeCount == 0 { return cut(e, used: used, capacity: capacity, segment, counters: counters) }
                return false
            }
            large.data.copyMemory(from: e.data, byteCount: used)
            large.header.pointee.rawLength = UInt32(used)
            slab.pointee.release(e.header.pointee.handle)
            e = large
            current = large
            capacity = min(Int(large.header.pointee.dataCapacity), maxEventBytes)
            used = Int(large.header.pointee.rawLength)
        }
        if used + segment.count > capacity { return cut(e, used: used, capacity: capacity, segment, counters: counters) }
        (e.data + used).copyMemory(from: segment.baseAddress!, byteCount: segment.count)
        e.header.pointee.rawLength = UInt32(used + segment.count)
        return true
    }

    mutating func cut(_ e: Event, used: Int, capacity: Int, _ segment: UnsafeRawBufferPointer, counters: CounterBlock) -> Bool {
        let fits = max(0, capacity - used)
        if fits > 0 { (e.data + used).copyMemory(from: segment.baseAddress!, byteCount: fits) }
        e.header.pointee.rawLength = UInt32(used + fits)
        e.header.pointee.flags |= EventFlags.cut
        counters.add(.cutRecords, 1, pipeline: Int(pipelineID))
        counters.add(.cutBytes, segment.count - fits, pipeline: Int(pipelineID))
        skipping = true
        return true
    }
}
