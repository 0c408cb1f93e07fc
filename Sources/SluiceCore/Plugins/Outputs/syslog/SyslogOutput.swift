/// `syslog`: sends each event as a syslog message, RFC 5424 or RFC 3164, over TCP (RFC 6587
/// octet counting or newline framing) or UDP (one datagram per event).
///
/// The message's parts are read from the event's fields, by default the names the `syslog`
/// input writes (`timestamp`, `hostname`, `app_name`, `procid`, `msgid`, `facility`,
/// `severity`, `structured_data`, `message`), each renamable (`hostname=host.name`) or turned
/// off (`hostname=`). What an event lacks is filled in: the node's host name, the time now
/// (UTC), `-` (RFC 5424's nil value) for the app name, process id and message id,
/// `default-facility` and `default-severity`, and, without a message field, the whole event
/// as JSON (an event that is not JSON: its raw line). See `SyslogEncoder` for the rendering.
///
/// Over TCP it is the `tcp` output's connection: a batch is acknowledged once the peer's TCP
/// acknowledged it, and resent whole after a reconnect (at least once). Over UDP a datagram
/// is acknowledged once the kernel took it (UDP carries no acknowledgement: a receiver that
/// drops it loses it); a send that fails (ECONNREFUSED from a closed port) holds the events
/// and retries. A message longer than `max-size` goes to `dead-letter`, counted as rejected.
public struct SyslogOutput: Sendable {
    public enum Transport: String, Sendable, CaseIterable { case tcp, udp }
    public enum Format: String, Sendable, CaseIterable { case rfc5424, rfc3164 }
    public enum Framing: String, Sendable, CaseIterable { case octet, lf }

    /// The largest payload of one IPv4 UDP datagram.
    static let datagramBytesLimit = 65_507

    static let address = Parameter.required("address", .address(example: "127.0.0.1:514", portZero: false), doc: "the receiver")
    static let transport = Parameter.choice("transport", default: Transport.tcp, doc: "tcp, or udp (one datagram per event)")
    static let format = Parameter.choice("format", default: Format.rfc5424, doc: "message format (rfc3164: no structured data or message id; the time in UTC)")
    static let framing = Parameter.choice("framing", default: Framing.octet,
                                          doc: "tcp: octet (RFC 6587 octet counting, LEN SP MSG) or lf (each message ends with a newline; newlines inside become spaces)")
    static let maxSize = Parameter.size("max-size", default: "65507", atLeast: "480",
                                        doc: "longest message, framing excluded (udp: at most 65507); longer ones go to dead-letter. Set it to the receiver's limit (rsyslog: maxMessageSize, 8k by default)")
    static let defaultFacility = Parameter.defaulted("default-facility", .text, default: "user", doc: "facility of events without one (a name such as local0, or 0-23)")
    static let defaultSeverity = Parameter.defaulted("default-severity", .text, default: "notice", doc: "severity of events without one (a name such as info, or 0-7)")
    static let reconnectMax = Parameter.duration("reconnect-max", default: "5s", atLeast: "10ms", doc: "longest wait between reconnection (and, udp, resend) attempts")

    /// The fields a message is made of: the parameter, its default path (the syslog input's
    /// name), and what it is.
    static let fields = [
        Parameter.defaulted("timestamp", .text, default: "timestamp", doc: "field of the time (RFC 3339, or epoch seconds or milliseconds; empty: always now)"),
        Parameter.defaulted("hostname", .text, default: "hostname", doc: "field of the host name (empty: always the node's)"),
        Parameter.defaulted("app-name", .text, default: "app_name", doc: "field of the app name (RFC 3164: the tag)"),
        Parameter.defaulted("procid", .text, default: "procid", doc: "field of the process id"),
        Parameter.defaulted("msgid", .text, default: "msgid", doc: "field of the message id (RFC 5424 only)"),
        Parameter.defaulted("facility", .text, default: "facility", doc: "field of the facility (a name or 0-23)"),
        Parameter.defaulted("severity", .text, default: "severity", doc: "field of the severity (a name such as warning or WARN, or 0-7)"),
        Parameter.defaulted("structured-data", .text, default: "structured_data",
                            doc: "field of the structured data, an object of objects {\"id\":{\"name\":\"value\"}} (RFC 5424 only)"),
        Parameter.defaulted("message", .text, default: "message", doc: "field of the message (missing: the whole event as JSON)"),
    ]

