import Glibc

/// `syslog`'s encoding: one event as one syslog message, framed for its transport.
///
/// RFC 5424: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]`.
/// - PRI is facility × 8 + severity.
/// - TIMESTAMP: an RFC 3339 string field is kept as written (`t`/`z` upper-cased, the fraction
///   cut to the 6 digits RFC 5424 allows); another RFC 3339 form or an epoch number is written
///   in UTC; no field, or one that does not read: now, in UTC, with microseconds.
/// - HOSTNAME (255), APP-NAME (48), PROCID (128), MSGID (32): printable ASCII, cut to their
///   RFC 5424 lengths, any other byte (a space, non-ASCII) written as `_`; missing or empty:
///   `-` (the host name: the node's).
/// - STRUCTURED-DATA: from an object of objects, `{"id":{"name":"value"}}` → `[id name="value"]`;
///   names cut to 32 bytes with bytes SD-NAME forbids (`=`, space, `]`, `"`, non-ASCII) as `_`;
///   values are UTF-8 with `"`, `\` and `]` escaped by a backslash (RFC 5424 section 6.3.3);
///   a value that is not a string is written as its JSON text. None, or an empty object: `-`.
/// - MSG: the string's text (UTF-8, no BOM), another value's JSON text, or without the field
///   the whole event; an empty message leaves the space before it out.
///
/// RFC 3164: `<PRI>Mmm dd hh:mm:ss HOSTNAME TAG[PROCID]: MSG`, the time in UTC, TAG the app
/// name (`-` when missing; `:`, `[` and `]` also written as `_`), no structured data, no
/// message id.
///
/// Framing: octet counting (`LEN SP MSG`), a newline after the message (newlines inside it
/// written as spaces, as the framing cannot carry them), or none (a UDP datagram).
public struct SyslogEncoder {
    enum Framing { case octet, lf, datagram }

    /// Room for everything but the fields' own bytes: framing, PRI, version, a timestamp, the
    /// header fields at their limits, separators.
    static let headerBytesLimit = 1024
    /// Room kept before a message for its octet count (`LEN SP`).
    static let countPrefixBytes = 12
    static let hostnameBytesLimit = 255, appNameBytesLimit = 48, procIDBytesLimit = 128, messageIDBytesLimit = 32
    static let sdNameBytesLimit = 32

    let format: SyslogOutput.Format
    let framing: Framing
    /// In `SyslogOutput.fields` order; nil: not read.
    let paths: UnsafeMutablePointer<FieldPath?>
    let defaultFacility: Int
    let defaultSeverity: Int
    let maxSize: Int
    /// The node's host name as HOSTNAME bytes (sanitized once).
    let hostName: UnsafeMutableRawBufferPointer
    let severities: UnsafeMutablePointer<(UInt128, UInt8)>
    let severityCount: Int
    let facilities: UnsafeMutablePointer<(UInt128, UInt8)>
    let facilityCount: Int
    /// For an event no action decoded: per part, where its value is in the event's data (count
    /// -1: not there), found in one walk over the raw object instead of one walk per part.
    let scanned: UnsafeMutablePointer<(start: Int, count: Int, kind: JSONValueKind)>
    var usesScan = false

    enum Part: Int { case timestamp, hostname, appName, procID, messageID, facility, severity, structuredData, message }

    public init(_ definition: SyslogOutput, hostName name: String = AddHostAction.hostName()) {
        format = definition.format
        framing = definition.transport == .udp ? .datagram : (definition.framing == .octet ? .octet : .lf)
        paths = .allocate(capacity: definition.paths.count)
        for (i, p) in definition.paths.enumerated() { (paths + i).initialize(to: p.map { try! FieldPath($0) }) }
        defaultFacility = definition.defaultFacility
        defaultSeverity = definition.defaultSeverity
        maxSize = definition.maxSize
        var bytes = Array(name.utf8.prefix(Self.hostnameBytesLimit))
        for i in bytes.indices where !Self.isPrintable(bytes[i]) { bytes[i] = 95 }
        if bytes.isEmpty { bytes = Array("localhost".utf8) }
        hostName = .allocate(byteCount: bytes.count, alignment: 1)
        hostName.copyBytes(from: bytes)
        severityCount = LogLevels.table.count
        severities = .allocate(capacity: severityCount)
        severities.initialize(from: LogLevels.table, count: severityCount)
        facilityCount = SyslogNames.facilities.count
        facilities = .allocate(capacity: facilityCount)
        facilities.initialize(from: SyslogNames.facilities, count: facilityCount)
        scanned = .allocate(capacity: definition.paths.count)
        scanned.initialize(repeating: (0, -1, .null), count: definition.paths.count)
    }

