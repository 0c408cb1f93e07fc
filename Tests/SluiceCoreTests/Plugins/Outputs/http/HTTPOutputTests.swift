import Testing

@testable import SluiceCore

@Suite struct HTTPOutputTests {
    @Test func theURLGivesAddressPortAndTarget() throws {
        let output = try HTTPOutput(arguments("http", ("url", "http://127.0.0.1:8080/ingest?x=1"), ("header", "Authorization: Bearer t"),
                                              ("header", "X-A:b"), ("format", "json-array"), ("compression", "gzip")))
        #expect(output.endpoint.host == "127.0.0.1")
        #expect(output.endpoint.port == 8080)
        #expect(output.endpoint.target == "/ingest?x=1")
        #expect(output.endpoint.headers == ["Authorization: Bearer t", "X-A: b"])
        #expect(output.delivery.requireJSON)
        let head = String(decoding: output.endpoint.fixedHead, as: UTF8.self)
        #expect(head == "POST /ingest?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: sluice\r\nContent-Type: application/json\r\n"
            + "Content-Encoding: gzip\r\nAuthorization: Bearer t\r\nX-A: b\r\n")
        let plain = try HTTPOutput(arguments("http", ("url", "http://localhost")))
        #expect(plain.endpoint.host == "127.0.0.1" && plain.endpoint.port == 80 && plain.endpoint.target == "/")
        #expect(plain.endpoint.timeoutMicros == 30_000_000)
        #expect(!plain.delivery.requireJSON)
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let cases: [((String, String), String, String)] = [
            (("url", "https://127.0.0.1/"), "url", "https is not supported (no TLS in sluice): use http:// or a local TLS proxy"),
            (("url", "ftp://x"), "url", "expected http://HOST:PORT/PATH, got 'ftp://x'"),
            (("url", "http://example.com/"), "url", "'example.com' is not an IPv4 address (names are not resolved: give the address)"),
            (("url", "http://127.0.0.1:99999/"), "url", "invalid port in '127.0.0.1:99999'"),
            (("url", "http://127.0.0.1/a b"), "url", "the URL's path may not contain spaces or line breaks (percent-encode them)"),
        ]
        for (pair, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in try HTTPOutput(arguments("http", pair)) }
            #expect(error?.key == key)
            #expect(error?.message == message)
        }
        let headerCases: [(String, String)] = [
            ("NoColon", "expected NAME:VALUE, got 'NoColon'"),
            ("Content-Length: 5", "header Content-Length is set by the output itself"),
            ("Bad Name: x", "header 'Bad Name: x': no spaces in the name, no line breaks"),
            ("X: a\r\nInjected: 1", "header 'X: a\r\nInjected: 1': no spaces in the name, no line breaks"),
        ]
        for (header, message) in headerCases {
            let error = rejection { () throws(PluginArgumentError) in
                try HTTPOutput(arguments("http", ("url", "http://127.0.0.1:1/"), ("header", header)))
            }
            #expect(error?.key == "header")
            #expect(error?.message == message)
        }
        let missing = rejection { () throws(PluginArgumentError) in try HTTPOutput(arguments("http", ("format", "ndjson"))) }
        #expect(missing?.key == "url")
        let format = rejection { () throws(PluginArgumentError) in try HTTPOutput(arguments("http", ("url", "http://127.0.0.1:1/"), ("format", "csv"))) }
        #expect(format?.key == "format")
        let timeout = rejection { () throws(PluginArgumentError) in try HTTPOutput(arguments("http", ("url", "http://127.0.0.1:1/"), ("timeout", "1ms"))) }
        #expect(timeout?.key == "timeout")
    }
}
