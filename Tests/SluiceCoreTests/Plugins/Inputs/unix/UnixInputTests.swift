import Testing

@testable import SluiceCore

private func unixInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> UnixInput {
    try UnixInput(PluginArguments(plugin: "unix", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

@Suite struct UnixInputTests {
    @Test func pathIsRequiredAndModeDefaultsToStreamWith0660() throws {
        let missing = rejection { () throws(PluginArgumentError) in try unixInput() }
        #expect(missing?.key == "path")
        let input = try unixInput(("path", "/run/sluice.sock"))
        #expect(input.mode == .stream)
        #expect(input.permissions == 0o660)
    }

    @Test func permissionsAreOctal() throws {
        #expect(try unixInput(("path", "/a"), ("permissions", "0600")).permissions == 0o600)
        #expect(try unixInput(("path", "/a"), ("permissions", "777")).permissions == 0o777)
        for bad in ["0800", "rw", "77777"] {
            let error = rejection { () throws(PluginArgumentError) in try unixInput(("path", "/a"), ("permissions", bad)) }
            #expect(error?.key == "permissions")
            #expect(error?.message == "expected an octal file mode such as 0660, got '\(bad)'")
        }
    }

    @Test func aPathLongerThanASocketAddressHoldsIsRejected() {
        let error = rejection { () throws(PluginArgumentError) in try unixInput(("path", "/" + String(repeating: "x", count: 107))) }
        #expect(error?.key == "path")
        #expect(error?.message.contains("longer than 107 bytes") == true)
    }

    @Test func modeIsStreamOrDgram() throws {
        #expect(try unixInput(("path", "/a"), ("mode", "dgram")).mode == .dgram)
        let error = rejection { () throws(PluginArgumentError) in try unixInput(("path", "/a"), ("mode", "seqpacket")) }
        #expect(error?.message == "expected stream or dgram, got 'seqpacket'")
    }
}
