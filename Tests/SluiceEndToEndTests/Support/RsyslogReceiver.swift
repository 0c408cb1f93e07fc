import Foundation
import Glibc

/// rsyslogd in the foreground (`-n -f CONF -i PIDFILE`, its own work directory, only the
/// modules this needs) receiving on 127.0.0.1 with `imtcp` (newline and octet-counted framing
/// both) and `imudp`, and writing every message it parsed as a JSON line of its own properties
/// (`pri`, `timestamp`, `hostname`, `app_name`, `procid`, `msgid`, `structured_data` as
/// received, `message`, `protocol`: 1 for RFC 5424, 0 for RFC 3164) to `received.json`.
final class RsyslogReceiver {
    static let binary = "/usr/sbin/rsyslogd"
    let tcpPort: UInt16
    let udpPort: UInt16
    let outputPath: String
    private let process = Process()

    init(in directory: TemporaryDirectory, tcpPort: UInt16? = nil, udpPort: UInt16? = nil) throws {
        self.tcpPort = try tcpPort ?? LoopbackTCP.freePort()
        self.udpPort = try udpPort ?? LoopbackTCP.freePort()
        outputPath = directory.path("received.json")
        let work = directory.path("rsyslog-work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let configuration = """
            global(workDirectory="\(work)" maxMessageSize="64k")
            module(load="imtcp")
            module(load="imudp")
            input(type="imtcp" port="\(self.tcpPort)" address="127.0.0.1")
            input(type="imudp" port="\(self.udpPort)" address="127.0.0.1" rcvbufSize="8m")
            template(name="fields" type="list" option.jsonf="on") {
              property(outname="pri" name="pri" format="jsonf")
              property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
              property(outname="hostname" name="hostname" format="jsonf")
              property(outname="app_name" name="app-name" format="jsonf")
              property(outname="procid" name="procid" format="jsonf")
              property(outname="msgid" name="msgid" format="jsonf")
              property(outname="structured_data" name="structured-data" format="jsonf")
              property(outname="message" name="msg" format="jsonf")
              property(outname="protocol" name="protocol-version" format="jsonf")
            }
            action(type="omfile" file="\(outputPath)" template="fields")
            """
        let path = directory.path("rsyslog.conf")
        try configuration.write(toFile: path, atomically: false, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["-n", "-f", path, "-i", directory.path("rsyslog.pid")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Listening once the TCP port is taken.
        try waitUntil("rsyslogd listening on \(self.tcpPort)", within: .seconds(10)) { !LoopbackTCP.isFree(port: self.tcpPort) }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The messages written so far (rsyslog writes whole lines).
    func messages() -> [[String: Any]] { (try? jsonLines(outputPath)) ?? [] }

    func waitForMessages(_ count: Int, within timeout: Duration = .seconds(30)) throws -> [[String: Any]] {
        try waitUntil("\(count) messages in rsyslog's file", within: timeout) { messages().count >= count }
        return messages()
    }
}
