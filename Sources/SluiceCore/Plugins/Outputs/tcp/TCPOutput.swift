/// `tcp`: sends each event as one line over a TCP connection (one per worker).
///
/// A batch is acknowledged once the kernel took all of it. When the connection fails the batch
/// is kept and sent again, whole, after reconnecting with exponential backoff and jitter (up to
/// `reconnect-max`); meanwhile nothing is acknowledged, the pool fills and inputs pause. A
/// batch cut off mid-write is resent, so the receiver may see a line twice or a truncated line
/// before the resent one: delivery is at least once.
///
/// Parameters:
/// - `address` (required): IPv4 address:port of the receiver.
/// - `reconnect-max`: longest wait between reconnection attempts (default 5s).
/// - `format`, `dead-letter`: see `DeliveryOptions`.
public struct TCPOutput: Sendable {
    public static let parameters = [
        ParameterDoc("address", "IPv4 address:port of the receiver", required: true),
        ParameterDoc("reconnect-max", "longest wait between reconnection attempts", default: "5s"),
    ] + DeliveryOptions.parameters
    public let host: String
    public let port: UInt16
    public let reconnectMaxMicros: Int
    public let delivery: DeliveryOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let address = try arguments.required("address")
        guard let (host, port) = SocketAddress.splitHostPort(address), port > 0 else {
            throw PluginArgumentError(key: "address", "expected ADDRESS:PORT such as 127.0.0.1:6000, got '\(address)'")
        }
        guard SocketAddress.ipv4(host, port: port) != nil else { throw PluginArgumentError(key: "address", "'\(host)' is not an IPv4 address") }
        self.host = host
        self.port = port
        reconnectMaxMicros = try arguments.micros("reconnect-max", default: "5s", atLeast: (10_000, "10ms"))
        delivery = try DeliveryOptions(arguments)
    }
}
