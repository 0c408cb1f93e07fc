import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The `syslog` output against rsyslogd (`RsyslogReceiver`): every event arrives once with
    /// the fields it was rendered from, over TCP (octet counting and newline framing, RFC 5424
    /// and RFC 3164) and UDP; and a round trip through Sluice's own syslog input.
    @Suite struct SyslogOutput {
        static let count = 2_000
        static let severities = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

        /// Event `i`: the syslog input's field names, with quotes, backslashes, brackets and
        /// non-ASCII in the message and in a structured-data value.
        static func event(_ i: Int) -> [String: Any] {
            [
                "n": i, "timestamp": "2024-05-06T07:08:\(String(format: "%02d", i % 60)).123456Z", "hostname": "host-\(i % 3)",
                "app_name": "app\(i % 5)", "procid": "\(1000 + i)", "msgid": "ID\(i % 7)", "facility": "local\(i % 8)",
                "severity": severities[i % 8], "structured_data": ["meta@32473": ["n": "\(i)", "q": "a\"b]c\\d é"]],
                "message": "message \(i) with \"quotes\" \\ back ] bracket ünïcode",
            ]
        }

        static func writeEvents(_ range: Range<Int>, to path: String, extra: String = "") throws {
            var text = ""
            for i in range {
                text += String(decoding: try JSONSerialization.data(withJSONObject: event(i), options: [.sortedKeys]), as: UTF8.self) + "\n"
            }
            try (text + extra).write(toFile: path, atomically: false, encoding: .utf8)
        }

        /// What rsyslog must have parsed out of event `i`'s message.
        static func expectReceived(_ m: [String: Any], _ i: Int, format: String) {
            let e = event(i)
            #expect(m["pri"] as? String == "\((16 + i % 8) * 8 + i % 8)", "\(m)")
            #expect(m["hostname"] as? String == e["hostname"] as? String)
            #expect(m["app_name"] as? String == e["app_name"] as? String)
            #expect(m["procid"] as? String == e["procid"] as? String)
            if format == "rfc5424" {
                #expect(m["protocol"] as? String == "1")
                #expect(m["timestamp"] as? String == e["timestamp"] as? String)
                #expect(m["msgid"] as? String == e["msgid"] as? String)
                #expect(m["structured_data"] as? String == #"[meta@32473 n="\#(i)" q="a\"b\]c\\d é"]"#, "\(m)")
                #expect(m["message"] as? String == e["message"] as? String)
            } else {
                // RFC 3164 carries no year, zone or fraction; rsyslog keeps the space after `TAG:`.
                #expect(m["protocol"] as? String == "0")
                #expect((m["timestamp"] as? String ?? "").contains("-05-06T07:08:\(String(format: "%02d", i % 60))"), "\(m)")
                #expect(m["message"] as? String == " " + (e["message"] as? String ?? ""))
            }
        }

        /// Sluice starts first (its connection is refused and retried), rsyslogd after.
        @Test(arguments: [("rfc5424", "octet"), ("rfc5424", "lf"), ("rfc3164", "lf"), ("rfc3164", "octet")])
        func everyEventArrivesInRsyslogOverTCPWithItsFields(_ format: String, _ framing: String) throws {
            try #require(FileManager.default.isExecutableFile(atPath: RsyslogReceiver.binary), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson")
            try Self.writeEvents(0..<Self.count, to: input)
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "syslog:address=127.0.0.1:\(port),format=\(format),framing=\(framing),reconnect-max=200ms"], in: directory)
            try sluice.waitForStandardError(containing: "reconnecting with backoff", within: .seconds(10))
            let rsyslog = try RsyslogReceiver(in: directory, tcpPort: port)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let messages = try rsyslog.waitForMessages(Self.count)
            #expect(messages.count == Self.count)
            // One connection per worker: the order holds within each, so match by the procid.
            var seen = Set<Int>()
            for m in messages {
                guard let i = Int(m["procid"] as? String ?? "").map({ $0 - 1000 }), (0..<Self.count).contains(i) else {
                    Issue.record("unexpected message \(m)")
                    continue
                }
                seen.insert(i)
                Self.expectReceived(m, i, format: format)
            }
            #expect(seen.count == Self.count)
            #expect(try sluice.summary().count("events_out") == Self.count)
        }

        @Test func overUDPEachEventIsADatagramAndOneOverMaxSizeGoesToTheDeadLetterFile() throws {
            try #require(FileManager.default.isExecutableFile(atPath: RsyslogReceiver.binary), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let rsyslog = try RsyslogReceiver(in: directory)
            let input = directory.path("in.ndjson")
            let count = 500
            let big = #"{"message":"\#(String(repeating: "x", count: 10_000))","procid":"big"}"#
            try Self.writeEvents(0..<count, to: input, extra: big + "\n")
            let dead = directory.path("dead.ndjson")
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "syslog:address=127.0.0.1:\(rsyslog.udpPort),transport=udp,max-size=8KiB,dead-letter=\(dead)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let messages = try rsyslog.waitForMessages(count)
            #expect(Set(messages.compactMap { $0["procid"] as? String }) == Set((0..<count).map { "\(1000 + $0)" }))
            for m in messages { Self.expectReceived(m, Int(m["procid"] as! String)! - 1000, format: "rfc5424") }
            let letters = try jsonLines(dead)
            #expect(letters.count == 1 && letters.first?["reason"] as? String == "the syslog message is longer than max-size")
            #expect(letters.first?["event"] as? String == big)
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == count && summary.count("rejected") == 1 && summary.count("dead_lettered") == 1, "\(summary)")
        }

        /// UDP to a port nothing listens on: the ICMP "port unreachable" of a datagram makes a
        /// later send fail (ECONNREFUSED), so the events are held and sent again with backoff;
        /// once rsyslogd binds the port, every event arrives, once.
        @Test func overUDPAClosedPortHoldsTheEventsUntilAReceiverListens() throws {
            try #require(FileManager.default.isExecutableFile(atPath: RsyslogReceiver.binary), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson")
            let count = 600
            try Self.writeEvents(0..<count, to: input)
            let udpPort = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "syslog:address=127.0.0.1:\(udpPort),transport=udp"], in: directory)
            try sluice.waitForStandardError(containing: "ECONNREFUSED", within: .seconds(10))
            let rsyslog = try RsyslogReceiver(in: directory, udpPort: udpPort)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let messages = try rsyslog.waitForMessages(count)
            usleep(300_000)  // a late datagram would have come by now
            let procids = rsyslog.messages().compactMap { $0["procid"] as? String }
            // At least once: a round the closed port refused is sent again whole, so datagrams
            // that reached rsyslogd after it bound the port mid-round arrive twice.
            #expect(procids.count >= count && Set(procids) == Set((0..<count).map { "\(1000 + $0)" }), "\(messages.count) messages")
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == count && summary.count("output_errors") >= 1, "\(summary)")
        }

        /// Sluice's syslog output into Sluice's syslog input: the fields come back as they were.
        @Test(arguments: ["tcp", "udp"])
        func aRoundTripThroughSluicesSyslogInputKeepsEveryField(_ transport: String) throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let received = directory.path("received.ndjson")
            let receiver = try SluiceProcess(["run", "--admin", "off", "--input", "syslog:listen=127.0.0.1:\(port),transport=\(transport)",
                                              "--output", "file:path=\(received)"], in: directory)
            try receiver.waitForStandardError(containing: "started", within: .seconds(10))
            let input = directory.path("in.ndjson")
            let count = transport == "udp" ? 500 : Self.count
            try Self.writeEvents(0..<count, to: input)
            let sender = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "syslog:address=127.0.0.1:\(port),transport=\(transport)"], in: directory)
            #expect(try sender.waitForExit(within: .seconds(60)) == .exited(0), "\(sender.standardErrorTail())")
            try waitUntil("\(count) events back", within: .seconds(30), while: receiver) { (try? jsonLines(received).count) ?? 0 >= count }
            receiver.send(signal: SIGTERM)
            #expect(try receiver.waitForExit(within: .seconds(15)) == .exited(0))
            let events = try jsonLines(received)
            #expect(events.count == count)
            var seen = Set<Int>()
            for back in events {
                guard let i = Int(back["procid"] as? String ?? "").map({ $0 - 1000 }), (0..<count).contains(i) else {
                    Issue.record("unexpected event \(back)")
                    continue
                }
                seen.insert(i)
                var original = Self.event(i)
                original["n"] = nil
                let keys = ["timestamp", "hostname", "app_name", "procid", "msgid", "facility", "severity", "message"]
                for key in keys { #expect(back[key] as? String == original[key] as? String, "\(key): \(back)") }
                #expect(back["structured_data"] as? [String: [String: String]] == original["structured_data"] as? [String: [String: String]])
            }
            #expect(seen.count == count)
        }
        /// The issue's outage against rsyslogd: 200,000 numbered lines appended to a followed file
        /// at 12,500 a second; once 30,000 arrived rsyslogd is stopped (SIGTERM, as a service
        /// stop) for 10 s and started again on the same port. Every line arrives at least once;
        /// meanwhile nothing is acknowledged, the input pauses (what the node read and did not
        /// deliver stays within its pool), RSS stays flat, and /metrics counts the failed
        /// attempts.
        @Test func rsyslogStoppedForTenSecondsMidStreamGetsEveryEvent() throws {
            try #require(FileManager.default.isExecutableFile(atPath: RsyslogReceiver.binary), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let rsyslog = try RsyslogReceiver(in: directory)
            let input = directory.path("app.ndjson"), count = 200_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "file:path=\(input),follow=true", "--output",
                                                               "syslog:address=127.0.0.1:\(rsyslog.tcpPort),reconnect-max=500ms"], in: directory)
            let pid = try ProcessStatus.processID(of: sluice)
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(80))
            writer.start()
            try waitUntil("30,000 messages in rsyslog's file", within: .seconds(30), while: sluice) { lineCount(rsyslog.messagesPath) >= 30_000 }
            let rssBefore = try ProcessStatus.residentBytes(of: pid)
            let terminated = rsyslog.stop()
            let stopped = ContinuousClock.now
            var samples: [(inMinusOut: Double, out: Double, failures: Double, rss: Int)] = []
            while ContinuousClock.now - stopped < .seconds(10) {
                usleep(500_000)
                let page = try AdminHTTP.get(port: port, "/metrics").body
                let metric = { (name: String) in EndToEndTests.PostgresOutput.metric(page, name) }
                samples.append((metric("sluice_events_in_total") - metric("sluice_events_out_total"), metric("sluice_events_out_total"),
                                metric("sluice_output_errors_total") + metric("sluice_output_retries_total"), try ProcessStatus.residentBytes(of: pid)))
            }
            try rsyslog.start()
            try writer.waitUntilDone(within: .seconds(60))
            try waitUntil("every event acknowledged", within: .seconds(60), while: sluice) {
                EndToEndTests.PostgresOutput.metric(try AdminHTTP.get(port: port, "/metrics").body, "sluice_events_out_total") >= Double(count)
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0), "\(sluice.standardErrorTail())")
            try? waitUntil("rsyslogd wrote \(count) messages", within: .seconds(10)) { lineCount(rsyslog.messagesPath) >= count }
            let tally = NumberTally(file: rsyslog.messagesPath, expected: count)
            let summary = try sluice.summary()
            recordMeasurement("rsyslogd stopped 10 s mid-stream (\(terminated ? "SIGTERM" : "SIGKILL after SIGTERM did nothing in 5 s")): \(tally); "
                + "during the outage events in − out \(samples.map { Int($0.inMinusOut) }), failed attempts \(samples.map { Int($0.failures) }), "
                + "RSS before \(rssBefore) B, during \(samples.map(\.rss).min() ?? 0)…\(samples.map(\.rss).max() ?? 0) B; \(summary)",
                named: "syslog-outage")
            #expect(terminated, "rsyslogd stops on SIGTERM")
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
            let late = samples.suffix(samples.count / 2)
            #expect(Set(late.map(\.out)).count == 1, "nothing acknowledged while rsyslogd is down: \(samples.map(\.out))")
            #expect((late.last?.failures ?? 0) > (late.first?.failures ?? 0), "/metrics counts the retries: \(samples.map(\.failures))")
            #expect(late.allSatisfy { $0.inMinusOut <= 4_096 }, "the input pauses within the pool: \(samples.map(\.inMinusOut))")
            #expect(samples.allSatisfy { Double($0.rss) <= Double(rssBefore) * 1.10 }, "RSS before \(rssBefore) B, during \(samples.map(\.rss))")
            #expect(summary.count("events_out") == count, "\(summary)")
        }

        /// The node is SIGKILLed five times (300 ms to 2 s into each run) while 200,000 lines are
        /// appended to the followed file it reads with saved offsets: every line arrives in
        /// rsyslogd at least once (a kill may cut the frame being sent: at most one cut message
        /// per kill). The seed of the kill moments is printed, `SLUICE_E2E_SEED=N` repeats it.
        @Test func killedFiveTimesWhileAFollowedFileGrowsEveryLineArrives() throws {
            try #require(FileManager.default.isExecutableFile(atPath: RsyslogReceiver.binary), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let rsyslog = try RsyslogReceiver(in: directory)
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), count = 200_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let arguments = ["run", "--admin", "off", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms",
                             "--output", "syslog:address=127.0.0.1:\(rsyslog.tcpPort)"]
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(50))
            writer.start()
            let kills = try killRepeatedly(arguments, in: directory, times: 5, at: .randomly(milliseconds: 300...2_000)) { _ in
                "\(writer.linesWritten) lines written, \(lineCount(rsyslog.messagesPath)) messages"
            }
            let last = try lastRunCatchingUp(arguments, in: directory, input: input, offsets: offsets, writer: writer)
            // rsyslogd writes what it has (its queue may lag the node's exit on a loaded machine)
            try? waitUntil("every message in rsyslogd's file", within: .seconds(30)) {
                NumberTally(file: rsyslog.messagesPath, expected: count).missingCount == 0
            }
            let tally = NumberTally(file: rsyslog.messagesPath, expected: count)
            recordMeasurement("\(kills); last run: \(try last.summary()); \(tally)", named: "syslog-kill-9")
            #expect(tally.missingCount == 0, "\(tally)")
            #expect(tally.malformedLines <= 5, "at most one cut message per SIGKILL: \(tally)")
        }
    }
}
