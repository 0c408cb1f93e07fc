import Testing

@testable import SluiceCore

/// The bytes the encoder writes for `event`.
private func encoded(_ encoder: inout ElasticsearchBulkEncoder, _ event: Event) -> String {
    let out = UnsafeMutableRawPointer.allocate(byteCount: OutputBatcher.worstCase(event) + ElasticsearchBulkEncoder.actionLineBytesLimit, alignment: 1)
    defer { out.deallocate() }
    switch encoder.encode(event, into: out) {
    case .wrote(let n): return String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self)
    case .refused(let why): return "refused: \(why)"
    }
}

@Suite struct ElasticsearchOutputTests {
    @Test func theURLGetsBulkAddedAndTheCredentialsBecomeAnAuthorizationHeader() throws {
        let output = try ElasticsearchOutput(arguments("elasticsearch", ("url", "http://127.0.0.1:9201/prefix/?pipeline=p"), ("index", "logs-%Y"),
                                                       ("user", "elastic"), ("password", "s3cret"), ("compression", "gzip"), ("header", "X-A:b")))
        #expect(output.endpoint.target == "/prefix/_bulk?pipeline=p")
        #expect(output.endpoint.headers == ["X-A: b", "Authorization: Basic ZWxhc3RpYzpzM2NyZXQ="])
        #expect(output.endpoint.compression == .gzip)
        #expect(output.endpoint.dialect == .elasticsearchBulk)
        #expect(output.delivery.requireJSON)
        let head = String(decoding: output.endpoint.fixedHead, as: UTF8.self)
        #expect(head.hasPrefix("POST /prefix/_bulk?pipeline=p HTTP/1.1\r\nHost: 127.0.0.1:9201\r\n"))
        #expect(head.contains("Content-Type: application/x-ndjson\r\n"))
        let plain = try ElasticsearchOutput(arguments("elasticsearch", ("index", "logs"), ("api-key", "a2V5OnNlY3JldA==")))
        #expect(plain.endpoint.host == "127.0.0.1" && plain.endpoint.port == 9200 && plain.endpoint.target == "/_bulk")
        #expect(plain.endpoint.headers == ["Authorization: ApiKey a2V5OnNlY3JldA=="])
        #expect(ElasticsearchOutput.bulkTarget("/_bulk") == "/_bulk" && ElasticsearchOutput.bulkTarget("/") == "/_bulk")
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let cases: [([(String, String)], String, String)] = [
            ([("url", "http://127.0.0.1:1/")], "index", "elasticsearch needs index=..."),
            ([("index", "Logs")], "index", "'Logs': index names are lower case"),
            ([("index", "logs #1")], "index", "'logs #1': ' ' is not allowed in an index name (nor \\ / * ? \" < > | , # : space)"),
            ([("index", "logs-%Q")], "index", "'logs-%Q': unknown directive %Q (known: %Y %y %m %d %H %j, and ${PATH})"),
            ([("index", "logs-%")], "index", "'logs-%': ends with a lone %"),
            ([("index", "_logs")], "index", "'_logs': an index name may not start with - _ + or ."),
            ([("index", "logs-${a")], "index", "'logs-${a': ${ without its closing }"),
            ([("index", "logs-${a..b}")], "index", "'logs-${a..b}': ${a..b}: 'a..b' has an empty path component"),
            ([("index", "logs"), ("action", "delete")], "action", "expected index or create, got 'delete'"),
            ([("index", "logs"), ("compression", "zstd")], "compression", "expected none or gzip, got 'zstd'"),
            ([("index", "logs"), ("time-field", "")], "time-field", "empty field name"),
            ([("index", "logs"), ("user", "u"), ("api-key", "k")], "api-key", "give user and password, or api-key, not both"),
            ([("index", "logs"), ("user", "u"), ("header", "Authorization: x")], "header", "an Authorization header and user/api-key both set it"),
        ]
        for (pairs, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in
                try ElasticsearchOutput(PluginArguments(plugin: "elasticsearch", pairs: pairs.map { (key: $0.0, value: $0.1) }))
            }
            #expect(error?.key == key, "\(pairs)")
            #expect(error?.message == message, "\(pairs)")
        }
    }

    @Test func eachEventGetsItsActionLineWithTheIndexOfItsTimeFieldAndItsFields() throws {
        let pool = try makePool()
        var encoder = ElasticsearchBulkEncoder(try ElasticsearchOutput(arguments("elasticsearch", ("index", "app-${service}-%Y.%m.%d.%H-%y-%j"),
                                                                                 ("time-field", "ts"))))
        defer { encoder.dispose() }
        let decoded = try makeDecodedEvent(#"{"service":"Web Shop/EU","ts":"2024-03-04T23:06:07+02:00","n":1}"#, in: pool)
        #expect(encoded(&encoder, decoded) == #"{"index":{"_index":"app-web_shop_eu-2024.03.04.21-24-064"}}"# + "\n"
            + #"{"service":"Web Shop/EU","ts":"2024-03-04T23:06:07+02:00","n":1}"# + "\n")
        // Not decoded: the fields are found in the raw object all the same; epoch milliseconds.
        let raw = makeEvent(#"{"service":42,"ts":1700000000123}"#, in: pool)
        #expect(encoded(&encoder, raw).hasPrefix(#"{"index":{"_index":"app-42-2023.11.14.22-23-318"}}"#))
        let seconds = makeEvent(#"{"service":null,"ts":86400.5}"#, in: pool)
        #expect(encoded(&encoder, seconds).hasPrefix(#"{"index":{"_index":"app-not_set-1970.01.02.00-70-002"}}"#))
    }

    @Test func withoutATimeTheNodesClockNamesTheIndexAndCreateIsTheActionAsked() throws {
        let pool = try makePool()
        var encoder = ElasticsearchBulkEncoder(try ElasticsearchOutput(arguments("elasticsearch", ("index", "logs-%Y.%m.%d"), ("action", "create"))))
        defer { encoder.dispose() }
        let now = IndexPattern.DateParts(seconds: Int64(realtimeNanos() / 1_000_000_000))
        let text = encoded(&encoder, makeEvent(#"{"a":1}"#, in: pool))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = "\(now.year).\(two(now.month)).\(two(now.day))"
        #expect(text == #"{"create":{"_index":"logs-\#(day)"}}"# + "\n" + #"{"a":1}"# + "\n")
    }

    @Test func aNameOverElasticsearchsLimitIsRefused() throws {
        let pool = try makePool()
        var encoder = ElasticsearchBulkEncoder(try ElasticsearchOutput(arguments("elasticsearch", ("index", "x-${long}"))))
        defer { encoder.dispose() }
        let long = String(repeating: "a", count: 300)
        #expect(encoded(&encoder, makeEvent(#"{"long":"\#(long)"}"#, in: pool)) == "refused: the index name would be longer than 255 bytes")
        #expect(encoded(&encoder, makeEvent(#"{"long":"ok"}"#, in: pool)).hasPrefix(#"{"index":{"_index":"x-ok"}}"#))
    }
}
