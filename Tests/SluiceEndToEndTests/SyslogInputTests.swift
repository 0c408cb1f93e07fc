import Foundation
import Glibc
import Testing

/// Runs a real client (`logger`, `python3`, `rsyslogd`) to its end, `input` on its stdin; its
/// exit status. Killed after `timeout`.
@discardableResult
func runClient(_ path: String, _ arguments: [String], input: Data? = nil, timeout: Duration = .seconds(60)) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : pipe
    try process.run()
    if let input {
        try pipe.fileHandleForWriting.write(contentsOf: input)
        try pipe.fileHandleForWriting.close()
    }
    let deadline = ContinuousClock.now + timeout
    while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    return process.terminationStatus
}

/// The JSON objects of an NDJSON file.
func jsonLines(_ path: String) throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try data.split(separator: UInt8(ascii: "\n")).map {
        guard let object = try JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] else {
            throw SluiceProcess.Failure(description: "not a JSON object: \(String(decoding: $0, as: UTF8.self))")
        }
        return object
    }
}

extension EndToEndTests {
    /// The syslog input against the real senders: util-linux `logger` (RFC 5424 and RFC 3164,
    /// TCP with octet counting or newline framing, UDP) and rsyslogd forwarding with `omfwd`
    /// (octet-counted), started here in a temporary directory; and hostile senders beside a
    /// normal one.
    @Suite struct SyslogInput {
        static let messagesPerClient = 500

        func startNode(_ directory: TemporaryDirectory, _ input: String, output: String) throws -> SluiceProcess {
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", input, "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            return sluice
        }

        func stop(_ sluice: SluiceProcess) throws -> ExitSummary {
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            return try sluice.summary()
        }

        @Test(arguments: [
            ["--rfc5424", "--tcp", "--octet-count"], ["--rfc5424", "--tcp"], ["--rfc3164", "--tcp"], ["--rfc3164", "--tcp", "--octet-count"],
        ])
        func everyMessageOfLoggerOverTCPArrivesParsed(_ flags: [String]) throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try startNode(directory, "syslog:listen=127.0.0.1:\(port)", output: output)
            let lines = (0..<Self.messagesPerClient).map { "message \($0) with \"quotes\" and ünïcode" }.joined(separator: "\n") + "\n"
            let status = try runClient("/usr/bin/logger", flags + ["-n", "127.0.0.1", "-P", "\(port)", "-t", "myapp", "-p", "local3.warning",
                                                                   "--id=4242"], input: Data(lines.utf8))
            #expect(status == 0)
            try waitUntil("\(Self.messagesPerClient) messages", within: .seconds(10), while: sluice) { (try? jsonLines(output).count) == Self.messagesPerClient }
            let summary = try stop(sluice)
            #expect(summary.count("events_in") == Self.messagesPerClient, "\(summary)")
            #expect(summary.count("syslog_parse_errors") == 0, "\(summary)")
            let events = try jsonLines(output)
            #expect(events.count == Self.messagesPerClient)
            for (i, e) in events.enumerated() {
                #expect(e["message"] as? String == "message \(i) with \"quotes\" and ünïcode", "\(e)")
                #expect(e["app_name"] as? String == "myapp")
                #expect(e["procid"] as? String == "4242")
                #expect(e["facility"] as? String == "local3")
                #expect(e["severity"] as? String == "warning")
                #expect((e["hostname"] as? String)?.isEmpty == false)
                #expect((e["timestamp"] as? String).map { $0.count >= 20 && $0.dropFirst(4).hasPrefix("-") } == true, "\(e)")
                if flags.contains("--rfc5424") {
                    #expect((e["structured_data"] as? [String: Any])?["timeQuality"] != nil, "\(e)")
                }
            }
        }

