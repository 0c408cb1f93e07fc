import Glibc

/// The one way actions change the fields of a decoded JSON event: look up the value at a dotted
/// path, set a path to an encoded JSON value (creating objects on the way), remove a path.
///
/// The raw bytes are never touched. A top-level change repoints (or adds, or drops) an entry of
/// the field index; a nested change writes a new encoded value of the top-level member (the old
/// one with the edit spliced in) after the event's used bytes and repoints that member's entry.
/// Room comes from `ActionContext.makeRoom` (the index grows into the slot, or the event moves
/// to a large slot), so `.wait` and `.tooLarge` are the caller's to pass on, as `modify` does.
/// An index cut at `--max-fields` is first extended to every member (the event is re-encoded
/// from its index once changed, so it must hold them all).
///
/// The new top-level value is built in a scratch buffer of `--max-event-size` bytes owned by this
/// instance (one per worker: `init` in `forWorker()`, `dispose()` when the copy retires); the
/// value handed to `set` may point into the event itself (it is copied before any room is made).
public struct EventEditor: @unchecked Sendable {
    let scratch: UnsafeMutableRawPointer
    public let scratchCapacity: Int

    public init(maxEventBytes: Int) {
        scratchCapacity = max(maxEventBytes, 64)
        scratch = .allocate(byteCount: scratchCapacity, alignment: 8)
    }

    public func dispose() { scratch.deallocate() }

    /// What an edit did.
    public enum Outcome: Equatable, Sendable {
        /// The event changed (`EventFlags.modified` is set).
        case done
        /// `remove`: nothing is at the path (the event is unchanged).
        case missing
        /// The event is not a decoded JSON object (invalid, undecoded, or an array/scalar).
        case notAnObject
        /// A value on the way to the path is not an object (`set` of `a.b` when `a` is `5`).
        case pathBlocked
        /// Room is needed and no large slot is free now: run the action again later.
        case wait
        /// The change would not fit `--max-event-size`; the event is unchanged.
        case tooLarge
    }

    // MARK: Reading

    /// The raw JSON value at `path` and its kind, or nil. A member past the `--max-fields`
    /// index of an event no action changed is found in the raw bytes.
    public static func lookup(_ event: Event, _ path: FieldPath) -> (value: UnsafeRawBufferPointer, kind: JSONValueKind)? {
        guard event.has(EventFlags.decoded) else { return nil }
        if let found = path.lookup(event) { return found }
        guard event.has(EventFlags.fieldsTruncated), !event.has(EventFlags.modified), event.has(EventFlags.object),
              event.fieldIndex(named: path.component(0)) == nil else { return nil }
        return find(path, inObject: event.raw)
    }

    /// Like `lookup`, and for an event no action decoded, the value found in its raw text when
    /// that is a JSON object: outputs that read fields (`elasticsearch`'s index, `syslog`) work
    /// without a `json_decode` before them. Each such read walks the text (bounds-checked: text
    /// that is not JSON gives nil or a bounded wrong value, never a bad read).
    public static func read(_ event: Event, _ path: FieldPath) -> (value: UnsafeRawBufferPointer, kind: JSONValueKind)? {
        if event.has(EventFlags.decoded) { return lookup(event, path) }
        if event.has(EventFlags.invalidJSON) { return nil }
        return find(path, inObject: event.raw)
    }

    /// The value at `path` (from its component `first` on) in an object's text.
    static func find(_ path: FieldPath, inObject object: UnsafeRawBufferPointer, from first: Int = 0) -> (value: UnsafeRawBufferPointer, kind: JSONValueKind)? {
        var value = object
        var kind = JSONValueKind.object
        for i in first..<path.componentCount {
            guard kind == .object, case .found(let span) = JSONObjectText.find(path.component(i), in: value) else { return nil }
            value = UnsafeRawBufferPointer(start: value.baseAddress! + span.valueStart, count: span.valueEnd - span.valueStart)
            kind = span.kind
        }
        return (value, kind)
    }

    // MARK: Writing

