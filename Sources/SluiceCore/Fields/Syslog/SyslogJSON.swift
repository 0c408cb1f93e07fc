import Glibc

/// Writes JSON into memory of a fixed capacity, allocating nothing: past the capacity it only
/// notes the overflow, so the caller can retry with more room. A writer without memory
/// (`none`) writes nothing (a parse that only validates).
struct BoundedJSONWriter {
    let base: UnsafeMutableRawPointer?
    let capacity: Int
    var count = 0
    var overflowed = false
    /// Where the bytes the strings come from may be read up to (the end of the message they
    /// are spans of); nil: only the string itself. Lets a short string, or the last bytes of
    /// one, be looked at as one vector.
    var readableEnd: UnsafePointer<UInt8>? = nil

    static var none: BoundedJSONWriter { BoundedJSONWriter(base: nil, capacity: 0) }

    init(base: UnsafeMutableRawPointer?, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    @inline(__always) mutating func put(byte: UInt8) {
        guard let base else { return }
        guard count < capacity else { overflowed = true; return }
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    mutating func put(_ text: StaticString) {
        guard let base else { return }
        let n = text.utf8CodeUnitCount
        guard count + n <= capacity else { overflowed = true; return }
        (base + count).copyMemory(from: text.utf8Start, byteCount: n)
        count += n
    }

    mutating func put(decimal value: Int, width: Int) {
        var digits = width
        var divisor = 1
        while digits > 1 { divisor *= 10; digits -= 1 }
        while divisor > 0 {
            put(byte: UInt8(48 + value / divisor % 10))
            divisor /= 10
        }
    }

    /// `"…"` of `count` bytes at `p`: quotes, backslashes and control characters escaped, and
    /// bytes that are not well-formed UTF-8 written as U+FFFD, so the result is always valid
    /// JSON whatever was received. `unescapingStructuredData`: `\"`, `\\`, `\]` stand for the
    /// character after the backslash (RFC 5424 PARAM-VALUE).
    mutating func putString(_ p: UnsafePointer<UInt8>, _ n: Int, unescapingStructuredData: Bool = false) {
        guard let base else { return }
        put(byte: UInt8(ascii: "\""))
        var i = 0
        // Whether every byte so far was written as itself (no escape, no U+FFFD).
        var verbatim = true
        let readable = readableEnd.map { $0 - p } ?? n
        while i < n && !overflowed {
            // Plain printable ASCII, the bulk of a message, 16 bytes at a time: each vector is
            // stored whole while 16 bytes of room are left, and the position moves to its first
            // byte that needs a look (byte by byte, below). Byte by byte, the switch and the
            // bounds check of every `put` made this function most of the cost of a message.
            // Past the string's end (`readable`) the vector's lanes are ignored: what they
            // store lies beyond `count`, to be written over.
            if readable - i >= 16 && capacity - count >= 16 {
                let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt8>.self)
                (base + count).storeBytes(of: v, as: SIMD16<UInt8>.self)
                let left = n - i
                var look = Self.bytesNeedingALook(v)
                if left < 16 { look &= (1 << UInt32(left)) &- 1 }
                if look == 0 {
                    let step = min(left, 16)
                    i += step
                    count += step
                    continue
                }
                let plain = look.trailingZeroBitCount
                i += plain
                count += plain
            } else if verbatim && n >= 16 && n - i < 16 && capacity - count >= n - i {
                // The last bytes of a string that ends the readable bytes, nothing escaped so
                // far (what was written is the string's bytes, in place): the vector of its last
                // 16 bytes, stored over the copies of the ones before.
                let v = UnsafeRawPointer(p + n - 16).loadUnaligned(as: SIMD16<UInt8>.self)
                if Self.bytesNeedingALook(v) >> UInt32(16 - (n - i)) == 0 {
                    (base + count - (16 - (n - i))).storeBytes(of: v, as: SIMD16<UInt8>.self)
                    count += n - i
                    i = n
                    break
                }
            }
            var b = p[i]
            if b >= 0x20 && b < 0x7F && b != UInt8(ascii: "\"") && b != UInt8(ascii: "\\") {
                // Plain: stored as is, without going through the cases below.
                guard count < capacity else { overflowed = true; break }
                base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
                count += 1
                i += 1
                continue
            }
            if b < 0x80 { verbatim = false }
            if unescapingStructuredData && b == UInt8(ascii: "\\") && i + 1 < n
                && (p[i + 1] == UInt8(ascii: "\"") || p[i + 1] == UInt8(ascii: "\\") || p[i + 1] == UInt8(ascii: "]")) {
                i += 1
                b = p[i]
            }
            if b >= 0x80 {
                let length = UTF8Validation.sequenceLength(p + i, available: n - i)
                if length == 0 {
                    verbatim = false
                    put("\\ufffd")
                    i += 1
                } else {
                    for k in 0..<length { put(byte: p[i + k]) }
                    i += length
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): put("\\\"")
            case UInt8(ascii: "\\"): put("\\\\")
            case 10: put("\\n")
            case 13: put("\\r")
            case 9: put("\\t")
            case 0..<32, 127:
                put("\\u00")
                put(byte: JSONText.hex(b >> 4))
                put(byte: JSONText.hex(b & 15))
            default: put(byte: b)
            }
            i += 1
        }
        put(byte: UInt8(ascii: "\""))
    }

    /// Bit i set when byte i of `v` is not plain printable ASCII for a JSON string: `"`, `\`,
    /// below 0x20, DEL or above (escaped, or UTF-8 to check).
    @inline(__always) static func bytesNeedingALook(_ v: SIMD16<UInt8>) -> UInt32 {
        // The vector type is spelled out so the compiler picks the vector compares.
        let special = (v .== SIMD16<UInt8>(repeating: 0x22)) .| (v .== SIMD16<UInt8>(repeating: 0x5C))
            .| (v .< SIMD16<UInt8>(repeating: 0x20)) .| (v .>= SIMD16<UInt8>(repeating: 0x7F))
        return UInt32(truncatingIfNeeded: ByteMask.of(special))
    }

    mutating func putString(_ p: UnsafePointer<UInt8>, _ span: SyslogSpan) {
        if span.isNil { put("null") } else { putString(p + span.start, span.end - span.start) }
    }
}

/// Syslog messages as JSON events: the one entry point for inputs and actions that parse
/// syslog (`SyslogParser` reads, this writes), into memory the caller gives (an event's data).
///
/// `{"timestamp":…,"hostname":…,"app_name":…,"procid":…,"msgid":…,"facility":"user",
/// "severity":"notice","structured_data":{"id":{"k":"v"}},"message":…}`; a field the message
/// does not carry is `null`. A message that does not parse is written whole as
/// `{"message":…,"parse_error":"…"}`.
public enum SyslogJSON {
    /// Facility names by number (RFC 5424 table 1, the names syslog.h and rsyslog use); a
    /// switch, not an array, so reading one is no retain.
    static func facility(_ number: Int) -> StaticString {
        switch number {
        case 0: "kern"
        case 1: "user"
        case 2: "mail"
        case 3: "daemon"
        case 4: "auth"
        case 5: "syslog"
        case 6: "lpr"
        case 7: "news"
        case 8: "uucp"
        case 9: "cron"
        case 10: "authpriv"
        case 11: "ftp"
        case 12: "ntp"
        case 13: "security"
        case 14: "console"
        case 15: "solaris-cron"
        case 16: "local0"
        case 17: "local1"
        case 18: "local2"
        case 19: "local3"
        case 20: "local4"
        case 21: "local5"
        case 22: "local6"
        default: "local7"
        }
    }

