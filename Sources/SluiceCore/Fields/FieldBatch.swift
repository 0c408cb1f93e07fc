import Glibc

/// One worker's list of top-level fields an action sets in one event, for actions that set
/// several at once (`decode`, `parse_re`, `mask` over every string): keys and encoded values
/// are copied here first (nothing points into the event, which may move), then `apply` asks
/// for room for all of them at once and sets each through the `EventEditor`, so an event gets
/// the whole batch or, on `.wait` and `.tooLarge`, none of it (a rerun after `.wait` starts
/// from the same event).
///
/// Limits: `byteCapacity` bytes of keys and values (the actions size it to `--max-event-size`:
/// more could not fit an event either) and `fieldCapacity` fields; past either, `overflowed`
/// is set and `apply` answers `.tooLarge` without changing anything.
public struct FieldBatch {
    /// Most entries an event's index can have (`fieldCount` is 16 bits).
    public static let indexLimit = Int(UInt16.max)

    struct Entry {
        /// The key escaped for JSON (no quotes), then the encoded value, in `bytes`.
        var keyOffset: Int
        var keyLength: Int
        var valueOffset: Int
        var valueLength: Int
        var kind: JSONValueKind
    }

    let bytes: UnsafeMutableRawPointer
    public let byteCapacity: Int
    private(set) var used = 0
    let entries: UnsafeMutablePointer<Entry>
    public let fieldCapacity: Int
    public private(set) var count = 0
    /// A field did not fit: the change could not fit an event.
    public private(set) var overflowed = false
    /// More than `fieldCapacity` fields were asked for (`overflowed` is set too).
    public private(set) var tooManyFields = false

    /// Allocated per worker (`forWorker()`); freed by `deallocate()`.
    public init(byteCapacity: Int, fieldCapacity: Int) {
        precondition(byteCapacity > 0 && fieldCapacity > 0, "a field batch needs room")
        self.byteCapacity = byteCapacity
        self.fieldCapacity = fieldCapacity
        bytes = .allocate(byteCount: byteCapacity, alignment: 8)
        entries = .allocate(capacity: fieldCapacity)
    }

    public func deallocate() {
        bytes.deallocate()
        entries.deallocate()
    }

    /// Forgets the fields of the last event.
    @inline(__always) public mutating func reset() {
        used = 0
        count = 0
        overflowed = false
        tooManyFields = false
    }

    // MARK: Collecting

    /// The field `prefix` + `key` (plain UTF-8; `keyIsEscaped`: `key` is the raw text between a
    /// JSON key's quotes, kept as it is) set to the string `value` (plain UTF-8, quoted and
    /// escaped here).
    public mutating func setString(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, keyIsEscaped: Bool = false,
                                   value: UnsafeRawBufferPointer) {
        let start = used
        guard addKey(prefix: prefix, key: key, escaped: keyIsEscaped) else { return fail() }
        let valueStart = used
        guard put(34), let n = JSONEscaper.escape(value, into: bytes + used, capacity: byteCapacity - used) else { return fail() }
        used += n
        guard put(34) else { return fail() }
        add(Entry(keyOffset: start, keyLength: valueStart - start, valueOffset: valueStart, valueLength: used - valueStart, kind: .string))
    }

    /// The field `prefix` + `key` set to `json`, one encoded JSON value of kind `kind`.
    public mutating func setRaw(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, keyIsEscaped: Bool = false,
                                json: UnsafeRawBufferPointer, kind: JSONValueKind) {
        let start = used
        guard addKey(prefix: prefix, key: key, escaped: keyIsEscaped) else { return fail() }
        let valueStart = used
        guard put(json) else { return fail() }
        add(Entry(keyOffset: start, keyLength: valueStart - start, valueOffset: valueStart, valueLength: json.count, kind: kind))
    }

    private mutating func fail() { overflowed = true }

    private mutating func add(_ entry: Entry) {
        guard count < fieldCapacity else {
            tooManyFields = true
            return fail()
        }
        (entries + count).initialize(to: entry)
        count += 1
    }

