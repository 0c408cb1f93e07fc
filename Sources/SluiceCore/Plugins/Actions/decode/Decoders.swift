import Glibc

/// The formats `decode` reads. Adding one: a case here, its parser below (text in, fields
/// into the writer, false when the text is not in the format), one line in `decode(_:…)`.
public enum DecodeFormat: String, Sendable, CaseIterable {
    case json, logfmt, cri
    case nginxError = "nginx_error"
    case rfc5424, rfc3164
}

/// What a parser may use: the writer its fields go to, the prefix of their names, and a
/// scratch area of `capacity` bytes for unescaped values.
struct DecodeTarget {
    let prefix: UnsafeRawBufferPointer
    let scratch: UnsafeMutableRawPointer
    let capacity: Int
    /// JSON members: index entries to scan into (`fieldCapacity` of them).
    let entries: UnsafeMutablePointer<FieldEntry>
    let fieldCapacity: Int
    /// nginx_error: also the `, client: …` fields after the message.
    let nginxCustomFields: Bool
}

enum Decoders {
    /// Parses plain `text` in `format` into fields; false when it is not in that format (the
    /// writer may hold part of the fields then: the caller discards them).
    static func decode(_ format: DecodeFormat, _ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ target: DecodeTarget) -> Bool {
        switch format {
        case .json: json(text, into: &writer, target)
        case .logfmt: logfmt(text, into: &writer, target)
        case .cri: cri(text, into: &writer, target)
        case .nginxError: nginxError(text, into: &writer, target)
        case .rfc5424: syslog(text, .rfc5424, into: &writer, target)
        case .rfc3164: syslog(text, .rfc3164, into: &writer, target)
        }
    }

