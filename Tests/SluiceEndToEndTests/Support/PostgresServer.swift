import CSupport
import Foundation
import Glibc
import Synchronization

/// One PostgreSQL 15 cluster for the whole postgres suite: made with Debian's `initdb` in its
/// own temporary directory and started with `pg_ctl` on 127.0.0.1 (a free port, its unix socket
/// in that directory), never as a system service; stopped (immediate) when the test process
/// exits. The server refuses to run as root, so when the tests run as root (CI) the cluster
/// belongs to Debian's `postgres` user and its programs run through `setpriv`. Tests query it
/// through libpq (blocking calls: the test's own connection). Each test makes its own table.
final class PostgresServer: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let binaries = "/usr/lib/postgresql/15/bin"

    let directory: TemporaryDirectory
    let port: UInt16
    /// The data directory and the socket directory (writable by the server's user).
    let data: String
    let sockets: String
    /// What sluice and the tests connect with.
    var dsn: String { "postgresql://postgres@127.0.0.1:\(port)/postgres" }
    private let connection = Mutex<OpaquePointer?>(nil)
    private static let tableCounter = Atomic<Int>(0)
    private static let started = Mutex<Result<PostgresServer, Failure>?>(nil)
    nonisolated(unsafe) private static var runningData: String?

    /// The suite's server, started on the first call.
    static func shared() throws -> PostgresServer {
        try started.withLock { state in
            if state == nil {
                state = Result { () throws(Failure) in try PostgresServer() }
                if case .success(let server) = state! {
                    runningData = server.data
                    atexit { PostgresServer.stopAtExit() }
                }
            }
            return try state!.get()
        }
    }

    /// The user the server runs as: the test's own, or `postgres` when that is root.
    static var serverUser: String? { geteuid() == 0 ? "postgres" : nil }

    private init() throws(Failure) {
        guard FileManager.default.isExecutableFile(atPath: Self.binaries + "/initdb") else {
            throw Failure(description: "PostgreSQL 15 is not installed: apt-get install -y postgresql libpq-dev")
        }
        do {
            directory = try TemporaryDirectory()
            port = try LoopbackTCP.freePort()
            data = directory.path("data")
            sockets = directory.path("sockets")
            for path in [data, sockets] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false) }
            try Self.giveToServerUser([data, sockets])
            chmod(data, 0o700)
            try Self.run("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            try start()
        } catch let error as Failure {
            throw error
        } catch {
            throw Failure(description: "cannot start PostgreSQL: \(error)")
        }
    }

    /// Starts the server (again, after `stop`) and waits until it takes connections. Durability
    /// is not what the tests measure: fsync is off so they run fast on any disk.
    func start() throws {
        let options = "-c listen_addresses=127.0.0.1 -c port=\(port) -c unix_socket_directories=\(sockets) -c fsync=off "
            + "-c full_page_writes=off -c max_connections=50 -c lc_messages=C"
        try Self.run("pg_ctl", ["-D", data, "-l", data + "/server.log", "-o", options, "-w", "-t", "60", "start"])
        PostgresServer.runningData = data
    }

    /// Stops it: `fast` (sessions closed, like a service stop) or `immediate` (like a crash).
    func stop(mode: String = "fast") throws {
        closeConnection()
        try Self.run("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"])
        PostgresServer.runningData = nil
    }

    private static func stopAtExit() {
        guard let data = runningData else { return }
        _ = try? run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
        _ = try? FileManager.default.removeItem(atPath: (data as NSString).deletingLastPathComponent)
    }

    /// The server's log, for failure messages.
    func log() -> String { (try? String(contentsOfFile: data + "/server.log", encoding: .utf8)) ?? "" }

    /// Runs one of the server's programs as its user; throws with its output when it fails.
    /// Spawned and reaped here, not through Foundation's `Process`: pg_ctl leaves the server
    /// running, and a server holding a descriptor `Process` waits on never lets its wait end
    /// (so also every descriptor above 2 is closed in the child). No Foundation either, so it
    /// works from the exit handler.
    @discardableResult
    static func run(_ program: String, _ arguments: [String]) throws -> String {
        var argv = [binaries + "/" + program] + arguments
        if let user = serverUser { argv = ["/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--init-groups"] + argv }
        argv = ["/usr/bin/env", "-C", "/"] + argv  // a directory the server's user may enter
        let output = "/tmp/sluice-pg-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        defer { unlink(output) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        let cArguments = argv.map { strdup($0) } + [nil]
        defer { for a in cArguments { free(a) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw Failure(description: "spawn \(argv[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard status & 0x7F == 0 && (status >> 8) & 0xFF == 0 else {
            throw Failure(description: "\(program) \(arguments.joined(separator: " ")) (status \(status)): \(text)")
        }
        return text
    }

    /// The test process's open descriptors (/proc/self/fd).
    static func openDescriptors() -> [Int32] {
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        var fds: [Int32] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if let fd = Int32(name) { fds.append(fd) }
        }
        return fds
    }

    private static func giveToServerUser(_ paths: [String]) throws {
        guard let user = serverUser else { return }
        guard let entry = getpwnam(user) else {
            throw Failure(description: "no user '\(user)' to run PostgreSQL as (Debian's postgresql package makes it)")
        }
        for path in paths where chown(path, entry.pointee.pw_uid, entry.pointee.pw_gid) != 0 {
            throw Failure(description: "chown \(path) to \(user): errno \(errno)")
        }
    }

    // MARK: Queries

    /// Runs `sql`; its rows, each value as text (nil: NULL). A connection the server closed
    /// (a restart) is made again, once.
    @discardableResult
    func query(_ sql: String) throws -> [[String?]] {
        try connection.withLock { c in
            var tries = 0
            while true {
                tries += 1
                if c == nil || PQstatus(c) != CONNECTION_OK {
                    if let c { PQfinish(c) }
                    c = PQconnectdb(dsn)
                    guard PQstatus(c) == CONNECTION_OK else { throw Failure(description: "connect: \(String(cString: PQerrorMessage(c)))") }
                }
                guard let result = PQexec(c, sql) else { throw Failure(description: "\(sql): out of memory") }
                let status = PQresultStatus(result)
                if status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK { return Self.rows(result) }
                let message = String(cString: PQresultErrorMessage(result))
                PQclear(result)
                if PQstatus(c) == CONNECTION_BAD && tries == 1 { continue }
                throw Failure(description: "\(sql.prefix(200)): \(message)")
            }
        }
    }

    /// A result's rows as text; frees it.
    private static func rows(_ result: OpaquePointer) -> [[String?]] {
        defer { PQclear(result) }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(result) {
            rows.append((0..<PQnfields(result)).map { f in PQgetisnull(result, r, f) == 1 ? nil : String(cString: PQgetvalue(result, r, f)) })
        }
        return rows
    }

    /// A single number (`SELECT count(*) …`).
    func number(_ sql: String) throws -> Int {
        guard let text = try query(sql).first?.first ?? nil, let n = Int(text) else { throw Failure(description: "\(sql): not a number") }
        return n
    }

    private func closeConnection() {
        connection.withLock { c in
            if let c { PQfinish(c) }
            c = nil
        }
    }

    /// A new table name for one test.
    static func tableName(_ prefix: String) -> String { "\(prefix)_\(tableCounter.add(1, ordering: .relaxed).newValue)" }
}
