import Foundation
import Glibc

/// One Debian `nats-server` with JetStream, started by a test in its own temporary directory
/// (config, store, log) on 127.0.0.1, never as a service; alone, or one of a cluster whose
/// members route to each other. Killed when dropped. `kill` and `start` again keep its store
/// and ports, as a crashed and restarted server would.
final class NATSServer {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let serverPath = "/usr/sbin/nats-server"

    let name: String
    let directory: TemporaryDirectory
    let clientPort: UInt16
    private var process: Process?
    var url: String { "nats://127.0.0.1:\(clientPort)" }
    var isRunning: Bool { process?.isRunning ?? false }
    var pid: Int32 { process?.processIdentifier ?? 0 }

    /// A server alone (`routes` empty) or a cluster member listening for routes on `clusterPort`.
    init(name: String, clientPort: UInt16, clusterPort: UInt16? = nil, routes: [UInt16] = []) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.serverPath) else {
            throw Failure(description: "nats-server is not installed: apt-get install -y nats-server")
        }
        self.name = name
        self.clientPort = clientPort
        directory = try TemporaryDirectory()
        var config = """
            server_name: \(name)
            listen: 127.0.0.1:\(clientPort)
            jetstream { store_dir: "\(directory.path("store"))" }

            """
        if let clusterPort {
            let list = routes.map { "nats-route://127.0.0.1:\($0)" }.joined(separator: ", ")
            config += "cluster { name: sluice, listen: 127.0.0.1:\(clusterPort), routes: [\(list)] }\n"
        }
        try config.write(toFile: directory.path("server.conf"), atomically: true, encoding: .utf8)
        try start()
    }

    /// Three servers routed to each other: a JetStream cluster (streams may have 3 replicas).
    static func cluster() throws -> [NATSServer] {
        var ports: [UInt16] = []
        while ports.count < 6 {
            let port = try LoopbackTCP.freePort()
            if !ports.contains(port) { ports.append(port) }
        }
        let routes = Array(ports[3..<6])
        return try (0..<3).map { i in
            try NATSServer(name: "n\(i + 1)", clientPort: ports[i], clusterPort: routes[i], routes: routes.enumerated().filter { $0.offset != i }.map(\.element))
        }
    }

    /// Starts the server (again) and waits until it takes connections.
    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.serverPath)
        p.arguments = ["-c", directory.path("server.conf"), "-l", directory.path("server.log")]
        p.currentDirectoryURL = directory.url
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        try waitUntil("nats-server \(name) listening on \(clientPort)", within: .seconds(20)) {
            if !p.isRunning { throw Failure(description: "nats-server \(name) exited: \(log().suffix(2000))") }
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = LoopbackTCP.address(port: clientPort)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
        }
    }

    /// SIGKILL, as a crash: what the server had not written is lost with it.
    func kill() {
        guard let p = process, p.isRunning else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func log() -> String { (try? String(contentsOfFile: directory.path("server.log"), encoding: .utf8)) ?? "" }

    deinit { kill() }
}

