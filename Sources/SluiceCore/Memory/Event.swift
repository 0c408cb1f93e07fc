/// A 32-bit name for an event slot: the slab (worker) in the top 8 bits, the slot below.
public typealias EventHandle = UInt32

public enum EventHandles {
    public static let slabShift: UInt32 = 24
    public static let slotMask: UInt32 = (1 << 24) - 1
    public static let maxSlotsPerSlab = Int(slotMask)
    public static let maxSlabs = 255
    @inlinable public static func make(slab: Int, slot: Int) -> EventHandle { UInt32(slab) << slabShift | UInt32(slot) }
    @inlinable public static func slab(_ handle: EventHandle) -> Int { Int(handle >> slabShift) }
    @inlinable public static func slot(_ handle: EventHandle) -> Int { Int(handle & slotMask) }
}

/// What happened to an event on its way (`EventHeader.flags`), one bit each.
@frozen public struct EventFlags: OptionSet, Sendable {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The record was longer than max-event-size; the rest of it was dropped (counted).
    public static let cut = EventFlags(rawValue: 1)
    /// json_decode found the bytes not to be valid JSON; the event passes on unparsed.
    public static let invalidJSON = EventFlags(rawValue: 2)
    /// The field index holds the top-level members of a JSON object.
    public static let decoded = EventFlags(rawValue: 4)
    /// An action changed fields: outputs re-encode from the field index.
    public static let modified = EventFlags(rawValue: 8)
    /// The object had more members than the field index holds.
    public static let fieldsTruncated = EventFlags(rawValue: 16)
    /// The record ended without a newline (end of file, closed connection, shutdown).
    public static let partial = EventFlags(rawValue: 32)
    /// An action dropped the event; it waits in the output queue only to keep acks in order.
    public static let discarded = EventFlags(rawValue: 64)
    /// The decoded document is an object (fields can be added to it).
    public static let object = EventFlags(rawValue: 128)
    /// An action's change did not fit the slot the event was framed in, so the event moved to a
    /// large slot of the processing worker; `EventHeader.origin` is the slot it came from, held
    /// until this one is released and then released in its place (it carries the count and the
    /// commit to the slab and source that made it).
    public static let grown = EventFlags(rawValue: 256)
    /// An action made this event from another one (`split`: one per array element), ahead of it
    /// in the stream: it is released without an offset commit (the event it came from carries
    /// the commit and is acknowledged after it by every output) and counted `events_derived`.
    public static let derived = EventFlags(rawValue: 512)
    /// An action folded the next event of its stream into this one (`join`): `EventHeader.origin`
    /// is that next event, released right after this one (count and commit, in stream order).
    /// A chain of folded events is released when the event they were folded into is.
    public static let chained = EventFlags(rawValue: 1024)
    /// `grown`, `derived` or `chained`: the event's release frees or releases more than its slot.
    /// Spelled as a number: the array literal `[.grown, .derived, .chained]` was built on the heap
    /// for every released event (a malloc per event in `perf record -e probe_libc:malloc`).
    public static let linked = EventFlags(rawValue: 256 | 512 | 1024)
}

/// The fixed header at the start of every slot; the field index and the data follow it.
@frozen public struct EventHeader {
    public var dataCapacity: UInt32
    public var rawLength: UInt32
    /// Raw bytes plus values appended by actions.
    public var usedLength: UInt32
    public var fieldCount: UInt16
    public var flags: EventFlags
    public var fieldCapacity: UInt16
    public var pipelineID: UInt16
    public var sourceID: UInt32
    /// Offset in the source just past this record.
    public var offset: UInt64
    public var receivedNanos: UInt64
    public var handle: EventHandle
    /// 1 while taken from the pool, 0 while free: catches double releases.
    public var inUse: UInt32
    public var dataOffset: UInt32
    /// Bit o: the pipeline's output o writes this event (its route matched); the other outputs
    /// hold it only as a place in their queue, so acknowledgements stay in stream order.
    public var routes: UInt32
    /// Outputs whose acknowledgement is still awaited; the event is released at zero.
    public var pendingAcks: UInt32
    /// With `EventFlags.grown`: the slot the event was framed in; with `EventFlags.chained`:
    /// the next event folded into the same one (released after this one).
    public var origin: EventHandle
}