    public func dispose() {
        // `if let`, not `paths[i]?.dispose()`: optional chaining through the pointer's subscript
        // disposed the nil entries too (Swift 6.3.1, -Onone: a double free; reproduced outside Sluice).
        for i in 0..<SyslogOutput.fields.count {
            if let path = paths[i] { path.dispose() }
        }
        paths.deallocate()
        hostName.deallocate()
        severities.deallocate()
        facilities.deallocate()
        scanned.deallocate()
    }

    /// Structured data may double (escapes) and the message may be the whole event beside it.
    public func bound(lineBytes: Int) -> Int { 3 * lineBytes + Self.headerBytesLimit }

    @inline(__always) func field(_ event: Event, _ part: Part) -> (value: UnsafeRawBufferPointer, kind: JSONValueKind)? {
        if usesScan {
            let s = scanned[part.rawValue]
            guard s.count >= 0, s.kind != .null else { return nil }
            return (UnsafeRawBufferPointer(start: event.data + s.start, count: s.count), s.kind)
        }
        guard let path = paths[part.rawValue], let found = EventEditor.lookup(event, path), found.kind != .null else { return nil }
        return found
    }

    /// Finds every part's value of an undecoded event in one walk over its raw object (the
    /// first member of each name, as `EventEditor.read` finds it); nothing when it is not one.
    func scan(_ event: Event) {
        let count = SyslogOutput.fields.count
        for p in 0..<count { scanned[p] = (0, -1, .null) }
        let raw = event.raw
        guard let base = raw.baseAddress else { return }
        JSONObjectText.forEachMember(in: raw) { member in
            let key = UnsafeRawBufferPointer(start: base + member.keyStart + 1, count: member.keyLength)
            for p in 0..<count where scanned[p].count < 0 {
                guard let path = paths[p], JSONScanner.rawStringEquals(key, path.component(0)) else { continue }
                var value = UnsafeRawBufferPointer(start: base + member.valueStart, count: member.valueEnd - member.valueStart)
                var kind = member.kind
                if path.componentCount > 1 {
                    guard kind == .object, let nested = EventEditor.find(path, inObject: value, from: 1) else { continue }
                    (value, kind) = nested
                }
                scanned[p] = (value.baseAddress! - base, value.count, kind)
            }
            return true
        }
    }

