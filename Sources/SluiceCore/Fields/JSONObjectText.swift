import Glibc

/// Where one member of an object text sits, in offsets from the text's first byte; what
/// `EventEditor` needs to replace its value or cut the whole member out.
public struct JSONMemberSpan: Sendable, Equatable {
    /// The key's opening quote.
    public var keyStart: Int
    /// The raw (still escaped) key's length between its quotes.
    public var keyLength: Int
    public var valueStart: Int
    /// Just past the value.
    public var valueEnd: Int
    public var kind: JSONValueKind
    /// Just past the previous member's value (where the comma before this member begins); nil
    /// for the first member.
    public var previousEnd: Int?
    /// The next member's key quote (past the comma after this member); nil for the last member.
    public var nextStart: Int?

    /// The bytes to cut to remove this member and one comma, leaving a valid object.
    public var removal: Range<Int> {
        if let previousEnd { return previousEnd..<valueEnd }
        if let nextStart { return keyStart..<nextStart }
        return keyStart..<valueEnd
    }
}

/// Lookups in an already validated JSON object text (a decoded event's value, or text an
/// action built), without allocation. Kept apart from `JSONScanner`, which validates; every
/// read here is still bounds-checked, so text that is not valid gives a nil, never a bad read.
public enum JSONObjectText {
    public enum Lookup: Equatable {
        case found(JSONMemberSpan)
        /// No member of that name: where the closing brace is (a new member goes before it) and
        /// whether the object has no member (then the new one needs no comma).
        case absent(closingBrace: Int, isEmpty: Bool)
        case notAnObject
    }

    /// The first member whose key decodes to `key` (plain UTF-8).
    public static func find(_ key: UnsafeRawBufferPointer, in object: UnsafeRawBufferPointer) -> Lookup {
        guard let base = object.baseAddress else { return .notAnObject }
        let end = base + object.count
        var p = skipWhitespace(base, end)
        guard p < end, p.load(as: UInt8.self) == Byte.openBrace else { return .notAnObject }
        p = skipWhitespace(p + 1, end)
        guard p < end else { return .notAnObject }
        if p.load(as: UInt8.self) == Byte.closeBrace { return .absent(closingBrace: p - base, isEmpty: true) }
        var previousEnd: Int? = nil
        while true {
            guard p < end, p.load(as: UInt8.self) == Byte.quote, let keyEnd = skipString(p, end) else { return .notAnObject }
            let keyStart = p
            let rawKey = UnsafeRawBufferPointer(start: p + 1, count: keyEnd - p - 2)
            p = skipWhitespace(keyEnd, end)
            guard p < end, p.load(as: UInt8.self) == Byte.colon else { return .notAnObject }
            p = skipWhitespace(p + 1, end)
            guard p < end, let valueEnd = skipValue(p, end) else { return .notAnObject }
            let valueStart = p
            p = skipWhitespace(valueEnd, end)
            guard p < end else { return .notAnObject }
            let separator = p.load(as: UInt8.self)
            if JSONScanner.rawStringEquals(rawKey, key) {
                var span = JSONMemberSpan(keyStart: keyStart - base, keyLength: keyEnd - keyStart - 2, valueStart: valueStart - base, valueEnd: valueEnd - base,
                                          kind: JSONText.kind(ofFirstByte: valueStart.load(as: UInt8.self)),
                                          previousEnd: previousEnd, nextStart: nil)
                if separator == Byte.comma { span.nextStart = skipWhitespace(p + 1, end) - base }
                return .found(span)
            }
            if separator == Byte.closeBrace { return .absent(closingBrace: p - base, isEmpty: false) }
            guard separator == Byte.comma else { return .notAnObject }
            previousEnd = valueEnd - base
            p = skipWhitespace(p + 1, end)
        }
    }

    /// Calls `body` with the span of every member, in order; stops early when it returns false.
    /// False when the text is not an object.
    @discardableResult
    public static func forEachMember(in object: UnsafeRawBufferPointer, _ body: (JSONMemberSpan) -> Bool) -> Bool {
        guard let base = object.baseAddress else { return false }
        let end = base + object.count
        var p = skipWhitespace(base, end)
        guard p < end, p.load(as: UInt8.self) == Byte.openBrace else { return false }
        p = skipWhitespace(p + 1, end)
        guard p < end else { return false }
        if p.load(as: UInt8.self) == Byte.closeBrace { return true }
        while true {
            guard p < end, p.load(as: UInt8.self) == Byte.quote, let keyEnd = skipString(p, end) else { return false }
            let keyStart = p
            let keyLength = keyEnd - p - 2
            p = skipWhitespace(keyEnd, end)
            guard p < end, p.load(as: UInt8.self) == Byte.colon else { return false }
            p = skipWhitespace(p + 1, end)
            guard p < end, let valueEnd = skipValue(p, end) else { return false }
            let span = JSONMemberSpan(keyStart: keyStart - base, keyLength: keyLength, valueStart: p - base, valueEnd: valueEnd - base,
                                      kind: JSONText.kind(ofFirstByte: p.load(as: UInt8.self)), previousEnd: nil, nextStart: nil)
            if !body(span) { return true }
            p = skipWhitespace(valueEnd, end)
            guard p < end else { return false }
            let separator = p.load(as: UInt8.self)
            if separator == Byte.closeBrace { return true }
            guard separator == Byte.comma else { return false }
            p = skipWhitespace(p + 1, end)
        }
    }