/// A typed view of one event slot; valid while the event is taken from the pool.
@frozen public struct Event {
    public let base: UnsafeMutableRawPointer

    @inlinable public init(base: UnsafeMutableRawPointer) { self.base = base }

    /// The header, to read. Its words are written only here and in `EventPool` (`mutableHeader`), through
    /// the narrow API below: sources seal what they framed, actions set flags and links, the
    /// pipeline routes and counts acknowledgements.
    @inlinable public var header: UnsafePointer<EventHeader> { UnsafePointer(base.assumingMemoryBound(to: EventHeader.self)) }

    /// The header, to write: for `Memory/` only (a test keeps it so).
    @inlinable @usableFromInline var mutableHeader: UnsafeMutablePointer<EventHeader> { base.assumingMemoryBound(to: EventHeader.self) }

    @inlinable public var data: UnsafeMutableRawPointer { base + Int(header.pointee.dataOffset) }

    /// The bytes of the record as received (without the newline).
    @inlinable public var raw: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: data, count: Int(header.pointee.rawLength))
    }

    @inlinable public var fields: UnsafeMutablePointer<FieldEntry> {
        (base + MemoryLayout<EventHeader>.stride).assumingMemoryBound(to: FieldEntry.self)
    }

    @inlinable public var fieldCount: Int { Int(header.pointee.fieldCount) }

    @inlinable public var flags: EventFlags { header.pointee.flags }

    /// Whether any of `flags` is set.
    @inlinable public func has(_ flags: EventFlags) -> Bool { !header.pointee.flags.isDisjoint(with: flags) }

    @inlinable public func set(_ flags: EventFlags) { mutableHeader.pointee.flags.formUnion(flags) }

    @inlinable public func clear(_ flags: EventFlags) { mutableHeader.pointee.flags.subtract(flags) }

    /// Bytes of field `index`'s key (still escaped) and value (raw JSON), relative to data.
    @inlinable public func key(_ index: Int) -> UnsafeRawBufferPointer {
        let f = fields[index]
        return UnsafeRawBufferPointer(start: data + Int(f.keyOffset), count: Int(f.keyLength))
    }

    @inlinable public func value(_ index: Int) -> UnsafeRawBufferPointer {
        let f = fields[index]
        return UnsafeRawBufferPointer(start: data + Int(f.valueOffset), count: Int(f.valueLength))
    }

    /// Completes an event a source wrote itself: `length` bytes of record in the data area, the
    /// offset just past it in its stream, who made it and when.
    @inlinable public func fill(length: Int, offset: UInt64, sourceID: UInt32, pipeline: Int, receivedNanos: UInt64) {
        let h = mutableHeader
        h.pointee.rawLength = UInt32(length)
        h.pointee.usedLength = UInt32(length)
        h.pointee.offset = offset
        h.pointee.receivedNanos = receivedNanos
        h.pointee.sourceID = sourceID
        h.pointee.pipelineID = UInt16(pipeline)
    }

    /// Appends bytes after the used part of the data area (for values set by actions); returns
    /// their offset, or nil when the slot is full.
    @inlinable public func append(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        let used = Int(header.pointee.usedLength)
        guard used + bytes.count <= Int(header.pointee.dataCapacity) else { return nil }
        if bytes.count > 0 { (data + used).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        mutableHeader.pointee.usedLength = UInt32(used + bytes.count)
        return UInt32(used)
    }

    // MARK: Room for changes

    /// Where the data starts when the index holds `entries` entries (cache-line aligned).
    @inlinable public static func dataOffset(forFieldEntries entries: Int) -> Int {
        (MemoryLayout<EventHeader>.stride + entries * MemoryLayout<FieldEntry>.stride + 63) & ~63
    }

    /// Bytes from the slot's start to its end: the index may grow into the data area, the slot
    /// never does.
    @inlinable public var slotBytes: Int { Int(header.pointee.dataOffset) + Int(header.pointee.dataCapacity) }

    /// The index can hold `entries` entries and the data area `bytes` more bytes as they are.
    @inlinable public func hasRoom(fieldEntries entries: Int, dataBytes bytes: Int) -> Bool {
        let h = mutableHeader
        return entries <= Int(h.pointee.fieldCapacity) && Int(h.pointee.usedLength) + bytes <= Int(h.pointee.dataCapacity)
    }

    /// Gives the index room for `entries` entries by moving the data further into the slot
    /// (offsets in the index are relative to the data, so they stay valid), keeping `bytes` of
    /// free data behind the used part. False, with nothing changed, when the slot is too small.
    /// The slab restores the geometry when the slot is next taken.
    public func growIndex(toHold entries: Int, dataBytes bytes: Int) -> Bool {
        let h = mutableHeader
        if entries <= Int(h.pointee.fieldCapacity) { return Int(h.pointee.usedLength) + bytes <= Int(h.pointee.dataCapacity) }
        let offset = Event.dataOffset(forFieldEntries: entries)
        let used = Int(h.pointee.usedLength)
        guard entries <= Int(UInt16.max), offset + used + bytes <= slotBytes else { return false }
        let end = slotBytes
        // Overlapping ranges: memmove.
        memmove(base + offset, base + Int(h.pointee.dataOffset), used)
        h.pointee.dataOffset = UInt32(offset)
        h.pointee.dataCapacity = UInt32(end - offset)
        h.pointee.fieldCapacity = UInt16((offset - MemoryLayout<EventHeader>.stride) / MemoryLayout<FieldEntry>.stride)
        (base + MemoryLayout<EventHeader>.stride).bindMemory(to: FieldEntry.self, capacity: Int(h.pointee.fieldCapacity))
        return true
    }

    /// Copies this event (header, index, data) into the fresh slot `target`, whose index gets
    /// room for `entries` entries; the target keeps its own handle. False when it does not fit.
    public func copy(into target: Event, fieldEntries entries: Int, dataBytes bytes: Int) -> Bool {
        let from = header, to = target.mutableHeader
        to.pointee.usedLength = 0
        guard target.growIndex(toHold: max(entries, fieldCount), dataBytes: Int(from.pointee.usedLength) + bytes) else { return false }
        to.pointee.rawLength = from.pointee.rawLength
        to.pointee.usedLength = from.pointee.usedLength
        to.pointee.fieldCount = from.pointee.fieldCount
        to.pointee.flags = from.pointee.flags
        to.pointee.pipelineID = from.pointee.pipelineID
        to.pointee.sourceID = from.pointee.sourceID
        to.pointee.offset = from.pointee.offset
        to.pointee.receivedNanos = from.pointee.receivedNanos
        target.fields.update(from: fields, count: fieldCount)
        target.data.copyMemory(from: data, byteCount: Int(from.pointee.usedLength))
        return true
    }

    /// Where the members an index cut at `--max-fields` left out begin in `raw`: just past the
    /// last indexed value (the index of an unchanged event holds the first members in order).
    @inlinable public var indexCutOffset: Int {
        let f = fields[fieldCount - 1]
        return Int(f.valueOffset) + Int(f.valueLength)
    }

    /// Completes an index cut at `--max-fields` with the `more` entries at `staged` (those of
    /// the members past the cut: `JSONScanner.membersAfter` from `indexCutOffset`), once the
    /// index was given room for them: the event is no longer `fieldsTruncated`.
    public func completeIndex(with staged: UnsafePointer<FieldEntry>, count more: Int) {
        let h = mutableHeader
        assert(!h.pointee.flags.contains(.modified), "an action changed the index of an event it could not fully index")
        precondition(h.pointee.flags.contains(.fieldsTruncated) && fieldCount + more <= Int(h.pointee.fieldCapacity),
                     "the index was not given room for the members past its cut")
        (fields + fieldCount).update(from: staged, count: more)
        h.pointee.fieldCount = UInt16(fieldCount + more)
        h.pointee.flags.remove(.fieldsTruncated)
    }

    /// Byte equality without a call for the short keys of log lines (memcmp beyond 16 bytes).
    @inlinable @inline(__always) static func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count > 16 { return memcmp(a, b, count) == 0 }
        var i = 0
        while i + 8 <= count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// Index of the first top-level field whose key equals `name` (plain bytes), or nil.
    @inlinable public func fieldIndex(named name: UnsafeRawBufferPointer) -> Int? {
        let count = fieldCount
        var i = 0
        while i < count {
            let f = fields[i]
            if f.flags & FieldEntry.keyHasEscapes == 0 {
                if Int(f.keyLength) == name.count && Event.sameBytes(data + Int(f.keyOffset), name.baseAddress!, name.count) { return i }
            } else if JSONScanner.rawStringEquals(key(i), name) {
                return i
            }
            i += 1
        }
        return nil
    }
}

