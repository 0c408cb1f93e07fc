/// The syslog formats the parser reads: `auto` tells RFC 5424 (`<PRI>1 …`) from RFC 3164 by the
/// version number after the priority.
public enum SyslogFormat: String, Sendable, CaseIterable {
    case auto, rfc5424, rfc3164
}

/// A span of the message being parsed (`end < 0`: the nil value, `-` in RFC 5424, or absent).
struct SyslogSpan {
    var start = 0
    var end = -1
    var isNil: Bool { end < 0 }
    static let none = SyslogSpan()
}

/// One syslog message parsed into spans of its bytes (nothing copied): what `SyslogJSON`
/// writes out. Timestamps of RFC 3164, which carry neither year nor zone, are kept as their
/// fields and written as UTC in the year of `referenceSeconds`.
struct SyslogMessage {
    var priority = 0
    var timestamp = SyslogSpan.none
    /// RFC 3164 `Mmm dd hh:mm:ss`: month 1…12 (0: the timestamp is RFC 3339, or nil).
    var bsdMonth = 0
    var hostname = SyslogSpan.none
    var appName = SyslogSpan.none
    var procID = SyslogSpan.none
    var messageID = SyslogSpan.none
    /// RFC 5424 structured data as sent (`[id k="v"]…`), validated; nil when `-` or RFC 3164.
    var structuredData = SyslogSpan.none
    /// Parsed `deferringStructuredData`: `structuredData` runs from its `[` to the end of the
    /// message, not yet walked, and `message` is not found yet; the writer walks the structured
    /// data as it writes it (`SyslogParser.structuredData`), then finds the rest (`rest5424`).
    var structuredDataUnchecked = false
    var message = SyslogSpan.none
}

/// Parses RFC 5424 and RFC 3164 messages (one message, its framing already removed) into
/// spans, without allocating. A message that does not parse gives the reason instead; the
/// caller keeps it whole (`SyslogJSON.writeUnparsed`).
enum SyslogParser {
    /// RFC 5424 field lengths (section 6).
    static let maxHostnameBytes = 255
    static let maxAppNameBytes = 48
    static let maxProcIDBytes = 128
    static let maxMessageIDBytes = 32
    static let maxStructuredDataIDBytes = 32
    /// RFC 3164's TAG is at most 32 characters; senders exceed it, so up to this many are taken.
    static let maxTagBytes = 128

    enum Outcome {
        case parsed(SyslogMessage)
        case failed(StaticString)
    }

