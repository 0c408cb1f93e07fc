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
            usleep(300_000)  // a duplicate would have come by now
            let procids = rsyslog.messages().compactMap { $0["procid"] as? String }
            #expect(procids.count == count && Set(procids) == Set((0..<count).map { "\(1000 + $0)" }), "\(messages.count) messages")
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
    }
}
