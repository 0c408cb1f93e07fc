import Foundation
import Testing

@testable import SluiceConfig

@Suite struct YAMLConfigLoaderTests {
    static let example = """
        settings:
          pool-capacity: 65536
        pipelines:
          web:
            settings:
              batch_size: 512
            input:
              type: file
              path: [/var/log/a.log, /var/log/b.log]
              follow: true
            actions:
              - type: json_decode
              - type: discard
                field: type
                equals: view
            output:
              type: file
              path: /tmp/out.ndjson
        """

    @Test func theExampleConfigReadsIntoSpecsWithTheirLocations() throws {
        let config = try parseConfig(Self.example)
        #expect(config.settings == [ConfigParam(key: "pool-capacity", value: "65536", location: at(2, 18))])
        #expect(config.pipelines.count == 1)
        let web = try #require(config.pipelines.first)
        #expect(web.name == "web")
        #expect(web.location == at(4, 3))
        #expect(web.settings == [ConfigParam(key: "batch-size", value: "512", location: at(6, 19))])
        #expect(
            web.inputs == [
                PluginSpec(
                    type: "file",
                    params: [
                        ConfigParam(key: "path", value: "/var/log/a.log", location: at(9, 14)),
                        ConfigParam(key: "path", value: "/var/log/b.log", location: at(9, 30)),
                        ConfigParam(key: "follow", value: "true", location: at(10, 15)),
                    ],
                    location: at(8, 7),
                    origin: "sluice.yaml:8")
            ])
        #expect(
            web.actions == [
                PluginSpec(type: "json_decode", params: [], location: at(12, 9), origin: "sluice.yaml:12"),
                PluginSpec(
                    type: "discard",
                    params: [
                        ConfigParam(key: "field", value: "type", location: at(14, 16)),
                        ConfigParam(key: "equals", value: "view", location: at(15, 17)),
                    ],
                    location: at(13, 9),
                    origin: "sluice.yaml:13"),
            ])
        #expect(
            web.output
                == PluginSpec(
                    type: "file",
                    params: [ConfigParam(key: "path", value: "/tmp/out.ndjson", location: at(18, 13))],
                    location: at(17, 7),
                    origin: "sluice.yaml:17"))
    }

    @Test func pipelinesKeepTheOrderOfTheFile() throws {
        let config = try parseConfig(
            """
            pipelines:
              zeta: {input: {type: stdin}, output: {type: stdout}}
              alpha: {input: {type: stdin}, output: {type: stdout}}
              mid_1-x: {input: {type: stdin}, output: {type: stdout}}
            """)
        #expect(config.pipelines.map(\.name) == ["zeta", "alpha", "mid_1-x"])
    }

    @Test func settingsAndActionsMayBeLeftOut() throws {
        let config = try parseConfig(
            """
            pipelines:
              web:
                input: {type: stdin}
                actions:
                output: {type: stdout}
            """)
        #expect(config.settings.isEmpty)
        #expect(config.pipelines[0].settings.isEmpty)
        #expect(config.pipelines[0].actions.isEmpty)
    }

    @Test func keysAreNormalizedButPluginTypesKeepUnderscores() throws {
        let config = try parseConfig(
            """
            settings:
              pool_capacity: 8
            pipelines:
              web:
                input:
                  type: http_bulk
                  max_body_bytes: 1024
                output: {type: dead_letter}
            """)
        #expect(config.settings.map(\.key) == ["pool-capacity"])
        #expect(config.pipelines[0].inputs[0].type == "http_bulk")
        #expect(config.pipelines[0].inputs[0].value("max-body-bytes")?.value == "1024")
        #expect(config.pipelines[0].output.type == "dead_letter")
    }

    @Test func scalarsKeepTheTextAsWritten() throws {
        let config = try parseConfig(
            """
            settings:
              a: 65_536
              b: 0x10
              c: yes
              d: 1.50
              e: ~
              f: "007"
              g: 'it''s'
              h: 2026-01-01
            pipelines:
              web: {input: {type: stdin}, output: {type: stdout}}
            """)
        #expect(config.settings.map(\.value) == ["65_536", "0x10", "yes", "1.50", "~", "007", "it's", "2026-01-01"])
    }

    @Test func anEmptyValueIsAnEmptyStringLocatedAtItsKey() throws {
        let config = try parseConfig(
            """
            pipelines:
              web:
                input:
                  type: stdin
                  prefix:
                output: {type: stdout}
            """)
        #expect(config.pipelines[0].inputs[0].params == [ConfigParam(key: "prefix", value: "", location: at(5, 7))])
    }

    @Test func aSequenceOfScalarsRepeatsTheKey() throws {
        let config = try parseConfig(
            """
            pipelines:
              web:
                input:
                  type: file
                  path:
                    - /a.log
                    - /b.log
                output: {type: stdout}
            """)
        #expect(
            config.pipelines[0].inputs[0].values("path")
                == [
                    ConfigParam(key: "path", value: "/a.log", location: at(6, 11)),
                    ConfigParam(key: "path", value: "/b.log", location: at(7, 11)),
                ])
    }

    @Test func anInputSequenceGivesAPipelineSeveralInputs() throws {
        let config = try parseConfig(
            """
            pipelines:
              web:
                input:
                  - type: file
                    path: /a.log
                  - {type: tcp, listen: "127.0.0.1:5140"}
                output: {type: stdout}
            """)
        let inputs = config.pipelines[0].inputs
        #expect(inputs.map(\.type) == ["file", "tcp"])
        #expect(inputs.map(\.location) == [at(4, 9), at(6, 9)])
        #expect(inputs[1].value("listen")?.value == "127.0.0.1:5140")
    }

    @Test func loadReadsTheFileAndNamesItInLocations() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml")
            .path
        try Self.example.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try YAMLConfigLoader.load(path: path)
        #expect(config.pipelines[0].location == SluiceConfig.SourceLocation(file: path, line: 4, column: 3))
        #expect(config.pipelines[0].output.origin == "\(path):17")
    }

    @Test func aMissingFileIsNamedWithTheSystemReason() {
        let error = #expect(throws: ConfigError.self) { try YAMLConfigLoader.load(path: "/nonexistent/sluice.yaml") }
        #expect(error?.description == "cannot read config file '/nonexistent/sluice.yaml': No such file or directory")
    }

    @Test func aDirectoryIsNotAConfigFile() {
        let error = #expect(throws: ConfigError.self) { try YAMLConfigLoader.load(path: "/tmp") }
        #expect(error?.description == "cannot read config file '/tmp': Is a directory")
    }

    @Test func aFileThatIsNotUTF8IsRejected() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-\(UUID().uuidString).yaml")
            .path
        try Data([0x61, 0x3a, 0x20, 0xff, 0xfe, 0x0a]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: ConfigError.self) { try YAMLConfigLoader.load(path: path) }
        #expect(error?.description == "cannot read config file '\(path)': not valid UTF-8; save it as UTF-8")
    }
}
