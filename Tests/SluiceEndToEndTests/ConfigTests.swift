import Foundation
import Testing
import SluiceCore

extension EndToEndTests {
    @Suite struct Config {
        static func write(_ text: String, to path: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }

        @Test func aConfigFileRunsItsPipelinesWithTheirOwnActionsAndOutputs() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("events.ndjson"), config = directory.path("sluice.yaml")
            let kept = directory.path("kept.ndjson"), generated = directory.path("generated.ndjson")
            let (expected, _) = try FileInput.writeEvents(count: 10_000, to: input)
            try Self.write("""
                # two pipelines, each with its own output
                settings:
                  batch-size: 64
                  flush-interval: 2ms
                pipelines:
                  web:
                    input:
                      type: file
                      path: "\(input)"
                    actions:
                      - type: json_decode
                      - type: discard
                        field: type
                        equals: view
                    output:
                      type: file
                      path: "\(kept)"
                  synthetic:
                    input: {type: generator, count: 5000, size: 120}
                    output: {type: file, path: "\(generated)"}
                """, to: config)

            let check = try SluiceProcess(["check", "--config", config], in: directory)
            #expect(try check.waitForExit(within: .seconds(10)) == .exited(0))
            #expect(String(decoding: check.standardOutput(), as: UTF8.self) == "ok: 2 pipeline(s): web, synthetic\n")

            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let written = try Data(contentsOf: URL(fileURLWithPath: kept))
            expectSameBytes(written, expected)
            let synthetic = try Data(contentsOf: URL(fileURLWithPath: generated)).split(separator: 0x0A)
            #expect(synthetic.count == 5000)
            #expect(synthetic.allSatisfy { (try? JSONSerialization.jsonObject(with: $0)) is NSDictionary })
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 15_000, "\(summary)")
        }

        @Test(arguments: ["run", "check"])
        func anUnknownKeyExitsTwoNamingFileLineAndColumn(command: String) throws {
            let directory = try TemporaryDirectory()
            let config = directory.path("bad.yaml")
            try Self.write("""
                pipelines:
                  main:
                    input:
                      type: stdin
                    outptu:
                      type: stdout
                """, to: config)
            let sluice = try SluiceProcess([command, "--config", config], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(2))
            let stderr = sluice.standardError()
            #expect(stderr.contains("\(config):5:5: "), "\(stderr)")
            #expect(stderr.contains("unknown key 'outptu'"), "\(stderr)")
            #expect(sluice.standardOutput().isEmpty)
        }

        @Test func anUnknownSettingExitsTwoNamingItsLocation() throws {
            let directory = try TemporaryDirectory()
            let config = directory.path("bad.yaml")
            try Self.write("""
                settings:
                  batch-size: 64
                  pool-capacty: 4096
                pipelines:
                  main: {input: {type: stdin}, output: {type: stdout}}
                """, to: config)
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(2))
            let stderr = sluice.standardError()
            // The line is the setting's; the column is currently its value's (see the report).
            #expect(stderr.contains("sluice: error: \(config):3:"), "\(stderr)")
            #expect(stderr.contains("unknown setting 'pool-capacty'"), "\(stderr)")
            #expect(stderr.contains("pool-capacity"), "the error lists the known settings: \(stderr)")
        }

        @Test(arguments: [
            ("discard:field", "spec 'discard:field'"),
            ("discard:field=type,bogus=1", "spec 'discard:field=type,bogus=1'"),
            ("no_such_action", "no_such_action"),
        ])
        func aBadActionSpecExitsTwoNamingTheSpec(spec: String, named: String) throws {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["run", "--input", "stdin", "--action", spec, "--output", "stdout"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(2))
            let stderr = sluice.standardError()
            #expect(stderr.hasPrefix("sluice: error: "), "\(stderr)")
            #expect(stderr.contains(named), "\(stderr)")
            #expect(!stderr.contains("started"), "a bad spec must stop the node before it starts: \(stderr)")
        }
    }
}

extension EndToEndTests.Config {
    /// A pipeline's own `settings:` may tune its output batching; node-wide settings there are
    /// an error naming file:line:column.
    @Test func aPipelineMayTuneItsBatchingButNotNodeWideSettings() throws {
        let directory = try TemporaryDirectory()
        let good = directory.path("good.yaml"), bad = directory.path("bad.yaml"), output = directory.path("out.ndjson")
        try Self.write("""
            pipelines:
              small:
                settings:
                  batch_size: 8
                  flush-interval: 1ms
                  output-buffer-size: 64KiB
                input: {type: generator, count: 1000, size: 100}
                output: {type: file, path: "\(output)"}
            """, to: good)
        let sluice = try SluiceProcess(["run", "--admin", "off", "--config", good], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(30)) == .exited(0))
        let summary = try sluice.summary()
        #expect(summary.count("events_out") == 1000, "\(summary)")
        #expect(summary.count("output_batches") >= 1000 / 8, "batches of at most 8 events: \(summary)")

