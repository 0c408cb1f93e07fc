import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The udp input against a Python socket sender: every datagram at a moderate rate, and a
    /// flood while the worker is stalled, where what the kernel drops is counted, not silent.
    @Suite struct UDPInput {
        static func python(_ script: String) throws -> Int32 { try runClient("/usr/bin/python3", ["-c", script]) }

        @Test func everyDatagramOfAModerateSenderArrivesOnceWithoutItsNewline() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "udp:listen=127.0.0.1:\(port)", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let count = 20_000
            #expect(try Self.python("""
                import socket, time
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(\(count)):
                    s.sendto(b'{"seq":%d,"pad":"%s"}\\n' % (i, b'x' * (i % 200)), ('127.0.0.1', \(port)))
                    if i % 500 == 499: time.sleep(0.02)
                """) == 0)
            try waitUntil("\(count) datagrams", within: .seconds(15), while: sluice) { (try? jsonLines(output).count) == count }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == count, "\(summary)")
            #expect(summary.count("datagrams_dropped") == 0, "\(summary)")
            let sequences = try jsonLines(output).compactMap { $0["seq"] as? Int }
            // One socket per worker: each sender's datagrams go to one of them, in order.
            #expect(sequences == Array(0..<count))
        }

        @Test func aFloodWhileTheWorkerIsStalledHasItsDropsCounted() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let admin = try LoopbackTCP.freePort()
            let sluice = try AdminHTTP.withEnvironment(["SLUICE_TEST_STALL_WORKER": "0", "SLUICE_TEST_STALL_AFTER_MS": "300", "SLUICE_TEST_STALL_FOR_MS": "2500"]) {
                try SluiceProcess(["run", "--workers", "1", "--admin", "127.0.0.1:\(admin)", "--input", "udp:listen=127.0.0.1:\(port)",
                                   "--output", "file:path=\(output)"], in: directory)
            }
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            usleep(500_000)
            let count = 50_000
            #expect(try Self.python("""
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(\(count)):
                    s.sendto(b'flood %d' % i + b' ' * 100, ('127.0.0.1', \(port)))
                """) == 0)
            var metrics = ""
            try waitUntil("every datagram received or counted dropped", within: .seconds(20), while: sluice) {
                metrics = (try? AdminHTTP.get(port: admin, "/metrics").body) ?? ""
                let value = { (name: String) -> Int in
                    metrics.split(separator: "\n").filter { $0.hasPrefix(name) }.compactMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }.reduce(0, +)
                }
                return value("sluice_events_in_total") + value("sluice_datagrams_dropped_total") == count
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let summary = try sluice.summary()
            #expect(summary.count("datagrams_dropped") > 0, "\(summary)")
            #expect(summary.count("events_in") + summary.count("datagrams_dropped") == count, "\(summary)")
            #expect(try jsonLinesCount(output) == summary.count("events_in"))
        }

        /// A flood of more datagrams than the pool can take while the output is held back (its
        /// receiver reads nothing): the input stops reading once every event is taken, the
        /// kernel drops what overflows the socket's queue, and /metrics counts it while it
        /// happens. Every datagram is either delivered or counted dropped, and the datagrams
        /// of a sender after the flood all arrive.
        @Test func aFloodBeyondThePoolWhileTheOutputIsHeldBackHasEveryLossCountedInMetrics() throws {
            let directory = try TemporaryDirectory()
            let port = try LoopbackTCP.freePort()
            let admin = try LoopbackTCP.freePort()
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.stopReading()
            let sluice = try SluiceProcess(["run", "--workers", "1", "--pool-capacity", "1024", "--admin", "127.0.0.1:\(admin)",
                                            "--input", "udp:listen=127.0.0.1:\(port)",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let flood = 200_000
            #expect(try Self.python("""
                import socket
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(\(flood)):
                    s.sendto(b'{"flood":%d,"pad":"%s"}' % (i, b'x' * 80), ('127.0.0.1', \(port)))
                """) == 0)
            func metric(_ name: String) -> Int {
                let text = (try? AdminHTTP.get(port: admin, "/metrics").body) ?? ""
                return text.split(separator: "\n").filter { $0.hasPrefix(name) }
                    .compactMap { Double($0.split(separator: " ").last ?? "") }.map { Int($0) }.reduce(0, +)
            }
            // Still held back: the loss is already in /metrics, not only at exit.
            try waitUntil("drops in /metrics", within: .seconds(20), while: sluice) { metric("sluice_datagrams_dropped_total") > 0 }
            #expect(receiver.receivedBytes < 1024 * 100, "the output was not held back: \(receiver.receivedBytes) bytes")
            receiver.resumeReading()
            try waitUntil("every datagram delivered or counted dropped", within: .seconds(30), while: sluice) {
                metric("sluice_events_in_total") + metric("sluice_datagrams_dropped_total") == flood
            }
            let after = 2_000
            #expect(try Self.python("""
                import socket, time
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                for i in range(\(after)):
                    s.sendto(b'{"after":%d}' % i, ('127.0.0.1', \(port)))
                    if i % 200 == 199: time.sleep(0.02)
                """) == 0)
            try waitUntil("the later sender's datagrams", within: .seconds(20), while: sluice) {
                metric("sluice_events_out_total") == metric("sluice_events_in_total") && metric("sluice_events_in_total") + metric("sluice_datagrams_dropped_total") == flood + after
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            receiver.stop()
            let summary = try sluice.summary()
            let dropped = summary.count("datagrams_dropped")
            #expect(dropped > 0 && summary.count("events_in") + dropped == flood + after, "\(summary)")
            let lines = String(decoding: receiver.receivedData(), as: UTF8.self).split(separator: "\n")
            #expect(lines.count == summary.count("events_in"), "\(lines.count) lines delivered, \(summary)")
            let later = lines.filter { $0.hasPrefix("{\"after\":") }
            #expect(later.count == after, "\(later.count) of the later sender's \(after) datagrams")
            #expect(Set(lines.filter { $0.hasPrefix("{\"flood\":") }).count == flood - dropped)
        }

        func jsonLinesCount(_ path: String) throws -> Int {
            try Data(contentsOf: URL(fileURLWithPath: path)).reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        }
    }

    /// The unix input against Python sockets and `logger -u`, in both modes: the socket file is
    /// created with its permissions and removed at stop.
    @Suite struct UnixInput {
        @Test func streamAndDatagramSocketsDeliverEveryRecordAndLeaveNoFileBehind() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let stream = directory.path("stream.sock"), dgram = directory.path("dgram.sock")
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "unix:path=\(stream)",
                                            "--input", "unix:path=\(dgram),mode=dgram,permissions=0600", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            var info = stat()
            #expect(stat(stream, &info) == 0 && info.st_mode & 0o7777 == 0o660 && info.st_mode & S_IFMT == S_IFSOCK)
            #expect(stat(dgram, &info) == 0 && info.st_mode & 0o7777 == 0o600)
            #expect(try runClient("/usr/bin/python3", ["-c", """
                import socket
                for c in range(2):
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect('\(stream)')
                    s.sendall(b''.join(b'stream %d %d\\n' % (c, i) for i in range(1000)))
                    s.close()
                d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                for i in range(1000):
                    d.sendto(b'dgram %d\\n' % i, '\(dgram)')
                """]) == 0)
            let lines = (0..<100).map { "logger \($0)" }.joined(separator: "\n") + "\n"
            #expect(try runClient("/usr/bin/logger", ["-u", stream, "--tcp", "--socket-errors=on", "-t", "lstream"], input: Data(lines.utf8)) == 0)
            #expect(try runClient("/usr/bin/logger", ["-u", dgram, "--udp", "--socket-errors=on", "-t", "ldgram"], input: Data(lines.utf8)) == 0)
            let total = 2000 + 1000 + 200
            try waitUntil("\(total) records", within: .seconds(10), while: sluice) { fileSize(output) > 0 && (try? String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").count) == total }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == total, "\(summary)")
            let records = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
            for c in 0..<2 { #expect(records.filter { $0.hasPrefix("stream \(c) ") } == (0..<1000).map { "stream \(c) \($0)" }) }
            #expect(records.filter { $0.hasPrefix("dgram ") } == (0..<1000).map { "dgram \($0)" })
            #expect(records.filter { $0.hasSuffix("lstream: logger 7") }.count == 1, "\(records.filter { $0.contains("lstream") }.prefix(3))")
            #expect(records.filter { $0.contains("ldgram: logger ") }.count == 100)
            #expect(!FileManager.default.fileExists(atPath: stream) && !FileManager.default.fileExists(atPath: dgram))
        }

        @Test func aFileInTheWayIsASetupErrorAndALongPathAParameterError() throws {
            let directory = try TemporaryDirectory()
            let inTheWay = directory.path("plain")
            try "x".write(toFile: inTheWay, atomically: false, encoding: .utf8)
            let blocked = try SluiceProcess(["run", "--admin", "off", "--input", "unix:path=\(inTheWay)", "--output", "devnull"], in: directory)
            #expect(try blocked.waitForExit(within: .seconds(10)) != .exited(0))
            #expect(blocked.standardError().contains("not a socket"), "\(blocked.standardError())")
            #expect(FileManager.default.fileExists(atPath: inTheWay))
            let long = try SluiceProcess(["run", "--admin", "off", "--input", "unix:path=/tmp/\(String(repeating: "a", count: 120))", "--output", "devnull"], in: directory)
            #expect(try long.waitForExit(within: .seconds(10)) == .exited(2))
            #expect(long.standardError().contains("path"), "\(long.standardError())")
        }
    }
}
