import Testing

@testable import SluiceCore

private func tcpInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> TCPInput {
    try TCPInput(PluginArguments(plugin: "tcp", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

@Suite struct TCPInputTests {
    @Test func listenDefaultsToLoopbackPort5140() throws {
        let input = try tcpInput()
        #expect(input.host == "127.0.0.1")
        #expect(input.port == 5140)
        #expect(input.maxConnections == 1024)
        #expect(input.idleTimeoutMicros == 300_000_000)
    }

    @Test func idleTimeoutTakesADurationOrZeroForNever() throws {
        #expect(try tcpInput(("idle-timeout", "30s")).idleTimeoutMicros == 30_000_000)
        #expect(try tcpInput(("idle-timeout", "0")).idleTimeoutMicros == 0)
        let error = rejection { () throws(PluginArgumentError) in try tcpInput(("idle-timeout", "soon")) }
        #expect(error?.key == "idle-timeout")
        #expect(error?.message == "expected a duration such as 30s or 5m (0: never), got 'soon'")
    }

    @Test func listenIsSplitIntoAddressAndPort() throws {
        let input = try tcpInput(("listen", "0.0.0.0:6000"), ("max-connections", "10"))
        #expect(input.host == "0.0.0.0")
        #expect(input.port == 6000)
        #expect(input.maxConnections == 10)
        #expect(try tcpInput(("listen", "10.1.2.3:65535")).port == 65535)
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:http", "127.0.0.1:-1"])
    func listenWithoutAValidPortIsRejected(listen: String) {
        let error = rejection { () throws(PluginArgumentError) in try tcpInput(("listen", listen)) }
        #expect(error?.key == "listen")
        #expect(error?.message == "expected ADDRESS:PORT such as 127.0.0.1:5140, got '\(listen)'")
    }

    @Test(arguments: ["localhost:80", ":80", "256.0.0.1:80", "::1:80"])
    func listenWithoutAnIPv4AddressIsRejected(listen: String) {
        let error = rejection { () throws(PluginArgumentError) in try tcpInput(("listen", listen)) }
        #expect(error?.key == "listen")
        #expect(error?.message.hasSuffix("is not an IPv4 address") == true)
    }
}