    // MARK: Skipping

    @inline(__always) static func skipWhitespace(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer {
        var p = start
        while p < end {
            let c = p.load(as: UInt8.self)
            guard c == 32 || c == 10 || c == 13 || c == 9 else { break }
            p += 1
        }
        return p
    }

    /// From an opening quote, the position after the closing one; nil when there is none.
    static func skipString(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer? {
        var q = start + 1
        while q < end {
            let c = q.load(as: UInt8.self)
            if c == Byte.quote { return q + 1 }
            q += c == Byte.backslash ? 2 : 1
        }
        return nil
    }

    /// From a value's first byte, the position after it; nil when the text ends first.
    static func skipValue(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> UnsafeRawPointer? {
        let c = start.load(as: UInt8.self)
        if c == Byte.quote { return skipString(start, end) }
        var q = start
        if c == Byte.openBrace || c == Byte.openBracket {
            var depth = 0
            while q < end {
                let b = q.load(as: UInt8.self)
                if b == Byte.quote {
                    guard let after = skipString(q, end) else { return nil }
                    q = after
                    continue
                }
                if b == Byte.openBrace || b == Byte.openBracket {
                    depth += 1
                } else if b == Byte.closeBrace || b == Byte.closeBracket {
                    depth -= 1
                    if depth == 0 { return q + 1 }
                }
                q += 1
            }
            return nil
        }
        q += 1
        while q < end {
            let b = q.load(as: UInt8.self)
            if b == Byte.comma || b == Byte.closeBrace || b == Byte.closeBracket || b <= 32 { break }
            q += 1
        }
        return q
    }

    enum Byte {
        static let quote: UInt8 = 0x22
        static let comma: UInt8 = 0x2C
        static let colon: UInt8 = 0x3A
        static let openBracket: UInt8 = 0x5B
        static let backslash: UInt8 = 0x5C
        static let closeBracket: UInt8 = 0x5D
        static let openBrace: UInt8 = 0x7B
        static let closeBrace: UInt8 = 0x7D
    }
}

/// Writes JSON string contents (without the quotes) on the hot path: `"`, `\` and control
/// bytes escaped, everything else copied. The input must be UTF-8 (the editor's callers take
/// it from validated JSON, or check it with `isValidUTF8`).
public enum JSONEscaper {
    /// The escaped length of `bytes`.
    public static func escapedCount(_ bytes: UnsafeRawBufferPointer) -> Int {
        var n = bytes.count
        for b in bytes where b < 32 || b == 34 || b == 92 {
            n += (b == 34 || b == 92 || b == 10 || b == 13 || b == 9 || b == 8 || b == 12) ? 1 : 5
        }
        return n
    }

    /// Writes the escaped `bytes` at `out`; returns the count written, or nil (nothing
    /// promised about `out`) when more than `capacity` would be needed.
    public static func escape(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        guard let base = bytes.baseAddress else { return 0 }
        var n = 0
        var i = 0
        let count = bytes.count
        while i < count {
            // Plain stretches in one copy.
            var j = i
            while j < count {
                let b = base.load(fromByteOffset: j, as: UInt8.self)
                if b < 32 || b == 34 || b == 92 { break }
                j += 1
            }
            if j > i {
                guard n + (j - i) <= capacity else { return nil }
                (out + n).copyMemory(from: base + i, byteCount: j - i)
                n += j - i
                i = j
                if i == count { break }
            }
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            let width = escapeWidth(b)
            guard n + width <= capacity else { return nil }
            writeEscape(of: b, at: out + n)
            n += width
            i += 1
        }
        return n
    }

    /// The length of the escape of `b` (`"`, `\\` or a byte below 0x20): 2 for the short ones,
    /// 6 for `\u00XX`.
    @inline(__always) static func escapeWidth(_ b: UInt8) -> Int {
        b == 34 || b == 92 || b == 10 || b == 13 || b == 9 || b == 8 || b == 12 ? 2 : 6
    }

    /// Writes the escape of `b` (`escapeWidth(b)` bytes) at `out`.
    @inline(__always) static func writeEscape(of b: UInt8, at out: UnsafeMutableRawPointer) {
        let short: UInt8
        switch b {
        case 34: short = 34
        case 92: short = 92
        case 10: short = 110
        case 13: short = 114
        case 9: short = 116
        case 8: short = 98
        case 12: short = 102
        default: short = 0
        }
        if short != 0 {
            out.storeBytes(of: 92, as: UInt8.self)
            out.storeBytes(of: short, toByteOffset: 1, as: UInt8.self)
        } else {
            // \u00XX, as a 32-bit word "\u00" and the two hex digits.
            out.storeBytes(of: UInt32(littleEndian: 0x3030_755C), as: UInt32.self)
            out.storeBytes(of: JSONText.hex(b >> 4), toByteOffset: 4, as: UInt8.self)
            out.storeBytes(of: JSONText.hex(b & 15), toByteOffset: 5, as: UInt8.self)
        }
    }

    /// True when `bytes` is well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF).
    public static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard i + length <= n else { return false }
            guard bytes[i + 1] >= low && bytes[i + 1] <= high else { return false }
            var k = 2
            while k < length {
                guard bytes[i + k] & 0xC0 == 0x80 else { return false }
                k += 1
            }
            i += length
        }
        return true
    }
}
