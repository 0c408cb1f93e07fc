import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The YAML files in `examples/` check and run as the README and their comments say.
    @Suite struct Examples {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

        @Test(arguments: ["pipelines.yaml", "generator-devnull.yaml", "realistic-chain.yaml"])
        func everyExampleChecks(name: String) throws {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["check", "--config", Self.root.appendingPathComponent("examples/\(name)").path], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0), "\(sluice.standardError())")
        }

        /// `examples/realistic-chain.yaml` (its paths moved into a temporary directory) on a
        /// corpus from `perf/realistic-corpus.py`: every line comes out with every action's work
        /// on it.
        @Test func theRealisticChainDoesWhatItsCommentsSay() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson"), output = directory.path("out.ndjson"), config = directory.path("chain.yaml")
            let corpus = Process()
            corpus.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            corpus.arguments = ["python3", Self.root.appendingPathComponent("perf/realistic-corpus.py").path, input, "4", "5"]
            corpus.standardOutput = FileHandle.nullDevice
            try corpus.run()
            corpus.waitUntilExit()
            #expect(corpus.terminationStatus == 0)
            let example = try String(contentsOf: Self.root.appendingPathComponent("examples/realistic-chain.yaml"), encoding: .utf8)
            try example.replacingOccurrences(of: "/tmp/sluice-realistic.ndjson", with: input)
                .replacingOccurrences(of: "/tmp/sluice-realistic-out.ndjson", with: output)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))

            let inputs = try String(contentsOfFile: input, encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
            let outputs = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map {
                try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not JSON: \($0.prefix(200))")
            }
            #expect(inputs.count > 500)
            // Fewer than 5000 lines per app: the throttle lets all through.
            #expect(outputs.count == inputs.count)
            // One file is one stream: the lines come out in their order.
            for (i, o) in zip(inputs, outputs) {
                let user = try #require(i["user"] as? String)
                #expect(o["user_number"] as? String == String(user.dropFirst()))
                #expect(o["app_name"] as? String == i["service"] as? String)
                #expect(o["summary"] as? String == "\(i["level"] as? String ?? "") from \(i["service"] as? String ?? "")")
                #expect(o["service"] == nil && o["ts"] == nil && o["user"] == nil && o["app"] == nil)
                #expect((o["time"] as? Int).map { $0 > 1_700_000_000_000 } == true)
                #expect((o["user_hash"] as? String)?.count == 16)
                let severity = ["debug": "debug", "info": "informational", "warn": "warning", "error": "error"]
                #expect(o["level"] as? String == severity[i["level"] as? String ?? ""])
                let message = try #require(o["message"] as? String)
                #expect(message.range(of: "\\d{3,}", options: .regularExpression) == nil, "\(message)")
                let ingest = try #require(o["ingest"] as? String)
                let parsed = try #require(try JSONSerialization.jsonObject(with: Data(ingest.utf8)) as? [String: Any])
                #expect(parsed["host"] is String && parsed["time"] is String && parsed["file"] as? String == input)
                #expect(o["pipeline"] as? String == "realistic")
            }
        }
    }
}
