import Foundation
import Glibc
import Testing

@testable import SluiceCore

/// One worker of a real node, built but never started: the test turns its loop by hand with a
/// clock it sets, so an output's deadlines are exact, and the worker's own io_uring carries the
/// output's writes and connects as in a running node.
final class OutputHarness {
    let node: Node
    let worker: Worker
    private let shared: NodeShared

    init(output: OutputDefinition, flushIntervalMicros: Int) throws {
        var settings = NodeSettings()
        settings.workers = 1
        settings.flushIntervalMicros = flushIntervalMicros
        settings.pool.capacity = 64
        settings.pool.hugePages = false
        node = try Node(settings: settings, pipelines: [PipelineDefinition(name: "test", inputs: [], actions: [], output: output)])
        let pool = try EventPool(node.settings.pool, placements: [.anyNode])
        shared = try NodeShared(settings: node.settings, pipelines: node.pipelines, workerCount: 1, pool: pool, offsetBook: node.offsets)
        let assignments = try node.prepare(shared: shared, slots: [(0, node.pipelines[0])])
        worker = Worker(index: 0, cpu: nil, shared: shared, assignment: assignments[0])
        worker.ring = try Ring(Ring.Options())
    }

    /// Hands one line to the pipeline's output at clock `nanos`, as the processor does.
    func deliver(_ line: String, at nanos: UInt64) {
        worker.now = nanos
        guard let event = worker.slab.pointee.take() else { fatalError("harness pool exhausted") }
        let bytes = Array(line.utf8)
        bytes.withUnsafeBytes { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        event.mutableHeader.pointee.rawLength = UInt32(bytes.count)
        event.mutableHeader.pointee.usedLength = UInt32(bytes.count)
        event.mutableHeader.pointee.pipelineID = 0
        event.mutableHeader.pointee.receivedNanos = nanos
        worker.deliver(event, handle: event.header.pointee.handle, to: worker.outputs[0], count: 1, pipeline: 0)
    }

    /// One turn of the worker's loop at clock `nanos` (the outputs' tick, then what the ring
    /// completes within `waitMillis`).
    func turn(at nanos: UInt64, waitMillis: Int64 = 200) {
        worker.now = nanos
        _ = worker.flushOutputs(idle: false)
        worker.submit(wait: true, timeoutNanos: waitMillis * 1_000_000)
        worker.ring.drainCompletions { userData, result, flags in
            self.worker.complete(userData: userData, result: result, flags: flags)
        }
    }

    /// Events the output acknowledged (written, or held by the peer).
    var eventsOut: UInt64 { worker.counters.read(.eventsOut, pipeline: 0) }

    /// Turns at clock `nanos` until `done` holds (a loaded machine may complete a write late),
    /// at most `turns` times.
    func turn(at nanos: UInt64, until done: () -> Bool, turns: Int = 100) {
        for _ in 0..<turns where !done() { turn(at: nanos, waitMillis: 50) }
    }

    /// Closes the output and the ring, as the worker's last act.
    func close() { worker.finalClose() }
}

@Suite struct OutputBatcherTests {
    @Test func aBatchGoesOutWhenItsFlushIntervalHasPassedAndNotBefore() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("batcher-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.ndjson").path
        let output = try OutputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", path)]))
        let harness = try OutputHarness(output: output, flushIntervalMicros: 1_000_000)
        defer { harness.close() }
        let start: UInt64 = 1_000_000_000_000
        harness.deliver("{\"n\":1}", at: start)
        harness.turn(at: start + 999_999_000, waitMillis: 20)
        #expect(harness.eventsOut == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).isEmpty, "written before its flush interval")
        harness.turn(at: start + 1_000_000_000) { harness.eventsOut == 1 }
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self) == "{\"n\":1}\n")
        #expect(harness.eventsOut == 1)
    }
    /// The tcp output's batch counts as delivered only once the peer's TCP has every byte: a
    /// peer that takes none (its window stays shut) holds it back, and when that peer resets the
    /// connection the batch is sent again, whole, on a new one.
    @Test func aBatchWaitsForThePeerAndGoesAgainWhenThePeerResetsTheConnection() throws {
        let peer = try TinyListener()
        defer { peer.close() }
        let output = try OutputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [("address", "127.0.0.1:\(peer.port)")]))
        let harness = try OutputHarness(output: output, flushIntervalMicros: 1_000_000)
        defer { harness.close() }
        let lines = (0..<8).map { "{\"n\":\($0),\"pad\":\"" + String(repeating: "x", count: 980) + "\"}" }
        let expected = lines.map { $0 + "\n" }.joined()
        var clock: UInt64 = 1_000_000_000_000
        for line in lines { harness.deliver(line, at: clock) }
        // Connect, send: the peer never reads, so most of the batch stays unacknowledged.
        var first: Int32 = -1
        for _ in 0..<100 where first < 0 {
            clock += 1_000_000_000
            harness.turn(at: clock, waitMillis: 50)
            first = peer.accept(waitMillis: 50)
        }
        try #require(first >= 0, "the output never connected")
        for _ in 0..<5 {
            clock += 1_000_000_000
            harness.turn(at: clock, waitMillis: 50)
        }
        #expect(harness.eventsOut == 0, "acknowledged before the peer had the bytes")
        // Closing with unread bytes resets the connection.
        Glibc.close(first)
        var received = Data()
        var second: Int32 = -1
        for _ in 0..<200 where received.count < expected.utf8.count || harness.eventsOut < UInt64(lines.count) {
            clock += 1_000_000_000
            harness.turn(at: clock, waitMillis: 50)
            if second < 0 { second = peer.accept(waitMillis: 10) }
            if second >= 0 { received += TinyListener.readAvailable(second) }
        }
        if second >= 0 { Glibc.close(second) }
        #expect(String(decoding: received, as: UTF8.self) == expected, "the batch sent again, whole, on the new connection")
        #expect(harness.eventsOut == UInt64(lines.count))
    }
}

/// A loopback listener whose accepted connections take almost nothing until read (a small
/// receive buffer), so a sender's bytes stay unacknowledged.
final class TinyListener {
    let fd: Int32
    private(set) var port: UInt16 = 0

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 1024
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw SystemError(negated: -errno, operation: "listen") }
        port = UInt16(bigEndian: address.sin_port)
    }

    /// A connection the kernel already accepted, or -1 after `waitMillis`.
    func accept(waitMillis: Int32) -> Int32 {
        var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&waiting, 1, waitMillis) == 1 else { return -1 }
        return Glibc.accept(fd, nil, nil)
    }

    static func readAvailable(_ connection: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(connection, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if n <= 0 { return data }
            data.append(contentsOf: buffer[0..<n])
        }
    }

    func close() { Glibc.close(fd) }
}