/// JetStream as its own client sees it: streams made and inspected with the Python client
/// nats-py (PyPI: `pip install nats-py`), so the tests check Sluice against another
/// implementation of the protocol.
enum JetStreamClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let script = """
        import asyncio, json, sys
        try:
            import nats
            from nats.js.api import StreamConfig
        except ImportError:
            print("MISSING nats-py", file=sys.stderr); sys.exit(3)

        async def main():
            command, urls = sys.argv[1], sys.argv[2].split(",")
            nc = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=3, allow_reconnect=True)
            js = nc.jetstream(timeout=5)
            if command == "add-stream":
                name, subjects, replicas = sys.argv[3], sys.argv[4].split(","), int(sys.argv[5])
                await js.add_stream(StreamConfig(name=name, subjects=subjects, num_replicas=replicas))
                print(json.dumps({"ok": True}))
            elif command == "stream":
                info = await js.stream_info(sys.argv[3], subjects_filter=">")
                leader = info.cluster.leader if info.cluster else None
                print(json.dumps({"messages": info.state.messages, "leader": leader, "subjects": info.state.subjects or {}}))
            elif command == "message":
                m = await js.get_msg(sys.argv[3], int(sys.argv[4]))
                print(json.dumps({"subject": m.subject, "headers": m.headers or {}, "data": m.data.decode()}))
            elif command == "consumer":
                info = await js.consumer_info(sys.argv[3], sys.argv[4])
                print(json.dumps({"ack_pending": info.num_ack_pending, "pending": info.num_pending,
                                  "redelivered": info.num_redelivered, "ack_floor": info.ack_floor.stream_seq,
                                  "waiting": info.num_waiting or 0}))
            elif command == "delete-consumer":
                await js.delete_consumer(sys.argv[3], sys.argv[4])
                print(json.dumps({"ok": True}))
            await nc.close()

        asyncio.run(main())
        """

    /// Runs one command; its JSON answer.
    static func run(_ arguments: [String]) throws -> [String: Any] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        if process.terminationStatus == 3 && problems.contains("MISSING nats-py") {
            throw Failure(description: "the Python module nats-py is missing: pip install nats-py")
        }
        guard process.terminationStatus == 0, let json = try? JSONSerialization.jsonObject(with: answer) as? [String: Any] else {
            throw Failure(description: "nats-py \(arguments.prefix(1)): exit \(process.terminationStatus): \(problems.suffix(1500))")
        }
        return json
    }

    /// Makes a stream (retried while a new cluster elects its leaders).
    static func addStream(_ urls: String, name: String, subjects: String, replicas: Int = 1) throws {
        var last = ""
        try waitUntil("stream \(name) created (\(last))", within: .seconds(30)) {
            do {
                _ = try run(["add-stream", urls, name, subjects, String(replicas)])
                return true
            } catch {
                last = "\(error)"
                if last.contains("nats-py is missing") { throw error }
                return false
            }
        }
    }

    /// Messages in the stream and its leader (a cluster's).
    static func stream(_ urls: String, _ name: String) throws -> (messages: Int, leader: String?, subjects: [String: Int]) {
        let info = try run(["stream", urls, name])
        return ((info["messages"] as? Int) ?? -1, info["leader"] as? String, (info["subjects"] as? [String: Int]) ?? [:])
    }

    static func message(_ urls: String, _ stream: String, sequence: Int) throws -> (subject: String, headers: [String: String], data: String) {
        let m = try run(["message", urls, stream, String(sequence)])
        return ((m["subject"] as? String) ?? "", (m["headers"] as? [String: String]) ?? [:], (m["data"] as? String) ?? "")
    }

    /// Deletes a durable consumer. nats-server 2.9 can answer 500 "directory not empty" when a
    /// file appears in the consumer's store directory while it removes it (the server writes
    /// the consumer's state there as acknowledgements come). That answer is retried; a retry
    /// told "consumer not found" finds the deletion done (the first attempt had removed it).
    static func deleteConsumer(_ urls: String, _ stream: String, _ consumer: String) throws {
        var retries = 0
        while true {
            do {
                _ = try run(["delete-consumer", urls, stream, consumer])
                return
            } catch let failure as Failure {
                if retries > 0 && failure.description.contains("consumer not found") { return }
                guard failure.description.contains("directory not empty"), retries < 10 else { throw failure }
                retries += 1
                Thread.sleep(forTimeInterval: 0.2)
            }
        }
    }

    /// Pull requests waiting on the consumer (each node keeps two outstanding); 0 before it exists.
    static func waitingPulls(_ urls: String, _ stream: String, _ consumer: String) -> Int {
        ((try? run(["consumer", urls, stream, consumer]))?["waiting"] as? Int) ?? 0
    }

    static func consumer(_ urls: String, _ stream: String, _ consumer: String) throws -> (ackPending: Int, pending: Int, redelivered: Int) {
        let c = try run(["consumer", urls, stream, consumer])
        return ((c["ack_pending"] as? Int) ?? -1, (c["pending"] as? Int) ?? -1, (c["redelivered"] as? Int) ?? -1)
    }
}
