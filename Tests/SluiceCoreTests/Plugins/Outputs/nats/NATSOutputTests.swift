import Testing

@testable import SluiceCore

@Suite struct NATSOutputTests {
    @Test func serversSubjectStreamAndLimitsAreRead() throws {
        let output = try NATSOutput(arguments("nats", ("url", "nats://127.0.0.1:4222"), ("url", "nats://10.0.0.2"), ("subject", "logs.${service}"),
                                              ("stream", "LOGS"), ("window", "64"), ("ack-timeout", "2s"), ("id-prefix", "edge-7")))
        #expect(output.servers.urls == "nats://127.0.0.1:4222,nats://10.0.0.2:4222")
        #expect(output.subject == "logs.${service}")
        #expect(output.stream == "LOGS")
        #expect(output.window == 64)
        #expect(output.ackTimeoutMillis == 2000)
        #expect(output.retryWaitMillis == 1000)
        #expect(output.servers.reconnectWaitMillis == 250)
        #expect(output.idPrefix == "edge-7")
        let plain = try NATSOutput(arguments("nats", ("url", "nats://127.0.0.1:4222"), ("subject", "logs"), ("stream", "S")))
        #expect(plain.idPrefix == NATSServers.hostName)
        #expect(plain.window == 512)
    }

    /// Unless a batch size is set, a batch is the window (the second buffer's messages go out
    /// while the first waits for its PubAcks), at most the bulk loaders' 1,024.
    @Test func theBatchIsTheWindowUpTo1024UnlessSet() throws {
        func batch(window: String) throws -> Int? {
            try NATSOutput(arguments("nats", ("url", "nats://127.0.0.1:4222"), ("subject", "logs"), ("stream", "S"), ("window", window))).definition.preferredBatchSize
        }
        #expect(try batch(window: "64") == 64)
        #expect(try batch(window: "512") == 512)
        #expect(try batch(window: "100000") == OutputDefinition.bulkLoaderBatchSize)
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let base = [("subject", "logs"), ("stream", "S")]
        let cases: [([(String, String)], String, String)] = [
            ([("url", "http://127.0.0.1:4222")] + base, "url", "expected nats://HOST:PORT, got 'http://127.0.0.1:4222'"),
            ([("url", "nats://127.0.0.1:99999")] + base, "url", "'99999' is not a port (1...65535) in 'nats://127.0.0.1:99999'"),
            ([("url", "nats://")] + base, "url", "expected nats://HOST:PORT, got 'nats://'"),
            ([("url", "nats://a:1"), ("subject", "logs.${service"), ("stream", "S")], "subject",
             "'${' without a closing '}' in 'logs.${service' (write ${PATH} to insert a field)"),
            ([("url", "nats://a:1"), ("subject", "logs app"), ("stream", "S")], "subject",
             "'logs app' has a space or control character, which a subject cannot hold"),
            ([("url", "nats://a:1"), ("subject", "logs.${a..b}"), ("stream", "S")], "subject", "'a..b' has an empty path component"),
            ([("url", "nats://a:1"), ("subject", "logs"), ("stream", "A.B")], "stream", "'A.B' is not a stream name (no '.', '*', '>' or spaces)"),
            ([("url", "nats://a:1"), ("subject", "logs"), ("stream", "S"), ("id-prefix", "has space")], "id-prefix",
             "'has space' must be 1 to 48 bytes without spaces"),
            ([("url", "nats://a:1"), ("subject", "logs"), ("stream", "S"), ("window", "0")], "window", "expected an integer in 1...1048576, got '0'"),
        ]
        for (pairs, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in try NATSOutput(PluginArguments(plugin: "nats", pairs: pairs.map { (key: $0.0, value: $0.1) })) }
            #expect(error?.key == key, "\(pairs)")
            #expect(error?.message == message, "\(pairs)")
        }
        let missing = rejection { () throws(PluginArgumentError) in try NATSOutput(arguments("nats", ("subject", "s"), ("stream", "S"))) }
        #expect(missing?.key == "url")
    }

    /// Decoded fields fill the subject; what a subject token cannot hold becomes `_`, and a
    /// missing field or an empty one is `_` (counted by the sink as field_missing).
    @Test func theSubjectIsFilledFromDecodedFields() throws {
        let pool = try makePool()
        let subject = try NATSSubject("logs.${service}.${level}")
        defer { subject.dispose() }
        let out = UnsafeMutableRawPointer.allocate(byteCount: NATSOutput.maxSubjectBytes, alignment: 1)
        defer { out.deallocate() }
        func render(_ json: String) throws -> (String, Int) {
            var missing = 0
            let n = subject.render(try makeDecodedEvent(json, in: pool), into: out, missing: &missing)
            return (text(UnsafeRawBufferPointer(start: out, count: n)), missing)
        }
        #expect(try render(#"{"service":"web","level":"error"}"#) == ("logs.web.error", 0))
        #expect(try render(#"{"service":"a.b c*>","level":3}"#) == ("logs.a_b_c__.3", 0))
        #expect(try render(#"{"service":"","level":"x"}"#) == ("logs._.x", 0))
        #expect(try render(#"{"level":"x"}"#) == ("logs._.x", 1))
        #expect(try render(#"not json"#) == ("logs._._", 2))
        let long = String(repeating: "x", count: 400)
        #expect(try render("{\"service\":\"\(long)\",\"level\":\"e\"}").0.utf8.count == NATSOutput.maxSubjectBytes)
    }
}
