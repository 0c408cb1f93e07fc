import Testing
@testable import SluiceCore

@Suite struct BufferOptionsTests {
    @Test func memoryIsTheDefaultAndTakesNoOtherBufferKey() throws {
        #expect(try BufferOptions(arguments("tcp")).kind == .memory)
        #expect(rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer-dir", "/x"))) }?.key == "buffer-dir")
        #expect(rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer-sync", "none"))) }?.message.contains("buffer=disk only") == true)
    }

    @Test func diskNeedsADirectoryAndAMaximumSize() {
        #expect(rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-max-size", "1GiB"))) }?.key == "buffer-dir")
        #expect(rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"))) }?.key == "buffer-max-size")
        #expect(rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "1KiB"))) }?.key == "buffer-max-size")
    }

    @Test func diskSettingsAreReadAndTheSegmentSizeIsAtMostAQuarterOfTheMaximum() throws {
        let o = try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "8MiB"),
                                            ("buffer-sync", "interval:250ms"), ("buffer-full", "drop-newest")))
        #expect(o.isDisk && o.directory == "/b" && o.maxBytes == 8 << 20)
        #expect(o.sync == .interval(250_000) && o.full == .dropNewest)
        #expect(o.segmentBytes == 2 << 20)
        #expect(try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "1GiB"))).segmentBytes == 32 << 20)
        #expect(try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "1GiB"))).sync == .batch)
    }

    @Test(arguments: ["always", "interval:", "interval:0", "interval:5", "interval:500us", "Batch"])
    func aSyncPolicyThatIsNotOneIsRefused(text: String) {
        let error = rejection { () throws(PluginArgumentError) in try BufferOptions(arguments("tcp", ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "1GiB"), ("buffer-sync", text))) }
        #expect(error?.key == "buffer-sync")
        #expect(error?.message.contains("none, batch or interval:DURATION") == true, "\(String(describing: error))")
    }

    @Test func everyOutputTakesTheBufferParameters() throws {
        for (name, _, parameters) in OutputDefinition.types {
            #expect(parameters.contains { $0.name == "buffer-max-size" }, "\(name)")
        }
        let output = try OutputDefinition.make(type: "file", arguments("file", ("path", "/tmp/x"), ("buffer", "disk"), ("buffer-dir", "/b"), ("buffer-max-size", "1GiB")))
        #expect(output.buffer.isDisk)
    }
}
