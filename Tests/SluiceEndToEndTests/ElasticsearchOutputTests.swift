import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The `elasticsearch` output. No Elasticsearch server installs here, so it is tested
    /// against an endpoint written in the tests that answers as the bulk API documents
    /// (`BulkEndpoint`; the official Python client is run against it first, to show it answers
    /// as that client expects), and against a second Sluice node whose `http` input serves the
    /// bulk API.
    @Suite struct ElasticsearchOutput {
        static let count = 5_000

        @Test func thePythonClientReadsTheTestEndpointsAnswersAsElasticsearchs() throws {
            let directory = try TemporaryDirectory()
            let endpoint = try BulkEndpoint(flaky: true, in: directory)
            // streaming_bulk retries items answered 429 (only those), reports the others.
            let script = """
                import json
                from elasticsearch import Elasticsearch, helpers
                es = Elasticsearch("http://127.0.0.1:\(endpoint.port)", basic_auth=("elastic", "s3cret"))
                assert es.info()["version"]["number"] == "8.11.0"
                docs = [{"_index": "check", "_source": {"n": n}} for n in (1000002, 1000004, 1000001, "bad-x")]
                results = [(ok, list(item.values())[0]) for ok, item in helpers.streaming_bulk(
                    es, docs, max_retries=3, initial_backoff=0.05, raise_on_error=False, raise_on_exception=False)]
                print(json.dumps([[ok, item["status"], item.get("error", {}).get("type")] for ok, item in results]))
                """
            try script.write(toFile: directory.path("client.py"), atomically: true, encoding: .utf8)
            let output = directory.path("client.out")
            let status = try runClient("/bin/sh", ["-c", "python3 \(directory.path("client.py")) > \(output) 2>&1"])
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(printed)")
            let results = try JSONSerialization.jsonObject(with: Data(printed.utf8)) as? [[Any]] ?? []
            let summary = results.map { "\($0[0] as? Bool ?? false) \($0[1] as? Int ?? 0) \($0[2] as? String ?? "-")" }.sorted()
            #expect(summary == ["false 400 mapper_parsing_exception", "false 503 unavailable_shards_exception", "true 201 -", "true 201 -"], "\(printed)")
            // 1000002 was answered 429 once: the client sent it again alone.
            let requests = endpoint.requests()
            #expect(requests.count == 2 && requests[1].numbers == ["1000002"], "\(requests)")
        }

        @Test func onlyItemsAnswered429Or503AreSentAgainAndMappingErrorsGoToTheDeadLetterFile() throws {
            let directory = try TemporaryDirectory()
            let endpoint = try BulkEndpoint(flaky: true, in: directory)
            let input = directory.path("in.ndjson")
            let dead = directory.path("dead.ndjson")
            let extra = #"{"n":"bad-1"}"# + "\n" + #"{"n":"bad-2","kind":"X"}"# + "\n"
                + #"{"kind":"Web Shop","ts":"2024-03-04T05:06:07+02:00","msg":"dated"}"# + "\n"
            try (NumberedLines.bytes(0..<Self.count).data + Data(extra.utf8)).write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess(["run", "--admin", "off", "--batch-size", "200", "--input", "file:path=\(input)", "--output",
                                            "elasticsearch:url=http://127.0.0.1:\(endpoint.port)/,index=logs-${kind}-%Y.%m.%d,time-field=ts,"
                                            + "compression=gzip,user=elastic,password=s3cret,dead-letter=\(dead)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let tally = NumberTally(file: endpoint.acceptedPath, expected: Self.count)
            #expect(tally.missingCount == 0 && tally.duplicates == 0 && tally.malformedLines == 0, "\(tally)")
            // Every document was sent once, but those answered 429 or 503, sent exactly twice.
            var sent: [String: Int] = [:]
            for request in endpoint.requests() {
                #expect(request.path == "/_bulk" && request.encoding == "gzip" && request.authorization == "Basic ZWxhc3RpYzpzM2NyZXQ=")
                for n in request.numbers { sent[n, default: 0] += 1 }
            }
            let flaky = (0..<Self.count).filter { $0 % 7 == 3 || $0 % 11 == 5 }
            #expect(flaky.allSatisfy { sent["\($0)"] == 2 })
            #expect((0..<Self.count).filter { sent["\($0)"] != ($0 % 7 == 3 || $0 % 11 == 5 ? 2 : 1) }.isEmpty)
            #expect(sent["bad-1"] == 1 && sent["bad-2"] == 1)
            // Refused for good: in the dead-letter file with Elasticsearch's words.
            let letters = try jsonLines(dead)
            #expect(letters.compactMap { $0["event"] as? String }.sorted() == [#"{"n":"bad-1"}"#, #"{"n":"bad-2","kind":"X"}"#])
            for letter in letters {
                let reason = letter["reason"] as? String ?? ""
                #expect(reason.hasPrefix("item status 400: mapper_parsing_exception: failed to parse field [n] of type [long] in document with id '"), "\(reason)")
            }
            // The index from the pattern: the event's time and field, lower-cased, `_` for a space.
            let others = try jsonLines(endpoint.othersPath)
            #expect(others.map { $0["_index"] as? String } == ["logs-web_shop-2024.03.04"])
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == Self.count + 1, "\(summary)")
            #expect(summary.count("rejected") == 2 && summary.count("dead_lettered") == 2, "\(summary)")
            #expect(summary.count("output_retries") >= 1, "\(summary)")
            #expect(sluice.standardError().contains("item status 429: es_rejected_execution_exception"), "\(sluice.standardErrorTail())")
        }

        /// A second node with the `http` input (its Elasticsearch bulk API, answering once its
        /// own output has the events) is the Elasticsearch here; it starts only after the first
        /// node began sending, so the first one's requests are refused and retried meanwhile.
        @Test func aSluiceNodeServingTheBulkAPIGetsEveryEventWithItsIndex() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let input = directory.path("in.ndjson")
            try NumberedLines.bytes(0..<Self.count).data.write(to: URL(fileURLWithPath: input))
            let sender = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "elasticsearch:url=http://127.0.0.1:\(port),index=numbers-%Y,retry-max=200ms"], in: directory)
            try sender.waitForStandardError(containing: "reconnecting with backoff", within: .seconds(10))
            let received = directory.path("received.ndjson")
            let receiver = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port)",
                                              "--output", "file:path=\(received)"], in: directory)
            #expect(try sender.waitForExit(within: .seconds(60)) == .exited(0), "\(sender.standardErrorTail())")
            receiver.send(signal: SIGTERM)
            #expect(try receiver.waitForExit(within: .seconds(15)) == .exited(0))
            // The http input puts `_index` first in each document: take it off to tally the lines.
            let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).year!
            let prefix = #"{"_index":"numbers-\#(year)","#
            let text = try String(contentsOfFile: received, encoding: .utf8)
            let lines = text.split(separator: "\n")
            #expect(lines.allSatisfy { $0.hasPrefix(prefix) }, "\(lines.first ?? "")")
            let stripped = lines.map { "{" + $0.dropFirst(prefix.count) }.joined(separator: "\n") + "\n"
            var tally = NumberTally(expected: Self.count)
            Data(stripped.utf8).withUnsafeBytes { tally.add($0) }
            #expect(tally.missingCount == 0 && tally.duplicates == 0 && tally.malformedLines == 0, "\(tally)")
            #expect(try sender.summary().count("events_out") == Self.count)
        }

        /// The issue's outage at the test endpoint's pace: 200,000 numbered lines appended to a
        /// followed file at 12,500 a second; once 30,000 are taken the endpoint is killed (a
        /// request in flight gets no answer) for 10 s and started again on the same port. Every
        /// line is taken at least once; meanwhile nothing is acknowledged, the input pauses
        /// (what the node read and did not deliver stays within its pool), RSS stays flat, and
        /// /metrics counts the failed attempts.
        @Test func anEndpointDownForTenSecondsMidStreamGetsEveryEvent() throws {
            let directory = try TemporaryDirectory()
            let endpoint = try BulkEndpoint(flaky: false, in: directory)
            let input = directory.path("app.ndjson"), count = 200_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "file:path=\(input),follow=true", "--output",
                                                               "elasticsearch:url=http://127.0.0.1:\(endpoint.port),index=logs,retry-max=500ms"],
                                                              in: directory)
            let pid = try ProcessStatus.processID(of: sluice)
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(80))
            writer.start()
            try waitUntil("30,000 documents taken", within: .seconds(30), while: sluice) { lineCount(endpoint.acceptedPath) >= 30_000 }
            let rssBefore = try ProcessStatus.residentBytes(of: pid)
            endpoint.stop()
            let stopped = ContinuousClock.now
            var samples: [(inMinusOut: Double, out: Double, failures: Double, rss: Int)] = []
            while ContinuousClock.now - stopped < .seconds(10) {
                usleep(500_000)
                let page = try AdminHTTP.get(port: port, "/metrics").body
                let metric = { (name: String) in EndToEndTests.PostgresOutput.metric(page, name) }
                samples.append((metric("sluice_events_in_total") - metric("sluice_events_out_total"), metric("sluice_events_out_total"),
                                metric("sluice_output_errors_total") + metric("sluice_output_retries_total"), try ProcessStatus.residentBytes(of: pid)))
            }
            try endpoint.start()
            try writer.waitUntilDone(within: .seconds(60))
            try waitUntil("every event acknowledged", within: .seconds(60), while: sluice) {
                EndToEndTests.PostgresOutput.metric(try AdminHTTP.get(port: port, "/metrics").body, "sluice_events_out_total") >= Double(count)
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0), "\(sluice.standardErrorTail())")
            let tally = NumberTally(file: endpoint.acceptedPath, expected: count)
            let summary = try sluice.summary()
            recordMeasurement("endpoint down 10 s mid-stream: \(tally); during the outage events in − out \(samples.map { Int($0.inMinusOut) }), "
                + "failed attempts \(samples.map { Int($0.failures) }), RSS before \(rssBefore) B, during \(samples.map(\.rss).min() ?? 0)…\(samples.map(\.rss).max() ?? 0) B; \(summary)",
                named: "elasticsearch-outage")
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
            let late = samples.suffix(samples.count / 2)
            #expect(Set(late.map(\.out)).count == 1, "nothing acknowledged while the endpoint is down: \(samples.map(\.out))")
            #expect((late.last?.failures ?? 0) > (late.first?.failures ?? 0), "/metrics counts the retries: \(samples.map(\.failures))")
            #expect(late.allSatisfy { $0.inMinusOut <= 4_096 }, "the input pauses within the pool: \(samples.map(\.inMinusOut))")
            #expect(samples.allSatisfy { Double($0.rss) <= Double(rssBefore) * 1.10 }, "RSS before \(rssBefore) B, during \(samples.map(\.rss))")
            #expect(summary.count("events_out") == count, "\(summary)")
        }

        /// The node is SIGKILLed five times (300 ms to 2 s into each run) while 200,000 lines are
        /// appended to the followed file it reads with saved offsets: every line is taken at
        /// least once (the seed of the kill moments is printed, `SLUICE_E2E_SEED=N` repeats it).
        @Test func killedFiveTimesWhileAFollowedFileGrowsEveryLineIsTaken() throws {
            let directory = try TemporaryDirectory()
            let endpoint = try BulkEndpoint(flaky: false, in: directory)
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), count = 200_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let arguments = ["run", "--admin", "off", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms",
                             "--output", "elasticsearch:url=http://127.0.0.1:\(endpoint.port),index=logs"]
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(80))
            writer.start()
            let kills = try killRepeatedly(arguments, in: directory, times: 5, at: .randomly(milliseconds: 300...2_000)) { _ in
                "\(writer.linesWritten) lines written, \(lineCount(endpoint.acceptedPath)) taken"
            }
            let last = try lastRunCatchingUp(arguments, in: directory, input: input, offsets: offsets, writer: writer)
            let tally = NumberTally(file: endpoint.acceptedPath, expected: count)
            recordMeasurement("\(kills); last run: \(try last.summary()); \(tally)", named: "elasticsearch-kill-9")
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
        }
    }
}
