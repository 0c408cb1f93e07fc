/// Escaping bytes of any origin into a bounded place, and cutting escaped text: what an input
/// that turns received bytes into JSON strings needs (container log lines), where a text too
/// long for the event is cut, never the JSON broken.
extension JSONEscaper {
    /// Writes `bytes` (anything: the bytes as received) as JSON string contents at `out`: `"`,
    /// `\` and control bytes escaped, bytes that are not well-formed UTF-8 written as U+FFFD,
    /// so the result is always valid. Stops before the first character that would pass
    /// `capacity` (never inside an escape or a UTF-8 sequence); `consumed` below `bytes.count`
    /// means the text was cut there.
    ///
    /// Plain stretches are found 16 bytes at a time (`JSONScanner.firstStringSpecialByte`) up
    /// to the first byte that is not UTF-8 (one vector pass, `UTF8Validation`); from such a byte
    /// on, sequence by sequence.
    public static func escapeAnyBytes(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                                      capacity: Int) -> (written: Int, consumed: Int) {
        guard let base = bytes.baseAddress else { return (0, 0) }
        let end = base + bytes.count
        let validEnd = UTF8Validation.firstInvalidOffset(bytes).map { base + $0 } ?? end
        var p = base
        var n = 0
        while p < validEnd {
            let stop = JSONScanner.firstStringSpecialByte(p, validEnd)
            if stop > p {
                var run = stop - p
                if n + run > capacity {
                    run = capacity - n
                    // Not inside a sequence: back to the lead byte of the one cut.
                    while run > 0 && (p + run).load(as: UInt8.self) & 0xC0 == 0x80 { run -= 1 }
                    (out + n).copyMemory(from: p, byteCount: run)
                    return (n + run, p + run - base)
                }
                (out + n).copyMemory(from: p, byteCount: run)
                n += run
                p = stop
                continue
            }
            let b = p.load(as: UInt8.self)
            let width = escapeWidth(b)
            guard n + width <= capacity else { return (n, p - base) }
            writeEscape(of: b, at: out + n)
            n += width
            p += 1
        }
        while p < end {
            let b = p.load(as: UInt8.self)
            if b < 0x80 {
                let special = b < 32 || b == 34 || b == 92
                let width = special ? escapeWidth(b) : 1
                guard n + width <= capacity else { break }
                if special { writeEscape(of: b, at: out + n) } else { out.storeBytes(of: b, toByteOffset: n, as: UInt8.self) }
                n += width
                p += 1
                continue
            }
            let length = UTF8Validation.sequenceLength(p, available: end - p)
            if length == 0 {
                guard n + 3 <= capacity else { break }
                out.storeBytes(of: 0xEF, toByteOffset: n, as: UInt8.self)  // U+FFFD
                out.storeBytes(of: 0xBF, toByteOffset: n + 1, as: UInt8.self)
                out.storeBytes(of: 0xBD, toByteOffset: n + 2, as: UInt8.self)
                n += 3
                p += 1
            } else {
                guard n + length <= capacity else { break }
                (out + n).copyMemory(from: p, byteCount: length)
                n += length
                p += length
            }
        }
        return (n, p - base)
    }

    /// The longest start of `escaped` (valid JSON string contents) no longer than `limit` that
    /// ends between characters: not inside an escape (`\n`, `\u00e9`) or a UTF-8 sequence.
    public static func escapedPrefixLength(_ escaped: UnsafeRawBufferPointer, atMost limit: Int) -> Int {
        guard escaped.count > limit else { return escaped.count }
        var i = 0
        while i < escaped.count {
            let b = escaped[i]
            let width: Int
            if b == 92 {
                width = i + 1 < escaped.count && escaped[i + 1] == UInt8(ascii: "u") ? 6 : 2
            } else if b < 0x80 {
                width = 1
            } else {
                width = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            }
            if i + width > limit { return i }
            i += width
        }
        return i
    }
}
