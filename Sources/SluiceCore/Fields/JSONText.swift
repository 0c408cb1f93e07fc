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