    /// Sets `path` to `value` (one encoded JSON value of `kind`), replacing what is there and
    /// creating the missing objects on the way; a new top-level member goes last.
    public func set(_ path: FieldPath, to value: UnsafeRawBufferPointer, kind: JSONValueKind,
                    context: inout ActionContext) -> Outcome {
        guard context.event.has(EventFlags.object) else { return .notAnObject }
        var value = value
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = indexEveryMember(&context, keeping: &value)
            guard indexed == .done else { return indexed }
        }
        let event = context.event
        let top = event.fieldIndex(named: path.component(0))
        var writer = ScratchWriter(scratch, scratchCapacity)
        if path.isTopLevel {
            writer.put(value)
        } else if let top {
            guard event.fields[top].kind == .object else { return .pathBlocked }
            guard spliceSet(path, value: value, into: event.value(top), &writer) else { return .pathBlocked }
        } else {
            writer.put(JSONObjectText.Byte.openBrace)
            writeChain(path, from: 1, value: value, &writer)
            writer.put(JSONObjectText.Byte.closeBrace)
        }
        let valueLength = writer.count
        if top == nil { writer.putEscaped(path.component(0)) }
        guard !writer.overflowed else { return .tooLarge }
        let topKind = path.isTopLevel ? kind : .object
        let topFlags = topKind == .string && memchr(scratch, 92, valueLength) != nil ? FieldEntry.valueHasEscapes : 0
        return store(top: top, valueLength: valueLength, keyLength: writer.count - valueLength, kind: topKind,
                     flags: topFlags, context: &context)
    }

    /// Sets the top-level member whose raw (escaped) key is `escapedKey` to `value`, adding it
    /// last when absent: for keys made from other keys (flatten) without unescaping them.
    public func setTopLevel(escapedKey: UnsafeRawBufferPointer, to value: UnsafeRawBufferPointer, kind: JSONValueKind,
                            context: inout ActionContext) -> Outcome {
        guard context.event.has(EventFlags.object) else { return .notAnObject }
        var value = value
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = indexEveryMember(&context, keeping: &value)
            guard indexed == .done else { return indexed }
        }
        let event = context.event
        var top: Int? = nil
        for i in 0..<event.fieldCount {
            let key = event.key(i)
            if key.count == escapedKey.count && (key.count == 0 || memcmp(key.baseAddress!, escapedKey.baseAddress!, key.count) == 0) {
                top = i
                break
            }
        }
        var writer = ScratchWriter(scratch, scratchCapacity)
        writer.put(value)
        if top == nil { writer.put(escapedKey) }
        guard !writer.overflowed else { return .tooLarge }
        let flags = kind == .string && memchr(scratch, 92, value.count) != nil ? FieldEntry.valueHasEscapes : 0
        return store(top: top, valueLength: value.count, keyLength: writer.count - value.count, kind: kind, flags: flags,
                     context: &context)
    }

    /// Removes the member at `path` (the first one of that name at each level).
    public func remove(_ path: FieldPath, context: inout ActionContext) -> Outcome {
        guard context.event.has(EventFlags.object) else { return .notAnObject }
        var top = context.event.fieldIndex(named: path.component(0))
        if context.event.has(EventFlags.fieldsTruncated) {
            // A changed event is encoded from its index, so the members past the cut must be
            // indexed before any entry is dropped or repointed, or they would be lost.
            guard EventEditor.lookup(context.event, path) != nil else { return .missing }
            let indexed = indexEveryMember(&context)
            guard indexed == .done else { return indexed }
            top = context.event.fieldIndex(named: path.component(0))
        }
        let event = context.event
        guard let top else { return .missing }
        if path.isTopLevel {
            removeEntry(top, of: event)
            return .done
        }
        guard event.fields[top].kind == .object else { return .missing }
        let old = event.value(top)
        var object = old
        var objectStart = 0
        var i = 1
        while true {
            guard case .found(let span) = JSONObjectText.find(path.component(i), in: object) else { return .missing }
            if i == path.componentCount - 1 {
                let cut = span.removal
                var writer = ScratchWriter(scratch, scratchCapacity)
                writer.put(UnsafeRawBufferPointer(rebasing: old[0..<(objectStart + cut.lowerBound)]))
                writer.put(UnsafeRawBufferPointer(rebasing: old[(objectStart + cut.upperBound)...]))
                guard !writer.overflowed else { return .tooLarge }
                return store(top: top, valueLength: writer.count, keyLength: 0, kind: .object, flags: 0, context: &context)
            }
            guard span.kind == .object else { return .missing }
            objectStart += span.valueStart
            object = UnsafeRawBufferPointer(start: old.baseAddress! + objectStart, count: span.valueEnd - span.valueStart)
            i += 1
        }
    }

    /// Drops top-level entry `index` (the later ones move down one place).
    public func removeEntry(_ index: Int, of event: Event) {
        let h = event.header
        let count = Int(h.pointee.fieldCount)
        precondition(index < count, "removing a field entry past the index")
        if index + 1 < count { (event.fields + index).update(from: event.fields + index + 1, count: count - index - 1) }
        event.setFieldCount(count - 1)
    }

    /// Gives the index room for every member of an event cut at `--max-fields` (plus one
    /// new one) and indexes them all.
    public func indexEveryMember(_ context: inout ActionContext) -> Outcome {
        var nothing = UnsafeRawBufferPointer(start: nil, count: 0)
        return indexEveryMember(&context, keeping: &nothing)
    }

    /// The same, with `value` pointed at its new place when it lay in the event's data (making
    /// room moves the data, keeping every offset from its start).
    ///
    /// Only the text past the cut is walked, once (it was validated when decoded): its entries
    /// are staged in the scratch, which holds nothing yet, and copied in once there is room.
    func indexEveryMember(_ context: inout ActionContext, keeping value: inout UnsafeRawBufferPointer) -> Outcome {
        guard context.event.has(EventFlags.fieldsTruncated) else { return .done }
        let data = UnsafeRawPointer(context.event.data)
        let used = Int(context.event.header.pointee.usedLength)
        let inEvent = value.baseAddress.map { $0 >= data && $0 + value.count <= data + used } ?? false
        let offset = inEvent ? value.baseAddress! - data : 0
        let stagedCapacity = min(scratchCapacity / MemoryLayout<FieldEntry>.stride, Int(UInt16.max))
        let staged = scratch.bindMemory(to: FieldEntry.self, capacity: stagedCapacity)
        // nil: more members than an index can hold (the text was valid when it was decoded).
        guard let past = JSONScanner.membersAfter(context.event.indexCutOffset, inObject: context.event.raw,
                                                  into: staged, capacity: stagedCapacity) else { return .tooLarge }
        switch context.makeRoom(fieldEntries: context.event.fieldCount + past + 1, dataBytes: 0) {
        case .ready: break
        case .wait: return .wait
        case .tooLarge: return .tooLarge
        }
        context.event.completeIndex(with: staged, count: past)
        if inEvent { value = UnsafeRawBufferPointer(start: context.event.data + offset, count: value.count) }
        return .done
    }

    // MARK: Building the new value

    /// Writes `old` (a top-level object value) with `path` from its second component set to
    /// `value`; false when a value on the way is not an object.
    func spliceSet(_ path: FieldPath, value: UnsafeRawBufferPointer, into old: UnsafeRawBufferPointer,
                   _ writer: inout ScratchWriter) -> Bool {
        var object = old
        var objectStart = 0
        var i = 1
        while true {
            switch JSONObjectText.find(path.component(i), in: object) {
            case .found(let span):
                if i == path.componentCount - 1 {
                    writer.put(UnsafeRawBufferPointer(rebasing: old[0..<(objectStart + span.valueStart)]))
                    writer.put(value)
                    writer.put(UnsafeRawBufferPointer(rebasing: old[(objectStart + span.valueEnd)...]))
                    return true
                }
                guard span.kind == .object else { return false }
                objectStart += span.valueStart
                object = UnsafeRawBufferPointer(start: old.baseAddress! + objectStart, count: span.valueEnd - span.valueStart)
                i += 1
            case .absent(let brace, let isEmpty):
                writer.put(UnsafeRawBufferPointer(rebasing: old[0..<(objectStart + brace)]))
                if !isEmpty { writer.put(JSONObjectText.Byte.comma) }
                writeChain(path, from: i, value: value, &writer)
                writer.put(UnsafeRawBufferPointer(rebasing: old[(objectStart + brace)...]))
                return true
            case .notAnObject:
                return false
            }
        }
    }

    /// `"c_i":{"c_i+1":…{"c_last":VALUE}…}`: the members from component `i` down to the value.
    func writeChain(_ path: FieldPath, from i: Int, value: UnsafeRawBufferPointer, _ writer: inout ScratchWriter) {
        let last = path.componentCount - 1
        for k in i...last {
            writer.put(JSONObjectText.Byte.quote)
            writer.putEscaped(path.component(k))
            writer.put(JSONObjectText.Byte.quote)
            writer.put(JSONObjectText.Byte.colon)
            if k < last { writer.put(JSONObjectText.Byte.openBrace) }
        }
        writer.put(value)
        for _ in i..<last { writer.put(JSONObjectText.Byte.closeBrace) }
    }

    /// Appends the scratch's first `valueLength` bytes (and the `keyLength` key bytes after
    /// them, for a new member) to the event and points entry `top` (or a new last entry) at them.
    func store(top: Int?, valueLength: Int, keyLength: Int, kind: JSONValueKind, flags: UInt8,
               context: inout ActionContext) -> Outcome {
        var event = context.event
        let entries = event.fieldCount + (top == nil ? 1 : 0)
        let bytes = valueLength + keyLength
        if !event.hasRoom(fieldEntries: entries, dataBytes: bytes) {
            switch context.makeRoom(fieldEntries: entries, dataBytes: bytes) {
            case .ready: event = context.event
            case .wait: return .wait
            case .tooLarge: return .tooLarge
            }
        }
        let h = event.header
        let valueOffset = event.append(UnsafeRawBufferPointer(start: scratch, count: valueLength))!
        if let top {
            event.fields[top].valueOffset = valueOffset
            event.fields[top].valueLength = UInt32(valueLength)
            event.fields[top].kind = kind
            event.fields[top].flags = event.fields[top].flags & FieldEntry.keyHasEscapes | flags
        } else {
            let key = UnsafeRawBufferPointer(start: scratch + valueLength, count: keyLength)
            let keyOffset = event.append(key)!
            let keyFlags = memchr(scratch + valueLength, 92, keyLength) != nil ? FieldEntry.keyHasEscapes : 0
            (event.fields + Int(h.pointee.fieldCount)).initialize(to: FieldEntry(
                keyOffset: keyOffset, keyLength: UInt32(keyLength), valueOffset: valueOffset,
                valueLength: UInt32(valueLength), kind: kind, flags: keyFlags | flags))
            event.setFieldCount(Int(h.pointee.fieldCount) + 1)
        }
        event.set(.modified)
        return .done
    }
}

