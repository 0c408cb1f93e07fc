/// `syslog`: RFC 5424 and RFC 3164 messages over TCP (RFC 6587: octet counting when a message
/// starts with its length, newline framing otherwise; both may mix on one connection) or UDP
/// (one message per datagram), each parsed into a JSON event (`SyslogJSON`).
///
/// Over TCP it is the `tcp` input's listener with syslog framing and decoding; over UDP the
/// `udp` input's socket with syslog decoding. A message that does not parse is kept whole in
/// `message` with `parse_error` (counted in syslog_parse_errors); a connection whose octet
/// count exceeds `--max-event-size` or is not a number is closed (framing_errors). Over TCP it
/// may speak TLS (`tls-cert`, `tls-key`, …: RFC 5425, syslog over TLS).
public struct SyslogInput: Sendable {
    public enum Transport: String, Sendable, CaseIterable { case tcp, udp }

    static let listen = Parameter.defaulted("listen", .address(example: "127.0.0.1:5514", portZero: true),
                                            default: IPv4Endpoint(host: "127.0.0.1", port: 5514), doc: "address and port to listen on")
    static let transport = Parameter.choice("transport", default: Transport.tcp, doc: "tcp (RFC 6587 octet counting or newline framing) or udp (one message per datagram)")
    static let format = Parameter.choice("format", default: SyslogFormat.auto,
                                         doc: "auto tells RFC 5424 (`<PRI>1 …`) from RFC 3164; RFC 3164 timestamps, which carry no year or zone, are taken as UTC in the current year")
    public static let parameters = [listen.doc, transport.doc, format.doc, TCPInput.maxConnections.doc, TCPInput.idleTimeout.doc]
        + TLSServerOptions.parameters
    public let host: String
    public let port: UInt16
    public let transport: Transport
    public let format: SyslogFormat
    public let maxConnections: Int
    public let idleTimeoutMicros: Int
    public let tls: TLSServerOptions?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let listen = try arguments.value(Self.listen)
        host = listen.host
        port = listen.port
        transport = try arguments.value(Self.transport)
        format = try arguments.value(Self.format)
        maxConnections = try arguments.value(TCPInput.maxConnections)
        idleTimeoutMicros = try arguments.value(TCPInput.idleTimeout)
        tls = try TLSServerOptions.parse(arguments)
        if tls != nil && transport == .udp {
            throw PluginArgumentError(key: TLSServerOptions.cert.name, "TLS needs transport=tcp (syslog over UDP has no TLS; DTLS is not supported)")
        }
    }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        switch transport {
        case .tcp:
            let listening = StreamListening(maxConnections: maxConnections, idleTimeoutMicros: idleTimeoutMicros,
                                            framing: .octetCountedOrNewline, decoder: .syslog(format), tls: tls)
            try TCPFamily.prepare(host: host, port: port, listening, input: "syslog", &preparation, into: &assignments)
        case .udp:
            try DatagramFamily.prepareUDP(host: host, port: port, decoder: .syslog(format), input: "syslog", &preparation, into: &assignments)
        }
    }
}

extension SyslogInput: InputPlugin {
    public static let name = "syslog"
    public static let summary = "RFC 5424 and RFC 3164 messages over TCP (octet-counted or newline-framed) or UDP, each parsed into a JSON event"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> SyslogInput {
        try SyslogInput(arguments)
    }
    public var definition: InputDefinition { .syslog(self) }
}
