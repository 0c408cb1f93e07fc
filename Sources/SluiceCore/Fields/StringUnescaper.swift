/// Decodes the escapes of an already-validated JSON string body into UTF-8 bytes.
enum StringUnescaper {
    /// Writes at most `capacity` bytes into `out`; returns how many were written.
    static func unescape(_ raw: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity: Int) -> Int {
        // Most strings have no escape: one memchr and a copy instead of the byte loop.
        guard let base = raw.baseAddress else { return 0 }
        if memchr(base, 92, raw.count) == nil {
            let n = min(raw.count, capacity)
            if n > 0 { out.copyMemory(from: base, byteCount: n) }
            return n
        }
        var i = 0
        var n = 0
        let count = raw.count
        @inline(__always) func put(_ b: UInt8) {
            if n < capacity { out.storeBytes(of: b, toByteOffset: n, as: UInt8.self); n += 1 }
        }
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= count else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = raw[at + k]
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
        while i < count {
            // The plain run up to the next backslash in one copy (log text has a few escapes
            // in long runs of plain bytes, often multi-byte UTF-8).
            let next = memchr(base + i, 92, count - i).map { UnsafeRawPointer($0) - base } ?? count
            if next > i {
                let run = max(0, min(next - i, capacity - n))
                if run > 0 { (out + n).copyMemory(from: base + i, byteCount: run) }
                n += run
                i = next
                continue
            }
            if i + 1 >= count { put(92); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case 110: put(10)
            case 116: put(9)
            case 114: put(13)
            case 98: put(8)
            case 102: put(12)
            case 117:
                guard var scalar = hex4(i) else { put(e); continue }
                i += 4
                if scalar >= 0xD800 && scalar < 0xDC00, i + 6 <= count, raw[i] == 92, raw[i + 1] == 117, let low = hex4(i + 2), low >= 0xDC00 && low < 0xE000 {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if scalar >= 0xD800 && scalar < 0xE000 {
                    scalar = 0xFFFD  // a lone surrogate has no UTF-8 form
                }
                if scalar < 0x80 { put(UInt8(scalar)) }
                else if scalar < 0x800 { put(UInt8(0xC0 | scalar >> 6)); put(UInt8(0x80 | scalar & 0x3F)) }
                else if scalar < 0x10000 { put(UInt8(0xE0 | scalar >> 12)); put(UInt8(0x80 | (scalar >> 6) & 0x3F)); put(UInt8(0x80 | scalar & 0x3F)) }
                else { put(UInt8(0xF0 | scalar >> 18)); put(UInt8(0x80 | (scalar >> 12) & 0x3F)); put(UInt8(0x80 | (scalar >> 6) & 0x3F)); put(UInt8(0x80 | scalar & 0x3F)) }
            default: put(e)  // \" \\ \/
            }
        }
        return n
    }
}

/// Byte-wise substring and glob matching for discard.
enum Glob {
    static func contains(_ value: UnsafeRawBufferPointer, _ needle: UnsafeRawBufferPointer) -> Bool {
        if needle.count == 0 { return true }
        if value.count < needle.count { return false }
        let first = needle[0]
        let last = value.count - needle.count
        var i = 0
        while i <= last {
            guard let hit = memchr(value.baseAddress! + i, Int32(first), last - i + 1) else { return false }
            let at = UnsafeRawPointer(hit) - value.baseAddress!
            if memcmp(value.baseAddress! + at, needle.baseAddress!, needle.count) == 0 { return true }
            i = at + 1
        }
        return false
    }

    /// `*` matches any run of bytes, `?` one byte; iterative, linear backtracking on the last star.
    static func matches(_ value: UnsafeRawBufferPointer, _ pattern: UnsafeRawBufferPointer) -> Bool {
        var v = 0, p = 0
        var starP = -1, starV = 0
        while v < value.count {
            if p < pattern.count && (pattern[p] == 63 || pattern[p] == value[v]) && pattern[p] != 42 {
                v += 1; p += 1
            } else if p < pattern.count && pattern[p] == 42 {
                starP = p; starV = v; p += 1
            } else if starP >= 0 {
                p = starP + 1; starV += 1; v = starV
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == 42 { p += 1 }
        return p == pattern.count
    }
}

import Glibc
