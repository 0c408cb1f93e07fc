import Foundation
import Glibc
import Testing

extension EndToEndTests {
    @Suite struct GeneratorInput {
        static let eventTypes: Set<String> = ["click", "view", "purchase", "login"]

        @Test(arguments: [[], ["--workers", "1"], ["--workers", "2"]])
        func aCountedGeneratorWritesExactlyThatManyJSONLines(workers: [String]) throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let sluice = try SluiceProcess(["run"] + workers + ["--input", "generator:count=100000", "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let data = try Data(contentsOf: URL(fileURLWithPath: output))
            var invalid = 0, firstInvalid = ""
            var sequences: [Int] = []
            sequences.reserveCapacity(100_000)
            let rest = data.withUnsafeBytes { bytes in
                bytes.forEachLine { line in
                    let text = Data(line)
                    guard let object = (try? JSONSerialization.jsonObject(with: text)) as? [String: Any],
                          let type = object["type"] as? String, Self.eventTypes.contains(type), let seq = object["seq"] as? Int else {
                        if invalid == 0 { firstInvalid = String(decoding: text.prefix(300), as: UTF8.self) }
                        invalid += 1
                        return
                    }
                    sequences.append(seq)
                }
            }
            #expect(rest.isEmpty, "the output ends inside a line")
            #expect(sequences.count + invalid == 100_000)
            #expect(invalid == 0, "\(invalid) line(s) are not generator JSON, first: \(firstInvalid)")
            if workers == ["--workers", "1"] {
                let inOrder = sequences.elementsEqual(0..<100_000)
                #expect(inOrder, "one worker numbers its events 0, 1, 2, … in order")
            }
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 100_000, "\(summary)")
            #expect(summary.count("events_out") == 100_000, "\(summary)")
        }

        @Test func sigtermStopsAnUnlimitedGeneratorWithinTenSecondsAndLosesNothingInTheDrain() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let sluice = try SluiceProcess(["run", "--input", "generator:count=0,size=100", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            try sluice.waitForFile(output, toReach: 20 << 20, within: .seconds(30))
            let stopped = ContinuousClock.now
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let elapsed = ContinuousClock.now - stopped
            #expect(elapsed < .seconds(10), "took \(elapsed) to stop")
            let summary = try sluice.summary()
            #expect(summary.count("events_in") > 0, "\(summary)")
            #expect(summary.count("events_in") == summary.count("events_out"), "\(summary)")
            let data = try Data(contentsOf: URL(fileURLWithPath: output))
            let lineCount = data.withUnsafeBytes { bytes in
                var count = 0
                let rest = bytes.forEachLine { _ in count += 1 }
                #expect(rest.isEmpty, "the output ends inside a line")
                return count
            }
            #expect(lineCount == summary.count("events_out"), "\(summary)")
        }
    }
}