    /// `deferringStructuredData`: RFC 5424 structured data is left to the writer to walk
    /// (`SyslogMessage.structuredDataUnchecked`), so it is walked once, not once to validate
    /// and again to write.
    static func parse(_ bytes: UnsafeRawBufferPointer, format: SyslogFormat, deferringStructuredData: Bool = false) -> Outcome {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return .failed("empty message") }
        let p = base.assumingMemoryBound(to: UInt8.self)
        // Trailing newlines, carriage returns and NULs are framing, not message.
        var n = bytes.count
        while n > 0 && (p[n - 1] == 10 || p[n - 1] == 13 || p[n - 1] == 0) { n -= 1 }
        var m = SyslogMessage()
        guard n > 2, p[0] == UInt8(ascii: "<") else { return .failed("no <PRI> at the start") }
        var i = 1
        var priority = 0
        while i < n && i <= 4 && isDigit(p[i]) {
            priority = priority * 10 + Int(p[i] - 48)
            i += 1
        }
        guard i > 1, i < n, p[i] == UInt8(ascii: ">"), i - 1 <= 3, priority <= 191 else { return .failed("invalid <PRI>") }
        guard i - 1 == 1 || p[1] != 48 else { return .failed("invalid <PRI>") }  // no leading zeros
        m.priority = priority
        i += 1
        let isVersion5424 = i + 1 < n && p[i] == 49 && p[i + 1] == 32
        switch format {
        case .rfc5424:
            guard isVersion5424 else { return .failed("not RFC 5424: no version 1 after <PRI>") }
            return parse5424(p, n, from: i + 2, into: m, deferringStructuredData: deferringStructuredData)
        case .rfc3164: return parse3164(p, n, from: i, into: m)
        case .auto:
            return isVersion5424 ? parse5424(p, n, from: i + 2, into: m, deferringStructuredData: deferringStructuredData)
                : parse3164(p, n, from: i, into: m)
        }
    }

    // MARK: RFC 5424

    static func parse5424(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, into message: SyslogMessage,
                          deferringStructuredData: Bool = false) -> Outcome {
        var m = message
        var i = start
        guard let t = headerField(p, n, &i, max: 64) else { return .failed("truncated header: no TIMESTAMP") }
        if !t.isNil {
            guard isRFC3339(p + t.start, t.end - t.start) else { return .failed("TIMESTAMP is not RFC 3339") }
            m.timestamp = t
        }
        guard let h = headerField(p, n, &i, max: maxHostnameBytes) else { return .failed("truncated header or HOSTNAME too long") }
        guard let a = headerField(p, n, &i, max: maxAppNameBytes) else { return .failed("truncated header or APP-NAME too long") }
        guard let r = headerField(p, n, &i, max: maxProcIDBytes) else { return .failed("truncated header or PROCID too long") }
        guard let d = headerField(p, n, &i, max: maxMessageIDBytes) else { return .failed("truncated header or MSGID too long") }
        m.hostname = h
        m.appName = a
        m.procID = r
        m.messageID = d
        guard i < n else { return .failed("truncated header: no STRUCTURED-DATA") }
        if p[i] == UInt8(ascii: "-") {
            i += 1
        } else if deferringStructuredData {
            m.structuredData = SyslogSpan(start: i, end: n)
            m.structuredDataUnchecked = true
            return .parsed(m)
        } else {
            var ignored = BoundedJSONWriter.none
            guard let end = structuredData(p, n, from: i, writing: &ignored) else { return .failed("invalid STRUCTURED-DATA") }
            m.structuredData = SyslogSpan(start: i, end: end)
            i = end
        }
        if let failure = rest5424(p, n, from: i, into: &m) { return .failed(failure) }
        return .parsed(m)
    }

    /// What follows the structured data (ending at `i`): nothing, or a space and the message
    /// (without its BOM). The reason when it is something else.
    static func rest5424(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, into m: inout SyslogMessage) -> StaticString? {
        var i = start
        if i < n {
            guard p[i] == 32 else { return "no space after STRUCTURED-DATA" }
            i += 1
            // A UTF-8 message starts with a BOM (section 6.4): it is not part of the text.
            if n - i >= 3 && p[i] == 0xEF && p[i + 1] == 0xBB && p[i + 2] == 0xBF { i += 3 }
            m.message = SyslogSpan(start: i, end: n)
        }
        return nil
    }

    /// The next space-ended header field of printable ASCII (`-` alone: nil), the index moved
    /// past its space; nil when the header ends first or the field is empty or too long.
    static func headerField(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, max: Int) -> SyslogSpan? {
        let start = i
        // 16 bytes at a time to the first byte that is not printable ASCII (33…126): the
        // space that ends the field, or a byte that makes it invalid.
        while n - i >= 16 {
            let v = UnsafeRawPointer(p + i).loadUnaligned(as: SIMD16<UInt8>.self)
            let stop = UInt32(truncatingIfNeeded: ByteMask.of((v &- SIMD16<UInt8>(repeating: 33)) .>= SIMD16<UInt8>(repeating: 94)))
            if stop == 0 {
                i += 16
                continue
            }
            i += stop.trailingZeroBitCount
            break
        }
        while i < n && p[i] != 32 {
            guard p[i] > 32 && p[i] < 127 else { return nil }
            i += 1
        }
        guard i < n, i > start, i - start <= max else { return nil }
        defer { i += 1 }
        if i - start == 1 && p[start] == UInt8(ascii: "-") { return SyslogSpan.none }
        return SyslogSpan(start: start, end: i)
    }

    /// `YYYY-MM-DDThh:mm:ss[.f{1,6}](Z|±hh:mm)`.
    static func isRFC3339(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        guard n >= 20 else { return false }
        // Spelled out rather than matched against a pattern string: this runs for every message.
        guard isDigit(p[0]), isDigit(p[1]), isDigit(p[2]), isDigit(p[3]), p[4] == UInt8(ascii: "-"),
              isDigit(p[5]), isDigit(p[6]), p[7] == UInt8(ascii: "-"), isDigit(p[8]), isDigit(p[9]),
              p[10] == UInt8(ascii: "T"), isDigit(p[11]), isDigit(p[12]), p[13] == UInt8(ascii: ":"),
              isDigit(p[14]), isDigit(p[15]), p[16] == UInt8(ascii: ":"), isDigit(p[17]), isDigit(p[18]) else { return false }
        var i = 19
        if p[i] == UInt8(ascii: ".") {
            i += 1
            let digits = i
            while i < n && isDigit(p[i]) { i += 1 }
            guard i > digits, i - digits <= 9 else { return false }
        }
        guard i < n else { return false }
        if p[i] == UInt8(ascii: "Z") { return i + 1 == n }
        guard p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-"), n - i == 6 else { return false }
        return isDigit(p[i + 1]) && isDigit(p[i + 2]) && p[i + 3] == UInt8(ascii: ":") && isDigit(p[i + 4]) && isDigit(p[i + 5])
    }

    /// Walks `[SD-ID (SP PARAM-NAME="PARAM-VALUE")*]…` from `start`, writing it as an object
    /// of objects when `out` is a writer; the index just past the last `]`, or nil when it is
    /// malformed. Validation and writing share this one walk.
    static func structuredData(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, writing out: inout BoundedJSONWriter) -> Int? {
        var i = start
        out.put(byte: UInt8(ascii: "{"))
        var first = true
        while i < n && p[i] == UInt8(ascii: "[") {
            i += 1
            let id = i
            while i < n && isNameByte(p[i]) { i += 1 }
            guard i > id, i - id <= maxStructuredDataIDBytes, i < n else { return nil }
            if !first { out.put(byte: UInt8(ascii: ",")) }
            first = false
            out.putString(p + id, i - id)
            out.put(byte: UInt8(ascii: ":"))
            out.put(byte: UInt8(ascii: "{"))
            var firstParameter = true
            while i < n && p[i] == 32 {
                i += 1
                let name = i
                while i < n && isNameByte(p[i]) { i += 1 }
                guard i > name, i - name <= maxStructuredDataIDBytes, i + 1 < n, p[i] == UInt8(ascii: "="), p[i + 1] == UInt8(ascii: "\"") else { return nil }
                if !firstParameter { out.put(byte: UInt8(ascii: ",")) }
                firstParameter = false
                out.putString(p + name, i - name)
                out.put(byte: UInt8(ascii: ":"))
                i += 2
                // The value ends at the first `"` not escaped; `\"`, `\\` and `\]` stand for the
                // character after the backslash, any other backslash is kept.
                let value = i
                while i < n && p[i] != UInt8(ascii: "\"") { i += p[i] == UInt8(ascii: "\\") && i + 1 < n ? 2 : 1 }
                guard i < n else { return nil }
                out.putString(p + value, i - value, unescapingStructuredData: true)
                i += 1
            }
            guard i < n, p[i] == UInt8(ascii: "]") else { return nil }
            out.put(byte: UInt8(ascii: "}"))
            i += 1
        }
        guard i > start else { return nil }
        out.put(byte: UInt8(ascii: "}"))
        return i
    }

    /// SD-NAME: printable ASCII but `=`, space, `]` and `"`.
    @inline(__always) static func isNameByte(_ b: UInt8) -> Bool {
        b > 32 && b < 127 && b != UInt8(ascii: "=") && b != UInt8(ascii: "]") && b != UInt8(ascii: "\"")
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 48 < 10 }

    // MARK: RFC 3164

    /// `Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG`; an RFC 3339 timestamp in place of the BSD one
    /// is taken too (rsyslog's forwarding format), and a missing HOSTNAME is tolerated (a TAG
    /// ends with `:` or `[`).
    static func parse3164(_ p: UnsafePointer<UInt8>, _ n: Int, from start: Int, into message: SyslogMessage) -> Outcome {
        var m = message
        var i = start
        if n - i >= 16, let month = bsdMonth(p + i), p[i + 15] == 32 {
            m.bsdMonth = month
            m.timestamp = SyslogSpan(start: i, end: i + 15)
            i += 16
        } else {
            let t = i
            while i < n && p[i] != 32 { i += 1 }
            guard i < n, isRFC3339(p + t, i - t) else { return .failed("no RFC 3164 timestamp after <PRI>") }
            m.timestamp = SyslogSpan(start: t, end: i)
            i += 1
        }
        // HOSTNAME, unless the next word is already the TAG.
        let word = i
        while i < n && p[i] > 32 && p[i] < 127 && p[i] != UInt8(ascii: ":") && p[i] != UInt8(ascii: "[") { i += 1 }
        if i < n && p[i] == 32 && i > word && i - word <= maxHostnameBytes {
            m.hostname = SyslogSpan(start: word, end: i)
            i += 1
        } else {
            i = word
        }
        let tag = i
        while i < n && p[i] > 32 && p[i] < 127 && p[i] != UInt8(ascii: ":") && p[i] != UInt8(ascii: "[") && i - tag < maxTagBytes { i += 1 }
        var afterTag = i
        if i > tag && i < n && p[i] == UInt8(ascii: "[") {
            let pid = i + 1
            var k = pid
            while k < n && p[k] != UInt8(ascii: "]") && p[k] > 32 && p[k] < 127 && k - pid < maxProcIDBytes { k += 1 }
            if k < n && p[k] == UInt8(ascii: "]") && k > pid {
                m.procID = SyslogSpan(start: pid, end: k)
                afterTag = k + 1
            }
        }
        if i > tag && afterTag < n && p[afterTag] == UInt8(ascii: ":") {
            m.appName = SyslogSpan(start: tag, end: i)
            i = afterTag + 1
            if i < n && p[i] == 32 { i += 1 }
        } else {
            i = tag  // no TAG: all of the rest is the message
        }
        m.message = SyslogSpan(start: i, end: n)
        return .parsed(m)
    }

    /// The month of `Mmm dd hh:mm:ss` (day space- or zero-padded), or nil.
    static func bsdMonth(_ p: UnsafePointer<UInt8>) -> Int? {
        let names: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        var month = 0
        names.withUTF8Buffer { table in
            for k in 0..<12 where table[k * 3] == p[0] && table[k * 3 + 1] == p[1] && table[k * 3 + 2] == p[2] { month = k + 1 }
        }
        guard month > 0, p[3] == 32, p[4] == 32 || isDigit(p[4]), isDigit(p[5]), p[6] == 32 else { return nil }
        guard isDigit(p[7]), isDigit(p[8]), p[9] == UInt8(ascii: ":"), isDigit(p[10]), isDigit(p[11]),
              p[12] == UInt8(ascii: ":"), isDigit(p[13]), isDigit(p[14]) else { return nil }
        return month
    }
}
