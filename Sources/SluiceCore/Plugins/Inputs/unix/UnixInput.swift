/// `unix`: a unix domain socket, created at `path` with `permissions` and removed at stop.
/// `mode=stream`: connections of newline-delimited records (the `tcp` input's listener on a
/// unix socket); `mode=dgram`: one record per datagram (the `udp` input's socket). In stream
/// mode it may speak TLS (`tls-cert`, `tls-key`, …: `TLSServerOptions`), as the tcp input does:
/// for senders that cross a trust boundary through a shared socket directory.
public struct UnixInput: Sendable {
    public enum Mode: String, Sendable, CaseIterable { case stream, dgram }

    static let path = Parameter.required("path", .path, doc: "socket file to create (an existing file is an error, a stale socket is replaced)")
    static let mode = Parameter.choice("mode", default: Mode.stream, doc: "stream (connections, newline-delimited) or dgram (one record per datagram)")
    static let permissions = Parameter.defaulted("permissions", .octalMode, default: 0o660, doc: "file mode of the socket (octal)")
    public static let parameters = [path.doc, mode.doc, permissions.doc, TCPInput.maxConnections.doc, TCPInput.idleTimeout.doc]
        + TLSServerOptions.parameters
    public let path: String
    public let mode: Mode
    public let permissions: Int
    public let maxConnections: Int
    public let idleTimeoutMicros: Int
    public let tls: TLSServerOptions?

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try arguments.value(Self.path)
        guard path.utf8.count <= SocketAddress.maxUnixPathBytes else {
            throw PluginArgumentError(key: "path", "'\(path)' is longer than \(SocketAddress.maxUnixPathBytes) bytes, the most a unix socket path may have; choose a shorter path")
        }
        mode = try arguments.value(Self.mode)
        permissions = try arguments.value(Self.permissions)
        maxConnections = try arguments.value(TCPInput.maxConnections)
        idleTimeoutMicros = try arguments.value(TCPInput.idleTimeout)
        tls = try TLSServerOptions.parse(arguments)
        if tls != nil && mode == .dgram {
            throw PluginArgumentError(key: TLSServerOptions.cert.name, "TLS needs mode=stream (datagrams have no TLS; DTLS is not supported)")
        }
    }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        switch mode {
        case .stream:
            let listening = StreamListening(maxConnections: maxConnections, idleTimeoutMicros: idleTimeoutMicros, tls: tls)
            try TCPFamily.prepareUnix(path: path, permissions: permissions, listening, &preparation, into: &assignments)
        case .dgram:
            try DatagramFamily.prepareUnix(path: path, permissions: permissions, &preparation, into: &assignments)
        }
    }
}

extension UnixInput: InputPlugin {
    public static let name = "unix"
    public static let summary = "a unix domain socket: newline-delimited stream connections or one record per datagram"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> UnixInput {
        try UnixInput(arguments)
    }
    public var definition: InputDefinition { .unix(self) }
}
