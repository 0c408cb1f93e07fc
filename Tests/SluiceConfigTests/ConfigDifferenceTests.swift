import Foundation
import Testing

@testable import SluiceConfig

/// What SIGHUP compares: a pipeline counts as changed only when its content changed.
@Suite struct ConfigDifferenceTests {
    static let base = """
        settings:
          batch-size: 64
        pipelines:
          web:
            input: {type: file, path: /var/log/a.log, follow: true}
            actions:
              - type: json_decode
            output: {type: file, path: /tmp/web.ndjson}
          raw:
            input: {type: tcp, listen: "127.0.0.1:5140"}
            output: {type: stdout}
        """

    @Test func movingPipelinesAndAddingCommentsChangesNothing() throws {
        let moved = """
            # the same pipelines, another order and layout
            settings:
              batch-size: 64
            pipelines:
              raw:
                input:
                  type: tcp
                  listen: "127.0.0.1:5140"
                output: {type: stdout}

              web:
                input: {type: file, path: /var/log/a.log, follow: true}
                actions: [{type: json_decode}]
                output: {type: file, path: /tmp/web.ndjson}
            """
        let difference = try parseConfig(moved).difference(from: parseConfig(Self.base))
        #expect(difference == .init(settingsChanged: false, changedPipelines: []))
    }

    @Test func aChangedParameterAnAddedActionAndANewPipelineCountAsChanged() throws {
        let changed = """
            settings:
              batch-size: 64
            pipelines:
              web:
                input: {type: file, path: /var/log/a.log, follow: true}
                actions:
                  - type: json_decode
                  - {type: discard, field: level, equals: debug}
                output: {type: file, path: /tmp/web.ndjson}
              raw:
                input: {type: tcp, listen: "127.0.0.1:5141"}
                output: {type: stdout}
              extra:
                input: {type: stdin}
                output: {type: devnull}
            """
        let difference = try parseConfig(changed).difference(from: parseConfig(Self.base))
        #expect(difference == .init(settingsChanged: false, changedPipelines: ["web", "raw", "extra"]))
    }

    @Test func aPipelinesOwnSettingsAreItsContentAndTopLevelSettingsAreNodeWide() throws {
        let tuned = Self.base.replacingOccurrences(of: "      - type: json_decode\n", with: "      - type: json_decode\n    settings: {flush-interval: 1ms}\n")
        #expect(try parseConfig(tuned).difference(from: parseConfig(Self.base)).changedPipelines == ["web"])
        let node = Self.base.replacingOccurrences(of: "batch-size: 64", with: "batch-size: 128")
        #expect(try parseConfig(node).difference(from: parseConfig(Self.base)).settingsChanged)
    }
}
