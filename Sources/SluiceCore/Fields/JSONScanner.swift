import CSupport

// Validating JSON scanner for the event hot path: one pass over raw bytes, no allocation, no ARC,
// no String. It checks the whole text against RFC 8259 (including UTF-8 in strings) and records
// where each top-level member's key and value sit, so actions can read fields without decoding.

/// The JSON type of a value in the field index.
public enum JSONValueKind: UInt8, Sendable {
    case string = 1, number, object, array, trueLiteral, falseLiteral, null
}

/// Why a document was rejected.
public enum JSONError: UInt8, Sendable, CustomStringConvertible {
    case empty, unexpectedByte, unterminatedString, controlCharacterInString, invalidEscape,
        invalidUnicodeEscape, invalidUTF8, invalidNumber, invalidLiteral, tooDeep, trailingData,
        unexpectedEnd

    public var description: String {
        switch self {
        case .empty: "empty document"
        case .unexpectedByte: "unexpected byte"
        case .unterminatedString: "unterminated string"
        case .controlCharacterInString: "unescaped control character in string"
        case .invalidEscape: "invalid escape in string"
        case .invalidUnicodeEscape: "invalid \\u escape in string"
        case .invalidUTF8: "invalid UTF-8 in string"
        case .invalidNumber: "invalid number"
        case .invalidLiteral: "invalid literal (expected true, false or null)"
        case .tooDeep: "nesting deeper than the maximum depth"
        case .trailingData: "data after the top-level value"
        case .unexpectedEnd: "unexpected end of input"
        }
    }
}

/// One member of the top-level object; offsets are relative to the start of the scanned bytes.
@frozen public struct FieldEntry: Sendable {
    /// First byte after the key's opening quote.
    public var keyOffset: UInt32
    /// Raw key bytes between the quotes (still escaped).
    public var keyLength: UInt32
    /// First byte of the value (for a string: its opening quote).
    public var valueOffset: UInt32
    /// Raw value length (for a string: including both quotes).
    public var valueLength: UInt32
    public var kind: JSONValueKind
    /// `keyHasEscapes` and/or `valueHasEscapes` (the latter for string values only).
    public var flags: UInt8

    public static let keyHasEscapes: UInt8 = 1
    public static let valueHasEscapes: UInt8 = 2

    @inlinable
    public init(
        keyOffset: UInt32, keyLength: UInt32, valueOffset: UInt32, valueLength: UInt32,
        kind: JSONValueKind, flags: UInt8
    ) {
        self.keyOffset = keyOffset
        self.keyLength = keyLength
        self.valueOffset = valueOffset
        self.valueLength = valueLength
        self.kind = kind
        self.flags = flags
    }
}

/// Result of scanning one JSON text.
public enum JSONScanOutcome: Equatable, Sendable {
    /// `fieldCount` entries were written (never more than the capacity); `fieldsTruncated` says
    /// the top-level object had more members than that. Non-object documents have no fields.
    case valid(fieldCount: Int, fieldsTruncated: Bool)
    /// `offset` is where the problem was found (for an unterminated string: its opening quote).
    case invalid(offset: Int, reason: JSONError)
}

/// Validates JSON texts and indexes the members of their top-level object.
///
/// Every read is bounds-checked against the end of the input: no padding is needed and no byte
/// past `bytes.count` is ever touched. Nesting is tracked in a fixed bit stack, never by recursion.
public enum JSONScanner {
    public static let defaultMaxDepth = 1024
    /// Texts shorter than this are UTF-8-checked in Swift: its ASCII pass takes a short line in a
    /// few 16-byte loads, while the AVX2 check copies a short text's head and tail into padded
    /// blocks (ndjson-aggregate's 63-byte lines ran at 0.93x with it; perf/README.md).
    static let vectorUTF8MinimumBytes = 256