/// Bytes written one after another into a fixed buffer; past its capacity it only remembers
/// that it overflowed (one check at the end instead of one per write).
struct ScratchWriter {
    let base: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var count = 0
    private(set) var overflowed = false

    init(_ base: UnsafeMutableRawPointer, _ capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always) mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard !overflowed, count + bytes.count <= capacity else { overflowed = true; return }
        if bytes.count > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count += bytes.count
    }

    @inline(__always) mutating func put(_ byte: UInt8) {
        guard !overflowed, count < capacity else { overflowed = true; return }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// JSON string contents, escaped.
    @inline(__always) mutating func putEscaped(_ bytes: UnsafeRawBufferPointer) {
        guard !overflowed, let n = JSONEscaper.escape(bytes, into: base + count, capacity: capacity - count) else {
            overflowed = true
            return
        }
        count += n
    }
}

extension FieldPath {
    /// Component `i` of the path, as plain UTF-8.
    @inline(__always) public func component(_ i: Int) -> UnsafeRawBufferPointer {
        let c = components[i]
        return UnsafeRawBufferPointer(start: bytes + c.0, count: c.1)
    }

    /// The path as the user wrote it, for messages.
    public var text: String { String(decoding: UnsafeRawBufferPointer(start: bytes, count: components[componentCount - 1].0 + components[componentCount - 1].1), as: UTF8.self) }
}
