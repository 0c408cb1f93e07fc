import Foundation
import Testing

extension EndToEndTests {
    /// `sluice bench` scenarios, made small: each checks its own result (every line arrived, the
    /// aggregate equals the generator's computation) and must end with the JSON line the issue
    /// asks for. Nothing here looks at speed.
    @Suite struct Bench {
        static let commonKeys = ["scenario", "workers", "events", "bytes", "seconds", "events_per_s", "bytes_per_s", "cpu_seconds", "peak_rss_bytes"]

        func run(_ arguments: [String]) throws -> [String: Any] {
            try runWithOutput(arguments).result
        }

        func runWithOutput(_ arguments: [String]) throws -> (result: [String: Any], lines: [Substring]) {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["bench"] + arguments + ["--data-dir", directory.path("data"), "--json"], in: directory)
            let termination = try sluice.waitForExit(within: .seconds(120))
            #expect(termination == .exited(0), "\(sluice.standardErrorTail())")
            let lines = String(decoding: sluice.standardOutput(), as: UTF8.self).split(separator: "\n")
            let last = try #require(lines.last, "no output")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], "last line is not a JSON object: \(last)")
            for key in Self.commonKeys { #expect(object[key] != nil, "missing \(key) in \(last)") }
            return (object, lines)
        }

        @Test func fileScenariosReadEveryLine() throws {
            for scenario in ["file-devnull", "file-json-devnull"] {
                let result = try run([scenario, "--events", "20000", "--workers", "2"])
                #expect(result["events"] as? Int == 20000, "\(scenario): \(result)")
                #expect((result["peak_rss_bytes"] as? Int ?? 0) > 0)
            }
        }

        @Test func ndjsonAggregateMatchesTheGeneratorsOwnComputation() throws {
            let result = try run(["ndjson-aggregate", "--events", "50000"])
            #expect(result["events"] as? Int == 50000, "\(result)")
        }

        @Test func tcpFileCountsTheLinesItSent() throws {
            let result = try run(["tcp-file", "--seconds", "1", "--connections", "2"])
            #expect((result["events"] as? Int ?? 0) > 0, "\(result)")
        }

        @Test func syslogFileCountsAndParsesEveryMessageItSent() throws {
            let result = try run(["syslog-file", "--seconds", "1", "--connections", "2"])
            #expect((result["events"] as? Int ?? 0) > 0, "\(result)")
        }

        /// The node runs as a child process; every line must arrive and the node's own CPU time
        /// and peak RSS come from its exit summary.
        @Test func latencyRunsTheNodeAsItsOwnProcessAndReportsPercentiles() throws {
            let result = try run(["latency", "--seconds", "1", "--rate", "5000", "--workers", "1", "--run-flag", "idle-spin=10us"])
            #expect(result["events"] as? Int == 5000, "\(result)")
            let p50 = try #require(result["latency_p50_us"] as? Double), p99 = try #require(result["latency_p99_us"] as? Double)
            let p999 = try #require(result["latency_p999_us"] as? Double)
            #expect(p50 > 0 && p50 <= p99 && p99 <= p999, "\(result)")
            #expect((result["cpu_seconds"] as? Double ?? 0) > 0, "\(result)")
            #expect((result["peak_rss_bytes"] as? Int ?? 0) > 10 << 20, "the node's peak RSS, not zero: \(result)")
        }

        /// With --runs the rate is the same in every run, so each percentile reported is the
        /// median of that percentile over the runs (not the percentiles of one run picked by rate).
        @Test func latencyPercentilesOverSeveralRunsAreTheMediansOfEachPercentile() throws {
            let (result, lines) = try runWithOutput(["latency", "--seconds", "0.5", "--rate", "4000", "--workers", "1", "--runs", "3"])
            var perRun: [[Double]] = []
            for line in lines where line.hasPrefix("run ") {
                // run N: … latency p50 X us, p99 Y us, p99.9 Z us
                let parts = line.split(separator: " ")
                let values = ["p50", "p99", "p99.9"].compactMap { key in parts.firstIndex(of: Substring(key)).flatMap { Double(parts[$0 + 1]) } }
                if values.count == 3 { perRun.append(values) }
            }
            try #require(perRun.count == 3, "three runs with percentiles: \(lines)")
            for (i, key) in ["latency_p50_us", "latency_p99_us", "latency_p999_us"].enumerated() {
                let median = perRun.map { $0[i] }.sorted()[1]
                let reported = try #require(result[key] as? Double)
                #expect(abs(reported - median) < 0.051, "\(key): \(reported) is not the median of \(perRun.map { $0[i] })")
            }
        }

        @Test func anUnknownRunFlagIsRefused() throws {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["bench", "latency", "--run-flag", "no-such-flag=1", "--data-dir", directory.path("data")], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(30)) != .exited(0))
            #expect(sluice.standardError().contains("no-such-flag"))
        }
    }
}
