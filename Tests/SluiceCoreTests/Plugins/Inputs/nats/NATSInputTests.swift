import Testing

@testable import SluiceCore

@Suite struct NATSInputTests {
    @Test func streamConsumerAndLimitsAreRead() throws {
        let input = try NATSInput(arguments("nats", ("url", "nats://127.0.0.1:4222"), ("stream", "LOGS"), ("consumer", "agg"),
                                            ("subject", "logs.web"), ("batch", "100"), ("window", "1000"), ("ack-wait", "10s")))
        #expect(input.servers.urls == "nats://127.0.0.1:4222")
        #expect(input.stream == "LOGS" && input.consumer == "agg" && input.subject == "logs.web")
        #expect(input.batch == 100)
        #expect(input.window == 1024)  // rounded up to a power of two
        #expect(input.ackWaitMillis == 10_000)
        #expect(input.fetchWaitMillis == 500)
        let small = try NATSInput(arguments("nats", ("url", "nats://h"), ("stream", "S"), ("consumer", "c"), ("batch", "300"), ("window", "16")))
        #expect(small.window == 512)  // never below one batch
        #expect(small.subject == nil)
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let cases: [([(String, String)], String, String)] = [
            ([("url", "nats://h"), ("stream", "S")], "consumer", "nats needs consumer=..."),
            ([("url", "nats://h"), ("stream", "A B"), ("consumer", "c")], "stream", "'A B' is not a stream name (no '.', '*', '>' or spaces)"),
            ([("url", "nats://h"), ("stream", "S"), ("consumer", "c.d")], "consumer", "'c.d' is not a consumer name (no '.', '*', '>' or spaces)"),
            ([("url", "nats://h"), ("stream", "S"), ("consumer", "c"), ("ack-wait", "10ms")], "ack-wait", "expected a duration of at least 1s, got '10ms'"),
        ]
        for (pairs, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in try NATSInput(PluginArguments(plugin: "nats", pairs: pairs.map { (key: $0.0, value: $0.1) })) }
            #expect(error?.key == key, "\(pairs)")
            #expect(error?.message == message, "\(pairs)")
        }
    }
}
