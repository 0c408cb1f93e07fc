import Glibc

/// Writes an event as one row of PostgreSQL's COPY text format: the values of the `columns`
/// paths and/or the whole event, separated by tabs, ended by a newline, with COPY's escapes
/// (`\\`, `\n`, `\r`, `\t`) so no value can break the row. A string goes as its text (JSON escapes
/// decoded: `\u00e9` is é, `\n` a newline), an object or array as its JSON text, a number or
/// `true`/`false` as written; null and a missing path are `\N` (NULL). U+0000, which no
/// PostgreSQL text can hold, goes as `\000`, so the server refuses that row with its own error.
///
/// One per worker and output (its scratch is per worker); plain pointers only, so the batcher's
/// switch copies it without reference counting.
struct CopyRowEncoder {
    /// The `columns` paths in order; the whole event goes after them when `wholeEvent`.
    let paths: UnsafeMutablePointer<FieldPath>
    let asJSON: UnsafeMutablePointer<Bool>
    let pathCount: Int
    let wholeEvent: Bool
    /// How many values of one row may hold the same byte of the event (1 when no path is
    /// another's prefix): the factor of the worst case.
    let overlap: Int
    /// Per column, the value the one-pass walk of an undecoded event found.
    let found: UnsafeMutablePointer<FoundValue>

    struct FoundValue {
        var start: UnsafeRawPointer?
        var count = 0
        var kind = JSONValueKind.null
        /// Its key came (the first occurrence wins, as in the field index).
        var looked = false
    }

    init(columns: [PostgresOutput.Column], wholeEvent: Bool) {
        pathCount = columns.count
        self.wholeEvent = wholeEvent
        paths = .allocate(capacity: max(columns.count, 1))
        asJSON = .allocate(capacity: max(columns.count, 1))
        found = .allocate(capacity: max(columns.count, 1))
        found.initialize(repeating: FoundValue(), count: max(columns.count, 1))
        for (i, column) in columns.enumerated() {
            // The definition checked every path.
            guard let path = try? FieldPath(column.path) else { preconditionFailure("unchecked path '\(column.path)'") }
            (paths + i).initialize(to: path)
            asJSON[i] = column.asJSON
        }
        let components = columns.map { $0.path.split(separator: ".").map(String.init) }
        let nested = components.enumerated().contains { i, a in
            components.enumerated().contains { j, b in i != j && a.count <= b.count && Array(b.prefix(a.count)) == a }
        }
        overlap = (wholeEvent ? 1 : 0) + (columns.isEmpty ? 0 : (nested ? columns.count : 1))
    }

    func dispose() {
        for i in 0..<pathCount { paths[i].dispose() }
        paths.deallocate()
        asJSON.deallocate()
        found.deallocate()
    }

    /// Upper bound of a row for an event in a slot of this size: each value at most four times
    /// its raw bytes (an escape doubles a byte; a NUL byte, which only text that is not JSON
    /// holds, becomes `\000`), `\N` and a separator per column, the newline.
    func worstCase(dataBytes: Int, fields: Int) -> Int {
        overlap * 4 * (dataBytes + 4 * fields + 4) + (pathCount + 1) * 4 + 1
    }

    @inline(__always) func worstCase(_ event: Event) -> Int {
        worstCase(dataBytes: Int(event.header.pointee.dataCapacity), fields: Int(event.header.pointee.fieldCapacity))
    }

    /// Why `encodeRow` refused an event.
    static let notAnObject: StaticString = "not a JSON object: the columns are read from its fields"

    /// Writes the row at `out` (room for `worstCase(event)`); returns its length, or nil when
    /// `columns` are given and the event is not a JSON object.
    @inline(__always) func encodeRow(_ event: Event, into out: UnsafeMutableRawPointer) -> Int? {
        var p = 0
        if pathCount > 0 {
            if event.has(EventFlags.decoded) {
                guard event.has(EventFlags.object) else { return nil }
                for i in 0..<pathCount {
                    if i > 0 { p += Self.put(9, out + p) }
                    if let (value, kind) = EventEditor.lookup(event, paths[i]) {
                        p += Self.putValue(value.baseAddress!, value.count, kind, asJSON: asJSON[i], out + p)
                    } else {
                        p += Self.putNull(out + p)
                    }
                }
            } else {
                guard findInRaw(event.raw) else { return nil }
                for i in 0..<pathCount {
                    if i > 0 { p += Self.put(9, out + p) }
                    let f = found[i]
                    if let start = f.start {
                        p += Self.putValue(start, f.count, f.kind, asJSON: asJSON[i], out + p)
                    } else {
                        p += Self.putNull(out + p)
                    }
                }
            }
        }
        if wholeEvent {
            if pathCount > 0 { p += Self.put(9, out + p) }
            p += Self.putEvent(event, out + p)
        }
        p += Self.put(10, out + p)
        return p
    }

    // MARK: Values

