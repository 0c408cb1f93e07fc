import Foundation
import Glibc
import Synchronization

/// One Debian `clickhouse-server` for the whole ClickHouse suite: started on first use from a
/// config written into its own temporary directory, listening on 127.0.0.1 on free ports (HTTP
/// for sluice and for the tests' queries, native unused), never as a system service; killed when the test
/// process exits. Each test makes its own table.
final class ClickHouseServer: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let directory: TemporaryDirectory
    let httpPort: UInt16
    let nativePort: UInt16
    /// The server's pid (0: not running). Started with posix_spawn, not Foundation's `Process`:
    /// clickhouse-server closes the descriptors it inherits, which Foundation takes for the
    /// child's exit, and its one monitoring thread then blocks in waitpid on the running server,
    /// so no other child's exit (sluice's, in `waitForExit`) was ever seen again: the hang that
    /// kept this suite disabled.
    private let process = Mutex<pid_t>(0)
    private static let tableCounter = Atomic<Int>(0)

    private static let started = Mutex<Result<ClickHouseServer, Failure>?>(nil)
    nonisolated(unsafe) private static var runningPID: Int32 = 0

    /// The suite's server, started on the first call.
    static func shared() throws -> ClickHouseServer {
        try started.withLock { state in
            if state == nil {
                state = Result { () throws(Failure) in try ClickHouseServer() }
                if case .success(let server) = state! {
                    runningPID = server.pid
                    atexit { if ClickHouseServer.runningPID > 0 { kill(ClickHouseServer.runningPID, SIGKILL) } }
                }
            }
            return try state!.get()
        }
    }

    /// Debian installs the server under /usr/sbin.
    static let serverPath = "/usr/sbin/clickhouse-server"

    private var pid: Int32 { process.withLock { $0 } }

    private init() throws(Failure) {
        guard FileManager.default.isExecutableFile(atPath: Self.serverPath) else {
            throw Failure(description: "clickhouse-server is not installed: apt-get install -y clickhouse-server")
        }
        do {
            directory = try TemporaryDirectory()
            httpPort = try LoopbackTCP.freePort()
            var native = try LoopbackTCP.freePort()
            while native == httpPort { native = try LoopbackTCP.freePort() }
            nativePort = native
            let root = directory.url.path
            let config = """
                <yandex>
                  <logger><level>warning</level><console>1</console></logger>
                  <http_port>\(httpPort)</http_port>
                  <tcp_port>\(nativePort)</tcp_port>
                  <listen_host>127.0.0.1</listen_host>
                  <path>\(root)/data/</path>
                  <tmp_path>\(root)/tmp/</tmp_path>
                  <user_files_path>\(root)/user_files/</user_files_path>
                  <format_schema_path>\(root)/format_schemas/</format_schema_path>
                  <users_config>users.xml</users_config>
                  <default_profile>default</default_profile>
                  <default_database>default</default_database>
                  <mark_cache_size>5368709</mark_cache_size>
                </yandex>
                """
            let users = """
                <yandex>
                  <profiles><default></default></profiles>
                  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
                  <quotas><default></default></quotas>
                </yandex>
                """
            try config.write(toFile: directory.path("config.xml"), atomically: true, encoding: .utf8)
            try users.write(toFile: directory.path("users.xml"), atomically: true, encoding: .utf8)
            try start()
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(description: "cannot start clickhouse-server: \(error)")
        }
    }

    /// Starts the server (again, after `stop`) and waits until it answers.
    func start() throws {
        let log = logPath()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_APPEND, 0)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let arguments = [Self.serverPath, "--config-file=\(directory.path("config.xml"))"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, Self.serverPath, &actions, nil, &argv, environ)
        guard rc == 0 else { throw Failure(description: "posix_spawn \(Self.serverPath): \(String(cString: strerror(rc)))") }
        process.withLock { $0 = child }
        ClickHouseServer.runningPID = child
        try waitUntil("clickhouse-server answering on \(httpPort)", within: .seconds(60)) {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child {
                process.withLock { $0 = 0 }
                throw Failure(description: "clickhouse-server exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            return (try? query("SELECT 1")) == "1\n"
        }
    }

    private func logPath() -> String {
        let path = directory.path("server.log")
        if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
        return path
    }

    /// Stops the server the hard way (SIGKILL: the test runner's blocked signals are inherited,
    /// so a SIGTERM may never land; and an insert cut off by a crash is the harder case).
    func stop() {
        process.withLock { pid in
            guard pid > 0 else { return }
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            pid = 0
        }
        ClickHouseServer.runningPID = 0
    }

    /// Runs `sql` over the server's HTTP interface (a POST whose body is the query, HTTP/1.0 so
    /// the server closes the connection after the answer); the answer's body. clickhouse-client
    /// is not used: run from the test harness, its call never returned on these machines.
    @discardableResult
    func query(_ sql: String) throws -> String {
        let fd = try LoopbackTCP.connect(port: httpPort, within: .seconds(5))
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let body = Array(sql.utf8)
        let request = Array("POST / HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        try request.withUnsafeBytes { try LoopbackTCP.sendAll(fd, $0) }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw Failure(description: "query \(sql): no answer from clickhouse-server (\(String(cString: strerror(errno))))") }
            answer += buffer[0..<n]
        }
        let text = String(decoding: answer, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "query \(sql): a malformed answer: \(text.prefix(200))") }
        let status = text[..<split.lowerBound].split(separator: " ", maxSplits: 2)
        let result = String(text[split.upperBound...])
        guard status.count >= 2, status[1] == "200" else { throw Failure(description: "query \(sql): \(text[..<split.lowerBound].prefix(80)): \(result)") }
        return result
    }

    /// A new table name for one test.
    static func tableName(_ prefix: String) -> String { "\(prefix)_\(tableCounter.add(1, ordering: .relaxed).newValue)" }
}
