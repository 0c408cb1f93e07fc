/// `udp`: one record per UDP datagram (a trailing newline removed). Every worker binds the
/// port with SO_REUSEPORT and reads it with multishot recvmsg; datagrams the kernel dropped
/// because the socket's queue was full are counted (datagrams_dropped), never silently lost.
/// A datagram longer than `--recv-buffer-size` is cut (cut_records).
public struct UDPInput: Sendable {
    static let listen = Parameter.defaulted("listen", .address(example: "127.0.0.1:5140", portZero: true),
                                            default: IPv4Endpoint(host: "127.0.0.1", port: 5140), doc: "address and port to receive on")
    public static let parameters = [listen.doc]
    public let host: String
    public let port: UInt16

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let listen = try arguments.value(Self.listen)
        host = listen.host
        port = listen.port
    }
}

extension UDPInput: InputPlugin {
    public static let name = "udp"
    public static let summary = "one record per UDP datagram; kernel drops counted"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> UDPInput {
        try UDPInput(arguments)
    }
    public var definition: InputDefinition { .udp(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try DatagramFamily.prepareUDP(host: host, port: port, decoder: .none, input: "udp", &preparation, into: &assignments)
    }
}

extension Counter {
    public static let datagramsDropped = Counter(plugin: UDPInput.datagramsDropped)
}

extension UDPInput {
    static let datagramsDropped = CounterSpec("datagrams_dropped", "Datagrams the kernel dropped because the socket's receive queue was full (SO_RXQ_OVFL).")
    public static let counters = [datagramsDropped]
}
