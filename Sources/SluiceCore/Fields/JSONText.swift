/// JSON text helpers used at configuration time.
enum JSONText {
    static func quoted(_ s: String) -> [UInt8] {
        var out: [UInt8] = [34]
        for b in s.utf8 {
            switch b {
            case 34: out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, 110]
            case 13: out += [92, 114]
            case 9: out += [92, 116]
            case 0..<32: out += Array("\\u00".utf8) + [hex(b >> 4), hex(b & 15)]
            default: out.append(b)
            }
        }
        out.append(34)
        return out
    }

    static func hex(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 87 + n }

    static func kind(ofFirstByte b: UInt8) -> JSONValueKind {
        switch b {
        case 34: .string
        case 123: .object
        case 91: .array
        case 116: .trueLiteral
        case 102: .falseLiteral
        case 110: .null
        default: .number
        }
    }
}

extension JSONText {
    /// Bytes the escaped form of `count` input bytes may take at most (`\u00XX` per byte).
    @inlinable static func maxEscapedBytes(_ count: Int) -> Int { count * 6 }

    /// Writes `bytes` as the body of a JSON string (no quotes) at `out`: `"` `\` and control
    /// characters escaped, valid UTF-8 copied, each byte of an invalid UTF-8 sequence written as
    /// U+FFFD so the result is always valid JSON. Returns the bytes written, or nil (with
    /// `out` partly written) when they would pass `capacity`. The event path's escaper: no
    /// allocation.
    static func escape(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity: Int) -> Int? {
        var n = 0
        var i = 0
        let count = bytes.count
        guard let base = bytes.baseAddress else { return 0 }
        while i < count {
            let c = base.load(fromByteOffset: i, as: UInt8.self)
            if c >= 0x20 && c < 0x80 && c != 34 && c != 92 {
                guard n < capacity else { return nil }
                out.storeBytes(of: c, toByteOffset: n, as: UInt8.self)
                n += 1; i += 1
                continue
            }
            if c < 0x80 {
                let short: UInt8
                switch c {
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
                    guard n + 2 <= capacity else { return nil }
                    out.storeBytes(of: 92, toByteOffset: n, as: UInt8.self)
                    out.storeBytes(of: short, toByteOffset: n + 1, as: UInt8.self)
                    n += 2
                } else {
                    guard n + 6 <= capacity else { return nil }
                    out.storeBytes(of: 92, toByteOffset: n, as: UInt8.self)
                    out.storeBytes(of: 117, toByteOffset: n + 1, as: UInt8.self)
                    out.storeBytes(of: 48, toByteOffset: n + 2, as: UInt8.self)
                    out.storeBytes(of: 48, toByteOffset: n + 3, as: UInt8.self)
                    out.storeBytes(of: hex(c >> 4), toByteOffset: n + 4, as: UInt8.self)
                    out.storeBytes(of: hex(c & 15), toByteOffset: n + 5, as: UInt8.self)
                    n += 6
                }
                i += 1
                continue
            }
            let length = utf8SequenceLength(base + i, count - i)
            if length > 0 {
                guard n + length <= capacity else { return nil }
                (out + n).copyMemory(from: base + i, byteCount: length)
                n += length; i += length
            } else {
                guard n + 3 <= capacity else { return nil }
                out.storeBytes(of: 0xEF, toByteOffset: n, as: UInt8.self)
                out.storeBytes(of: 0xBF, toByteOffset: n + 1, as: UInt8.self)
                out.storeBytes(of: 0xBD, toByteOffset: n + 2, as: UInt8.self)
                n += 3; i += 1
            }
        }
        return n
    }

    /// Length of the well-formed UTF-8 sequence (2 to 4 bytes) starting with a byte ≥ 0x80 at
    /// `p`, or 0 when it is not one (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
    static func utf8SequenceLength(_ p: UnsafeRawPointer, _ available: Int) -> Int {
        let c = p.load(as: UInt8.self)
        @inline(__always) func continuation(_ k: Int, _ low: UInt8 = 0x80, _ high: UInt8 = 0xBF) -> Bool {
            k < available && (low...high).contains(p.load(fromByteOffset: k, as: UInt8.self))
        }
        switch c {
        case 0xC2...0xDF: return continuation(1) ? 2 : 0
        case 0xE0: return continuation(1, 0xA0) && continuation(2) ? 3 : 0
        case 0xED: return continuation(1, 0x80, 0x9F) && continuation(2) ? 3 : 0
        case 0xE1...0xEF: return continuation(1) && continuation(2) ? 3 : 0
        case 0xF0: return continuation(1, 0x90) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4: return continuation(1, 0x80, 0x8F) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3: return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        default: return 0
        }
    }
}
