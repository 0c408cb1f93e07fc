import CSupport

/// UTF-8 validation of a whole text (RFC 3629: no overlongs, no surrogates, nothing above
/// U+10FFFF, no truncated sequence), 16 bytes at a time with byte-vector compares.
///
/// Each byte is checked against the three before it, loaded as vectors one, two and three bytes
/// back: a byte must be a continuation exactly when one of those leads a sequence long enough to
/// reach it, and the second byte after E0, ED, F0 and F4 has a narrower range. Errors are ORed
/// into one vector that is looked at once at the end; 64 bytes of ASCII with ASCII before them
/// cost one OR and one movemask. The offset of the first error comes from a walk sequence by
/// sequence, run only when the vector check has failed.
public enum UTF8Validation {
    /// The offset of the first byte where `bytes` stop being valid UTF-8 (a stray continuation
    /// byte, or the lead byte of a bad or truncated sequence), or nil when all of it is valid.
    public static func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return nil }
        let end = base + bytes.count
        if isASCII(base, end) { return nil }
        var errors = SIMD16<Int8>()
        // The first and last 16 bytes are checked in a zeroed copy (zero is ASCII: nothing is
        // required before the text, and a sequence cut by its end misses its continuations);
        // loads in between reach three bytes back into the text.
        let headCount = min(bytes.count, 16)
        errors |= paddedChunkErrors(base, count: headCount, bytesBefore: 0)
        var p = base + headCount
        while end - p >= 64 {
            let block = p.loadUnaligned(as: SIMD16<UInt8>.self) | p.loadUnaligned(fromByteOffset: 16, as: SIMD16<UInt8>.self)
                | p.loadUnaligned(fromByteOffset: 32, as: SIMD16<UInt8>.self)
                | p.loadUnaligned(fromByteOffset: 48, as: SIMD16<UInt8>.self)
            // ASCII needs no look when the three bytes before it end no sequence's lead.
            if ByteMask.highBits(block) == 0 && ByteMask.highBits((p - 16).loadUnaligned(as: SIMD16<UInt8>.self)) & 0xE000 == 0 {
                p += 64
                continue
            }
            for offset in stride(from: 0, to: 64, by: 16) { errors |= chunkErrors(p + offset) }
            p += 64
        }
        while end - p >= 16 {
            errors |= chunkErrors(p)
            p += 16
        }
        errors |= paddedChunkErrors(p, count: end - p, bytesBefore: min(3, p - base))
        guard ByteMask.highBits(SIMD16<UInt8>(truncatingIfNeeded: errors)) != 0 else { return nil }
        return firstInvalidOffsetByteByByte(bytes)
    }

    /// Whether every byte is below 0x80: 16 bytes per step, then 8, then 1. Many texts are all
    /// ASCII, and for them this is the whole check (no padded copies of the first and last bytes).
    @inline(__always)
    private static func isASCII(_ start: UnsafeRawPointer, _ end: UnsafeRawPointer) -> Bool {
        let highBits: UInt64 = 0x8080_8080_8080_8080
        var p = start
        if end - p >= 16 {
            while end - p > 16 {
                if ByteMask.highBits(p.loadUnaligned(as: SIMD16<UInt8>.self)) != 0 { return false }
                p += 16
            }
            // The last 16 bytes, overlapping some already checked: no byte-by-byte tail (most
            // events are short lines, where that tail was a third of the check).
            return ByteMask.highBits((end - 16).loadUnaligned(as: SIMD16<UInt8>.self)) == 0
        }
        if end - p >= 8 { return (p.loadUnaligned(as: UInt64.self) | (end - 8).loadUnaligned(as: UInt64.self)) & highBits == 0 }
        while p < end {
            if p.load(as: UInt8.self) >= 0x80 { return false }
            p += 1
        }
        return true
    }

    /// `count` (at most 16) bytes at `p` with up to 3 bytes before them, checked in a zeroed copy.
    @inline(__always)
    private static func paddedChunkErrors(_ p: UnsafeRawPointer, count: Int, bytesBefore: Int) -> SIMD16<Int8> {
        var copy = SIMD32<UInt8>()
        return withUnsafeMutableBytes(of: &copy) { buffer in
            let start = buffer.baseAddress! + 3
            (start - bytesBefore).copyMemory(from: p - bytesBefore, byteCount: bytesBefore + count)
            return chunkErrors(UnsafeRawPointer(start))
        }
    }

    /// High bit set in every byte of the 16 at `p` that breaks UTF-8 given the 3 bytes before them.
    @inline(__always)
    private static func chunkErrors(_ p: UnsafeRawPointer) -> SIMD16<Int8> {
        // Unsigned compares for lead ranges; signed ones (0x80...0xBF are -128...-65) for ranges
        // of continuation bytes, one instruction each.
        let current = p.loadUnaligned(as: SIMD16<UInt8>.self)
        let signed = SIMD16<Int8>(truncatingIfNeeded: current)
        let previous = (p - 1).loadUnaligned(as: SIMD16<UInt8>.self)
        let continuation = signed .< .splat(-64)
        let required = previous .>= .splat(0xC0) .| ((p - 2).loadUnaligned(as: SIMD16<UInt8>.self) .>= .splat(0xE0))
            .| ((p - 3).loadUnaligned(as: SIMD16<UInt8>.self) .>= .splat(0xF0))
        // C0 and C1 start only overlong forms; F5...FF nothing at all.
        let neverValid = current .== .splat(0xC0) .| (current .== .splat(0xC1)) .| (current .>= .splat(0xF5))
        // Second bytes: E0 needs A0...BF (else overlong), ED 80...9F (else a surrogate), F0 90...BF
        // (else overlong), F4 80...8F (else above U+10FFFF).
        let below90 = signed .< .splat(-112), belowA0 = signed .< .splat(-96)
        let badSecond = previous .== .splat(0xE0) .& belowA0 .| (previous .== .splat(0xF0) .& below90)
            .| (previous .== .splat(0xED) .& continuation .& .!belowA0)
            .| (previous .== .splat(0xF4) .& continuation .& .!below90)
        let bad = (required .^ continuation) .| neverValid .| badSecond
        return unsafeBitCast(bad, to: SIMD16<Int8>.self)
    }

    /// The exact first error, walking sequence by sequence from the start (the slow path; also
    /// the fuzzer's reference for the vector check).
    @inline(never)
    public static func firstInvalidOffsetByteByByte(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        let end = base + bytes.count
        var r = base
        while r < end {
            if r.load(as: UInt8.self) < 0x80 {
                r += 1
                continue
            }
            let (next, valid) = sequence(at: r, end)
            if !valid { return r - base }
            r = next
        }
        return nil
    }

    /// The length of the well-formed sequence at `p` (lead byte >= 0x80) within `available`
    /// bytes, or 0 when it is not well formed: for writers that replace bad bytes with U+FFFD.
    @inline(__always)
    static func sequenceLength(_ p: UnsafeRawPointer, available: Int) -> Int {
        let (next, valid) = sequence(at: p, p + available)
        return valid ? next - p : 0
    }

    /// From a byte >= 0x80: the position after its sequence and whether the sequence is valid
    /// (RFC 3629 table 3.7).
    @inline(__always)
    static func sequence(at r: UnsafeRawPointer, _ end: UnsafeRawPointer) -> (next: UnsafeRawPointer, valid: Bool) {
        let lead = r.load(as: UInt8.self)
        let available = end - r
        @inline(__always) func isContinuation(_ offset: Int) -> Bool { (r + offset).load(as: UInt8.self) & 0xC0 == 0x80 }
        if lead < 0xC2 {
            return (r, false)  // a stray continuation byte, or C0/C1 (overlong two-byte leads)
        } else if lead < 0xE0 {
            return (r + 2, available >= 2 && isContinuation(1))
        } else if lead < 0xF0 {
            let low: UInt8 = lead == 0xE0 ? 0xA0 : 0x80  // E0 80...9F would be overlong
            let high: UInt8 = lead == 0xED ? 0x9F : 0xBF  // ED A0...BF are UTF-16 surrogates
            guard available >= 3 else { return (r, false) }
            let second = (r + 1).load(as: UInt8.self)
            return (r + 3, second >= low && second <= high && isContinuation(2))
        } else if lead < 0xF5 {
            let low: UInt8 = lead == 0xF0 ? 0x90 : 0x80  // F0 80...8F would be overlong
            let high: UInt8 = lead == 0xF4 ? 0x8F : 0xBF  // F4 90... is above U+10FFFF
            guard available >= 4 else { return (r, false) }
            let second = (r + 1).load(as: UInt8.self)
            return (r + 4, second >= low && second <= high && isContinuation(2) && isContinuation(3))
        }
        return (r, false)
    }
}

// A vector of one value: compares against it compile to one instruction (or two for unsigned
// order on SSE2), where the standard library's vector-to-scalar compares (`v .< -64`) and
// compares with an inferred `SIMD16(repeating:)` take the generic path and go lane by lane.
extension SIMD16<Int8> {
    @inline(__always)
    static func splat(_ value: Int8) -> SIMD16<Int8> { SIMD16<Int8>(repeating: value) }
}

extension SIMD16<UInt8> {
    @inline(__always)
    static func splat(_ value: UInt8) -> SIMD16<UInt8> { SIMD16<UInt8>(repeating: value) }
}

/// Byte-vector compares to bit masks (bit i = byte i), through the C shim's movemask.
enum ByteMask {
    @inline(__always)
    static func of(_ selected: SIMDMask<SIMD16<Int8>>) -> UInt64 {
        highBits(unsafeBitCast(selected, to: SIMD16<UInt8>.self))
    }

    /// Bit i is the high bit of byte i.
    @inline(__always)
    static func highBits(_ v: SIMD16<UInt8>) -> UInt64 {
        UInt64(sl_movemask_u8x16(v))
    }
}
