import Glibc

/// What the `nats` output and input share about reaching NATS: the servers (any of a cluster;
/// libnats learns the others from them and reconnects to whichever answers), the wait between
/// reconnection attempts, and a stable name for the node in message ids and connection names.
public struct NATSServers: Sendable, Equatable {
    static let url = Parameter.repeatable("url", .natsURL, required: true,
                                          doc: "a NATS server nats://HOST:PORT (repeatable: several servers of a cluster)")
    static let reconnectWait = Parameter.duration("reconnect-wait", default: "250ms", atLeast: "10ms",
                                                  doc: "wait between reconnection attempts (libnats tries every server, forever)")
    static let parameters = [url.doc, reconnectWait.doc]

    /// The URLs, comma-separated (how libnats takes them).
    public let urls: String
    public let reconnectWaitMillis: Int

    init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        urls = try arguments.value(Self.url).joined(separator: ",")
        reconnectWaitMillis = max(1, try arguments.value(Self.reconnectWait) / 1000)
    }

    /// The text a C function wrote into `buffer` (NUL-terminated).
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// This machine's host name (connection names, the output's default message-id prefix).
    static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "sluice" }
        let name = text(buffer)
        return name.isEmpty ? "sluice" : name
    }
}

extension ParameterKind where Value == String {
    /// `nats://HOST[:PORT]` (port 4222 when absent).
    static var natsURL: Self {
        ParameterKind(summary: "nats:// URL") { (text: String) throws(ParameterMismatch) in
            let scheme = "nats://"
            guard text.hasPrefix(scheme) else { throw ParameterMismatch(message: "expected nats://HOST:PORT, got '\(text)'") }
            let rest = text.dropFirst(scheme.count)
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard let host = parts.first, !host.isEmpty, !host.contains("/"), !host.contains(","), parts.count <= 2 else {
                throw ParameterMismatch(message: "expected nats://HOST:PORT, got '\(text)'")
            }
            if parts.count == 2 {
                guard let port = Int(parts[1]), (1...65535).contains(port) else {
                    throw ParameterMismatch(message: "'\(parts[1])' is not a port (1...65535) in '\(text)'")
                }
                return text
            }
            return text + ":4222"
        }
    }
}