import Glibc

// MARK: - Writing the header
// Every write of a header word outside `Memory/` goes through these (`header` is read-only).

extension Event {
    /// While framing: the record so far is the data area's first `length` bytes.
    @inlinable public func setRecordLength(_ length: Int) { mutableHeader.pointee.rawLength = UInt32(length) }

    /// A source or an action rewrote the record: it is the data area's first `length` bytes,
    /// with nothing appended behind it.
    @inlinable public func setRecord(length: Int) {
        let h = mutableHeader
        h.pointee.rawLength = UInt32(length)
        h.pointee.usedLength = UInt32(length)
    }

    /// A framed record is complete: where its stream is past it, what the framer saw, who made
    /// it and when.
    @inlinable public func seal(offset: UInt64, flags: EventFlags, sourceID: UInt32, pipeline: UInt16, receivedNanos: UInt64) {
        let h = mutableHeader
        h.pointee.usedLength = h.pointee.rawLength
        h.pointee.flags.formUnion(flags)
        h.pointee.offset = offset
        h.pointee.receivedNanos = receivedNanos
        h.pointee.sourceID = sourceID
        h.pointee.pipelineID = pipeline
    }

    /// An event an action made from `origin` (`split`: one per element), `length` bytes of
    /// record: in origin's pipeline and stream, at its offset and time, flagged `derived`.
    @inlinable public func fillDerived(length: Int, from origin: Event) {
        let h = mutableHeader, o = origin.header
        h.pointee.rawLength = UInt32(length)
        h.pointee.usedLength = UInt32(length)
        h.pointee.pipelineID = o.pointee.pipelineID
        h.pointee.sourceID = o.pointee.sourceID
        h.pointee.offset = o.pointee.offset
        h.pointee.receivedNanos = o.pointee.receivedNanos
        h.pointee.flags = .derived
    }

