import Glibc

/// One worker's staging area for the values an action sets in a decoded event: the action
/// collects its writes here (keys and values copied and escaped into the writer's own bytes, so
/// nothing points into the event), then `apply` makes room once for all of them and edits the
/// index. Used by the parsing actions (`mask`, `parse_re`, `decode`, `convert_date`,
/// `convert_log_level`). A write targets a top-level field by name (replaced when present, added
/// at the end when not) or an existing top-level field by index; a nested value is replaced by
/// rewriting the top-level value around it (`replace(inTopLevel:range:…)`).
///
/// Limits: `byteCapacity` bytes of keys and values (the actions size it to `--max-event-size`:
/// what passes it could not fit an event either) and `writeCapacity` writes. A write that
/// passes either sets `overflowed`; `apply` then changes nothing and answers `.tooLarge`.
public struct FieldWriter {
    struct Write {
        /// The key escaped for JSON (no quotes) and plain; both in `bytes`. Unused (0) for a
        /// write to a field by index.
        var keyOffset: Int
        var keyLength: Int
        var plainOffset: Int
        var plainLength: Int
        /// The raw JSON value (a string with its quotes).
        var valueOffset: Int
        var valueLength: Int
        var kind: JSONValueKind
        var flags: UInt8
        /// The index entry it replaces; -1 while resolved by name.
        var target: Int
        /// Set by name (the key is used), else by index.
        var named: Bool
    }

    /// Most entries an event's index can have (`fieldCount` is 16 bits): no action can write
    /// more fields than that.
    public static let indexLimit = Int(UInt16.max)

    let bytes: UnsafeMutableRawPointer
    public let byteCapacity: Int
    private(set) var used = 0
    let writes: UnsafeMutablePointer<Write>
    public let writeCapacity: Int
    public private(set) var count = 0
    /// A write did not fit the writer: the change cannot fit an event.
    public private(set) var overflowed = false
    /// More writes than `writeCapacity` were asked for (`overflowed` is set too).
    public private(set) var tooManyWrites = false

    /// Allocated per worker (`forWorker()`); freed by `deallocate()`.
    public init(byteCapacity: Int, writeCapacity: Int) {
        precondition(byteCapacity > 0 && writeCapacity > 0, "a field writer needs room")
        self.byteCapacity = byteCapacity
        self.writeCapacity = writeCapacity
        bytes = .allocate(byteCount: byteCapacity, alignment: 8)
        writes = .allocate(capacity: writeCapacity)
    }

    public func deallocate() {
        bytes.deallocate()
        writes.deallocate()
    }

    /// Forgets the writes of the last event.
    @inline(__always) public mutating func reset() {
        used = 0
        count = 0
        overflowed = false
        tooManyWrites = false
    }

    // MARK: Collecting writes

    /// Sets the top-level field `prefix` + `key` (plain UTF-8) to the string `value` (plain
    /// UTF-8; quoted and escaped here). False when the writer is full (`overflowed`).
    @discardableResult
    public mutating func setString(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        guard let k = addKey(prefix: prefix, key: key), let v = addQuoted(value) else { return fail() }
        return addWrite(Write(keyOffset: k.escaped, keyLength: k.escapedLength, plainOffset: k.plain, plainLength: k.plainLength,
                              valueOffset: v.offset, valueLength: v.length, kind: .string, flags: v.flags, target: -1, named: true))
    }

    /// Sets the top-level field `prefix` + `key` to `json`, a raw JSON value of kind `kind`
    /// (copied as it is). `keyIsEscaped`: `key` is the raw text between a JSON key's quotes.
    @discardableResult
    public mutating func setRaw(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, keyIsEscaped: Bool = false,
                                json: UnsafeRawBufferPointer, kind: JSONValueKind) -> Bool {
        guard let k = addKey(prefix: prefix, key: key, escaped: keyIsEscaped), let v = addBytes(json) else { return fail() }
        let flags = kind == .string && memchr(json.baseAddress!, 92, json.count) != nil ? FieldEntry.valueHasEscapes : 0
        return addWrite(Write(keyOffset: k.escaped, keyLength: k.escapedLength, plainOffset: k.plain, plainLength: k.plainLength,
                              valueOffset: v, valueLength: json.count, kind: kind, flags: flags, target: -1, named: true))
    }

    /// Replaces the value of top-level field `index` with the string `value` (plain UTF-8).
    @discardableResult
    public mutating func replaceString(at index: Int, value: UnsafeRawBufferPointer) -> Bool {
        guard let v = addQuoted(value) else { return fail() }
        return addWrite(Write(keyOffset: 0, keyLength: 0, plainOffset: 0, plainLength: 0, valueOffset: v.offset, valueLength: v.length,
                              kind: .string, flags: v.flags, target: index, named: false))
    }

