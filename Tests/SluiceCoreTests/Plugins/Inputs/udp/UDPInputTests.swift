import Testing

@testable import SluiceCore

private func udpInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> UDPInput {
    try UDPInput(PluginArguments(plugin: "udp", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

@Suite struct UDPInputTests {
    @Test func listenDefaultsToLoopback5140AndTakesAnIPv4Address() throws {
        let input = try udpInput()
        #expect(input.host == "127.0.0.1" && input.port == 5140)
        #expect(try udpInput(("listen", "0.0.0.0:9999")).port == 9999)
        let error = rejection { () throws(PluginArgumentError) in try udpInput(("listen", "localhost:53")) }
        #expect(error?.key == "listen")
        let unknown = rejection { () throws(PluginArgumentError) in try udpInput(("buffer", "1MiB")) }
        #expect(unknown?.key == "buffer")
    }
}
