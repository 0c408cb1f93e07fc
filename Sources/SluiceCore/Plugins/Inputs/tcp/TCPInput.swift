/// `tcp`: accepts TCP connections and reads newline-delimited records from each.
///
/// Every worker listens on the same address with SO_REUSEPORT, so the kernel spreads
/// connections; each connection is one stream, read with multishot recv into a provided buffer
/// ring. When the event pool is full the input stops handing buffers back, the kernel stops
/// receiving, and senders see TCP backpressure.
///
/// Connections closed for `idle-timeout` or `min-rate` have their partial line delivered;
/// `min-rate` stops senders that trickle a byte at a time from holding `max-connections` slots.
/// With `tls-cert` and `tls-key` it speaks TLS (`TLSServerOptions`), decrypted on the worker.
public struct TCPInput: Sendable {
    static let listen = Parameter.defaulted("listen", .address(example: "127.0.0.1:5140", portZero: true),
                                            default: IPv4Endpoint(host: "127.0.0.1", port: 5140), doc: "address and port to listen on")
    static let maxConnections = Parameter.int("max-connections", default: 1024, range: 1...1_000_000,
                                              doc: "open connections allowed across the node; more are accepted and closed at once (connections_rejected)")
    static let idleTimeout = Parameter.duration("idle-timeout", default: "5m", example: "30s or 5m (0: never)",
                                                doc: "close connections silent for this long (0: never)")
    static let minRate = Parameter.size("min-rate", default: "0", example: "100 or 1KiB", expecting: "bytes per second",
                                        doc: "bytes per second a connection must average over each min-rate-window, or be closed (0: no minimum)")
    static let minRateWindow = Parameter.duration("min-rate-window", default: "30s", atLeast: "100ms", example: "30s",
                                                  doc: "window over which min-rate is measured")
    public static let parameters = [listen.doc, maxConnections.doc, idleTimeout.doc, minRate.doc, minRateWindow.doc] + TLSServerOptions.parameters
    public let host: String
    public let port: UInt16
    public let maxConnections: Int
    public let idleTimeoutMicros: Int
    public let minBytesPerSecond: Int
    public let minRateWindowMicros: Int
    public let tls: TLSServerOptions?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let listen = try arguments.value(Self.listen)
        host = listen.host
        port = listen.port
        maxConnections = try arguments.value(Self.maxConnections)
        idleTimeoutMicros = try arguments.value(Self.idleTimeout)
        minBytesPerSecond = try arguments.value(Self.minRate)
        minRateWindowMicros = try arguments.value(Self.minRateWindow)
        tls = try TLSServerOptions.parse(arguments)
    }

    var listening: StreamListening {
        StreamListening(maxConnections: maxConnections, idleTimeoutMicros: idleTimeoutMicros,
                        minBytesPerSecond: minBytesPerSecond, minRateWindowMicros: minRateWindowMicros, tls: tls)
    }
}

extension TCPInput: InputPlugin {
    public static let name = "tcp"
    public static let summary = "newline-delimited records from TCP connections"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> TCPInput {
        try TCPInput(arguments)
    }
    public var definition: InputDefinition { .tcp(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try TCPFamily.prepare(self, &preparation, into: &assignments)
    }
}

extension Counter {
    public static let framingErrors = Counter(plugin: TCPInput.framingErrors)
}

extension TCPInput {
    static let framingErrors = CounterSpec("framing_errors", "Connections closed for breaking their framing (an RFC 6587 octet count over max-event-size or not a number).")
    public static let counters = [framingErrors]
}