    /// Replaces the value of top-level field `index` with the raw JSON `json` of kind `kind`.
    @discardableResult
    public mutating func replaceRaw(at index: Int, json: UnsafeRawBufferPointer, kind: JSONValueKind) -> Bool {
        guard let v = addBytes(json) else { return fail() }
        let flags = kind == .string && memchr(json.baseAddress!, 92, json.count) != nil ? FieldEntry.valueHasEscapes : 0
        return addWrite(Write(keyOffset: 0, keyLength: 0, plainOffset: 0, plainLength: 0, valueOffset: v, valueLength: json.count,
                              kind: kind, flags: flags, target: index, named: false))
    }

    /// Replaces the bytes `range` of top-level field `index`'s value (a nested value inside it,
    /// as `FieldPath.lookup` found it) with the string `string` (plain, quoted here) or, when
    /// `string` is nil, the raw JSON `json`: the field gets the whole rewritten value.
    @discardableResult
    public mutating func replace(inTopLevel index: Int, of event: Event, range: Range<Int>, string: UnsafeRawBufferPointer?,
                                 json: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)) -> Bool {
        let whole = event.value(index)
        precondition(range.lowerBound >= 0 && range.upperBound <= whole.count, "nested range outside its top-level value")
        let start = used
        guard let _ = addBytes(UnsafeRawBufferPointer(rebasing: whole[..<range.lowerBound])) else { return fail() }
        if let string {
            guard addQuoted(string) != nil else { return fail() }
        } else {
            guard addBytes(json) != nil else { return fail() }
        }
        guard addBytes(UnsafeRawBufferPointer(rebasing: whole[range.upperBound...])) != nil else { return fail() }
        return addWrite(Write(keyOffset: 0, keyLength: 0, plainOffset: 0, plainLength: 0, valueOffset: start, valueLength: used - start,
                              kind: event.fields[index].kind, flags: 0, target: index, named: false))
    }

    private mutating func fail() -> Bool {
        overflowed = true
        return false
    }

    private mutating func addWrite(_ write: Write) -> Bool {
        guard count < writeCapacity else {
            tooManyWrites = true
            return fail()
        }
        (writes + count).initialize(to: write)
        count += 1
        return true
    }

    private mutating func addBytes(_ source: UnsafeRawBufferPointer) -> Int? {
        guard used + source.count <= byteCapacity else { return nil }
        if source.count > 0 { (bytes + used).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        defer { used += source.count }
        return used
    }

    /// `"` + escaped `plain` + `"`.
    private mutating func addQuoted(_ plain: UnsafeRawBufferPointer) -> (offset: Int, length: Int, flags: UInt8)? {
        let start = used
        guard used + 2 <= byteCapacity else { return nil }
        bytes.storeBytes(of: 34, toByteOffset: used, as: UInt8.self)
        guard let n = JSONText.escape(plain, into: bytes + used + 1, capacity: byteCapacity - used - 2) else { return nil }
        bytes.storeBytes(of: 34, toByteOffset: used + 1 + n, as: UInt8.self)
        let escapes = n > 0 && memchr(bytes + used + 1, 92, n) != nil
        used += n + 2
        return (start, n + 2, escapes ? FieldEntry.valueHasEscapes : 0)
    }

    /// The key twice: plain (`prefix` + key, unescaped when `escaped`) and escaped for JSON.
    private mutating func addKey(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, escaped: Bool = false)
        -> (plain: Int, plainLength: Int, escaped: Int, escapedLength: Int)?
    {
        let plain = used
        guard addBytes(prefix) != nil else { return nil }
        if escaped && key.count > 0 && memchr(key.baseAddress!, 92, key.count) != nil {
            // Unescaping never lengthens.
            guard used + key.count <= byteCapacity else { return nil }
            used += StringUnescaper.unescape(key, into: bytes + used, capacity: key.count)
        } else {
            guard addBytes(key) != nil else { return nil }
        }
        let plainLength = used - plain
        let escapedStart = used
        guard let n = JSONText.escape(UnsafeRawBufferPointer(start: bytes + plain, count: plainLength), into: bytes + used,
                                      capacity: byteCapacity - used) else { return nil }
        used += n
        return (plain, plainLength, escapedStart, n)
    }

    // MARK: Applying them

    /// What `apply` did.
    public enum Outcome: Equatable {
        /// The event has every write (or there were none: `changed` is false).
        case done(changed: Bool)
        /// Not a decoded JSON object: nothing can be set.
        case notAnObject
        /// Room is needed and no large slot is free now; run again later.
        case waitForRoom
        /// The change would not fit `--max-event-size` (or the writer overflowed): unchanged.
        case tooLarge
    }

    /// Gives an event whose index stopped at `--max-fields` an entry for every member (the index
    /// grows, or the event moves to a large slot), so lookups see every field and re-encoding
    /// loses none; `extraEntries` more entries are reserved for fields the action may add.
    /// `.done(changed: false)` when nothing was needed. Call before looking fields up; the event
    /// to use afterwards is `context.event`.
    public static func indexEveryMember(_ event: Event, extraEntries: Int, context: inout ActionContext) -> Outcome {
        guard event.has(EventFlags.fieldsTruncated) else { return .done(changed: false) }
        let members = JSONScanner.memberCount(inObject: event.raw)
        switch context.makeRoom(fieldEntries: members + extraEntries, dataBytes: 0) {
        case .ready: break
        case .wait: return .waitForRoom
        case .tooLarge: return .tooLarge
        }
        context.event.indexAllMembers()
        return .done(changed: false)
    }

    /// Removes top-level field `index` from `event`'s index (its bytes stay, unused). For after
    /// `apply`, whose writes it does not follow.
    public static func remove(_ index: Int, from event: Event) {
        let h = event.header
        let n = Int(h.pointee.fieldCount)
        precondition(index >= 0 && index < n, "removing a field that is not in the index")
        if index + 1 < n { (event.fields + index).update(from: event.fields + index + 1, count: n - index - 1) }
        h.pointee.fieldCount -= 1
        h.pointee.flags |= EventFlags.modified
    }

    /// After `apply`: a write went to top-level field `index`.
    public func wrote(_ index: Int) -> Bool {
        for i in 0..<count where writes[i].target == index { return true }
        return false
    }

    /// Applies every write to `event` (a decoded object whose index holds every member:
    /// `indexEveryMember` first): finds the named fields, asks `context` for room once for all
    /// of them, appends keys and values after the used data and points the index at them. The
    /// event to use afterwards is `context.event`. On `.waitForRoom` and `.tooLarge` the event
    /// is unchanged.
    public mutating func apply(_ event: Event, context: inout ActionContext) -> Outcome {
        guard event.has(EventFlags.object) else { return .notAnObject }
        guard !overflowed else { return .tooLarge }
        guard count > 0 else { return .done(changed: false) }
        precondition(!event.has(EventFlags.fieldsTruncated), "writes into an event whose index stops at --max-fields")
        var event = event
        // Resolve names: an existing field, or a field an earlier write of this batch adds
        // (encoded as -2 - that write's number), or a new entry.
        var added = 0
        var dataBytes = 0
        for i in 0..<count {
            let w = writes[i]
            dataBytes += w.valueLength
            guard w.target == -1 else { continue }
            let plain = UnsafeRawBufferPointer(start: bytes + w.plainOffset, count: w.plainLength)
            if let existing = event.fieldIndex(named: plain) {
                writes[i].target = existing
            } else if let earlier = earlierWrite(named: plain, before: i) {
                writes[i].target = writes[earlier].target
            } else {
                writes[i].target = -2 - added
                added += 1
                dataBytes += w.keyLength
            }
        }
        let entries = event.fieldCount + added
        if !event.hasRoom(fieldEntries: entries, dataBytes: dataBytes) {
            switch context.makeRoom(fieldEntries: entries, dataBytes: dataBytes) {
            case .ready: event = context.event
            case .wait:
                unresolve()
                return .waitForRoom
            case .tooLarge:
                unresolve()
                return .tooLarge
            }
        }
        let h = event.header
        let base = Int(h.pointee.fieldCount)
        for i in 0..<count {
            let w = writes[i]
            let valueOffset = event.append(UnsafeRawBufferPointer(start: bytes + w.valueOffset, count: w.valueLength))!
            let index: Int
            if w.target >= 0 {
                index = w.target
            } else {
                index = base + (-2 - w.target)
                if index == Int(h.pointee.fieldCount) {
                    let keyOffset = event.append(UnsafeRawBufferPointer(start: bytes + w.keyOffset, count: w.keyLength))!
                    (event.fields + index).initialize(to: FieldEntry(keyOffset: keyOffset, keyLength: UInt32(w.keyLength),
                                                                     valueOffset: 0, valueLength: 0, kind: w.kind, flags: 0))
                    h.pointee.fieldCount += 1
                }
            }
            event.fields[index].valueOffset = valueOffset
            event.fields[index].valueLength = UInt32(w.valueLength)
            event.fields[index].kind = w.kind
            event.fields[index].flags = event.fields[index].flags & FieldEntry.keyHasEscapes | w.flags
        }
        h.pointee.flags |= EventFlags.modified
        return .done(changed: true)
    }

    private func earlierWrite(named plain: UnsafeRawBufferPointer, before end: Int) -> Int? {
        var j = 0
        while j < end {
            let w = writes[j]
            if w.named && w.plainLength == plain.count && w.target < -1
                && (plain.count == 0 || memcmp(bytes + w.plainOffset, plain.baseAddress!, plain.count) == 0) { return j }
            j += 1
        }
        return nil
    }

    /// Back to names after a failed apply, so a retry (`.waitForRoom`) resolves them again.
    private mutating func unresolve() {
        for i in 0..<count where writes[i].named { writes[i].target = -1 }
    }
}