        @Test func everyMessageOfLoggerOverUDPArrivesParsed() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try startNode(directory, "syslog:listen=127.0.0.1:\(port),transport=udp", output: output)
            for format in ["--rfc5424", "--rfc3164"] {
                let lines = (0..<100).map { "\(format) datagram \($0)" }.joined(separator: "\n") + "\n"
                #expect(try runClient("/usr/bin/logger", [format, "--udp", "-n", "127.0.0.1", "-P", "\(port)", "-t", "udpapp", "--sd-id", "x@1",
                                                          "--sd-param", #"k="v""#].filter { format == "--rfc5424" || !$0.contains("x@1") && !$0.contains("k=") && $0 != "--sd-id" && $0 != "--sd-param" },
                                      input: Data(lines.utf8)) == 0)
            }
            try waitUntil("200 messages", within: .seconds(10), while: sluice) { (try? jsonLines(output).count) == 200 }
            let summary = try stop(sluice)
            #expect(summary.count("events_in") == 200, "\(summary)")
            let events = try jsonLines(output)
            let messages = Set(events.compactMap { $0["message"] as? String })
            #expect(messages == Set((0..<100).flatMap { ["--rfc5424 datagram \($0)", "--rfc3164 datagram \($0)"] }))
            #expect(events.allSatisfy { $0["app_name"] as? String == "udpapp" && $0["parse_error"] == nil })
            #expect(events.filter { ($0["structured_data"] as? [String: [String: String]])?["x@1"] == ["k": "v"] }.count == 100)
        }

        /// rsyslogd in the foreground with only the modules this needs (imfile, omfwd): no
        /// /dev/log, no kernel log, its own work directory.
        @Test func everyLineRsyslogForwardsOctetCountedArrivesParsed() throws {
            let rsyslogd = "/usr/sbin/rsyslogd"
            try #require(FileManager.default.isExecutableFile(atPath: rsyslogd), "rsyslog is not installed (apt-get install rsyslog)")
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try startNode(directory, "syslog:listen=127.0.0.1:\(port),format=rfc5424", output: output)
            let source = directory.path("app.log")
            let count = 2000
            let lines = (0..<count).map { "rsyslog line \($0) [with] \"brackets\"" }
            try (lines[..<1000].joined(separator: "\n") + "\n").write(toFile: source, atomically: false, encoding: .utf8)
            try FileManager.default.createDirectory(atPath: directory.path("work"), withIntermediateDirectories: true)
            let configuration = """
                global(workDirectory="\(directory.path("work"))")
                module(load="imfile" mode="polling" PollingInterval="1")
                input(type="imfile" File="\(source)" Tag="fileapp" Facility="local5" Severity="info")
                action(type="omfwd" target="127.0.0.1" port="\(port)" protocol="tcp" TCP_Framing="octet-counted"
                       template="RSYSLOG_SyslogProtocol23Format")
                """
            try configuration.write(toFile: directory.path("rsyslog.conf"), atomically: false, encoding: .utf8)
            let daemon = Process()
            daemon.executableURL = URL(fileURLWithPath: rsyslogd)
            daemon.arguments = ["-n", "-f", directory.path("rsyslog.conf"), "-i", directory.path("rsyslog.pid")]
            daemon.standardOutput = FileHandle.nullDevice
            try daemon.run()
            defer {
                if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
                daemon.waitUntilExit()
            }
            let handle = try #require(FileHandle(forWritingAtPath: source))
            handle.seekToEndOfFile()
            handle.write(Data((lines[1000...].joined(separator: "\n") + "\n").utf8))
            try handle.close()
            try waitUntil("\(count) forwarded lines", within: .seconds(30), while: sluice) { (try? jsonLines(output).count) ?? 0 >= count }
            kill(daemon.processIdentifier, SIGTERM)
            let summary = try stop(sluice)
            #expect(summary.count("events_in") == count, "\(summary)")
            #expect(summary.count("syslog_parse_errors") == 0, "\(summary)")
            let events = try jsonLines(output)
            #expect(events.compactMap { $0["message"] as? String } == lines)
            #expect(events.allSatisfy { $0["app_name"] as? String == "fileapp" && $0["facility"] as? String == "local5" && $0["severity"] as? String == "info" })
        }

        /// syslog-ng in the foreground (`-F`, its own persist, pid and control files, no
        /// capabilities), reading a file the test writes and sending with its `syslog()`
        /// destination (RFC 5424, octet-counted). Debian's syslog-ng-core conflicts with rsyslog
        /// (both are the system log daemon), so where rsyslog is installed the package is
        /// unpacked under /opt/syslog-ng (`.ci/run`) and run from there.
        @Test func everyLineSyslogNGSendsWithItsSyslogDestinationArrivesParsed() throws {
            let prefix = FileManager.default.isExecutableFile(atPath: "/usr/sbin/syslog-ng") ? "" : "/opt/syslog-ng"
            let binary = prefix + "/usr/sbin/syslog-ng"
            try #require(FileManager.default.isExecutableFile(atPath: binary), "syslog-ng is not installed (see .ci/run)")
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try startNode(directory, "syslog:listen=127.0.0.1:\(port)", output: output)
            let source = directory.path("app.log")
            let count = 2000
            let lines = (0..<count).map { "syslog-ng line \($0) with \\ and ]" }
            try (lines.joined(separator: "\n") + "\n").write(toFile: source, atomically: false, encoding: .utf8)
            let configuration = """
                @version: 3.38
                source s_file { file("\(source)" program-override("ngapp") flags(no-parse) follow-freq(1)); };
                destination d_sluice { syslog("127.0.0.1" transport("tcp") port(\(port))); };
                log { source(s_file); destination(d_sluice); };
                """
            try configuration.write(toFile: directory.path("syslog-ng.conf"), atomically: false, encoding: .utf8)
            let daemon = Process()
            daemon.executableURL = URL(fileURLWithPath: binary)
            daemon.arguments = ["-F", "-f", directory.path("syslog-ng.conf"), "-R", directory.path("persist"), "-p", directory.path("pid"),
                                "-c", directory.path("ctl"), "--no-caps"] + (prefix.isEmpty ? [] : ["--module-path=\(prefix)/usr/lib/syslog-ng/3.38"])
            if !prefix.isEmpty { daemon.environment = ["LD_LIBRARY_PATH": "\(prefix)/usr/lib/syslog-ng"] }
            daemon.standardOutput = FileHandle.nullDevice
            daemon.standardError = FileHandle.nullDevice
            try daemon.run()
            defer {
                if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) }
                daemon.waitUntilExit()
            }
            try waitUntil("\(count) lines from syslog-ng", within: .seconds(30), while: sluice) { (try? jsonLines(output).count) ?? 0 >= count }
            kill(daemon.processIdentifier, SIGTERM)
            let summary = try stop(sluice)
            #expect(summary.count("events_in") == count, "\(summary)")
            #expect(summary.count("syslog_parse_errors") == 0, "\(summary)")
            let events = try jsonLines(output)
            #expect(events.compactMap { $0["message"] as? String } == lines)
            #expect(events.allSatisfy { $0["app_name"] as? String == "ngapp" && ($0["structured_data"] as? [String: Any])?["meta"] != nil })
        }

        /// Hostile connections (bad PRI, truncated headers, binary garbage, an octet count longer
        /// than the data, a count of 10^12) while a normal client sends: every normal message
        /// arrives, every bad one is kept with parse_error, and only the connection with the
        /// impossible count is closed (framing_errors).
        @Test func hostileSendersAreKeptOrClosedWhileANormalClientLosesNothing() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try startNode(directory, "syslog:listen=127.0.0.1:\(port)", output: output)
            func send(_ bytes: [UInt8]) throws {
                let fd = try LoopbackTCP.connect(port: port)
                defer { close(fd) }
                try bytes.withUnsafeBytes { try LoopbackTCP.sendAll(fd, $0) }
            }
            let normal = try LoopbackTCP.connect(port: port)
            func sendNormal(_ range: Range<Int>) throws {
                var bytes: [UInt8] = []
                for i in range {
                    let message = "<14>1 2026-12-04T10:00:00Z host normal - - - normal \(i)"
                    bytes += Array("\(message.utf8.count) \(message)".utf8)
                }
                try bytes.withUnsafeBytes { try LoopbackTCP.sendAll(normal, $0) }
            }
            try sendNormal(0..<500)
            let bad = ["<999>1 - - - - - - bad pri", "<13>1 2026-12-04T10:00:00Z host", "<13>", "no pri at all"]
            try send(Array(bad.joined(separator: "\n").utf8) + [10])
            var garbage = [UInt8](repeating: 0, count: 3000)
            for i in garbage.indices { garbage[i] = UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13) }
            garbage[0] = UInt8(ascii: "<")  // newline-framed garbage, whatever it holds
            try send(garbage)
            try send(Array("1000 <13>1 - h a - - - longer count than data".utf8))
            try sendNormal(500..<1000)
            try send(Array("1000000000000 <13>1 - h a - - - an impossible count".utf8) + [UInt8](repeating: 65, count: 10_000))
            try sendNormal(1000..<1500)
            close(normal)
            try waitUntil("the normal client's 1500 messages", within: .seconds(10), while: sluice) {
                ((try? jsonLines(output)) ?? []).filter { ($0["hostname"] as? String) == "host" && ($0["app_name"] as? String) == "normal" }.count == 1500
            }
            let summary = try stop(sluice)
            #expect(summary.count("framing_errors") == 1, "\(summary)")
            let events = try jsonLines(output)
            let normalMessages = events.filter { $0["app_name"] as? String == "normal" }.compactMap { $0["message"] as? String }
            #expect(normalMessages == (0..<1500).map { "normal \($0)" })
            let unparsed = events.filter { $0["parse_error"] != nil }.compactMap { $0["message"] as? String }
            for b in bad { #expect(unparsed.contains(b), "\(b) not kept: \(unparsed)") }
            #expect(unparsed.contains { $0.hasPrefix("<") && $0.count > 100 }, "the garbage was not kept")
            // The count longer than the data: its bytes, delivered partial when the sender closed.
            #expect(events.contains { ($0["message"] as? String) == "longer count than data" })
            #expect(summary.count("partial_records") >= 1, "\(summary)")
            #expect(summary.count("connections_accepted") == 5, "\(summary)")
        }
    }
}