    /// Writes the event's framed message at `out` (room for `bound`).
    public mutating func encode(_ event: Event, into out: UnsafeMutableRawPointer) -> EncodedEvent {
        let start = framing == .octet ? Self.countPrefixBytes : 0
        usesScan = !event.has(EventFlags.decoded) && !event.has(EventFlags.invalidJSON)
        if usesScan { scan(event) }
        var w = SyslogWriter(out + start)
        w.put(60)
        w.put(decimal: facility(event) * 8 + severity(event))
        w.put(62)
        if format == .rfc5424 {
            w.put(49)
            w.put(32)
            writeTimestamp5424(event, &w)
            w.put(32)
            headerField(event, .hostname, limit: Self.hostnameBytesLimit, &w)
            w.put(32)
            headerField(event, .appName, limit: Self.appNameBytesLimit, &w)
            w.put(32)
            headerField(event, .procID, limit: Self.procIDBytesLimit, &w)
            w.put(32)
            headerField(event, .messageID, limit: Self.messageIDBytesLimit, &w)
            w.put(32)
            writeStructuredData(event, &w)
            let mark = w.count
            w.put(32)
            if !writeMessage(event, &w) { w.count = mark }
        } else {
            writeTimestamp3164(event, &w)
            w.put(32)
            headerField(event, .hostname, limit: Self.hostnameBytesLimit, &w)
            w.put(32)
            headerField(event, .appName, limit: Self.appNameBytesLimit, tag: true, &w)
            let pid = w.count
            w.put(91)
            let pidStart = w.count
            headerField(event, .procID, limit: Self.procIDBytesLimit, tag: true, &w)
            if w.count == pidStart + 1 && w.base.load(fromByteOffset: pidStart, as: UInt8.self) == 45 {
                w.count = pid  // no process id: no brackets
            } else {
                w.put(93)
            }
            w.put(58)
            w.put(32)
            _ = writeMessage(event, &w)
        }
        let length = w.count
        if length > maxSize { return .refused("the syslog message is longer than max-size") }
        switch framing {
        case .datagram: return .wrote(length)
        case .lf:
            for i in 0..<length where out.load(fromByteOffset: i, as: UInt8.self) == 10 { out.storeBytes(of: 32, toByteOffset: i, as: UInt8.self) }
            out.storeBytes(of: 10, toByteOffset: length, as: UInt8.self)
            return .wrote(length + 1)
        case .octet:
            var digits = 1
            var probe = length
            while probe >= 10 { probe /= 10; digits += 1 }
            memmove(out + digits + 1, out + start, length)
            _ = Digits.write(UInt64(length), into: out)
            out.storeBytes(of: 32, toByteOffset: digits, as: UInt8.self)
            return .wrote(digits + 1 + length)
        }
    }

    // MARK: PRI

    func facility(_ event: Event) -> Int {
        guard let (value, kind) = field(event, .facility) else { return defaultFacility }
        return Self.number(value, kind, facilities, facilityCount) ?? defaultFacility
    }

    func severity(_ event: Event) -> Int {
        guard let (value, kind) = field(event, .severity) else { return defaultSeverity }
        return Self.number(value, kind, severities, severityCount) ?? defaultSeverity
    }