/// A string field's text as plain UTF-8: the bytes between the quotes, unescaped into `scratch`
/// (at least as large as the value) only when they hold an escape.
@inline(__always) func plainText(ofString raw: UnsafeRawBufferPointer, scratch: UnsafeMutableRawPointer, capacity: Int) -> UnsafeRawBufferPointer {
    precondition(raw.count >= 2, "a JSON string has its quotes")
    let inner = UnsafeRawBufferPointer(start: raw.baseAddress! + 1, count: raw.count - 2)
    if inner.count == 0 || memchr(inner.baseAddress!, 92, inner.count) == nil { return inner }
    return UnsafeRawBufferPointer(start: scratch, count: StringUnescaper.unescape(inner, into: scratch, capacity: capacity))
}

/// What a field-editing action did with one event; `verdict` turns it into the processor's
/// verdict and counts what the action could not do.
public enum EditResult: Equatable {
    /// Fields were set.
    case changed
    /// Nothing to do (the field is absent, nothing matched).
    case unchanged
    /// The value could not be used (wrong type, unparseable, not a decoded object): counted.
    case failed
    /// Needs room that is not free now: the action runs again later.
    case waitForRoom
    /// The result would not fit `--max-event-size`: left unchanged, counted.
    case tooLarge

    init(_ outcome: FieldWriter.Outcome) {
        switch outcome {
        case .done(let changed): self = changed ? .changed : .unchanged
        case .notAnObject: self = .failed
        case .waitForRoom: self = .waitForRoom
        case .tooLarge: self = .tooLarge
        }
    }

