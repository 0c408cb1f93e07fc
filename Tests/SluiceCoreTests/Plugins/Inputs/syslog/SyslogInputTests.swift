import Testing

@testable import SluiceCore

private func syslogInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> SyslogInput {
    try SyslogInput(PluginArguments(plugin: "syslog", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

@Suite struct SyslogInputTests {
    @Test func defaultsAreTCPOnLoopback5514WithTheFormatDetected() throws {
        let input = try syslogInput()
        #expect(input.host == "127.0.0.1" && input.port == 5514)
        #expect(input.transport == .tcp)
        #expect(input.format == .auto)
        #expect(input.maxConnections == 1024)
    }

    @Test func transportAndFormatAreChoices() throws {
        let input = try syslogInput(("listen", "0.0.0.0:514"), ("transport", "udp"), ("format", "rfc3164"))
        #expect(input.port == 514 && input.transport == .udp && input.format == .rfc3164)
        let transport = rejection { () throws(PluginArgumentError) in try syslogInput(("transport", "tls")) }
        #expect(transport?.key == "transport")
        #expect(transport?.message == "expected tcp or udp, got 'tls'")
        let format = rejection { () throws(PluginArgumentError) in try syslogInput(("format", "rfc5425")) }
        #expect(format?.key == "format")
        #expect(format?.message == "expected auto, rfc5424 or rfc3164, got 'rfc5425'")
    }

    @Test func unknownKeysAreRejected() {
        let error = rejection { () throws(PluginArgumentError) in try syslogInput(("framing", "octet")) }
        #expect(error?.key == "framing")
    }
}
