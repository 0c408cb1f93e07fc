/// `tcp`: sends each event as one line over a TCP connection (one per worker).
///
/// A batch is acknowledged once the peer's TCP acknowledged all of it. When the connection
/// fails, what the peer had not acknowledged is kept and sent again, whole, after reconnecting
/// with exponential backoff and jitter (up to `reconnect-max`); meanwhile nothing is
/// acknowledged, the pool fills and inputs pause. A batch cut off mid-write is resent, so the
/// receiver may see a line twice or a truncated line before the resent one: delivery is at
/// least once. `format` and `dead-letter`: see `DeliveryOptions`.
public struct TCPOutput: Sendable {
    static let address = Parameter.required("address", .address(example: "127.0.0.1:6000", portZero: false), doc: "the receiver")
    static let reconnectMax = Parameter.duration("reconnect-max", default: "5s", atLeast: "10ms",
                                                 doc: "longest wait between reconnection attempts")
    public static let parameters = [address.doc, reconnectMax.doc] + DeliveryOptions.parameters + BufferOptions.parameters
    public let host: String
    public let port: UInt16
    public let reconnectMaxMicros: Int
    public let delivery: DeliveryOptions
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let address = try arguments.value(Self.address)
        host = address.host
        port = address.port
        reconnectMaxMicros = try arguments.value(Self.reconnectMax)
        delivery = try DeliveryOptions(arguments)
        buffer = try BufferOptions(arguments)
    }
}

extension TCPOutput: OutputPlugin {
    public static let name = "tcp"
    public static let summary = "one line per event over TCP; the unacknowledged batch is resent after reconnecting with backoff and jitter"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> TCPOutput { try TCPOutput(arguments) }
    public var definition: OutputDefinition { .tcp(self) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .tcp(TCPSink(self))
    }
}
