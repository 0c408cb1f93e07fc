import Glibc

/// Cuts one stream's bytes into records, copying each into a pool event: newline-delimited,
/// or (`Framing.octetCountedOrNewline`, RFC 6587) each record either `LEN SP` + LEN bytes when
/// it starts with a digit, or newline-ended otherwise; or one datagram per record
/// (`frameDatagram`). A `RecordDecoder` may rewrite each completed record (syslog into JSON).
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
    public var framing = Framing.newline
    public var decoder = RecordDecoder.none { didSet { decodes = decoder.kind != .none } }
    /// Whether `decoder` does anything (one load per record instead of an enum compare).
    var decodes = false
    /// Octet counting: the count being read (`countDigits` of it so far), then the bytes of
    /// the record still to come.
    var countValue = 0
    var countDigits = 0
    var remaining = 0
    /// Events handed on over the framer's life: a source that must know when all of its events
    /// came back compares it with its acknowledgements (`FileFamily.acknowledged`).
    public private(set) var handed: UInt64 = 0

    public enum Framing: Equatable {
        case newline
        /// RFC 6587: octet counting (`LEN SP MSG`) for a record starting with a digit 1…9,
        /// newline framing for any other. A count over `maxEventBytes` or not followed by a
        /// space is `Stop.malformed`.
        case octetCountedOrNewline
    }

    public enum Stop: Equatable {
        /// Every byte of the chunk was used.
        case consumedAll
        /// The slab has no free event: stop reading until events come back.
        case poolExhausted
        /// The batch is full: hand it on and call again with the rest.
        case batchFull
        /// The stream breaks its framing (an octet count too large or not a number): nothing
        /// after `consumed` can be framed; the caller closes the stream and counts it.
        case malformed
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
            if remaining > 0 {
                let take = min(remaining, end - position)
                if !append(UnsafeRawBufferPointer(start: base + position, count: take), slab: slab, counters: counters) { return (position, .poolExhausted) }
                position += take
                remaining -= take
                if remaining == 0 { _ = complete(offset: chunkOffset + UInt64(position), nowNanos: nowNanos, flags: [], slab: slab, batch: &batch, counters: counters) }
                continue
            }
            if framing == .octetCountedOrNewline && current == nil {
                let b = base.load(fromByteOffset: position, as: UInt8.self)
                if countDigits > 0 || (b > 48 && b <= 57) {
                    if !readCount(b) { return (position, .malformed) }
                    position += 1
                    continue
                }
            }
            let rest = end - position
            let found = memchr(base + position, 10, rest)
            let lineEnd = found.map { UnsafeRawPointer($0) - base } ?? end
            let segment = UnsafeRawBufferPointer(start: base + position, count: lineEnd - position)
            if !append(segment, slab: slab, counters: counters) { return (position, .poolExhausted) }
            if found == nil { return (end, .consumedAll) }
            // A decoder that waits for a large slot leaves the newline unread: the record is
            // completed again when the caller passes the rest after events came back.
            if !complete(offset: chunkOffset + UInt64(lineEnd + 1), nowNanos: nowNanos, flags: [], slab: slab, batch: &batch,
                         counters: counters, mayWait: true) { return (lineEnd, .poolExhausted) }
            position = lineEnd + 1
        }
        return (end, .consumedAll)
    }

    /// What `finish` did.
    public enum Finish: Equatable {
        case done
        /// The batch is full: hand it on and call again.
        case batchFull
        /// The decoder holds a record and no slot is free for it: call again once events came back.
        case poolExhausted
    }

    /// Ends the stream: a record without its newline goes out flagged `partial`. With
    /// `endOfSource`, so do the records a decoder still assembles (container log lines split by
    /// their runtime); without, those go on with the next bytes (a rotated file's successor).
    /// `slab`: where a decoder may find a large slot for a record that outgrew its own.
    public mutating func finish(offset: UInt64, nowNanos: UInt64, slab: UnsafeMutablePointer<Slab>? = nil,
                                batch: inout EventBatch, counters: CounterBlock, endOfSource: Bool = false) -> Finish {
        countValue = 0
        countDigits = 0
        if current != nil || skipping {
            if batch.isFull { return .batchFull }
            counters.add(.partialRecords, 1, pipeline: Int(pipelineID))
            remaining = 0
            _ = complete(offset: offset, nowNanos: nowNanos, flags: EventFlags.partial, slab: slab, batch: &batch, counters: counters)
        }
        remaining = 0
        guard endOfSource, decodes, let slab else { return .done }
        while true {
            if batch.isFull { return .batchFull }
            switch decoder.takePending(end: offset, slab: slab, counters: counters, pipeline: Int(pipelineID)) {
            case .none: return .done
            case .needsRoom: return .poolExhausted
            case .event(let e, let committed):
                counters.add(.partialRecords, 1, pipeline: Int(pipelineID))
                hand(e, offset: committed, flags: EventFlags.partial, receivedBytes: 0, nowNanos: nowNanos, batch: &batch, counters: counters)
            }
        }
    }

    /// Hands on the records the decoder assembles whose last line was read at or before
    /// `cutoff` (their rest is late: `partial-timeout`), each flagged partial. The record being
    /// framed, if any, is not touched.
    public mutating func flushLatePending(updatedBy cutoff: UInt64, nowNanos: UInt64, slab: UnsafeMutablePointer<Slab>,
                                          batch: inout EventBatch, counters: CounterBlock) -> Finish {
        while true {
            if batch.isFull { return .batchFull }
            switch decoder.takeLatePending(updatedBy: cutoff, slab: slab, counters: counters, pipeline: Int(pipelineID)) {
            case .none: return .done
            case .needsRoom: return .poolExhausted
            case .event(let e, let committed):
                counters.add(.partialRecords, 1, pipeline: Int(pipelineID))
                counters.add(.partialTimeouts, 1, pipeline: Int(pipelineID))
                hand(e, offset: committed, flags: EventFlags.partial, receivedBytes: 0, nowNanos: nowNanos, batch: &batch, counters: counters)
            }
        }
    }

    /// Frames one datagram as one record (a trailing newline, or CR LF, removed), its end at
    /// `offset`. Nothing is consumed on `.poolExhausted` or `.batchFull`: pass it again.
    public mutating func frameDatagram(_ datagram: UnsafeRawBufferPointer, offset: UInt64, nowNanos: UInt64,
                                       slab: UnsafeMutablePointer<Slab>, batch: inout EventBatch, counters: CounterBlock) -> Stop {
        if batch.isFull { return .batchFull }
        var count = datagram.count
        if count > 0 && datagram[count - 1] == 10 { count -= 1 }
        if count > 0 && datagram[count - 1] == 13 { count -= 1 }
        if count > 0, let base = datagram.baseAddress {
            if !append(UnsafeRawBufferPointer(start: base, count: count), slab: slab, counters: counters) { return .poolExhausted }
        }
        _ = complete(offset: offset, nowNanos: nowNanos, flags: [], slab: slab, batch: &batch, counters: counters)
        return .consumedAll
    }

    /// One byte of an octet count (RFC 6587 MSG-LEN, then SP); false when the count is over
    /// `maxEventBytes` or ends in anything but a space.
    mutating func readCount(_ b: UInt8) -> Bool {
        if b &- 48 < 10 {
            countValue = countValue * 10 + Int(b - 48)
            countDigits += 1
            return countValue <= maxEventBytes
        }
        guard b == 32 else { return false }
        remaining = countValue
        countValue = 0
        countDigits = 0
        return true
    }

    /// Gives back a half-assembled record without emitting it (a file source stopping: the
    /// record will be read again from the committed offset), and what a decoder assembles.
    public mutating func abandon(slab: UnsafeMutablePointer<Slab>) {
        if let e = current { slab.pointee.release(e.header.pointee.handle) }
        current = nil
        skipping = false
        countValue = 0
        countDigits = 0
        remaining = 0
        decoder.abandon()
    }

    /// Completes the record being assembled, its end at `offset`: decoded (when there is a
    /// decoder) and handed on. False when the decoder waits for a large slot (only with
    /// `mayWait`): the record is kept as it was, complete it again once events came back.
    mutating func complete(offset: UInt64, nowNanos: UInt64, flags: EventFlags, slab: UnsafeMutablePointer<Slab>?,
                           batch: inout EventBatch, counters: CounterBlock, mayWait: Bool = false) -> Bool {
        guard let e = current else {
            skipping = false
            if !flags.contains(.partial) { counters.add(.emptyLines, 1, pipeline: Int(pipelineID)) }
            return true
        }
        let receivedBytes = Int(e.header.pointee.rawLength)
        var event = e
        var committed = offset
        if decodes {
            switch decoder.decode(e, end: offset, nowNanos: nowNanos, mayWait: mayWait, maxEventBytes: maxEventBytes, slab: slab,
                                  counters: counters, pipeline: Int(pipelineID)) {
            case .event(let decoded, let o):
                event = decoded
                committed = o
            case .folded:
                current = nil
                skipping = false
                counters.add(.bytesIn, receivedBytes, pipeline: Int(pipelineID))
                counters.addInputBytes(row: inputRow, bytes: receivedBytes)
                return true
            case .needsRoom:
                return false
            }
        }
        current = nil
        skipping = false
        hand(event, offset: committed, flags: flags, receivedBytes: receivedBytes, nowNanos: nowNanos, batch: &batch, counters: counters)
        return true
    }

    /// Stamps a finished event and appends it to the batch.
    @inline(__always) mutating func hand(_ e: Event, offset: UInt64, flags: EventFlags, receivedBytes: Int, nowNanos: UInt64,
                                         batch: inout EventBatch, counters: CounterBlock) {
        e.seal(offset: offset, flags: flags, sourceID: sourceID, pipeline: pipelineID, receivedNanos: nowNanos)
        handed &+= 1
        counters.add(.eventsIn, 1, pipeline: Int(pipelineID))
        counters.add(.bytesIn, receivedBytes, pipeline: Int(pipelineID))
        counters.addInput(row: inputRow, bytes: receivedBytes)
        batch.append(e.header.pointee.handle)
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
            // Outgrew its slot: move into a medium one when the record so far fits it, else a
            // large one (it may move on from medium to large as it grows; a large slot that is
            // full is cut below: moving it to another large slot gains nothing, and with the
            // last large slot kept for actions it waited for one forever; found by the framer
            // fuzzer).
            guard let large = slab.pointee.takeLonger(dataBytes: used + segment.count, forFraming: true) else {
                if slab.pointee.largeCount == 0 { return cut(e, used: used, capacity: capacity, segment, counters: counters) }
                return false
            }
            large.data.copyMemory(from: e.data, byteCount: used)
            large.setRecordLength(used)
            slab.pointee.release(e.header.pointee.handle)
            e = large
            current = large
            capacity = min(Int(large.header.pointee.dataCapacity), maxEventBytes)
            used = Int(large.header.pointee.rawLength)
        }
        if used + segment.count > capacity { return cut(e, used: used, capacity: capacity, segment, counters: counters) }
        (e.data + used).copyMemory(from: segment.baseAddress!, byteCount: segment.count)
        e.setRecordLength(used + segment.count)
        return true
    }

    mutating func cut(_ e: Event, used: Int, capacity: Int, _ segment: UnsafeRawBufferPointer, counters: CounterBlock) -> Bool {
        let fits = max(0, capacity - used)
        if fits > 0 { (e.data + used).copyMemory(from: segment.baseAddress!, byteCount: fits) }
        e.setRecordLength(used + fits)
        e.set(.cut)
        counters.add(.cutRecords, 1, pipeline: Int(pipelineID))
        counters.add(.cutBytes, segment.count - fits, pipeline: Int(pipelineID))
        skipping = true
        return true
    }
}
