import Foundation

/// Certificates made with the `openssl` command line in a test's directory: a CA, a server
/// certificate it signed (for `localhost` and 127.0.0.1), a client certificate it signed, and a
/// client certificate signed by another CA (a stranger to the server). P-256 keys: made in
/// milliseconds.
struct TestCertificates {
    let caCertificate: String
    let serverCertificate: String
    let serverKey: String
    let clientCertificate: String
    let clientKey: String
    let strangerCertificate: String
    let strangerKey: String

    init(in directory: TemporaryDirectory) throws {
        let openssl = "/usr/bin/openssl"
        func path(_ name: String) -> String { directory.path("tls-\(name)") }
        func run(_ arguments: [String]) throws { try runProgram(openssl, arguments) }
        func makeCA(_ name: String) throws {
            try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                     "-subj", "/CN=Sluice test \(name)", "-keyout", path("\(name).key"), "-out", path("\(name).pem")])
        }
        func makeLeaf(_ name: String, signedBy ca: String, extensions: String) throws {
            try run(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=\(name)",
                     "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
            try extensions.write(toFile: path("\(name).ext"), atomically: false, encoding: .utf8)
            try run(["x509", "-req", "-in", path("\(name).csr"), "-CA", path("\(ca).pem"), "-CAkey", path("\(ca).key"), "-CAcreateserial",
                     "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).pem")])
        }
        try makeCA("ca")
        try makeCA("other-ca")
        try makeLeaf("localhost", signedBy: "ca", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        try makeLeaf("client", signedBy: "ca", extensions: "extendedKeyUsage=clientAuth\n")
        try makeLeaf("stranger", signedBy: "other-ca", extensions: "extendedKeyUsage=clientAuth\n")
        caCertificate = path("ca.pem")
        serverCertificate = path("localhost.pem")
        serverKey = path("localhost.key")
        clientCertificate = path("client.pem")
        clientKey = path("client.key")
        strangerCertificate = path("stranger.pem")
        strangerKey = path("stranger.key")
    }

    /// The tls- parameters of a listener with this server certificate (and `tls-ca` for mutual TLS).
    func listenerParameters(mutual: Bool = false, minVersion: String? = nil) -> String {
        "tls-cert=\(serverCertificate),tls-key=\(serverKey)" + (mutual ? ",tls-ca=\(caCertificate)" : "")
            + (minVersion.map { ",tls-min-version=\($0)" } ?? "")
    }
}