    /// A name (string) or number a packed table knows.
    static func number(_ value: UnsafeRawBufferPointer, _ kind: JSONValueKind, _ table: UnsafePointer<(UInt128, UInt8)>, _ count: Int) -> Int? {
        switch kind {
        case .string where value.count >= 2: LogLevels.severity(of: UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast()), table: table, count: count)
        case .number: LogLevels.severity(of: value, table: table, count: count)
        default: nil
        }
    }

    // MARK: Header fields

    /// A header field's value: a string's text or a number as written, cut to `limit`, every
    /// byte outside printable ASCII (and, in an RFC 3164 `tag`, `:` `[` `]`) as `_`; `-` when
    /// missing or empty (the host name: the node's).
    func headerField(_ event: Event, _ part: Part, limit: Int, tag: Bool = false, _ w: inout SyslogWriter) {
        let start = w.count
        if let (value, kind) = field(event, part) {
            switch kind {
            case .string where value.count >= 2:
                w.count += StringUnescaper.unescape(UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast()), into: w.base + w.count, capacity: limit)
            case .number, .trueLiteral, .falseLiteral: w.put(UnsafeRawBufferPointer(rebasing: value.prefix(limit)))
            default: break
            }
        }
        if w.count == start {
            if part == .hostname { w.put(UnsafeRawBufferPointer(hostName)) } else { w.put(45) }
            return
        }
        for i in start..<w.count {
            let b = w.base.load(fromByteOffset: i, as: UInt8.self)
            if !Self.isPrintable(b) || (tag && (b == 58 || b == 91 || b == 93)) { w.base.storeBytes(of: 95, toByteOffset: i, as: UInt8.self) }
        }
    }

    /// PRINTUSASCII (RFC 5424): `!` to `~`.
    @inline(__always) static func isPrintable(_ b: UInt8) -> Bool { b >= 33 && b <= 126 }

    // MARK: Timestamps

    /// The event's time field as an instant (RFC 3339 or an epoch number), or now.
    func instant(_ event: Event) -> Instant {
        if let (value, kind) = field(event, .timestamp), let t = DateFormats.instant(ofField: value, kind: kind) { return t }
        let now = realtimeNanos()
        return Instant(seconds: Int64(now / 1_000_000_000), nanos: Int32(now % 1_000_000_000))
    }

    func writeTimestamp5424(_ event: Event, _ w: inout SyslogWriter) {
        if let (value, kind) = field(event, .timestamp), kind == .string, value.count >= 2,
           Self.copyRFC5424Timestamp(UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast()), &w) {
            return
        }
        let t = instant(event)
        let (days, secondOfDay) = Civil.split(t.seconds)
        let date = Civil.date(days: days)
        w.put(decimal: Int(date.year), width: 4)
        w.put(45)
        w.put(decimal: date.month, width: 2)
        w.put(45)
        w.put(decimal: date.day, width: 2)
        w.put(84)
        w.put(decimal: Int(secondOfDay / 3600), width: 2)
        w.put(58)
        w.put(decimal: Int(secondOfDay / 60 % 60), width: 2)
        w.put(58)
        w.put(decimal: Int(secondOfDay % 60), width: 2)
        w.put(46)
        w.put(decimal: Int(t.nanos / 1000), width: 6)
        w.put(90)
    }

    /// `YYYY-MM-DDThh:mm:ss[.f…](Z|±hh:mm)` copied with the fraction cut to 6 digits and `t`/`z`
    /// upper-cased; false (nothing written) when `text` is not that shape.
    static func copyRFC5424Timestamp(_ text: UnsafeRawBufferPointer, _ w: inout SyslogWriter) -> Bool {
        let n = text.count
        guard n >= 20 else { return false }
        let shape: StaticString = "dddd-dd-ddTdd:dd:dd"
        for k in 0..<19 {
            let s = shape.utf8Start[k], c = text[k]
            let ok = s == 100 ? (c >= 48 && c <= 57) : (s == 84 ? (c == 84 || c == 116) : c == s)
            if !ok { return false }
        }
        var i = 19
        var fractionEnd = 19
        if text[i] == 46 {
            i += 1
            while i < n && text[i] >= 48 && text[i] <= 57 { i += 1 }
            guard i > 20 else { return false }
            fractionEnd = min(i, 26)  // the dot (at 19) and at most 6 digits
        }
        guard i < n else { return false }
        let zone = i
        if text[i] == 90 || text[i] == 122 {
            guard i + 1 == n else { return false }
        } else {
            guard text[i] == 43 || text[i] == 45, n - i == 6, text[i + 3] == 58 else { return false }
            for k in [1, 2, 4, 5] where !(text[i + k] >= 48 && text[i + k] <= 57) { return false }
        }
        w.put(UnsafeRawBufferPointer(rebasing: text[0..<fractionEnd]))
        w.base.storeBytes(of: 84, toByteOffset: w.count - fractionEnd + 10, as: UInt8.self)
        if text[zone] == 122 { w.put(90) } else { w.put(UnsafeRawBufferPointer(rebasing: text[zone..<n])) }
        return true
    }

    /// `Mmm dd hh:mm:ss` (the day space-padded), in UTC.
    func writeTimestamp3164(_ event: Event, _ w: inout SyslogWriter) {
        let t = instant(event)
        let (days, secondOfDay) = Civil.split(t.seconds)
        let date = Civil.date(days: days)
        let months: StaticString = "JanFebMarAprMayJunJulAugSepOctNovDec"
        w.put(UnsafeRawBufferPointer(start: months.utf8Start + (date.month - 1) * 3, count: 3))
        w.put(32)
        if date.day < 10 { w.put(32) }
        w.put(decimal: date.day)
        w.put(32)
        w.put(decimal: Int(secondOfDay / 3600), width: 2)
        w.put(58)
        w.put(decimal: Int(secondOfDay / 60 % 60), width: 2)
        w.put(58)
        w.put(decimal: Int(secondOfDay % 60), width: 2)
    }

    // MARK: Structured data and message

    /// `[id name="value" …]…` from an object of objects, or `-`.
    func writeStructuredData(_ event: Event, _ w: inout SyslogWriter) {
        let start = w.count
        if let (value, kind) = field(event, .structuredData), kind == .object {
            var writer = w
            JSONObjectText.forEachMember(in: value) { element in
                let base = value.baseAddress!
                writer.put(91)
                Self.writeName(UnsafeRawBufferPointer(start: base + element.keyStart + 1, count: element.keyLength), &writer)
                let parameters = UnsafeRawBufferPointer(start: base + element.valueStart, count: element.valueEnd - element.valueStart)
                if element.kind == .object {
                    JSONObjectText.forEachMember(in: parameters) { parameter in
                        let p = parameters.baseAddress!
                        writer.put(32)
                        Self.writeName(UnsafeRawBufferPointer(start: p + parameter.keyStart + 1, count: parameter.keyLength), &writer)
                        writer.put(61)
                        writer.put(34)
                        Self.writeParameterValue(UnsafeRawBufferPointer(start: p + parameter.valueStart, count: parameter.valueEnd - parameter.valueStart),
                                                 kind: parameter.kind, &writer)
                        writer.put(34)
                        return true
                    }
                }
                writer.put(93)
                return true
            }
            w = writer
        }
        if w.count == start { w.put(45) }
    }

    /// An SD-NAME: the key's text cut to 32 bytes, bytes SD-NAME forbids as `_` (`_` when empty).
    static func writeName(_ escapedKey: UnsafeRawBufferPointer, _ w: inout SyslogWriter) {
        let start = w.count
        w.count += StringUnescaper.unescape(escapedKey, into: w.base + w.count, capacity: sdNameBytesLimit)
        if w.count == start { w.put(95) }
        for i in start..<w.count {
            let b = w.base.load(fromByteOffset: i, as: UInt8.self)
            if !isPrintable(b) || b == 61 || b == 93 || b == 34 { w.base.storeBytes(of: 95, toByteOffset: i, as: UInt8.self) }
        }
    }

    /// A PARAM-VALUE: the string's text (or another value's JSON text) with `"`, `\` and `]`
    /// escaped. The text is unescaped ahead of where it is written (at most 2 bytes out per byte
    /// in, never past the byte being read), so no scratch memory is needed.
    static func writeParameterValue(_ value: UnsafeRawBufferPointer, kind: JSONValueKind, _ w: inout SyslogWriter) {
        var text = value
        let ahead = w.base + w.count + value.count
        if kind == .string && value.count >= 2 {
            let raw = UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast())
            text = UnsafeRawBufferPointer(start: ahead, count: StringUnescaper.unescape(raw, into: ahead, capacity: raw.count))
        } else {
            ahead.copyMemory(from: value.baseAddress!, byteCount: value.count)
            text = UnsafeRawBufferPointer(start: ahead, count: value.count)
        }
        for b in text {
            if b == 34 || b == 92 || b == 93 { w.put(92) }
            w.put(b)
        }
    }

    /// MSG: the message field's text, another value's JSON text, or the whole event; false when
    /// it is empty.
    func writeMessage(_ event: Event, _ w: inout SyslogWriter) -> Bool {
        let start = w.count
        if let (value, kind) = field(event, .message) {
            if kind == .string && value.count >= 2 {
                let raw = UnsafeRawBufferPointer(rebasing: value.dropFirst().dropLast())
                w.count += StringUnescaper.unescape(raw, into: w.base + w.count, capacity: raw.count)
            } else {
                w.put(value)
            }
        } else {
            w.count += EventEncoder.encodeLine(event, into: w.base + w.count) - 1  // without its newline
        }
        return w.count > start
    }
}

/// Writes bytes at a cursor; the caller sized the memory (`SyslogEncoder.bound`).
struct SyslogWriter {
    let base: UnsafeMutableRawPointer
    var count = 0

    init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) mutating func put(_ b: UInt8) {
        base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    @inline(__always) mutating func put(_ bytes: UnsafeRawBufferPointer) {
        if bytes.count > 0 { (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count += bytes.count
    }

    /// `value` in decimal, zero-padded to `width`.
    mutating func put(decimal value: Int, width: Int = 1) {
        var digits = 1
        var probe = value
        while probe >= 10 { probe /= 10; digits += 1 }
        for _ in digits..<max(width, digits) { put(48) }
        var divisor = 1
        for _ in 1..<digits { divisor *= 10 }
        while divisor > 0 {
            put(UInt8(48 + value / divisor % 10))
            divisor /= 10
        }
    }
}