    @inline(__always) private mutating func put(_ source: UnsafeRawBufferPointer) -> Bool {
        guard used + source.count <= byteCapacity else { return false }
        if source.count > 0 { (bytes + used).copyMemory(from: source.baseAddress!, byteCount: source.count) }
        used += source.count
        return true
    }

    @inline(__always) private mutating func put(_ byte: UInt8) -> Bool {
        guard used < byteCapacity else { return false }
        bytes.storeBytes(of: byte, toByteOffset: used, as: UInt8.self)
        used += 1
        return true
    }

    private mutating func addKey(prefix: UnsafeRawBufferPointer, key: UnsafeRawBufferPointer, escaped: Bool) -> Bool {
        guard let n = JSONEscaper.escape(prefix, into: bytes + used, capacity: byteCapacity - used) else { return false }
        used += n
        if escaped { return put(key) }
        guard let k = JSONEscaper.escape(key, into: bytes + used, capacity: byteCapacity - used) else { return false }
        used += k
        return true
    }

    /// A field of the batch has this escaped key (`prefix` + key as written).
    public func contains(escapedKey key: UnsafeRawBufferPointer) -> Bool {
        for i in 0..<count where entries[i].keyLength == key.count {
            if key.count == 0 || memcmp(bytes + entries[i].keyOffset, key.baseAddress!, key.count) == 0 { return true }
        }
        return false
    }

    // MARK: Applying

    /// Sets every field of the batch in `context.event` (a decoded object) through `editor`:
    /// room for all of them first, then one `setTopLevel` each. `.done` also when the batch is
    /// empty (nothing changed then). The event to use afterwards is `context.event`.
    public func apply(with editor: EventEditor, context: inout ActionContext) -> EventEditor.Outcome {
        guard context.event.has(EventFlags.object) else { return .notAnObject }
        guard !overflowed else { return .tooLarge }
        guard count > 0 else { return .done }
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = editor.indexEveryMember(&context)
            guard indexed == .done else { return indexed }
        }
        // Enough for every field being new; what replaces a field needs less.
        var dataBytes = 0
        for i in 0..<count { dataBytes += entries[i].keyLength + entries[i].valueLength }
        let fieldEntries = context.event.fieldCount + count
        if !context.event.hasRoom(fieldEntries: fieldEntries, dataBytes: dataBytes) {
            switch context.makeRoom(fieldEntries: fieldEntries, dataBytes: dataBytes) {
            case .ready: break
            case .wait: return .wait
            case .tooLarge: return .tooLarge
            }
        }
        for i in 0..<count {
            let e = entries[i]
            let outcome = editor.setTopLevel(escapedKey: UnsafeRawBufferPointer(start: bytes + e.keyOffset, count: e.keyLength),
                                             to: UnsafeRawBufferPointer(start: bytes + e.valueOffset, count: e.valueLength),
                                             kind: e.kind, context: &context)
            // With the room made above, every set fits where it is.
            guard outcome == .done else {
                assertionFailure("a field of a batch did not fit the room made for the batch")
                return outcome
            }
        }
        return .done
    }
}

/// A string value as plain UTF-8: the bytes between the quotes of `raw` (a JSON string),
/// unescaped into `scratch` (`capacity` bytes, at least the value's length) only when they
/// hold an escape.
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
    /// Nothing to do (the field is absent, nothing matched, the value was already so).
    case unchanged
    /// The value could not be used (wrong type, unparseable, not a decoded object): counted.
    case failed
    /// Needs room that is not free now: the action runs again later.
    case waitForRoom
    /// The result would not fit `--max-event-size`: left unchanged, counted.
    case tooLarge

    init(_ outcome: EventEditor.Outcome) {
        switch outcome {
        case .done: self = .changed
        case .missing: self = .unchanged
        case .notAnObject, .pathBlocked: self = .failed
        case .wait: self = .waitForRoom
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
