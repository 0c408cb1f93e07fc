import Foundation
import Glibc

/// rsyslogd in the foreground (`-n -f CONF -i PIDFILE`, its own work directory, only the
/// modules this needs) receiving on 127.0.0.1 with `imtcp` (newline and octet-counted framing
/// both) and `imudp`, and writing every message it parsed as a JSON line of its own properties
/// (`pri`, `timestamp`, `hostname`, `app_name`, `procid`, `msgid`, `structured_data` as
/// received, `message`, `protocol`: 1 for RFC 5424, 0 for RFC 3164) to `received.json`, and
/// each message's text as a line to `messages.txt`.
final class RsyslogReceiver {
    static let binary = "/usr/sbin/rsyslogd"
    let tcpPort: UInt16
    let udpPort: UInt16
    let outputPath: String
    /// Each message's text alone, a line each (cheap to count and tally for large runs).
    let messagesPath: String
    private let configurationPath: String
    private let pidPath: String
    /// rsyslogd's process id while it runs, else 0.
    private var pid: pid_t = 0

    init(in directory: TemporaryDirectory, tcpPort: UInt16? = nil, udpPort: UInt16? = nil) throws {
        self.tcpPort = try tcpPort ?? LoopbackTCP.freePort()
        self.udpPort = try udpPort ?? LoopbackTCP.freePort()
        outputPath = directory.path("received.json")
        messagesPath = directory.path("messages.txt")
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
            template(name="text" type="string" string="%msg%\\n")
            action(type="omfile" file="\(outputPath)" template="fields")
            action(type="omfile" file="\(messagesPath)" template="text")
            """
        configurationPath = directory.path("rsyslog.conf")
        pidPath = directory.path("rsyslog.pid")
        try configuration.write(toFile: configurationPath, atomically: false, encoding: .utf8)
        try start()
    }

    /// Starts rsyslogd (again, after `stop`: on the same ports, appending to the same file).
    /// Spawned with no signal blocked (the test runner's blocked signals would be inherited and
    /// SIGTERM never land), its output to /dev/null.
    func start() throws {
        try? FileManager.default.removeItem(atPath: pidPath)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = [Self.binary, "-n", "-f", configurationPath, "-i", pidPath]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.binary, &actions, &attributes, &argv, environ)
        guard rc == 0 else { throw WaitTimedOut(description: "posix_spawn \(Self.binary): \(String(cString: strerror(rc)))") }
        pid = child
        // Listening once the TCP port is taken.
        try waitUntil("rsyslogd listening on \(tcpPort)", within: .seconds(10)) {
            guard isRunning else { throw WaitTimedOut(description: "rsyslogd exited at its start") }
            return !LoopbackTCP.isFree(port: self.tcpPort)
        }
    }

    /// Whether rsyslogd still runs (reaps it once it exited).
    var isRunning: Bool {
        guard pid > 0 else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid {
            pid = 0
            return false
        }
        return true
    }

    /// Stops rsyslogd as a service stop does (SIGTERM: it closes its listeners and connections
    /// and writes out its queue), SIGKILL if it has not exited within 5 s; true when SIGTERM
    /// was enough.
    @discardableResult
    func stop() -> Bool {
        guard isRunning else { return true }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(5)
        while isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        guard isRunning else { return true }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
        return false
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// The messages written so far (rsyslog writes whole lines).
    func messages() -> [[String: Any]] { (try? jsonLines(outputPath)) ?? [] }

    func waitForMessages(_ count: Int, within timeout: Duration = .seconds(30)) throws -> [[String: Any]] {
        try waitUntil("\(count) messages in rsyslog's file", within: timeout) { messages().count >= count }
        return messages()
    }
}