        try Self.write("""
            pipelines:
              small:
                settings:
                  pool-capacity: 1024
                input: {type: generator, count: 10}
                output: {type: devnull}
            """, to: bad)
        let check = try SluiceProcess(["check", "--config", bad], in: directory)
        #expect(try check.waitForExit(within: .seconds(10)) == .exited(2))
        let stderr = check.standardError()
        #expect(stderr.contains("bad.yaml:4:"), "\(stderr)")
        #expect(stderr.contains("node-wide"), "\(stderr)")
    }
}

extension EndToEndTests.Config {
    /// Every flag of `sluice run --help` is in the README, and every flag of the README's flags
    /// table is one `sluice run` takes.
    @Test func theReadmeAndRunHelpNameTheSameFlags() throws {
        let directory = try TemporaryDirectory()
        let help = try SluiceProcess(["run", "--help"], in: directory)
        #expect(try help.waitForExit(within: .seconds(10)) == .exited(0))
        let helpText = String(decoding: help.standardOutput(), as: UTF8.self)
        func flags(_ text: String, _ pattern: String) throws -> Set<String> {
            let regex = try Regex(pattern)
            return Set(text.matches(of: regex).compactMap { $0.output[1].substring.map(String.init) })
        }
        let helpFlags = try flags(helpText, "(?m)^\\s+(--[a-z][a-z0-9-]*)").subtracting(["--help"])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let tableFlags = try flags(readme, "(?m)^\\| `(--[a-z][a-z0-9-]*)")
        #expect(helpFlags.count > 30, "\(helpFlags.sorted())")
        #expect(helpFlags.filter { !readme.contains($0) }.isEmpty, "in --help, not in the README: \(helpFlags.filter { !readme.contains($0) }.sorted())")
        #expect(tableFlags.subtracting(helpFlags).isEmpty, "in the README's table, not in --help: \(tableFlags.subtracting(helpFlags).sorted())")
    }
}

extension EndToEndTests.Config {
    /// Found by an adversarial run: two pipelines listening on one address were both started
    /// (SO_REUSEPORT) and the kernel split the connections between them at random.
    @Test func twoTCPInputsOnOneAddressExitTwoNamingTheSecond() throws {
        let directory = try TemporaryDirectory()
        let config = directory.path("same-port.yaml")
        try Self.write("""
            pipelines:
              first: {input: {type: tcp, listen: "127.0.0.1:30100"}, output: {type: devnull}}
              second: {input: {type: tcp, listen: "127.0.0.1:30100"}, output: {type: devnull}}
            """, to: config)
        let sluice = try SluiceProcess(["check", "--config", config], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(2))
        let stderr = sluice.standardError()
        #expect(stderr.contains("\(config):3:"), "\(stderr)")
        #expect(stderr.contains("as pipeline first does"), "\(stderr)")
    }

    /// Found by an adversarial run: 65,537 pipelines passed `check`, and `run` died of a Swift
    /// runtime trap (a pipeline number that does not fit an event's 16 bits).
    @Test func moreThanTheMostPipelinesExitTwo() throws {
        let directory = try TemporaryDirectory()
        let config = directory.path("many.yaml")
        var text = "pipelines:\n"
        for p in 0...PipelineSlots.maxPipelines { text += "  p\(p): {input: {type: generator, count: 1}, output: {type: devnull}}\n" }
        try Self.write(text, to: config)
        let sluice = try SluiceProcess(["run", "--config", config], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(2))
        let stderr = sluice.standardError()
        #expect(stderr.contains("\(config):\(PipelineSlots.maxPipelines + 2):"), "\(stderr)")
        #expect(stderr.contains("a node runs at most \(PipelineSlots.maxPipelines)"), "\(stderr)")
    }
}

extension EndToEndTests.JSONActions {
    /// Found by an adversarial run: a value of 1e999, or sums past the largest double, made
    /// aggregate write `inf` and `nan`, which is not JSON. They are written as null.
    @Test func aggregateWritesNullForASumOrAverageThatIsNotFinite() throws {
        let directory = try TemporaryDirectory()
        let input = directory.path("in.ndjson"), output = directory.path("out.ndjson")
        try Data("{\"k\":\"a\",\"v\":1e999}\n{\"k\":\"b\",\"v\":1.5}\n{\"k\":\"b\",\"v\":2.5}\n".utf8).write(to: URL(fileURLWithPath: input))
        let sluice = try SluiceProcess(["run", "--admin", "off", "--workers", "1", "--input", "file:path=\(input)", "--action", "json_decode",
                                        "--action", "aggregate:key=k,value=v", "--output", "file:path=\(output)"], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(20)) == .exited(0))
        let rows = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n").map(String.init).sorted()
        #expect(rows == ["{\"k\":\"a\",\"count\":1,\"sum\":null,\"avg\":null}", "{\"k\":\"b\",\"count\":2,\"sum\":4.0,\"avg\":2.0}"])
        for row in rows { #expect((try? JSONSerialization.jsonObject(with: Data(row.utf8))) != nil, "not JSON: \(row)") }
    }
}
