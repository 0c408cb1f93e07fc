/// The fixed formats of `convert_date`: RFC 3339 and epoch numbers, parsed and written by hand
/// into caller buffers.
enum DateFormats {
    /// `2024-01-02T03:04:05Z`, with `t` or a space for `T`, an optional fraction of up to 9
    /// digits (more are read and dropped), and `Z`, `z` or `±HH:MM`; without a zone,
    /// `defaultOffset` (seconds east of UTC).
    static func parseRFC3339(_ text: UnsafeRawBufferPointer, defaultOffset: Int64) -> Instant? {
        let n = text.count
        guard n >= 19 else { return nil }
        @inline(__always) func number(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for k in at..<(at + count) {
                let c = text[k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let year = number(0, 4), text[4] == 45, let month = number(5, 2), text[7] == 45, let day = number(8, 2),
              text[10] == 84 || text[10] == 116 || text[10] == 32,
              let hour = number(11, 2), text[13] == 58, let minute = number(14, 2), text[16] == 58, let second = number(17, 2),
              (1...12).contains(month), day >= 1, day <= Civil.daysIn(month: month, year: Int64(year)),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        var i = 19
        var nanos: Int32 = 0
        if i < n && (text[i] == 46 || text[i] == 44) {
            i += 1
            let start = i
            var v = 0
            while i < n && text[i] >= 48 && text[i] <= 57 {
                if i - start < 9 { v = v * 10 + Int(text[i] - 48) }
                i += 1
            }
            guard i > start else { return nil }
            for _ in min(i - start, 9)..<9 { v *= 10 }
            nanos = Int32(v)
        }
        var offset = defaultOffset
        if i < n {
            guard let o = LayoutParser.offset(text, &i), i == n else { return nil }
            offset = o
        }
        let days = Civil.days(year: Int64(year), month: month, day: day)
        return Instant(seconds: days * 86400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - offset, nanos: nanos)
    }

    /// Seconds since the epoch as a decimal with an optional fraction (`1700000000`,
    /// `1700000000.25`, `-1.5`); `scale` 0 for seconds, 3 for milliseconds, 9 for nanoseconds
    /// (these take no fraction).
    static func parseEpoch(_ text: UnsafeRawBufferPointer, scale: Int) -> Instant? {
        let n = text.count
        var i = 0
        var negative = false
        if i < n && text[i] == 45 { negative = true; i += 1 }
        let start = i
        var whole: Int64 = 0
        while i < n && text[i] >= 48 && text[i] <= 57 {
            guard i - start < 19 else { return nil }  // Int64 holds 18 digits safely
            whole = whole * 10 + Int64(text[i] - 48)
            i += 1
        }
        guard i > start else { return nil }
        var fraction: Int64 = 0
        if scale == 0 && i < n && text[i] == 46 {
            i += 1
            let fractionStart = i
            while i < n && text[i] >= 48 && text[i] <= 57 {
                if i - fractionStart < 9 { fraction = fraction * 10 + Int64(text[i] - 48) }
                i += 1
            }
            guard i > fractionStart else { return nil }
            for _ in min(i - fractionStart, 9)..<9 { fraction *= 10 }
        }
        guard i == n else { return nil }
        var seconds: Int64, nanos: Int64
        switch scale {
        case 0: (seconds, nanos) = (whole, fraction)
        case 3: (seconds, nanos) = (whole / 1000, whole % 1000 * 1_000_000)
        default: (seconds, nanos) = (whole / 1_000_000_000, whole % 1_000_000_000)
        }
        if negative {
            seconds = -seconds
            if nanos > 0 { seconds -= 1; nanos = 1_000_000_000 - nanos }
        }
        return Instant(seconds: seconds, nanos: Int32(nanos))
    }

    /// An event's time field as outputs read it (`elasticsearch`'s `time-field`, `syslog`'s
    /// `timestamp`): an RFC 3339 string (UTC when it has no zone), or a JSON number of seconds
    /// since the epoch, with a fraction, or of milliseconds when it has more than 11 integer
    /// digits (1e11 seconds is the year 5138). Anything else: nil.
    static func instant(ofField value: UnsafeRawBufferPointer, kind: JSONValueKind) -> Instant? {
        switch kind {
        case .string:
            guard value.count >= 2 else { return nil }
            return parseRFC3339(UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast()), defaultOffset: 0)
        case .number:
            var integerDigits = 0
            for b in value {
                if b == 46 || b == 101 || b == 69 { break }
                if b >= 48 && b <= 57 { integerDigits += 1 }
            }
            if integerDigits > 11 && !value.contains(46) { return parseEpoch(value, scale: 3) }
            return parseEpoch(value, scale: 0)
        default: return nil
        }
    }

    /// Longest text `writeRFC3339` and `writeEpoch` produce (with quotes).
    static let maxOutputBytes = 48

    /// `"2024-01-02T03:04:05.123Z"` (quotes included) at `offset` seconds east of UTC (`Z`
    /// for 0, else `±HH:MM`), the fraction without trailing zeros (none when 0), as Go's
    /// RFC3339Nano writes it. Returns the length; nil for a year outside 0–9999.
    static func writeRFC3339(_ t: Instant, offset: Int64, into out: UnsafeMutableRawPointer) -> Int? {
        let (days, secondOfDay) = Civil.split(t.seconds + offset)
        let date = Civil.date(days: days)
        guard (0...9999).contains(date.year) else { return nil }
        var p = 0
        @inline(__always) func put(_ c: UInt8) { out.storeBytes(of: c, toByteOffset: p, as: UInt8.self); p += 1 }
        @inline(__always) func digits(_ v: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = v
            while divisor > 0 { put(UInt8(48 + rest / divisor)); rest %= divisor; divisor /= 10 }
        }
        put(34)
        digits(Int(date.year), 4); put(45); digits(date.month, 2); put(45); digits(date.day, 2)
        put(84)
        let s = Int(secondOfDay)
        digits(s / 3600, 2); put(58); digits(s / 60 % 60, 2); put(58); digits(s % 60, 2)
        if t.nanos > 0 {
            put(46)
            var v = Int(t.nanos), width = 9
            while v % 10 == 0 { v /= 10; width -= 1 }
            digits(v, width)
        }
        if offset == 0 {
            put(90)
        } else {
            put(offset < 0 ? 45 : 43)
            let o = Int(abs(offset))
            digits(o / 3600, 2); put(58); digits(o / 60 % 60, 2)
        }
        put(34)
        return p
    }

    /// Seconds (`scale` 0), milliseconds (3) or nanoseconds (9) since the epoch as a JSON
    /// integer, rounded down; nil when it does not fit 64 bits.
    static func writeEpoch(_ t: Instant, scale: Int, into out: UnsafeMutableRawPointer) -> Int? {
        var value: Int64
        switch scale {
        case 0: value = t.seconds
        case 3:
            let (ms, o1) = t.seconds.multipliedReportingOverflow(by: 1000)
            let (sum, o2) = ms.addingReportingOverflow(Int64(t.nanos / 1_000_000))
            guard !o1 && !o2 else { return nil }
            value = sum
        default:
            let (ns, o1) = t.seconds.multipliedReportingOverflow(by: 1_000_000_000)
            let (sum, o2) = ns.addingReportingOverflow(Int64(t.nanos))
            guard !o1 && !o2 else { return nil }
            value = sum
        }
        var p = 0
        if value < 0 {
            out.storeBytes(of: 45, toByteOffset: 0, as: UInt8.self)
            p = 1
        }
        var magnitude = value.magnitude
        var count = 1
        var probe = magnitude
        while probe >= 10 { probe /= 10; count += 1 }
        for k in stride(from: count - 1, through: 0, by: -1) {
            out.storeBytes(of: UInt8(48 + magnitude % 10), toByteOffset: p + k, as: UInt8.self)
            magnitude /= 10
        }
        return p + count
    }

    /// `UTC`, `Z`, or a fixed offset `+03:00`, `-0530`, `+03`, as seconds east of UTC.
    static func parseTimezone(_ text: String) -> Int64? {
        if text == "UTC" || text == "utc" || text == "GMT" { return 0 }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { b in
            var i = 0
            guard let o = LayoutParser.offset(b, &i), i == b.count else { return nil }
            return o
        }
    }
}
