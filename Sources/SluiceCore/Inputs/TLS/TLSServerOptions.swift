import CSupport

/// The oldest protocol version a TLS listener accepts.
public enum TLSVersion: String, Sendable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}

/// The TLS parameters of the stream inputs (`tcp`, `syslog` over TCP, `http`), declared once and
/// listed by each: with `tls-cert` and `tls-key` the listener speaks TLS only; with `tls-ca`
/// too, clients must present a certificate signed by it (mutual TLS). The OpenSSL context is
/// built here, while the config is read, so a file OpenSSL cannot use is a config error at start
/// (`sluice check` finds it too), naming the file and OpenSSL's reason.
public struct TLSServerOptions: Sendable {
    static let cert = Parameter.optional("tls-cert", .path, doc: "PEM certificate chain, leaf first: the listener speaks TLS (needs tls-key)")
    static let key = Parameter.optional("tls-key", .path, doc: "PEM private key of tls-cert")
    static let ca = Parameter.optional("tls-ca", .path,
                                       doc: "PEM CA certificates: clients must present a certificate signed by one of them (mutual TLS)")
    static let minVersion = Parameter.choice("tls-min-version", default: TLSVersion.v1_2, doc: "oldest TLS version a client may use")
    // Long enough for a client on a slow link, short enough that connections which never finish
    // their handshake do not hold max-connections for the whole idle-timeout.
    static let handshakeTimeout = Parameter.duration("tls-handshake-timeout", default: "10s", atLeast: "100ms", example: "10s",
                                                     doc: "close a connection whose TLS handshake is not complete after this long (connections_timed_out)")
    public static let parameters = [cert.doc, key.doc, ca.doc, minVersion.doc, handshakeTimeout.doc]

    public let context: TLSServerContext
    public let handshakeTimeoutMicros: Int

    /// The input's TLS, or nil when it has no `tls-cert` (then no other `tls-` key may be given).
    static func parse(_ arguments: PluginArguments) throws(PluginArgumentError) -> TLSServerOptions? {
        guard let cert = try arguments.value(Self.cert) else {
            for p in parameters where arguments.string(p.name) != nil {
                throw PluginArgumentError(key: p.name, "needs tls-cert= (and tls-key=): without a certificate the listener does not speak TLS")
            }
            return nil
        }
        guard let key = try arguments.value(Self.key) else {
            throw PluginArgumentError(key: Self.cert.name, "tls-cert needs tls-key= (the certificate's private key, PEM)")
        }
        let context = try TLSServerContext(cert: cert, key: key, ca: try arguments.value(Self.ca), minVersion: try arguments.value(Self.minVersion))
        return TLSServerOptions(context: context, handshakeTimeoutMicros: try arguments.value(Self.handshakeTimeout))
    }
}

/// One TLS listener's OpenSSL server context (certificate, key, client CAs, versions), built
/// once and shared read-only by every worker: each connection's session is made from it.
public final class TLSServerContext: @unchecked Sendable {
    // Never changed after init; OpenSSL makes sessions from one context on several threads.
    let raw: OpaquePointer
    public let mutual: Bool

    init(cert: String, key: String, ca: String?, minVersion: TLSVersion) throws(PluginArgumentError) {
        var failed: Int32 = 0
        var error = [CChar](repeating: 0, count: 512)
        let made = error.withUnsafeMutableBufferPointer { buffer in
            sl_tls_context_create(cert, key, ca, minVersion == .v1_3 ? 13 : 12, &failed, buffer.baseAddress, buffer.count)
        }
        guard let made else {
            let key = switch Int(failed) {
            case SL_TLS_KEY: TLSServerOptions.key.name
            case SL_TLS_CA: TLSServerOptions.ca.name
            default: TLSServerOptions.cert.name
            }
            throw PluginArgumentError(key: key, String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        raw = made
        mutual = ca != nil
    }

    deinit { sl_tls_context_free(raw) }
}
