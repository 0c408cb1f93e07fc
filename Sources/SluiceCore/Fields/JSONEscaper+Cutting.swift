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
    /// 16 bytes at a time: each vector is stored whole (while 16 bytes of room are left) and the
    /// position moves to its first byte that needs a look, so a run of plain text costs no copy
    /// call (log lines quote every few bytes). UTF-8 is validated in one vector pass from the
    /// first byte >= 0x80 on (`UTF8Validation`); what it found valid is copied with the plain
    /// text. After a byte that is not UTF-8, the rest is checked sequence by sequence (one pass
    /// per bad byte would make a binary line quadratic).
    public static func escapeAnyBytes(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer,
                                      capacity: Int) -> (written: Int, consumed: Int) {
        guard let base = bytes.baseAddress else { return (0, 0) }
        let end = base + bytes.count
        var p = base
        var n = 0
        // Bytes before `validEnd` are known to be well-formed UTF-8.
        var validEnd = base
        var sequenceBySequence = false
        while p < end {
            if end - p >= 16 && capacity - n >= 16 {
                let v = p.loadUnaligned(as: SIMD16<UInt8>.self)
                (out + n).storeBytes(of: v, as: SIMD16<UInt8>.self)
                let validated = validEnd - p >= 16
                let look = validated ? specialASCIIBytes(v) : specialASCIIBytes(v) | UInt32(truncatingIfNeeded: ByteMask.highBits(v))
                if look == 0 {
                    // Not into the middle of a sequence the vector cuts (its lead is looked at again).
                    let step = validated ? wholeCharacterBytes(v) : 16
                    p += step
                    n += step
                    continue
                }
                let plain = look.trailingZeroBitCount
                p += plain
                n += plain
            }
            let b = p.load(as: UInt8.self)
            if b >= 0x80 {
                if p >= validEnd && !sequenceBySequence {
                    validEnd = p + (UTF8Validation.firstInvalidOffset(UnsafeRawBufferPointer(start: p, count: end - p)) ?? (end - p))
                    sequenceBySequence = validEnd < end
                }
                let length = p < validEnd ? UTF8Validation.sequenceLength(p, available: validEnd - p)
                    : UTF8Validation.sequenceLength(p, available: end - p)
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
            } else if b < 0x20 || b == 0x22 || b == 0x5C {
                let width = escapeWidth(b)
                guard n + width <= capacity else { break }
                writeEscape(of: b, at: out + n)
                n += width
                p += 1
            } else {
                guard n < capacity else { break }
                out.storeBytes(of: b, toByteOffset: n, as: UInt8.self)
                n += 1
                p += 1
            }
        }
        return (n, p - base)
    }

    /// How many bytes of `v` (valid UTF-8) hold whole characters: 16, or less when the lead
    /// byte of a sequence is among the last three and its sequence goes on past them.
    @inline(__always) static func wholeCharacterBytes(_ v: SIMD16<UInt8>) -> Int {
        if v[15] >= 0xC0 { return 15 }
        if v[14] >= 0xE0 { return 14 }
        if v[13] >= 0xF0 { return 13 }
        return 16
    }

    /// Bit i set when byte i of `v` is `"`, `\` or below 0x20 (escaped in a JSON string).
    @inline(__always) static func specialASCIIBytes(_ v: SIMD16<UInt8>) -> UInt32 {
        // The vector type is spelled out: with `SIMD16(repeating:)` inferred, the compiler picks
        // the generic SIMD compares, which run lane by lane.
        let special = (v .== SIMD16<UInt8>(repeating: 0x22)) .| (v .== SIMD16<UInt8>(repeating: 0x5C))
            .| (v .< SIMD16<UInt8>(repeating: 0x20))
        return UInt32(truncatingIfNeeded: ByteMask.of(special))
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
