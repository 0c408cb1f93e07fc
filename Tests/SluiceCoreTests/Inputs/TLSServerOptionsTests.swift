import Foundation
import Testing

@testable import SluiceCore

/// The tls- parameters as every stream input reads them (`TLSServerOptions.parse`), against
/// files written by the test: a self-signed P-256 certificate and its key, made for these tests
/// only (valid until 2126), and another key that is not the certificate's.
@Suite final class TLSServerOptionsTests {
    static let certificate = """
        -----BEGIN CERTIFICATE-----
        MIIBiDCCAS2gAwIBAgIUDPHQrf3h8d5VCnrgbKrx8Xb+ev8wCgYIKoZIzj0EAwIw
        GDEWMBQGA1UEAwwNc2x1aWNlLXVuaXQtYTAgFw0yNjEyMDUwNzM2NDBaGA8yMTI2
        MTExMTA3MzY0MFowGDEWMBQGA1UEAwwNc2x1aWNlLXVuaXQtYTBZMBMGByqGSM49
        AgEGCCqGSM49AwEHA0IABJPz7hXAL21tpHjWWz0vgiB0q3RRTHFn+CIgrquiWNJV
        uypwOKlLx7G6/EU/eu3fAm49Gb+8V9wiig+3jZ3ZWHmjUzBRMB0GA1UdDgQWBBQM
        +0pPnHkFkkU644y4niLbbcIGqjAfBgNVHSMEGDAWgBQM+0pPnHkFkkU644y4niLb
        bcIGqjAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQCvul/w/JQ7
        JYzDLtF4XNMyJMsFtebarNU01eLH51WsgwIhAJDnCR+BcvDO7xYHauDZVjyz5fpE
        1OKTUmhh2IHX2/8C
        -----END CERTIFICATE-----
        """
    static let key = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgqkpg4svZe2HoqGWo
        feZD/4FrWBi50wI+lWrpEW7trBuhRANCAAST8+4VwC9tbaR41ls9L4IgdKt0UUxx
        Z/giIK6roljSVbsqcDipS8exuvxFP3rt3wJuPRm/vFfcIooPt42d2Vh5
        -----END PRIVATE KEY-----
        """
    static let otherKey = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgprACMH+oW3Q+nVxA
        CHfxqPtqi5imt3w7xtW0qm+EdqahRANCAAS4TJEY8JMPZYBJz9uq0GH1Wx49kpp2
        xJlO76WCzCjaE+9DMaoxb1fJe6Kb/WMZ3J0h58KqYjOmLGyOpc41xX7N
        -----END PRIVATE KEY-----
        """

    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-unit-\(UUID().uuidString)").path

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/\(name)"
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    func parse(_ pairs: (String, String)...) throws(PluginArgumentError) -> TLSServerOptions? {
        try TLSServerOptions.parse(PluginArguments(plugin: "tcp", pairs: pairs.map { (key: $0.0, value: $0.1) }))
    }

    @Test func withoutTLSCertTheListenerIsPlain() throws {
        #expect(try parse(("listen", "127.0.0.1:1")) == nil)
    }

    @Test func aCertificateAndItsKeyMakeAContext() throws {
        let cert = try write("cert.pem", Self.certificate), key = try write("key.pem", Self.key)
        let options = try #require(try parse(("tls-cert", cert), ("tls-key", key), ("tls-min-version", "1.3"), ("tls-handshake-timeout", "3s")))
        #expect(options.handshakeTimeoutMicros == 3_000_000)
        #expect(!options.context.mutual)
        let mutual = try #require(try parse(("tls-cert", cert), ("tls-key", key), ("tls-ca", cert)))
        #expect(mutual.context.mutual)
        #expect(mutual.handshakeTimeoutMicros == 10_000_000)
    }

    @Test func tlsKeysWithoutTLSCertAreRejected() {
        for key in ["tls-key", "tls-ca", "tls-min-version", "tls-handshake-timeout"] {
            let error = rejection { () throws(PluginArgumentError) in try parse((key, key == "tls-min-version" ? "1.3" : "x")) }
            #expect(error?.key == key, "\(key)")
            #expect(error?.message.contains("needs tls-cert=") == true, "\(String(describing: error))")
        }
    }

    @Test func aCertificateWithoutItsKeyIsRejected() throws {
        let cert = try write("cert.pem", Self.certificate)
        let error = rejection { () throws(PluginArgumentError) in try parse(("tls-cert", cert)) }
        #expect(error?.key == "tls-cert")
        #expect(error?.message == "tls-cert needs tls-key= (the certificate's private key, PEM)")
    }

    @Test func filesOpenSSLCannotUseAreRejectedWithTheFileAndTheReason() throws {
        let cert = try write("cert.pem", Self.certificate), key = try write("key.pem", Self.key)
        let other = try write("other.pem", Self.otherKey), text = try write("text.pem", "not pem")
        let missing = "\(directory)/missing.pem"
        let cases: [(pairs: [(String, String)], key: String, texts: [String])] = [
            ([("tls-cert", missing), ("tls-key", key)], "tls-cert", [missing, "No such file or directory"]),
            ([("tls-cert", cert), ("tls-key", missing)], "tls-key", [missing, "No such file or directory"]),
            ([("tls-cert", key), ("tls-key", key)], "tls-cert", [key, "not a usable PEM certificate chain", "no start line"]),
            ([("tls-cert", cert), ("tls-key", text)], "tls-key", [text, "not a usable PEM private key"]),
            ([("tls-cert", cert), ("tls-key", other)], "tls-key", [other, "not the private key of the certificate in tls-cert", "key values mismatch"]),
            ([("tls-cert", cert), ("tls-key", key), ("tls-ca", text)], "tls-ca", [text, "no usable PEM CA certificate"]),
        ]
        for c in cases {
            let error = rejection { () throws(PluginArgumentError) in
                try TLSServerOptions.parse(PluginArguments(plugin: "tcp", pairs: c.pairs.map { (key: $0.0, value: $0.1) }))
            }
            #expect(error?.key == c.key, "\(c.pairs): \(String(describing: error))")
            for t in c.texts { #expect(error?.message.contains(t) == true, "\(c.pairs): \(String(describing: error))") }
        }
    }

    @Test func syslogOverUDPRefusesTLS() throws {
        let cert = try write("cert.pem", Self.certificate), key = try write("key.pem", Self.key)
        let error = rejection { () throws(PluginArgumentError) in
            try SyslogInput(PluginArguments(plugin: "syslog", pairs: [("transport", "udp"), ("tls-cert", cert), ("tls-key", key)]))
        }
        #expect(error?.key == "tls-cert")
        #expect(error?.message.contains("transport=tcp") == true)
        #expect(try SyslogInput(PluginArguments(plugin: "syslog", pairs: [("tls-cert", cert), ("tls-key", key)])).tls != nil)
        #expect(try HTTPInput(PluginArguments(plugin: "http", pairs: [("tls-cert", cert), ("tls-key", key)])).tls != nil)
        #expect(try TCPInput(PluginArguments(plugin: "tcp", pairs: [])).tls == nil)
    }
}