    /// `failed` is counted in `failedCounter`, `tooLarge` in `parse_too_large`.
    @inline(__always) func verdict(failed failedCounter: Counter, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        switch self {
        case .changed, .unchanged: return .pass
        case .failed: counters.add(failedCounter, 1, pipeline: pipeline)
        case .tooLarge: counters.add(.parseTooLarge, 1, pipeline: pipeline)
        case .waitForRoom: return .wait
        }
        return .pass
    }
}

/// A field found at a path: the top-level entry holding it and where it sits in that entry's
/// value (the whole value for a top-level path).
struct LocatedField {
    let top: Int
    let value: UnsafeRawBufferPointer
    let kind: JSONValueKind
    /// Byte range of `value` inside the top-level value.
    let range: Range<Int>
}

extension FieldPath {
    /// Like `lookup`, with the top-level entry and the range, for writing the value back.
    func locate(_ event: Event) -> LocatedField? {
        guard let top = event.fieldIndex(named: first), let (value, kind) = lookup(event) else { return nil }
        let whole = event.value(top)
        let start = value.baseAddress! - whole.baseAddress!
        return LocatedField(top: top, value: value, kind: kind, range: start..<(start + value.count))
    }
}

extension FieldWriter {
    /// Writes the string `plain` where `field` was: the top-level value, or the nested value
    /// inside it.
    @discardableResult
    mutating func replaceString(_ field: LocatedField, in event: Event, with plain: UnsafeRawBufferPointer) -> Bool {
        if field.range == 0..<event.value(field.top).count { return replaceString(at: field.top, value: plain) }
        return replace(inTopLevel: field.top, of: event, range: field.range, string: plain)
    }

    /// Writes the raw JSON `json` of kind `kind` where `field` was.
    @discardableResult
    mutating func replaceRaw(_ field: LocatedField, in event: Event, with json: UnsafeRawBufferPointer, kind: JSONValueKind) -> Bool {
        if field.range == 0..<event.value(field.top).count { return replaceRaw(at: field.top, json: json, kind: kind) }
        return replace(inTopLevel: field.top, of: event, range: field.range, string: nil, json: json)
    }
}