    /// Validates `bytes` as one JSON text and, when it is an object, writes its top-level members
    /// into `fields` (in document order, duplicates included, at most `fieldCapacity` of them).
    ///
    /// Input is limited to `UInt32.max` bytes because field offsets are 32-bit; events are capped
    /// far below that upstream, so a longer input is a programming error.
    public static func scan(
        _ bytes: UnsafeRawBufferPointer, fields: UnsafeMutablePointer<FieldEntry>, fieldCapacity: Int,
        maxDepth: Int = defaultMaxDepth
    ) -> JSONScanOutcome {
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return .invalid(offset: 0, reason: .empty)
        }
        precondition(bytes.count <= Int(UInt32.max), "JSONScanner input exceeds UInt32.max bytes")
        // Each open bracket takes a byte, so the depth can never exceed the input length: clamping
        // keeps the bit stack small however large `maxDepth` is.
        let depthLimit = max(0, min(maxDepth, bytes.count))
        // UTF-8 is checked over the whole text first, so strings are scanned for ASCII specials
        // only. Text outside strings admits no byte >= 0x80, so the first invalid byte matters
        // only if a string holds it: string scans stop there (`stringLimit`) and report it, which
        // gives the same error and offset as checking each string's bytes in document order.
        let end = base + bytes.count
        let stringLimit: UnsafeRawPointer
        if bytes.count >= Self.vectorUTF8MinimumBytes && sl_utf8_check(base.assumingMemoryBound(to: UInt8.self), bytes.count) == 1 {
            // The AVX2 check (table lookups, about twice the speed of the Swift one on text
            // with non-ASCII bytes) says only whether the text is valid.
            stringLimit = end
        } else {
            // Short, invalid, or no AVX2: the Swift check finds the first bad byte.
            stringLimit = UTF8Validation.firstInvalidOffset(bytes).map { base + $0 } ?? end
        }
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: depthLimit / 64 + 1) { stack in
            scanDocument(
                base: base, end: end, stringLimit: stringLimit, fields: fields,
                fieldCapacity: max(0, fieldCapacity), maxDepth: depthLimit, stack: stack.baseAddress!)
        }
    }

    // MARK: - Document state machine

    /// One flat loop: `valueLoop` starts a value, `afterValue` handles what follows a completed one
    /// (`,`, closers, the end). `inObject` is the innermost container's kind; the kinds of its
    /// ancestors live in `stack`, one bit per level (1 = object).
    ///
    /// Memory safety rests on one rule kept throughout: a load at `p` happens only after `p < end`
    /// (or `end - p >= n` for an n-byte load) has been checked.
    private static func scanDocument(
        base: UnsafeRawPointer, end: UnsafeRawPointer, stringLimit: UnsafeRawPointer, fields: UnsafeMutablePointer<FieldEntry>,
        fieldCapacity: Int, maxDepth: Int, stack: UnsafeMutablePointer<UInt64>
    ) -> JSONScanOutcome {
        var p = base
        var depth = 0
        var inObject = false
        var fieldCount = 0
        var fieldsTruncated = false
        // The pending top-level member: its key, whether it gets an entry, where a container value began.
        var recordingMember = false
        var keyOffset: UInt32 = 0
        var keyLength: UInt32 = 0
        var keyFlags: UInt8 = 0
        var memberContainerStart = base

        skipWhitespace(&p, end)
        if p == end { return .invalid(offset: p - base, reason: .empty) }

        // Set after '{' and after ',' in an object, where a member's key comes before its value.
        var keyNext = false

        valueLoop: while true {
            // Invariant: p < end, and p is at a member's key when keyNext, else at a value. Keys and
            // string values share one string scan: the short-string test inline, once, and the
            // rest out of line, so the loop stays small.
            var valueStart = p
            var kind: JSONValueKind
            var valueFlags: UInt8 = 0
            let c = p.load(as: UInt8.self)
            if c == ASCII.quote {
                var hasEscapes = false
                if let after = shortStringEnd(p + 1, stringLimit) {
                    p = after
                } else {
                    let (next, error, escapes) = scanLongString(p, stringLimit, end)
                    p = next
                    if let error { return .invalid(offset: p - base, reason: error) }
                    hasEscapes = escapes
                }
                if keyNext {
                    keyNext = false
                    if depth == 1 {
                        recordingMember = fieldCount < fieldCapacity
                        if !recordingMember { fieldsTruncated = true }
                        keyOffset = UInt32(truncatingIfNeeded: valueStart - base + 1)
                        keyLength = UInt32(truncatingIfNeeded: p - valueStart - 2)
                        keyFlags = hasEscapes ? FieldEntry.keyHasEscapes : 0
                    }
                    if let error = skipColon(&p, end) { return .invalid(offset: p - base, reason: error) }
                    continue valueLoop
                }
                kind = .string
                if hasEscapes { valueFlags = FieldEntry.valueHasEscapes }
            } else if keyNext {
                return .invalid(offset: p - base, reason: .unexpectedByte)
            } else if c == ASCII.openBrace || c == ASCII.openBracket {
                if depth >= maxDepth { return .invalid(offset: p - base, reason: .tooDeep) }
                let opensObject = c == ASCII.openBrace
                var q = p + 1
                skipWhitespace(&q, end)
                if q == end { return .invalid(offset: q - base, reason: .unexpectedEnd) }
                if q.load(as: UInt8.self) == (opensObject ? ASCII.closeBrace : ASCII.closeBracket) {
                    // An empty container completes at once and never needs a stack slot.
                    p = q + 1
                    kind = opensObject ? .object : .array
                } else {
                    if depth == 1 && inObject { memberContainerStart = p }
                    if depth > 0 { setStackBit(stack, depth - 1, inObject) }
                    depth += 1
                    inObject = opensObject
                    p = q
                    keyNext = opensObject
                    continue valueLoop
                }
            } else if c == ASCII.minus || c &- ASCII.zero < 10 {
                if let error = scanNumber(&p, end) { return .invalid(offset: p - base, reason: error) }
                kind = .number
            } else if c == ASCII.lowerT {
                guard end - p >= 4, p.loadUnaligned(as: UInt32.self) == Literal.true else {
                    return .invalid(offset: p - base, reason: .invalidLiteral)
                }
                p += 4
                kind = .trueLiteral
            } else if c == ASCII.lowerF {
                guard end - p >= 5, (p + 1).loadUnaligned(as: UInt32.self) == Literal.alse else {
                    return .invalid(offset: p - base, reason: .invalidLiteral)
                }
                p += 5
                kind = .falseLiteral
            } else if c == ASCII.lowerN {
                guard end - p >= 4, p.loadUnaligned(as: UInt32.self) == Literal.null else {
                    return .invalid(offset: p - base, reason: .invalidLiteral)
                }
                p += 4
                kind = .null
            } else {
                return .invalid(offset: p - base, reason: .unexpectedByte)
            }

            afterValue: while true {
                // A value from valueStart to p of `kind` has just completed at `depth`.
                if depth == 0 {
                    skipWhitespace(&p, end)
                    if p != end { return .invalid(offset: p - base, reason: .trailingData) }
                    return .valid(fieldCount: fieldCount, fieldsTruncated: fieldsTruncated)
                }
                if depth == 1 && inObject && recordingMember {
                    fields[fieldCount] = FieldEntry(
                        keyOffset: keyOffset, keyLength: keyLength,
                        valueOffset: UInt32(truncatingIfNeeded: valueStart - base),
                        valueLength: UInt32(truncatingIfNeeded: p - valueStart),
                        kind: kind, flags: keyFlags | valueFlags)
                    fieldCount &+= 1
                    recordingMember = false
                }
                skipWhitespace(&p, end)
                if p == end { return .invalid(offset: p - base, reason: .unexpectedEnd) }
                let d = p.load(as: UInt8.self)
                if d == ASCII.comma {
                    p += 1
                    skipWhitespace(&p, end)
                    if p == end { return .invalid(offset: p - base, reason: .unexpectedEnd) }
                    keyNext = inObject
                    continue valueLoop
                }
                if d == (inObject ? ASCII.closeBrace : ASCII.closeBracket) {
                    p += 1
                    kind = inObject ? .object : .array
                    valueFlags = 0
                    valueStart = memberContainerStart
                    depth -= 1
                    if depth > 0 { inObject = stackBit(stack, depth - 1) }
                    continue afterValue
                }
                return .invalid(offset: p - base, reason: .unexpectedByte)
            }
        }
    }

    /// Levels are pushed in order, so bit 0 of a word is always written first: writing the whole
    /// word then means the stack never reads memory it has not initialised.
    @inline(__always)
    private static func setStackBit(_ stack: UnsafeMutablePointer<UInt64>, _ index: Int, _ value: Bool) {
        let word = index &>> 6
        let shift = UInt64(index & 63)
        let bit: UInt64 = value ? 1 &<< shift : 0
        if shift == 0 {
            stack[word] = bit
        } else {
            stack[word] = stack[word] & ~(1 &<< shift) | bit
        }
    }

    @inline(__always)
    private static func stackBit(_ stack: UnsafeMutablePointer<UInt64>, _ index: Int) -> Bool {
        stack[index &>> 6] & (1 &<< UInt64(index & 63)) != 0
    }

    /// After a member's key: skips whitespace, the `:` and whitespace; p ends at the value, or
    /// at the offending byte.
    @inline(__always)
    private static func skipColon(_ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer) -> JSONError? {
        skipWhitespace(&p, end)
        guard p < end else { return .unexpectedEnd }
        guard p.load(as: UInt8.self) == ASCII.colon else { return .unexpectedByte }
        p += 1
        skipWhitespace(&p, end)
        guard p < end else { return .unexpectedEnd }
        return nil
    }

    // MARK: - Strings

    /// After the opening quote at `body - 1`: the position after the closing quote when the
    /// string ends within 16 bytes with no backslash or control byte before its end (most keys
    /// and short values), else nil. One test, whatever else those bytes hold.
    @inline(__always)
    private static func shortStringEnd(_ body: UnsafeRawPointer, _ stringLimit: UnsafeRawPointer) -> UnsafeRawPointer? {
        guard stringLimit - body >= 16 else { return nil }
        let v = body.loadUnaligned(as: SIMD16<UInt8>.self)
        let quotes = ByteMask.of(v .== SIMD16<UInt8>(repeating: ASCII.quote))
        let others = ByteMask.of((v .== SIMD16<UInt8>(repeating: ASCII.backslash)) .| (v .< SIMD16<UInt8>(repeating: ASCII.space)))
        // The lowest quote lies below the lowest other special byte (all bits up to and
        // including that byte; every bit when there is none).
        guard quotes & (others ^ (others &- 1)) != 0 else { return nil }
        return body + quotes.trailingZeroBitCount + 1
    }

    /// `scanString` out of line, for strings `shortStringEnd` does not settle: the cursor goes
    /// in and out by value, so the caller's stays in a register.
    @inline(never)
    private static func scanLongString(
        _ open: UnsafeRawPointer, _ stringLimit: UnsafeRawPointer, _ end: UnsafeRawPointer
    ) -> (next: UnsafeRawPointer, error: JSONError?, hasEscapes: Bool) {
        var p = open
        var hasEscapes = false
        let error = scanString(&p, stringLimit, end, &hasEscapes)
        return (p, error, hasEscapes)
    }

    /// p starts at the opening quote and ends after the closing one, or at the offending byte
    /// (the opening quote when the string never ends). Bytes >= 0x80 need no look here (UTF-8
    /// was checked before, see `scan`); `stringLimit` is the first invalid UTF-8 byte, or `end`.
    @inline(__always)
    private static func scanString(
        _ p: inout UnsafeRawPointer, _ stringLimit: UnsafeRawPointer, _ end: UnsafeRawPointer,
        _ hasEscapes: inout Bool
    ) -> JSONError? {
        let open = p
        var q = p + 1
        while true {
            // With 32 bytes or more before `stringLimit`: the AVX2 kernel. Otherwise (and without
            // AVX2) SSE2 compares and a movemask per 16 bytes, stopping at the first quote,
            // backslash or control byte: 16 bytes first, then 32 at a time; fewer than 32 bytes
            // left: 16, 8 (SWAR), then byte by byte. The length checks keep every load before
            // `stringLimit`.
            if stringLimit - q >= 32 {
                // The kernel crosses plain bytes 64 at a time and the common escapes without a
                // branch each. It stops at what it leaves to this loop (the closing quote, a
                // control byte, a bad escape, the last 32 bytes), and skips nothing without AVX2.
                let result = sl_json_string_scan(q.assumingMemoryBound(to: UInt8.self), stringLimit - q)
                let skipped = Int(truncatingIfNeeded: result & ~SL_JSON_SKIPPED_ESCAPE)
                if skipped != 0 {
                    if result & SL_JSON_SKIPPED_ESCAPE != 0 { hasEscapes = true }
                    q += skipped
                    // The kernel may have skipped to `stringLimit` itself.
                    if q < stringLimit && q.load(as: UInt8.self) == ASCII.quote {
                        p = q + 1
                        return nil
                    }
                    continue
                }
            }
            var special: UInt32 = 0
            if stringLimit - q >= 16 {
                special = stringSpecialBytes(q.loadUnaligned(as: SIMD16<UInt8>.self))
                if special == 0 {
                    q += 16
                    while stringLimit - q >= 32 {
                        special = stringSpecialBytes(q.loadUnaligned(as: SIMD16<UInt8>.self))
                            | stringSpecialBytes(q.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self)) &<< 16
                        if special != 0 { break }
                        q += 32
                    }
                }
            }
            if special != 0 {
                q += special.trailingZeroBitCount
            } else {
                if stringLimit - q >= 16 {
                    let tail = stringSpecialBytes(q.loadUnaligned(as: SIMD16<UInt8>.self))
                    q += tail != 0 ? tail.trailingZeroBitCount : 16
                }
                while stringLimit - q >= 8 {
                    let tail = SWAR.stringSpecialASCIIBytes(SWAR.load(q))
                    if tail != 0 {
                        q += tail.trailingZeroBitCount &>> 3
                        break
                    }
                    q += 8
                }
            }
            guard q < stringLimit else {
                if stringLimit == end {
                    p = open
                    return .unterminatedString
                }
                p = q
                return .invalidUTF8
            }
            let c = q.load(as: UInt8.self)
            if c == ASCII.quote {
                p = q + 1
                return nil
            }
            if c == ASCII.backslash {
                hasEscapes = true
                // The escapes logs are full of are checked here; the others in `scanEscape`.
                if end - q >= 2 {
                    let escaped = (q + 1).load(as: UInt8.self)
                    if escaped == ASCII.lowerN || escaped == ASCII.quote || escaped == ASCII.backslash
                        || escaped == ASCII.lowerT
                    {
                        q += 2
                        continue
                    }
                }
                let (next, error) = scanEscape(q, end)
                if let error {
                    p = error == .unterminatedString ? open : q
                    return error
                }
                q = next
            } else if c < 0x20 {
                p = q
                return .controlCharacterInString
            } else {
                q += 1
            }
        }
    }

    /// Bit i set when byte i is '"', '\\' or below 0x20.
    @inline(__always)
    private static func stringSpecialBytes(_ v: SIMD16<UInt8>) -> UInt32 {
        // The vector type is spelled out: with `SIMD16(repeating:)` inferred, the compiler picks
        // the generic SIMD compares, which run lane by lane.
        let special = (v .== SIMD16<UInt8>(repeating: ASCII.quote)) .| (v .== SIMD16<UInt8>(repeating: ASCII.backslash))
            .| (v .< SIMD16<UInt8>(repeating: ASCII.space))
        return UInt32(truncatingIfNeeded: ByteMask.of(special))
    }

    /// From a backslash, returns the position after the escape, or the error.
    /// The hot-path helpers that are not inlined take and return pointers by value: an `inout`
    /// would pin the caller's cursor to memory for the whole string loop.
    @inline(never)
    private static func scanEscape(
        _ q: UnsafeRawPointer, _ end: UnsafeRawPointer
    ) -> (next: UnsafeRawPointer, error: JSONError?) {
        guard end - q >= 2 else { return (q, .unterminatedString) }
        switch (q + 1).load(as: UInt8.self) {
        case ASCII.quote, ASCII.backslash, ASCII.slash, ASCII.lowerB, ASCII.lowerF, ASCII.lowerN,
            ASCII.lowerR, ASCII.lowerT:
            return (q + 2, nil)
        case ASCII.lowerU:
            guard end - q >= 6 else { return (q, .invalidUnicodeEscape) }
            // Lone surrogates (\uD800 without a low half) are accepted: RFC 8259 leaves them to the
            // implementation and the bytes are kept raw.
            guard hexValue((q + 2).load(as: UInt8.self)) < 16, hexValue((q + 3).load(as: UInt8.self)) < 16,
                hexValue((q + 4).load(as: UInt8.self)) < 16, hexValue((q + 5).load(as: UInt8.self)) < 16
            else { return (q, .invalidUnicodeEscape) }
            return (q + 6, nil)
        default:
            return (q, .invalidEscape)
        }
    }

    /// Value of a hex digit, or 16 or more when `c` is not one.
    @inline(__always)
    private static func hexValue(_ c: UInt8) -> UInt8 {
        let digit = c &- ASCII.zero
        if digit < 10 { return digit }
        let letter = (c | 0x20) &- ASCII.lowerA
        return letter < 6 ? letter &+ 10 : 16
    }

    // MARK: - Numbers and whitespace

    /// Strict RFC 8259 number grammar; the digits are never converted, so any length is fine.
    /// p starts at '-' or a digit and ends after the number, or at the offending byte.
    @inline(__always)
    private static func scanNumber(_ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer) -> JSONError? {
        var q = p
        if q.load(as: UInt8.self) == ASCII.minus { q += 1 }
        guard q < end else {
            p = q
            return .invalidNumber
        }
        let first = q.load(as: UInt8.self)
        if first == ASCII.zero {
            q += 1
        } else if first &- ASCII.one < 9 {
            q += 1
            skipDigits(&q, end)
        } else {
            p = q
            return .invalidNumber
        }
        if q < end && q.load(as: UInt8.self) == ASCII.dot {
            q += 1
            guard q < end, q.load(as: UInt8.self) &- ASCII.zero < 10 else {
                p = q
                return .invalidNumber
            }
            skipDigits(&q, end)
        }
        if q < end && q.load(as: UInt8.self) | 0x20 == ASCII.lowerE {
            q += 1
            if q < end && (q.load(as: UInt8.self) == ASCII.plus || q.load(as: UInt8.self) == ASCII.minus) {
                q += 1
            }
            guard q < end, q.load(as: UInt8.self) &- ASCII.zero < 10 else {
                p = q
                return .invalidNumber
            }
            skipDigits(&q, end)
        }
        // Only a leading zero can leave a digit behind ("01", "-00").
        if q < end && q.load(as: UInt8.self) &- ASCII.zero < 10 {
            p = q
            return .invalidNumber
        }
        p = q
        return nil
    }

    @inline(__always)
    private static func skipDigits(_ q: inout UnsafeRawPointer, _ end: UnsafeRawPointer) {
        while q < end && q.load(as: UInt8.self) &- ASCII.zero < 10 { q += 1 }
    }

    /// Skips JSON whitespace (space, tab, LF, CR). Most positions hold none or a single space
    /// (", " and ": " separators), so those cases are inline.
    @inline(__always)
    private static func skipWhitespace(_ p: inout UnsafeRawPointer, _ end: UnsafeRawPointer) {
        guard p < end else { return }
        let c = p.load(as: UInt8.self)
        if c > ASCII.space { return }
        if c == ASCII.space && end - p >= 2 && (p + 1).load(as: UInt8.self) > ASCII.space {
            p += 1
            return
        }
        p = skipWhitespaceRun(p, end)
    }

    @inline(never)
    private static func skipWhitespaceRun(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer {
        var q = start
        // The usual run is one space after ',' or ':'; longer runs (pretty-printed text) go 8 at a time.
        while q < end {
            let c = q.load(as: UInt8.self)
            guard c == ASCII.space || c == ASCII.lineFeed || c == ASCII.carriageReturn || c == ASCII.tab else {
                break
            }
            q += 1
            if end - q >= 8 {
                let nonWhitespace = SWAR.nonWhitespaceBytes(SWAR.load(q))
                if nonWhitespace != 0 {
                    q += nonWhitespace.trailingZeroBitCount &>> 3
                    break
                }
                q += 8
            }
        }
        return q
    }

    // MARK: - Lookups in validated text

    /// In an already-validated object text (`object` spans from '{' to '}'), finds the first member
    /// named `key` (plain UTF-8, unescaped) and returns its value range and kind relative to
    /// `object.baseAddress`; nil when absent. Reads stay in bounds even if the text is not valid.
    public static func member(
        named key: UnsafeRawBufferPointer, inObject object: UnsafeRawBufferPointer
    ) -> (offset: Int, length: Int, kind: JSONValueKind)? {
        guard let base = object.baseAddress else { return nil }
        let end = base + object.count
        var p = base
        skipWhitespace(&p, end)
        guard p < end, p.load(as: UInt8.self) == ASCII.openBrace else { return nil }
        p += 1
        while true {
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.quote, let keyEnd = skipString(p, end) else {
                return nil
            }
            let rawKey = UnsafeRawBufferPointer(start: p + 1, count: keyEnd - p - 2)
            p = keyEnd
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.colon else { return nil }
            p += 1
            skipWhitespace(&p, end)
            guard p < end, let valueEnd = skipValue(p, end) else { return nil }
            if rawStringEquals(rawKey, key) {
                return (p - base, valueEnd - p, kindOfValue(startingWith: p.load(as: UInt8.self)))
            }
            p = valueEnd
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.comma else { return nil }
            p += 1
        }
    }

    /// The number of top-level members of an already-validated object text (0 when it is not
    /// an object); duplicates count, as in the index. Reads stay in bounds.
    public static func memberCount(inObject object: UnsafeRawBufferPointer) -> Int {
        guard let base = object.baseAddress else { return 0 }
        let end = base + object.count
        var p = base
        skipWhitespace(&p, end)
        guard p < end, p.load(as: UInt8.self) == ASCII.openBrace else { return 0 }
        p += 1
        var count = 0
        while true {
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.quote, let keyEnd = skipString(p, end) else { return count }
            p = keyEnd
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.colon else { return count }
            p += 1
            skipWhitespace(&p, end)
            guard p < end, let valueEnd = skipValue(p, end) else { return count }
            count += 1
            p = valueEnd
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.comma else { return count }
            p += 1
        }
    }

    /// The members of an already-validated object text that follow offset `start` (just past a
    /// member's value): with `fields` nil, how many there are; else also their entries, written
    /// from `fields[0]` on (offsets from the text's first byte, flags as `scan` sets them). nil
    /// when the text is not as validated or the entries would pass `capacity`.
    ///
    /// What an index cut at `--max-fields` left out is found this way (`EventEditor.indexEveryMember`):
    /// the text was validated when it was decoded, so only the part after the cut is walked, and
    /// without validating it again.
    public static func membersAfter(
        _ start: Int, inObject object: UnsafeRawBufferPointer,
        into fields: UnsafeMutablePointer<FieldEntry>?, capacity: Int = 0
    ) -> Int? {
        guard let base = object.baseAddress, start > 0, start <= object.count else { return nil }
        let end = base + object.count
        var p = base + start
        var count = 0
        while true {
            skipWhitespace(&p, end)
            guard p < end else { return nil }
            let c = p.load(as: UInt8.self)
            if c == ASCII.closeBrace { return count }
            guard c == ASCII.comma else { return nil }
            p += 1
            skipWhitespace(&p, end)
            var keyEscaped = false, valueEscaped = false
            guard p < end, p.load(as: UInt8.self) == ASCII.quote, let keyEnd = skipString(p, end, &keyEscaped) else { return nil }
            let keyStart = p + 1
            p = keyEnd
            skipWhitespace(&p, end)
            guard p < end, p.load(as: UInt8.self) == ASCII.colon else { return nil }
            p += 1
            skipWhitespace(&p, end)
            let isString = p < end && p.load(as: UInt8.self) == ASCII.quote
            guard p < end, let valueEnd = isString ? skipString(p, end, &valueEscaped) : skipValue(p, end) else { return nil }
            if let fields {
                guard count < capacity else { return nil }
                let keyLength = keyEnd - 1 - keyStart
                let kind = kindOfValue(startingWith: p.load(as: UInt8.self))
                let flags = (keyEscaped ? FieldEntry.keyHasEscapes : 0) | (valueEscaped ? FieldEntry.valueHasEscapes : 0)
                fields[count] = FieldEntry(
                    keyOffset: UInt32(keyStart - base), keyLength: UInt32(keyLength), valueOffset: UInt32(p - base),
                    valueLength: UInt32(valueEnd - p), kind: kind, flags: flags)
            }
            count += 1
            p = valueEnd
        }
    }

    @inline(__always)
    private static func kindOfValue(startingWith c: UInt8) -> JSONValueKind {
        switch c {
        case ASCII.quote: .string
        case ASCII.openBrace: .object
        case ASCII.openBracket: .array
        case ASCII.lowerT: .trueLiteral
        case ASCII.lowerF: .falseLiteral
        case ASCII.lowerN: .null
        default: .number
        }
    }

    /// From an opening quote, returns the position after the closing quote; nil if there is none.
    @inline(__always)
    private static func skipString(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer? {
        var escaped = false
        return skipString(start, end, &escaped)
    }

    /// The same, and `escaped` set when the string holds a backslash.
    private static func skipString(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer, _ escaped: inout Bool) -> UnsafeRawPointer? {
        var q = start + 1
        while true {
            // 16 bytes per compare while they last (log strings run long between escapes), then
            // 8 (SWAR), then byte by byte. An escape is stepped over inside the 16-byte loop (log
            // strings are full of \n, \t and \"), only the closing quote leaves it.
            while end - q >= 16 {
                let v = q.loadUnaligned(as: SIMD16<UInt8>.self)
                let special = ByteMask.of((v .== SIMD16<UInt8>(repeating: ASCII.quote)) .| (v .== SIMD16<UInt8>(repeating: ASCII.backslash)))
                if special == 0 {
                    q += 16
                    continue
                }
                q += special.trailingZeroBitCount
                if q.load(as: UInt8.self) == ASCII.quote { return q + 1 }
                escaped = true
                q += 2
            }
            while end - q >= 8 {
                let special = SWAR.quoteOrBackslashBytes(SWAR.load(q))
                if special != 0 {
                    q += special.trailingZeroBitCount &>> 3
                    break
                }
                q += 8
            }
            guard q < end else { return nil }
            let c = q.load(as: UInt8.self)
            if c == ASCII.quote { return q + 1 }
            if c == ASCII.backslash {
                escaped = true
                q += 2
            } else {
                q += 1
            }
        }
    }

    /// From the first byte of a value in validated text, returns the position after it; nil when
    /// the text ends first.
    private static func skipValue(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer? {
        let c = start.load(as: UInt8.self)
        if c == ASCII.quote { return skipString(start, end) }
        var q = start
        if c == ASCII.openBrace || c == ASCII.openBracket {
            var depth = 0
            while q < end {
                let b = q.load(as: UInt8.self)
                if b == ASCII.quote {
                    guard let after = skipString(q, end) else { return nil }
                    q = after
                    continue
                }
                if b == ASCII.openBrace || b == ASCII.openBracket {
                    depth += 1
                } else if b == ASCII.closeBrace || b == ASCII.closeBracket {
                    depth -= 1
                    if depth == 0 { return q + 1 }
                }
                q += 1
            }
            return nil
        }
        // A number or literal runs to the next delimiter.
        q += 1
        while q < end {
            let b = q.load(as: UInt8.self)
            if b == ASCII.comma || b == ASCII.closeBrace || b == ASCII.closeBracket || b <= ASCII.space { break }
            q += 1
        }
        return q
    }

    /// True when the raw contents of a JSON string (between the quotes, possibly with escapes
    /// incl. \uXXXX and surrogate pairs) decode to exactly `plain`. A lone surrogate escape decodes
    /// to U+FFFD, as a lossy UTF-8 decoder would; malformed escapes never match.
    public static func rawStringEquals(_ raw: UnsafeRawBufferPointer, _ plain: UnsafeRawBufferPointer) -> Bool {
        guard let rawBase = raw.baseAddress, raw.count > 0 else { return plain.count == 0 }
        guard let plainBase = plain.baseAddress else { return false }
        var r = rawBase
        let rawEnd = rawBase + raw.count
        var s = plainBase
        let plainEnd = plainBase + plain.count
        while r < rawEnd {
            // Equal escape-free stretches 8 bytes at a time.
            while rawEnd - r >= 8 && plainEnd - s >= 8 {
                let word = SWAR.load(r)
                guard word == SWAR.load(s), SWAR.backslashBytes(word) == 0 else { break }
                r += 8
                s += 8
            }
            guard r < rawEnd else { break }
            let c = r.load(as: UInt8.self)
            if c != ASCII.backslash {
                guard s < plainEnd, s.load(as: UInt8.self) == c else { return false }
                r += 1
                s += 1
                continue
            }
            guard rawEnd - r >= 2 else { return false }
            let escaped = (r + 1).load(as: UInt8.self)
            if escaped != ASCII.lowerU {
                let decoded: UInt8
                switch escaped {
                case ASCII.quote, ASCII.backslash, ASCII.slash: decoded = escaped
                case ASCII.lowerB: decoded = 0x08
                case ASCII.lowerF: decoded = 0x0C
                case ASCII.lowerN: decoded = ASCII.lineFeed
                case ASCII.lowerR: decoded = ASCII.carriageReturn
                case ASCII.lowerT: decoded = ASCII.tab
                default: return false
                }
                guard s < plainEnd, s.load(as: UInt8.self) == decoded else { return false }
                r += 2
                s += 1
                continue
            }
            guard let unit = unicodeEscapeValue(r, rawEnd) else { return false }
            r += 6
            var scalar = unit
            if unit & 0xFC00 == 0xD800 {
                if let low = unicodeEscapeValue(r, rawEnd), low & 0xFC00 == 0xDC00 {
                    scalar = 0x10000 &+ ((unit &- 0xD800) &<< 10) &+ (low &- 0xDC00)
                    r += 6
                } else {
                    scalar = 0xFFFD
                }
            } else if unit & 0xFC00 == 0xDC00 {
                scalar = 0xFFFD
            }
            guard matchUTF8(scalar, &s, plainEnd) else { return false }
        }
        return s == plainEnd
    }

    /// The 16-bit value of a `\uXXXX` escape starting at `r`, or nil when there is none.
    @inline(__always)
    private static func unicodeEscapeValue(_ r: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UInt32? {
        guard end - r >= 6, r.load(as: UInt8.self) == ASCII.backslash,
            (r + 1).load(as: UInt8.self) == ASCII.lowerU
        else { return nil }
        var value: UInt32 = 0
        for index in 2..<6 {
            let digit = hexValue((r + index).load(as: UInt8.self))
            guard digit < 16 else { return nil }
            value = value &<< 4 | UInt32(digit)
        }
        return value
    }

    /// Compares the UTF-8 encoding of `scalar` with the bytes at `s`, advancing past them on a match.
    private static func matchUTF8(_ scalar: UInt32, _ s: inout UnsafeRawPointer, _ end: UnsafeRawPointer) -> Bool {
        // The encoding packed with its first byte lowest.
        let encoded: UInt32
        let count: Int
        if scalar < 0x80 {
            encoded = scalar
            count = 1
        } else if scalar < 0x800 {
            encoded = (0xC0 | scalar &>> 6) | (0x80 | scalar & 0x3F) &<< 8
            count = 2
        } else if scalar < 0x10000 {
            encoded = (0xE0 | scalar &>> 12) | (0x80 | scalar &>> 6 & 0x3F) &<< 8
                | (0x80 | scalar & 0x3F) &<< 16
            count = 3
        } else {
            encoded = (0xF0 | scalar &>> 18) | (0x80 | scalar &>> 12 & 0x3F) &<< 8
                | (0x80 | scalar &>> 6 & 0x3F) &<< 16 | (0x80 | scalar & 0x3F) &<< 24
            count = 4
        }
        guard end - s >= count else { return false }
        for index in 0..<count
        where (s + index).load(as: UInt8.self) != UInt8(truncatingIfNeeded: encoded &>> UInt32(index &* 8)) {
            return false
        }
        s += count
        return true
    }
}

// MARK: - Byte constants and SWAR kernels

private enum ASCII {
    static let tab: UInt8 = 0x09
    static let lineFeed: UInt8 = 0x0A
    static let carriageReturn: UInt8 = 0x0D
    static let space: UInt8 = 0x20
    static let quote: UInt8 = 0x22
    static let plus: UInt8 = 0x2B
    static let comma: UInt8 = 0x2C
    static let minus: UInt8 = 0x2D
    static let dot: UInt8 = 0x2E
    static let slash: UInt8 = 0x2F
    static let zero: UInt8 = 0x30
    static let one: UInt8 = 0x31
    static let colon: UInt8 = 0x3A
    static let openBracket: UInt8 = 0x5B
    static let backslash: UInt8 = 0x5C
    static let closeBracket: UInt8 = 0x5D
    static let lowerA: UInt8 = 0x61
    static let lowerB: UInt8 = 0x62
    static let lowerE: UInt8 = 0x65
    static let lowerF: UInt8 = 0x66
    static let lowerN: UInt8 = 0x6E
    static let lowerR: UInt8 = 0x72
    static let lowerT: UInt8 = 0x74
    static let lowerU: UInt8 = 0x75
    static let openBrace: UInt8 = 0x7B
    static let closeBrace: UInt8 = 0x7D
}

/// The literals' bytes as they load from memory (`loadUnaligned(as: UInt32.self)`).
private enum Literal {
    static let `true` = UInt32(littleEndian: 0x6575_7274)  // "true"
    static let alse = UInt32(littleEndian: 0x6573_6C61)  // "alse" (after the 'f')
    static let null = UInt32(littleEndian: 0x6C6C_756E)  // "null"
}

/// Bit tricks on 8 bytes at once. Each kernel returns a mask with the high bit of every selected
/// byte set; all of them are exact (no carry crosses a byte), so the lowest set bit is the first hit.
/// Shared with the COPY row encoder of the postgres output.
enum SWAR {
    static let lowSeven: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Eight bytes in memory order: byte i of the text is bits 8i..8i+7.
    @inline(__always)
    static func load(_ p: UnsafeRawPointer) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))
    }

    /// Bytes equal to zero.
    @inline(__always)
    static func zeroBytes(_ word: UInt64) -> UInt64 {
        ~(((word & lowSeven) &+ lowSeven) | word) & highBits
    }

    /// Bytes a string body cannot take as they are: '"', '\\' and < 0x20 (bytes >= 0x80 are
    /// never selected: UTF-8 is checked apart).
    @inline(__always)
    static func stringSpecialASCIIBytes(_ word: UInt64) -> UInt64 {
        let low = word & lowSeven
        let notQuote = (low ^ 0x2222_2222_2222_2222) &+ lowSeven
        let notBackslash = (low ^ 0x5C5C_5C5C_5C5C_5C5C) &+ lowSeven
        let notControl = low &+ 0x6060_6060_6060_6060
        return ~(notQuote & notBackslash & notControl) & ~word & highBits
    }

    /// Bytes PostgreSQL's COPY text format escapes or that start a JSON escape: '\\' and < 0x20
    /// (bytes >= 0x80 are never selected).
    @inline(__always)
    static func backslashOrControlBytes(_ word: UInt64) -> UInt64 {
        let low = word & lowSeven
        let notBackslash = (low ^ 0x5C5C_5C5C_5C5C_5C5C) &+ lowSeven
        let notControl = low &+ 0x6060_6060_6060_6060
        return ~(notBackslash & notControl) & ~word & highBits
    }

    @inline(__always)
    static func quoteOrBackslashBytes(_ word: UInt64) -> UInt64 {
        zeroBytes(word ^ 0x2222_2222_2222_2222) | zeroBytes(word ^ 0x5C5C_5C5C_5C5C_5C5C)
    }

    @inline(__always)
    static func backslashBytes(_ word: UInt64) -> UInt64 {
        zeroBytes(word ^ 0x5C5C_5C5C_5C5C_5C5C)
    }

    /// Bytes other than space, tab, LF and CR.
    @inline(__always)
    static func nonWhitespaceBytes(_ word: UInt64) -> UInt64 {
        let whitespace =
            zeroBytes(word ^ 0x2020_2020_2020_2020) | zeroBytes(word ^ 0x0909_0909_0909_0909)
            | zeroBytes(word ^ 0x0A0A_0A0A_0A0A_0A0A) | zeroBytes(word ^ 0x0D0D_0D0D_0D0D_0D0D)
        return ~whitespace & highBits
    }
}