    @inline(__always) static func put(_ byte: UInt8, _ out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: byte, as: UInt8.self)
        return 1
    }

    @inline(__always) static func put(_ a: UInt8, _ b: UInt8, _ out: UnsafeMutableRawPointer) -> Int {
        out.storeBytes(of: a, as: UInt8.self)
        out.storeBytes(of: b, toByteOffset: 1, as: UInt8.self)
        return 2
    }

    @inline(__always) static func putNull(_ out: UnsafeMutableRawPointer) -> Int { put(92, 78, out) }

    /// A JSON value of `kind` (raw text at `value`) as a column's text.
    @inline(__always) static func putValue(_ value: UnsafeRawPointer, _ count: Int, _ kind: JSONValueKind, asJSON: Bool,
                                           _ out: UnsafeMutableRawPointer) -> Int {
        switch kind {
        case .null: return putNull(out)
        case .string where !asJSON && count >= 2: return putString(value + 1, count - 2, out)
        default: return putEscaped(value, count, out)
        }
    }

    /// The whole event as JSON text: its raw bytes, or, when an action changed it, the object
    /// written again from its field index (as `EventEncoder` does), escaped for COPY.
    static func putEvent(_ event: Event, _ out: UnsafeMutableRawPointer) -> Int {
        if !event.has(EventFlags.modified) {
            let raw = event.raw
            return raw.count == 0 ? 0 : putEscaped(raw.baseAddress!, raw.count, out)
        }
        var p = put(123, out)
        for i in 0..<event.fieldCount {
            if i > 0 { p += put(44, out + p) }
            let key = event.key(i), value = event.value(i)
            p += put(34, out + p)
            if key.count > 0 { p += putEscaped(key.baseAddress!, key.count, out + p) }
            p += put(34, 58, out + p)
            if value.count > 0 { p += putEscaped(value.baseAddress!, value.count, out + p) }
        }
        return p + put(125, out + p)
    }

    /// `count` bytes with COPY's escapes for backslash, newline, carriage return and tab; plain
    /// stretches go 8 bytes at a time. At most `4 * count` bytes (`2 * count` without NUL bytes).
    @inline(__always) static func putEscaped(_ source: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutableRawPointer) -> Int {
        var i = 0, o = 0
        while true {
            copyPlainRun(source, count, &i, out, &o)
            if i >= count { return o }
            let c = source.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            o += putCopyByte(c, out + o)
        }
    }

    /// Copies bytes from `source + i` to `out + o`, 8 at a time, up to the first backslash or
    /// control byte (or the last whole word before `count`), advancing both. The whole word is
    /// stored; only the bytes before the first special one count. The extra bytes land within
    /// the value's bound (o <= 4 * i, i + 8 <= count).
    @inline(__always) static func copyPlainRun(_ source: UnsafeRawPointer, _ count: Int, _ i: inout Int,
                                               _ out: UnsafeMutableRawPointer, _ o: inout Int) {
        while count - i >= 8 {
            let word = SWAR.load(source + i)
            let special = SWAR.backslashOrControlBytes(word)
            (out + o).storeBytes(of: word.littleEndian, as: UInt64.self)
            if special != 0 {
                let plain = special.trailingZeroBitCount >> 3
                i += plain
                o += plain
                return
            }
            i += 8
            o += 8
        }
    }

    /// One byte as COPY text takes it.
    @inline(__always) static func putCopyByte(_ c: UInt8, _ out: UnsafeMutableRawPointer) -> Int {
        switch c {
        case 92: return put(92, 92, out)
        case 10: return put(92, 110, out)
        case 13: return put(92, 114, out)
        case 9: return put(92, 116, out)
        case 0: return put(92, 48, out) + put(48, 48, out + 2)  // \000: refused by the server, with its reason
        default: return put(c, out)
        }
    }

    /// A JSON string's body (between its quotes) as its text: JSON escapes decoded, COPY's
    /// applied. At most `4 * count` bytes, as `putEscaped` (`\u0000`, six bytes, becomes four).
    static func putString(_ body: UnsafeRawPointer, _ count: Int, _ out: UnsafeMutableRawPointer) -> Int {
        var i = 0, o = 0
        while true {
            copyPlainRun(body, count, &i, out, &o)
            if i >= count { return o }
            let c = body.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            guard c == 92, i < count else {
                o += putCopyByte(c, out + o)
                continue
            }
            let e = body.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            switch e {
            case 110: o += put(92, 110, out + o)  // \n
            case 116: o += put(92, 116, out + o)  // \t
            case 114: o += put(92, 114, out + o)  // \r
            case 98: o += put(92, 98, out + o)  // \b
            case 102: o += put(92, 102, out + o)  // \f
            case 117:
                guard let (scalar, length) = unicodeEscape(body + i, count - i) else {
                    o += put(92, 92, out + o) + put(117, out + o + 2)  // not an escape: the text as written
                    continue
                }
                i += length
                o += putScalar(scalar, out + o)
            default: o += putCopyByte(e, out + o)  // \" \\ \/
            }
        }
    }

    /// After `\u`: the scalar of `XXXX` (or of a surrogate pair `XXXX\uXXXX`; a lone surrogate is
    /// U+FFFD, as `StringUnescaper` decodes it) and the bytes read, or nil when not four hex digits.
    @inline(__always) static func unicodeEscape(_ p: UnsafeRawPointer, _ available: Int) -> (UInt32, Int)? {
        guard let high = hex4(p, available) else { return nil }
        guard high >= 0xD800 && high < 0xE000 else { return (high, 4) }
        if high < 0xDC00, available >= 10, p.load(fromByteOffset: 4, as: UInt8.self) == 92, p.load(fromByteOffset: 5, as: UInt8.self) == 117,
           let low = hex4(p + 6, available - 6), low >= 0xDC00 && low < 0xE000 {
            return (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00), 10)
        }
        return (0xFFFD, 4)
    }

    @inline(__always) static func hex4(_ p: UnsafeRawPointer, _ available: Int) -> UInt32? {
        guard available >= 4 else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p.load(fromByteOffset: k, as: UInt8.self)
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 65...70: d = UInt32(c - 55)
            case 97...102: d = UInt32(c - 87)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    /// A scalar as UTF-8, through COPY's escapes when it is ASCII.
    @inline(__always) static func putScalar(_ s: UInt32, _ out: UnsafeMutableRawPointer) -> Int {
        if s < 0x80 { return putCopyByte(UInt8(s), out) }
        if s < 0x800 { return put(UInt8(0xC0 | s >> 6), UInt8(0x80 | s & 0x3F), out) }
        if s < 0x10000 { return put(UInt8(0xE0 | s >> 12), UInt8(0x80 | (s >> 6) & 0x3F), out) + put(UInt8(0x80 | s & 0x3F), out + 2) }
        return put(UInt8(0xF0 | s >> 18), UInt8(0x80 | (s >> 12) & 0x3F), out) + put(UInt8(0x80 | (s >> 6) & 0x3F), UInt8(0x80 | s & 0x3F), out + 2)
    }

    // MARK: Undecoded events

    /// Finds every column's value in an undecoded event's raw JSON object in one pass over its
    /// members (nested paths then looked up inside the member); false when the text is not an
    /// object. Stops once every column's first key came.
    func findInRaw(_ raw: UnsafeRawBufferPointer) -> Bool {
        for i in 0..<pathCount { found[i] = FoundValue() }
        guard let base = raw.baseAddress else { return false }
        let end = base + raw.count
        var p = JSONObjectText.skipWhitespace(base, end)
        guard p < end, p.load(as: UInt8.self) == 123 else { return false }
        p = JSONObjectText.skipWhitespace(p + 1, end)
        guard p < end else { return false }
        if p.load(as: UInt8.self) == 125 { return true }
        var remaining = pathCount
        while true {
            guard p < end, p.load(as: UInt8.self) == 34, let keyEnd = JSONObjectText.skipString(p, end) else { return false }
            let key = UnsafeRawBufferPointer(start: p + 1, count: keyEnd - p - 2)
            p = JSONObjectText.skipWhitespace(keyEnd, end)
            guard p < end, p.load(as: UInt8.self) == 58 else { return false }
            p = JSONObjectText.skipWhitespace(p + 1, end)
            guard p < end, let valueEnd = JSONObjectText.skipValue(p, end) else { return false }
            for c in 0..<pathCount where !found[c].looked && Self.keyMatches(key, paths[c].component(0)) {
                found[c] = resolve(paths[c], UnsafeRawBufferPointer(start: p, count: valueEnd - p))
                remaining -= 1
            }
            if remaining == 0 { return true }
            p = JSONObjectText.skipWhitespace(valueEnd, end)
            guard p < end else { return false }
            let separator = p.load(as: UInt8.self)
            if separator == 125 { return true }
            guard separator == 44 else { return false }
            p = JSONObjectText.skipWhitespace(p + 1, end)
        }
    }

    /// Whether a raw (maybe escaped) key decodes to `name`: an escape makes the raw key longer
    /// than its text, so equal lengths compare bytes and a shorter key never matches.
    @inline(__always) static func keyMatches(_ key: UnsafeRawBufferPointer, _ name: UnsafeRawBufferPointer) -> Bool {
        if key.count == name.count { return key.count == 0 || memcmp(key.baseAddress!, name.baseAddress!, key.count) == 0 }
        return key.count > name.count && JSONScanner.rawStringEquals(key, name)
    }

    /// The value at the rest of `path` inside the top-level member's `value`.
    func resolve(_ path: FieldPath, _ value: UnsafeRawBufferPointer) -> FoundValue {
        var value = value
        var kind = JSONText.kind(ofFirstByte: value.load(as: UInt8.self))
        for k in 1..<max(path.componentCount, 1) {
            guard kind == .object, case .found(let span) = JSONObjectText.find(path.component(k), in: value) else {
                return FoundValue(start: nil, count: 0, kind: .null, looked: true)
            }
            value = UnsafeRawBufferPointer(start: value.baseAddress! + span.valueStart, count: span.valueEnd - span.valueStart)
            kind = span.kind
        }
        return FoundValue(start: value.baseAddress, count: value.count, kind: kind, looked: true)
    }
}
