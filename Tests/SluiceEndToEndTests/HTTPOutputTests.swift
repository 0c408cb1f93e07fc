import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The `http` output against Python `http.server` receivers (a generic endpoint has no single
    /// real server): each run reads a file of numbered lines and must deliver every line to the
    /// receiver's acknowledged set, whatever the receiver does first.
    @Suite struct HTTPOutput {
        static let count = 5_000

        /// Runs a node reading `count` numbered lines (plus `extra` lines) into `http:url=…,options`
        /// until it exits by itself (the file is read to its end and everything acknowledged).
        static func deliver(to receiver: HTTPReceiver, options: String, in directory: TemporaryDirectory,
                            extra: String = "") throws -> (SluiceProcess, NumberTally) {
            let input = directory.path("in.ndjson")
            let data = NumberedLines.bytes(0..<count).data + Data(extra.utf8)
            try data.write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)",
                                            "--output", "http:url=http://127.0.0.1:\(receiver.port)/ingest?x=1" + (options.isEmpty ? "" : "," + options)],
                                           in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            return (sluice, NumberTally(file: receiver.acceptedPath, expected: count))
        }

        @Test func everyLineArrivesOnceGzippedWithTheHeadersGivenOverOneKeptAliveConnection() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.ok, in: directory)
            let (sluice, tally) = try Self.deliver(to: receiver, options: "compression=gzip,header=X-Test:yes", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0 && tally.malformedLines == 0, "\(tally)")
            let requests = receiver.requests()
            #expect(requests.count >= 2, "chunked and Content-Length answers both read")
            #expect(requests.allSatisfy { $0.encoding == "gzip" && $0.header == "yes" && $0.path == "/ingest?x=1" })
            #expect(requests.reduce(0) { $0 + $1.lines } == Self.count)
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == Self.count)
            #expect(summary.count("output_errors") == 0)
        }

        @Test func aJSONArrayBodyCompressedWithZstdCarriesEveryEvent() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.ok, in: directory)
            let (_, tally) = try Self.deliver(to: receiver, options: "format=json-array,compression=zstd", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            #expect(receiver.requests().allSatisfy { $0.encoding == "zstd" })
        }

        @Test func a429IsRetriedNoSoonerThanItsRetryAfter() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.retryAfter, in: directory)
            let (sluice, tally) = try Self.deliver(to: receiver, options: "", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            let requests = receiver.requests()
            #expect(requests.count >= 2)
            if requests.count >= 2 { #expect(requests[1].time - requests[0].time >= 0.95, "Retry-After: 1 honoured") }
            #expect(try sluice.summary().count("output_retries") == 1)
            #expect(sluice.standardError().contains("HTTP 429: slow down; retrying with backoff, events held"))
        }

        @Test func a500IsRetriedAndTheBatchThenAcknowledged() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.failOnce, in: directory)
            let (sluice, tally) = try Self.deliver(to: receiver, options: "", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            #expect(try sluice.summary().count("output_retries") == 1)
        }

        @Test func aServerThatNeverAnswersTimesOutAndTheRequestIsSentAgain() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.silentOnce, in: directory)
            let (sluice, tally) = try Self.deliver(to: receiver, options: "timeout=3s", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            let requests = receiver.requests()
            #expect(requests.count >= 2)
            if requests.count >= 2 { #expect(requests[1].lines == requests[0].lines, "the unanswered batch is the one sent again") }
            #expect(try sluice.summary().count("output_timeouts") == 1)
        }

        @Test func aConnectionClosedInTheMiddleOfTheAnswerSendsTheBatchAgain() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.closeMid, in: directory)
            let (sluice, tally) = try Self.deliver(to: receiver, options: "", in: directory)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            #expect(sluice.standardError().contains("connection closed in the middle of a response"))
            #expect(try sluice.summary().count("output_errors") >= 1)
        }

        @Test func eventsA400RefusesGoToTheDeadLetterFileAndTheRestOfTheirBatchIsDelivered() throws {
            let directory = try TemporaryDirectory()
            let receiver = try HTTPReceiver(.reject, in: directory)
            let dead = directory.path("dead.ndjson")
            let (sluice, tally) = try Self.deliver(to: receiver, options: "dead-letter=\(dead)", in: directory,
                                                   extra: "{\"n\":\"REFUSE1\"}\n{\"n\":\"REFUSE2\"}\n")
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            let lines = try String(contentsOfFile: dead, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            for (line, name) in zip(lines, ["REFUSE1", "REFUSE2"]) {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                #expect(object?["reason"] as? String == "HTTP 400: field n: cannot parse 'bad' second line")
                #expect(object?["event"] as? String == "{\"n\":\"\(name)\"}")
            }
            let summary = try sluice.summary()
            #expect(summary.count("rejected") == 2 && summary.count("dead_lettered") == 2)
            #expect(summary.count("events_out") == Self.count)
        }
    }
}