    public static let parameters = [address.doc, transport.doc, format.doc, framing.doc] + fields.map(\.doc)
        + [defaultFacility.doc, defaultSeverity.doc, maxSize.doc, reconnectMax.doc, DeliveryOptions.deadLetter.doc] + BufferOptions.parameters

    public let host: String
    public let port: UInt16
    public let transport: Transport
    public let format: Format
    public let framing: Framing
    /// Per part of the message, in `fields` order: the path to read it from (nil: none).
    public let paths: [String?]
    public let defaultFacility: Int
    public let defaultSeverity: Int
    public let maxSize: Int
    public let reconnectMaxMicros: Int
    public let delivery: DeliveryOptions
    /// Where undelivered events wait (`buffer=memory|disk`).
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let address = try arguments.value(Self.address)
        host = address.host
        port = address.port
        transport = try arguments.value(Self.transport)
        format = try arguments.value(Self.format)
        framing = try arguments.value(Self.framing)
        var paths: [String?] = []
        for field in Self.fields {
            let path = try arguments.value(field)
            if path.isEmpty {
                paths.append(nil)
                continue
            }
            do { try FieldPath(path).dispose() } catch { throw PluginArgumentError(key: field.name, error.message) }
            paths.append(path)
        }
        self.paths = paths
        let facility = try arguments.value(Self.defaultFacility)
        guard let f = SyslogNames.facility(facility) else {
            throw PluginArgumentError(key: Self.defaultFacility.name, "'\(facility)' is not a facility (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security, console, solaris-cron, local0-local7, or 0-23)")
        }
        defaultFacility = f
        let severity = try arguments.value(Self.defaultSeverity)
        guard let s = SyslogNames.severity(severity) else {
            throw PluginArgumentError(key: Self.defaultSeverity.name, "'\(severity)' is not a severity (emerg, alert, crit, err, warning, notice, info, debug, or 0-7)")
        }
        defaultSeverity = s
        maxSize = try arguments.value(Self.maxSize)
        if transport == .udp && maxSize > Self.datagramBytesLimit {
            throw PluginArgumentError(key: Self.maxSize.name, "a UDP datagram carries at most \(Self.datagramBytesLimit) bytes")
        }
        reconnectMaxMicros = try arguments.value(Self.reconnectMax)
        var delivery = DeliveryOptions()
        delivery.deadLetterPath = try arguments.value(DeliveryOptions.deadLetter)
        self.delivery = delivery
        buffer = try BufferOptions(arguments)
    }
}

/// Facility and severity names and numbers, as the syslog input writes them and as people
/// write them (severity: any spelling `convert_log_level` knows, such as WARN or error).
enum SyslogNames {
    /// Facility names packed like `LogLevels.packed`, by number.
    static let facilities: [(UInt128, UInt8)] = (0..<24).map { n in
        let name = SyslogJSON.facility(n)
        let packed = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return (LogLevels.packed(packed)!, UInt8(n))
    } + (0..<24).map { n in (Array(String(n).utf8).withUnsafeBytes { LogLevels.packed($0)! }, UInt8(n)) }

    /// The facility of a name or number (0–23), any case.
    static func facility(_ text: String) -> Int? {
        Array(text.utf8).withUnsafeBytes { bytes in facilities.withUnsafeBufferPointer { lookup(bytes, $0.baseAddress!, $0.count) } }
    }

    static func severity(_ text: String) -> Int? {
        Array(text.utf8).withUnsafeBytes { bytes in LogLevels.table.withUnsafeBufferPointer { lookup(bytes, $0.baseAddress!, $0.count) } }
    }

    /// The number a packed table gives `bytes`, or nil.
    @inline(__always) static func lookup(_ bytes: UnsafeRawBufferPointer, _ table: UnsafePointer<(UInt128, UInt8)>, _ count: Int) -> Int? {
        LogLevels.severity(of: bytes, table: table, count: count)
    }
}

extension SyslogOutput: OutputPlugin {
    public static let name = "syslog"
    public static let summary = "RFC 5424 or RFC 3164 messages from the event's fields, over TCP (octet counting or newline framing) or UDP (a datagram per event)"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> SyslogOutput { try SyslogOutput(arguments) }
    public var definition: OutputDefinition { .syslog(self) }

    func encoder() -> OutputEncoder { .syslog(SyslogEncoder(self)) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        switch transport {
        case .tcp: .tcp(TCPSink(host: host, port: port, reconnectMaxMicros: reconnectMaxMicros))
        case .udp: .datagram(DatagramSink(host: host, port: port, reconnectMaxMicros: reconnectMaxMicros))
        }
    }
}
