/// Renders one journal entry's fields (`NAME=value` byte strings from libsystemd) as a JSON
/// object into an event's data area, as `journalctl -o json` does: every value a string; bytes
/// that are not valid UTF-8 become U+FFFD, so the event is always valid JSON. No allocation.
struct JournalEntryJSON {
    let out: UnsafeMutableRawPointer
    let capacity: Int
    private(set) var count = 0
    /// A value did not fit: it was shortened and no field after it was written.
    private(set) var cut = false
    private var fields = 0

    /// Bytes kept free for the closing `"}`.
    static let closing = 2

    init(into out: UnsafeMutableRawPointer, capacity: Int) {
        self.out = out
        self.capacity = capacity
        if capacity > Self.closing { put(UInt8(ascii: "{")) }
    }

    /// Adds `NAME=value` (a field as libsystemd gives it). False once the event is full.
    mutating func add(field: UnsafeRawBufferPointer) -> Bool {
        guard !cut, let equals = field.firstIndex(of: UInt8(ascii: "=")) else { return !cut }
        return add(name: UnsafeRawBufferPointer(rebasing: field[..<equals]), value: UnsafeRawBufferPointer(rebasing: field[(equals + 1)...]))
    }

    /// Adds one member; its name is written as it is (journal field names are `[A-Z0-9_]`).
    mutating func add(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) -> Bool {
        guard !cut else { return false }
        // The name, its quotes, the colon, the comma and the value's quotes must fit whole.
        guard count + name.count + 6 + Self.closing <= capacity, name.allSatisfy({ $0 > 0x20 && $0 != 0x22 && $0 != 0x5C && $0 < 0x7F }) else {
            cut = true
            return false
        }
        if fields > 0 { put(UInt8(ascii: ",")) }
        fields += 1
        put(UInt8(ascii: "\""))
        for b in name { put(b) }
        put(UInt8(ascii: "\""))
        put(UInt8(ascii: ":"))
        put(UInt8(ascii: "\""))
        let limit = capacity - Self.closing - 1  // the value's closing quote
        var i = 0
        while i < value.count {
            let b = value[i]
            var step = 1
            if b < 0x80 {
                let escaped = b < 0x20 || b == 0x22 || b == 0x5C
                let width = escaped ? (b == 0x22 || b == 0x5C || b == 0x0A || b == 0x09 || b == 0x0D ? 2 : 6) : 1
                guard count + width <= limit else { cut = true; break }
                if !escaped {
                    put(b)
                } else {
                    put(UInt8(ascii: "\\"))
                    switch b {
                    case 0x22, 0x5C: put(b)
                    case 0x0A: put(UInt8(ascii: "n"))
                    case 0x09: put(UInt8(ascii: "t"))
                    case 0x0D: put(UInt8(ascii: "r"))
                    default:
                        for c in "u00".utf8 { put(c) }
                        put(JSONText.hex(b >> 4))
                        put(JSONText.hex(b & 0xF))
                    }
                }
            } else {
                step = UTF8Validation.sequenceLength(value.baseAddress! + i, available: value.count - i)
                if step > 0 {
                    guard count + step <= limit else { cut = true; break }
                    for k in 0..<step { put(value[i + k]) }
                } else {
                    step = 1
                    guard count + 3 <= limit else { cut = true; break }
                    put(0xEF); put(0xBF); put(0xBD)  // U+FFFD
                }
            }
            i += step
        }
        put(UInt8(ascii: "\""))
        return !cut
    }

    /// Closes the object; returns its length.
    mutating func finish() -> Int {
        put(UInt8(ascii: "}"))
        return count
    }

    @inline(__always) private mutating func put(_ b: UInt8) {
        out.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }
}
