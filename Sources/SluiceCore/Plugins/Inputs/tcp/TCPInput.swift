/// `tcp`: accepts TCP connections and reads newline-delimited records from each.
///
/// Every worker listens on the same address with SO_REUSEPORT, so the kernel spreads
/// connections; each connection is one stream, read with multishot recv into a provided buffer
/// ring. When the event pool is full the input stops handing buffers back, the kernel stops
/// receiving, and senders see TCP backpressure.
///
/// Parameters:
/// - `listen`: address and port (default 127.0.0.1:5140).
/// - `max-connections`: open connections allowed across the node (default 1024); more are
///   accepted and closed at once (counted as connections_rejected).
/// - `idle-timeout`: a connection that sends nothing for this long is closed, its partial line
///   delivered (default 5m; 0 keeps idle connections open).
/// - `min-rate`: bytes per second a connection must average over each `min-rate-window` or be
///   closed, its partial line delivered (default 0: no minimum). Stops senders that trickle a
///   byte at a time from holding `max-connections` slots.
/// - `min-rate-window`: the window of `min-rate` (default 30s).
public struct TCPInput: Sendable {
    public static let parameters = [
        ParameterDoc("listen", "IPv4 address:port to listen on", default: "127.0.0.1:5140"),
        ParameterDoc("max-connections", "open connections allowed; more are closed at once", default: "1024"),
        ParameterDoc("idle-timeout", "close connections silent for this long (0: never)", default: "5m"),
        ParameterDoc("min-rate", "bytes per second a connection must average per window (0: no minimum)", default: "0"),
        ParameterDoc("min-rate-window", "window over which min-rate is measured", default: "30s"),
    ]
    public static let defaultListen = "127.0.0.1:5140"
    public let host: String
    public let port: UInt16
    public let maxConnections: Int
    public let idleTimeoutMicros: Int
    public let minBytesPerSecond: Int
    public let minRateWindowMicros: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let listen = arguments.string("listen") ?? Self.defaultListen
        guard let (host, port) = SocketAddress.splitHostPort(listen) else {
            throw PluginArgumentError(key: "listen", "expected ADDRESS:PORT such as 127.0.0.1:5140, got '\(listen)'")
        }
        guard SocketAddress.ipv4(host, port: port) != nil else { throw PluginArgumentError(key: "listen", "'\(host)' is not an IPv4 address") }
        self.host = host
        self.port = port
        maxConnections = try arguments.int("max-connections", default: 1024, range: 1...1_000_000)
        idleTimeoutMicros = try arguments.micros("idle-timeout", default: "5m", example: "30s or 5m (0: never)")
        minBytesPerSecond = Units.bytes(arguments.string("min-rate") ?? "0") ?? -1
        guard minBytesPerSecond >= 0 else { throw PluginArgumentError(key: "min-rate", "expected bytes per second such as 100 or 1KiB, got '\(arguments.string("min-rate") ?? "")'") }
        minRateWindowMicros = try arguments.micros("min-rate-window", default: "30s", atLeast: (100_000, "100ms"), example: "30s")
    }
}