    /// Bytes written after the used part of the data area by the caller (`join`) now belong to
    /// the event.
    @inlinable public func extendUsed(by bytes: Int) { mutableHeader.pointee.usedLength += UInt32(bytes) }

    // MARK: The field index

    /// The one way an event's record becomes a field index: scans the record as JSON (at most
    /// `maxDepth` deep) into the index. Valid: the top-level members are indexed (`decoded`,
    /// `object` when it is an object, `fieldsTruncated` when the index had no room for all);
    /// invalid: no fields, `invalidJSON`. Returns whether it was valid.
    @inlinable @discardableResult public func indexJSON(maxDepth: Int = JSONScanner.defaultMaxDepth) -> Bool {
        let h = mutableHeader
        switch JSONScanner.scan(raw, fields: fields, fieldCapacity: Int(h.pointee.fieldCapacity), maxDepth: maxDepth) {
        case .valid(let count, let truncated):
            markIndexed(count: count, truncated: truncated)
            return true
        case .invalid:
            markInvalidJSON()
            return false
        }
    }

    /// The index of a valid text that `JSONScanner.scan` wrote elsewhere (`staged`, `count`
    /// entries, which the index has room for), with the flags `indexJSON` sets.
    @inlinable public func setIndex(copying staged: UnsafePointer<FieldEntry>, count: Int, truncated: Bool) {
        let h = mutableHeader
        precondition(count <= Int(h.pointee.fieldCapacity), "the index has no room for the staged entries")
        fields.update(from: staged, count: count)
        markIndexed(count: count, truncated: truncated)
    }