    static func severity(_ number: Int) -> StaticString {
        switch number {
        case 0: "emerg"
        case 1: "alert"
        case 2: "crit"
        case 3: "err"
        case 4: "warning"
        case 5: "notice"
        case 6: "info"
        default: "debug"
        }
    }

    /// The outcome of one conversion.
    public enum Written: Equatable {
        /// The JSON event's length; `parsed` false when the message was kept whole with `parse_error`.
        case wrote(bytes: Int, parsed: Bool)
        /// `capacity` was too small: nothing usable was written; retry with more room (at most
        /// `bytesNeededAtMost(for:)`), or `writeTruncated`.
        case needsRoom
    }

    /// Converts one syslog message (framing removed) into a JSON event at `out`.
    /// `nowSeconds` (Unix time) gives RFC 3164 timestamps their year.
    public static func convert(_ message: UnsafeRawBufferPointer, format: SyslogFormat, nowSeconds: Int,
                               into out: UnsafeMutableRawPointer, capacity: Int) -> Written {
        var writer = BoundedJSONWriter(base: out, capacity: capacity)
        writer.readableEnd = message.baseAddress.map { $0.assumingMemoryBound(to: UInt8.self) + message.count }
        let parsed: Bool
        switch SyslogParser.parse(message, format: format, deferringStructuredData: true) {
        case .parsed(let m):
            if let failure = write(m, message.baseAddress!.assumingMemoryBound(to: UInt8.self), nowSeconds: nowSeconds, into: &writer) {
                // The structured data, walked while written, or what follows it, is malformed.
                writer.count = 0
                writer.overflowed = false
                writeUnparsed(message, reason: failure, into: &writer)
                parsed = false
            } else {
                parsed = true
            }
        case .failed(let reason):
            writeUnparsed(message, reason: reason, into: &writer)
            parsed = false
        }
        return writer.overflowed ? .needsRoom : .wrote(bytes: writer.count, parsed: parsed)
    }