    @inline(__always) static func literal(_ s: StaticString) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)
    }

    static let trueLiteral: StaticString = "true"

    // MARK: json

    /// A JSON object: each member becomes a field, its value kept as it is.
    static func json(_ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ t: DecodeTarget) -> Bool {
        guard case .valid(let count, let truncated) = JSONScanner.scan(text, fields: t.entries, fieldCapacity: t.fieldCapacity),
              !truncated, Event.startsAnObject(text) else { return false }
        let base = text.baseAddress!
        for i in 0..<count {
            let e = t.entries[i]
            let key = UnsafeRawBufferPointer(start: base + Int(e.keyOffset), count: Int(e.keyLength))
            let value = UnsafeRawBufferPointer(start: base + Int(e.valueOffset), count: Int(e.valueLength))
            writer.setRaw(prefix: t.prefix, key: key, keyIsEscaped: e.flags & FieldEntry.keyHasEscapes != 0, json: value, kind: e.kind)
        }
        return true
    }

    // MARK: rfc5424, rfc3164

    /// A syslog message, parsed as the syslog input parses it (`SyslogJSON`): the fields
    /// `timestamp` (RFC 3339; an RFC 3164 one gets its year from the clock), `hostname`,
    /// `app_name`, `procid`, `msgid`, `facility`, `severity`, `structured_data` (RFC 5424) and
    /// `message`. The message is written as a JSON object into the scratch area, whose members
    /// then become the fields. Not in the format (or larger than the scratch area): false.
    static func syslog(_ text: UnsafeRawBufferPointer, _ format: SyslogFormat, into writer: inout FieldBatch, _ t: DecodeTarget) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        guard case .wrote(let bytes, let parsed) = SyslogJSON.convert(text, format: format, nowSeconds: Int(ts.tv_sec),
                                                                      into: t.scratch, capacity: t.capacity),
              parsed else { return false }
        return json(UnsafeRawBufferPointer(start: t.scratch, count: bytes), into: &writer, t)
    }

    // MARK: logfmt

    /// `key=value key2="quoted \"value\"" flag`: values are strings (`\"`, `\\`, `\n`, `\t`,
    /// `\r` unescaped in quoted ones), a bare key is `true`. Needs at least one `key=value`.
    static func logfmt(_ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ t: DecodeTarget) -> Bool {
        let n = text.count
        var i = 0
        var pairs = 0
        var scratchUsed = 0
        while true {
            while i < n && (text[i] == 32 || text[i] == 9) { i += 1 }
            guard i < n else { break }
            let keyStart = i
            while i < n && text[i] != 61 && text[i] != 32 && text[i] != 9 && text[i] != 34 { i += 1 }
            guard i > keyStart else { return false }  // `=` or `"` where a key should be
            let key = UnsafeRawBufferPointer(rebasing: text[keyStart..<i])
            guard i < n && text[i] == 61 else {
                guard i == n || text[i] != 34 else { return false }
                writer.setRaw(prefix: t.prefix, key: key, json: literal(trueLiteral), kind: .trueLiteral)
                continue
            }
            i += 1
            pairs += 1
            if i < n && text[i] == 34 {
                i += 1
                let out = t.scratch + scratchUsed
                var length = 0
                var closed = false
                while i < n {
                    var c = text[i]
                    if c == 34 { closed = true; i += 1; break }
                    if c == 92 && i + 1 < n {
                        i += 1
                        switch text[i] {
                        case 110: c = 10
                        case 116: c = 9
                        case 114: c = 13
                        default: c = text[i]
                        }
                    }
                    guard scratchUsed + length < t.capacity else { return false }
                    out.storeBytes(of: c, toByteOffset: length, as: UInt8.self)
                    length += 1
                    i += 1
                }
                guard closed, i == n || text[i] == 32 || text[i] == 9 else { return false }
                scratchUsed += length
                writer.setString(prefix: t.prefix, key: key, value: UnsafeRawBufferPointer(start: out, count: length))
            } else {
                let valueStart = i
                while i < n && text[i] != 32 && text[i] != 9 { i += 1 }
                writer.setString(prefix: t.prefix, key: key, value: UnsafeRawBufferPointer(rebasing: text[valueStart..<i]))
            }
        }
        return pairs > 0
    }

    // MARK: cri

    static let timeKey: StaticString = "time"
    static let streamKey: StaticString = "stream"
    static let logKey: StaticString = "log"
    static let partialKey: StaticString = "partial"
    static let stdoutName: StaticString = "stdout"
    static let stderrName: StaticString = "stderr"

    /// The CRI container log line `TIME STREAM TAGS LOG` (`2024-01-02T03:04:05.123Z stdout F
    /// text`, read by `ContainerLogLine`): fields `time`, `stream` (stdout or stderr), `log`,
    /// and `partial: true` when the tags say P (a line the runtime split; `join` puts them
    /// together, or the `k8s` input does as it reads).
    static func cri(_ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ t: DecodeTarget) -> Bool {
        guard case .line(let line) = ContainerLogLine.parseCRI(text) else { return false }
        writer.setString(prefix: t.prefix, key: literal(timeKey), value: UnsafeRawBufferPointer(rebasing: text[line.time]))
        writer.setString(prefix: t.prefix, key: literal(streamKey), value: line.stream == .stdout ? literal(stdoutName) : literal(stderrName))
        writer.setString(prefix: t.prefix, key: literal(logKey), value: UnsafeRawBufferPointer(rebasing: text[line.log]))
        if line.partial { writer.setRaw(prefix: t.prefix, key: literal(partialKey), json: literal(trueLiteral), kind: .trueLiteral) }
        return true
    }

    // MARK: nginx_error

    static let levelKey: StaticString = "level"
    static let pidKey: StaticString = "pid"
    static let tidKey: StaticString = "tid"
    static let cidKey: StaticString = "cid"
    static let messageKey: StaticString = "message"
    static let clientMarker: StaticString = ", client: "

    /// nginx's error log line `2024/01/02 03:04:05 [error] 123#456: *7 message`: fields `time`,
    /// `level`, `pid`, `tid`, `cid` (when the `*N` is there) and `message`, all strings, as
    /// file.d's decoder. With `nginxCustomFields`, the `, client: …, server: …, request: "…"`
    /// tail of the message becomes fields too (quotes dropped).
    static func nginxError(_ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ t: DecodeTarget) -> Bool {
        let n = text.count
        // `YYYY/MM/DD HH:MM:SS ` is 20 bytes.
        guard n >= 20 else { return false }
        for (k, c) in text[0..<19].enumerated() {
            let digit = c >= 48 && c <= 57
            switch k {
            case 4, 7: guard c == 47 else { return false }
            case 10: guard c == 32 else { return false }
            case 13, 16: guard c == 58 else { return false }
            default: guard digit else { return false }
            }
        }
        var i = 19
        guard text[i] == 32, i + 1 < n, text[i + 1] == 91 else { return false }
        i += 2
        let levelStart = i
        while i < n && text[i] != 93 { i += 1 }
        guard i < n, i > levelStart else { return false }
        let level = levelStart..<i
        i += 1
        guard i < n, text[i] == 32 else { return false }
        i += 1
        @inline(__always) func digits() -> Range<Int>? {
            let start = i
            while i < n && text[i] >= 48 && text[i] <= 57 { i += 1 }
            return i > start ? start..<i : nil
        }
        guard let pid = digits(), i < n, text[i] == 35 else { return false }
        i += 1
        guard let tid = digits(), i < n, text[i] == 58 else { return false }
        i += 1
        if i < n && text[i] == 32 { i += 1 }
        var cid: Range<Int>?
        if i < n && text[i] == 42 {
            i += 1
            guard let c = digits() else { return false }
            cid = c
            if i < n && text[i] == 32 { i += 1 }
        }
        var messageEnd = n
        if t.nginxCustomFields, let marker = find(literal(clientMarker), in: text, from: i) { messageEnd = marker }
        writer.setString(prefix: t.prefix, key: literal(timeKey), value: UnsafeRawBufferPointer(rebasing: text[0..<19]))
        writer.setString(prefix: t.prefix, key: literal(levelKey), value: UnsafeRawBufferPointer(rebasing: text[level]))
        writer.setString(prefix: t.prefix, key: literal(pidKey), value: UnsafeRawBufferPointer(rebasing: text[pid]))
        writer.setString(prefix: t.prefix, key: literal(tidKey), value: UnsafeRawBufferPointer(rebasing: text[tid]))
        if let cid { writer.setString(prefix: t.prefix, key: literal(cidKey), value: UnsafeRawBufferPointer(rebasing: text[cid])) }
        writer.setString(prefix: t.prefix, key: literal(messageKey), value: UnsafeRawBufferPointer(rebasing: text[i..<messageEnd]))
        if messageEnd < n { nginxFields(UnsafeRawBufferPointer(rebasing: text[(messageEnd + 2)...]), into: &writer, t) }
        return true
    }

    /// `key: value, key: "quoted value", …` after an nginx error message.
    static func nginxFields(_ text: UnsafeRawBufferPointer, into writer: inout FieldBatch, _ t: DecodeTarget) {
        let n = text.count
        var i = 0
        while i < n {
            let keyStart = i
            while i < n && (text[i] == 95 || (text[i] | 32 >= 97 && text[i] | 32 <= 122)) { i += 1 }
            guard i > keyStart, i < n, text[i] == 58 else { return }
            let key = UnsafeRawBufferPointer(rebasing: text[keyStart..<i])
            i += 1
            if i < n && text[i] == 32 { i += 1 }
            var value: Range<Int>
            if i < n && text[i] == 34 {
                // Quoted: up to the quote that ends the text or comes before the next ", ".
                let start = i + 1
                var end = start
                while end < n && !(text[end] == 34 && (end + 1 == n || (end + 2 < n && text[end + 1] == 44 && text[end + 2] == 32))) { end += 1 }
                guard end < n else { return }
                value = start..<end
                i = end + 1
            } else {
                let start = i
                while i < n && !(text[i] == 44 && i + 1 < n && text[i + 1] == 32) { i += 1 }
                value = start..<i
            }
            writer.setString(prefix: t.prefix, key: key, value: UnsafeRawBufferPointer(rebasing: text[value]))
            guard i + 1 < n, text[i] == 44, text[i + 1] == 32 else { return }
            i += 2
        }
    }

    /// Offset of the first `needle` in `text` at or after `from`.
    static func find(_ needle: UnsafeRawBufferPointer, in text: UnsafeRawBufferPointer, from: Int) -> Int? {
        let last = text.count - needle.count
        var i = from
        while i <= last {
            guard let hit = memchr(text.baseAddress! + i, Int32(needle[0]), last - i + 1) else { return nil }
            let at = UnsafeRawPointer(hit) - text.baseAddress!
            if memcmp(text.baseAddress! + at, needle.baseAddress!, needle.count) == 0 { return at }
            i = at + 1
        }
        return nil
    }
}