    /// The index holds the first `count` members of a valid text (`truncated`: not all of them).
    @inlinable func markIndexed(count: Int, truncated: Bool) {
        let h = mutableHeader
        h.pointee.fieldCount = UInt16(count)
        h.pointee.flags.insert(.decoded)
        if truncated { h.pointee.flags.insert(.fieldsTruncated) } else { h.pointee.flags.remove(.fieldsTruncated) }
        if Event.startsAnObject(raw) { h.pointee.flags.insert(.object) }
    }

    /// The record is not valid JSON (`indexJSON`'s outcome for it).
    @inlinable public func markInvalidJSON() {
        let h = mutableHeader
        h.pointee.fieldCount = 0
        h.pointee.flags.insert(.invalidJSON)
    }

    /// Whether the first byte after whitespace opens an object.
    @inlinable public static func startsAnObject(_ raw: UnsafeRawBufferPointer) -> Bool {
        for b in raw where b != 32 && b != 9 && b != 10 && b != 13 { return b == 123 }
        return false
    }

    /// An action edited the index: it holds `count` entries now, and outputs re-encode the
    /// event from it (`modified`).
    @inlinable public func setFieldCount(_ count: Int) {
        let h = mutableHeader
        h.pointee.fieldCount = UInt16(count)
        h.pointee.flags.insert(.modified)
    }

    // MARK: Links between slots

    /// This event is `origin`'s content moved into a longer slot by an action (`grown`): the
    /// slot the event was framed in is released in its place.
    @inlinable public func linkGrown(from origin: EventHandle) {
        let h = mutableHeader
        h.pointee.origin = origin
        // `chained` stays on the slot the event was framed in, which still links the chain.
        h.pointee.flags.remove(.chained)
        h.pointee.flags.insert(.grown)
    }

    /// `join` folded the event in slot `next` into this one's record: it is released right
    /// after this one.
    @inlinable public func chain(to next: EventHandle) {
        let h = mutableHeader
        h.pointee.origin = next
        h.pointee.flags.insert(.chained)
    }

    // MARK: Delivery

    /// The outputs whose bit is set in `routes` write the event; `outputs` acknowledgements
    /// release it.
    @inlinable public func route(_ routes: UInt32, acknowledgements outputs: Int) {
        let h = mutableHeader
        h.pointee.routes = routes
        h.pointee.pendingAcks = UInt32(outputs)
    }

    /// The output with `bit` does not write the event after all (rejected to dead letters).
    @inlinable public func unroute(_ bit: UInt32) { mutableHeader.pointee.routes &= ~bit }

    /// One output acknowledged the event; true when it was the last.
    @inlinable public func acknowledgedOnce() -> Bool {
        let h = mutableHeader
        precondition(h.pointee.pendingAcks > 0, "event acknowledged by more outputs than it was given to")
        h.pointee.pendingAcks -= 1
        return h.pointee.pendingAcks == 0
    }
}

extension Event {
    /// The header words actions change (used bytes, index length, flags), to put an event back
    /// as it was: benchmarks run one corpus of events through an action again and again.
    public struct EditState: Sendable {
        public let usedLength: UInt32
        public let fieldCount: UInt16
        public let flags: EventFlags
    }

    public var editState: EditState {
        let h = header
        return EditState(usedLength: h.pointee.usedLength, fieldCount: h.pointee.fieldCount, flags: h.pointee.flags)
    }

    public func restore(_ state: EditState) {
        let h = mutableHeader
        h.pointee.usedLength = state.usedLength
        h.pointee.fieldCount = state.fieldCount
        h.pointee.flags = state.flags
    }
}