    /// The most bytes `convert` can write for a message of `count` bytes: every byte escaped
    /// (`\u00XX`), plus the field names.
    public static func bytesNeededAtMost(for count: Int) -> Int { count * 6 + 512 }

    /// `{"message":…,"parse_error":…}` with the message cut so it fits `capacity` (at least
    /// 128 bytes): for a message whose JSON outgrows every slot.
    public static func writeTruncated(_ message: UnsafeRawBufferPointer, reason: StaticString,
                                      into out: UnsafeMutableRawPointer, capacity: Int) -> Int {
        precondition(capacity >= 128, "writeTruncated needs 128 bytes")
        // Each input byte takes at most 6 output bytes: this many always fit.
        let fits = min(message.count, (capacity - 64 - reason.utf8CodeUnitCount) / 6)
        var writer = BoundedJSONWriter(base: out, capacity: capacity)
        writeUnparsed(UnsafeRawBufferPointer(rebasing: message[0..<fits]), reason: reason, into: &writer)
        assert(!writer.overflowed)
        return writer.count
    }

    /// Writes `m`; with its structured data still to walk (`structuredDataUnchecked`), the
    /// reason when that, or what follows it, does not parse (what was written is then of no use).
    static func write(_ m: SyslogMessage, _ p: UnsafePointer<UInt8>, nowSeconds: Int, into w: inout BoundedJSONWriter) -> StaticString? {
        var m = m
        w.put("{\"timestamp\":")
        if m.timestamp.isNil {
            w.put("null")
        } else if m.bsdMonth > 0 {
            writeBSDTimestamp(p + m.timestamp.start, month: m.bsdMonth, nowSeconds: nowSeconds, into: &w)
        } else {
            w.putString(p, m.timestamp)
        }
        w.put(",\"hostname\":")
        w.putString(p, m.hostname)
        w.put(",\"app_name\":")
        w.putString(p, m.appName)
        w.put(",\"procid\":")
        w.putString(p, m.procID)
        w.put(",\"msgid\":")
        w.putString(p, m.messageID)
        w.put(",\"facility\":\"")
        w.put(facility(m.priority >> 3))
        w.put("\",\"severity\":\"")
        w.put(severity(m.priority & 7))
        w.put("\",\"structured_data\":")
        if m.structuredData.isNil {
            w.put("{}")
        } else {
            let end = SyslogParser.structuredData(p, m.structuredData.end, from: m.structuredData.start, writing: &w)
            if m.structuredDataUnchecked {
                guard let end else { return "invalid STRUCTURED-DATA" }
                if let failure = SyslogParser.rest5424(p, m.structuredData.end, from: end, into: &m) { return failure }
            }
        }
        w.put(",\"message\":")
        w.putString(p, m.message)
        w.put(byte: UInt8(ascii: "}"))
        return nil
    }

    static func writeUnparsed(_ message: UnsafeRawBufferPointer, reason: StaticString, into w: inout BoundedJSONWriter) {
        w.put("{\"message\":")
        if let base = message.baseAddress {
            w.putString(base.assumingMemoryBound(to: UInt8.self), message.count)
        } else {
            w.put("\"\"")
        }
        w.put(",\"parse_error\":\"")
        w.put(reason)
        w.put("\"}")
    }

    /// `Mmm dd hh:mm:ss` as `YYYY-MM-DDThh:mm:ssZ`: the year is the current one, or the last
    /// one for a month more than one ahead (a December message read in January); the zone,
    /// which RFC 3164 does not carry, is taken as UTC.
    static func writeBSDTimestamp(_ p: UnsafePointer<UInt8>, month: Int, nowSeconds: Int, into w: inout BoundedJSONWriter) {
        let (year, nowMonth) = civilYearMonth(unixSeconds: nowSeconds)
        let messageYear = month > nowMonth + 1 ? year - 1 : year
        let day = (p[4] == 32 ? 0 : Int(p[4] - 48)) * 10 + Int(p[5] - 48)
        w.put(byte: UInt8(ascii: "\""))
        w.put(decimal: messageYear, width: 4)
        w.put(byte: UInt8(ascii: "-"))
        w.put(decimal: month, width: 2)
        w.put(byte: UInt8(ascii: "-"))
        w.put(decimal: day, width: 2)
        w.put(byte: UInt8(ascii: "T"))
        for k in 7..<15 { w.put(byte: p[k]) }
        w.put("Z\"")
    }

    /// The UTC year and month of a Unix time (days-to-civil, Howard Hinnant's algorithm).
    static func civilYearMonth(unixSeconds: Int) -> (year: Int, month: Int) {
        let z = unixSeconds / 86_400 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
    }
}
