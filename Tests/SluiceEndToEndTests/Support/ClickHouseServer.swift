import Foundation
import Glibc
import Synchronization

/// One Debian `clickhouse-server` for the whole ClickHouse suite: started on first use from a
/// config written into its own temporary directory, listening on 127.0.0.1 on free ports (HTTP
/// for sluice, native for `clickhouse-client`), never as a system service; killed when the test
/// process exits. Each test makes its own table.
final class ClickHouseServer: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let directory: TemporaryDirectory
    let httpPort: UInt16
    let nativePort: UInt16
    private let process = Mutex<Process?>(nil)
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

    private var pid: Int32 { process.withLock { $0?.processIdentifier ?? 0 } }

    private init() throws(Failure) {
        guard FileManager.default.isExecutableFile(atPath: Self.serverPath) else {
            throw Failure(description: "clickhouse-server is not installed: apt-get install -y clickhouse-server clickhouse-client")
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.serverPath)
        p.arguments = ["--config-file=\(directory.path("config.xml"))"]
        p.currentDirectoryURL = directory.url
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath()))
        p.standardError = p.standardOutput
        try p.run()
        process.withLock { $0 = p }
        ClickHouseServer.runningPID = p.processIdentifier
        try waitUntil("clickhouse-server answering on \(httpPort)", within: .seconds(60)) {
            if !p.isRunning {
                throw Failure(description: "clickhouse-server exited: \((try? String(contentsOfFile: logPath(), encoding: .utf8)) ?? "")")
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
        process.withLock { p in
            guard let p, p.isRunning else { return }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        ClickHouseServer.runningPID = 0
    }

    /// Runs `sql` with clickhouse-client; its standard output. Output goes through files, not
    /// pipes: a pipe's write end inherited by another child kept the read waiting forever.
    @discardableResult
    func query(_ sql: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/clickhouse-client")
        p.arguments = ["--host", "127.0.0.1", "--port", "\(nativePort)", "--query", sql]
        let id = UUID().uuidString.prefix(8)
        let outPath = directory.path("query-\(id).out"), errPath = directory.path("query-\(id).err")
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        p.standardInput = FileHandle.nullDevice  // a client whose stdin is not a terminal reads it
        try p.run()
        p.waitUntilExit()
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard p.terminationStatus == 0 else {
            throw Failure(description: "clickhouse-client --query \(sql): \((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")")
        }
        return output
    }

    /// A new table name for one test.
    static func tableName(_ prefix: String) -> String { "\(prefix)_\(tableCounter.add(1, ordering: .relaxed).newValue)" }
}
