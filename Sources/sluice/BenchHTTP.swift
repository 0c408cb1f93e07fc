import ArgumentParser
import Foundation
import SluiceCore

// MARK: http-bulk

extension Bench {
    /// Elasticsearch bulk requests of 1,000 documents over N keep-alive connections into the
    /// http input (ack=output) → file; each connection sends its next request once the answer
    /// to the last one came (as a Beats or client bulk worker does). Every document answered is
    /// counted in the output file; MB/s is of request bodies.
    func runHTTPBulk() throws -> Result {
        let port = try BenchData.freePort()
        let out = "\(dataDir)/http-bulk-out.ndjson"
        unlink(out)
        let input = try InputDefinition.make(type: "http", PluginArguments(plugin: "http", pairs: [("listen", "127.0.0.1:\(port)")]))
        let output = try OutputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", out)]))
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: [], output: output)])
        node.summaryFD = -1
        let senders = HTTPBulkSenders(port: port, connections: connections, seconds: seconds,
                                      requestsPerConnection: events.map { max(1, $0 / connections / HTTPBulkSenders.documentsPerRequest) })
        let thread = Thread { senders.run() }
        thread.start()
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        if let failure = senders.failure { throw ValidationError("a sender failed: \(failure)") }
        let answered = senders.documentsAnswered
        let (lines, _) = try BenchData.countLines(path: out)
        guard lines == answered else {
            throw ValidationError("\(answered) documents were answered 201, the output file has \(lines): LOST \(Int(answered) - Int(lines))")
        }
        return Result(events: lines, bytes: senders.bodyBytesAnswered, seconds: senders.elapsedSeconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "\(connections) keep-alive connections, bulk requests of \(HTTPBulkSenders.documentsPerRequest) documents (~256 B), ack=output; \(lines) documents answered and counted in the output, \(senders.requestsRefused) requests answered 429 and sent again; MB/s of request bodies answered")
    }
}

/// Loopback bulk senders: each connection sends one request, reads its answer, and so on.
final class HTTPBulkSenders: @unchecked Sendable {
    static let documentsPerRequest = 1_000
    let port: UInt16
    let connections: Int
    let seconds: Double
    let requestsPerConnection: Int?
    private let lock = NSLock()
    private var documents: UInt64 = 0
    private var bodyBytes: UInt64 = 0
    private var refused = 0
    private(set) var failure: String?
    private(set) var elapsedSeconds = 0.0

    init(port: UInt16, connections: Int, seconds: Double, requestsPerConnection: Int?) {
        self.port = port
        self.connections = connections
        self.seconds = seconds
        self.requestsPerConnection = requestsPerConnection
    }

    var documentsAnswered: UInt64 { lock.withLock { documents } }
    var bodyBytesAnswered: UInt64 { lock.withLock { bodyBytes } }
    var requestsRefused: Int { lock.withLock { refused } }

    /// One connection's request: head and body, 1,000 documents of about 256 bytes each.
    static func request(connection: Int) -> [UInt8] {
        var body = ""
        let padding = String(repeating: "x", count: 180)
        for i in 0..<documentsPerRequest {
            body += "{\"index\":{\"_index\":\"bench-\(connection)\"}}\n"
            body += "{\"@timestamp\":\"2026-01-01T00:00:00.\(100_000 + i)Z\",\"conn\":\(connection),\"n\":\(i),\"message\":\"\(padding)\"}\n"
        }
        return Array("POST /_bulk HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }

    func run() {
        let senders = TCPSenders(port: port, connections: 0, seconds: 0, linesPerConnection: nil)
        for _ in 0..<500 {
            if let fd = senders.connect() { close(fd); break }
            usleep(10_000)
        }
        let start = Date()
        let group = DispatchGroup()
        for c in 0..<connections {
            group.enter()
            Thread {
                self.send(connection: c, senders)
                group.leave()
            }.start()
        }
        group.wait()
        elapsedSeconds = Date().timeIntervalSince(start)
        kill(getpid(), SIGTERM)
    }

    func fail(_ text: String) { lock.withLock { if failure == nil { failure = text } } }

    func send(connection: Int, _ senders: TCPSenders) {
        guard let fd = senders.connect() else { return fail("connect failed") }
        defer { close(fd) }
        let request = Self.request(connection: connection)
        let bodyLength = UInt64(request.count - Self.headLength(request))
        let answer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { answer.deallocate() }
        let deadline = Date().addingTimeInterval(seconds)
        var sent = 0
        while true {
            if let limit = requestsPerConnection { if sent >= limit { break } } else if Date() >= deadline { break }
            let ok = request.withUnsafeBytes { bytes -> Bool in
                var offset = 0
                while offset < bytes.count {
                    let n = Glibc.send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                    if n <= 0 { return false }
                    offset += n
                }
                return true
            }
            guard ok else { return fail("send failed: \(String(cString: strerror(errno)))") }
            guard let text = readAnswer(fd, answer, capacity: 1 << 20) else { return fail("no complete answer") }
            if text.hasPrefix("HTTP/1.1 429") {
                // The pool was full: back off a little and send the same request again, as
                // Beats and the clients do.
                lock.withLock { refused += 1 }
                usleep(1_000)
                continue
            }
            guard text.hasPrefix("HTTP/1.1 200"), text.contains("\"errors\":false") else { return fail("answer: \(text.prefix(300))") }
            sent += 1
            lock.withLock {
                documents += UInt64(Self.documentsPerRequest)
                bodyBytes += bodyLength
            }
        }
    }

    static func headLength(_ request: [UInt8]) -> Int {
        for i in 3..<request.count where request[i - 3] == 13 && request[i - 2] == 10 && request[i - 1] == 13 && request[i] == 10 { return i + 1 }
        return 0
    }

    /// Reads one answer (head and Content-Length body); its first 4 KiB as text (the status
    /// line and `"errors"` come first).
    func readAnswer(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, capacity: Int) -> String? {
        var have = 0
        var needed = Int.max
        while have < needed {
            let n = recv(fd, buffer + have, capacity - have, 0)
            if n <= 0 { return nil }
            have += n
            if needed == Int.max {
                let bytes = UnsafeRawBufferPointer(start: buffer, count: have)
                guard let end = (3..<max(3, have)).first(where: { bytes[$0 - 3] == 13 && bytes[$0 - 2] == 10 && bytes[$0 - 1] == 13 && bytes[$0] == 10 }) else { continue }
                let head = String(decoding: bytes[0...end], as: UTF8.self).lowercased()
                guard let range = head.range(of: "content-length: ") else { return nil }
                let length = Int(head[range.upperBound...].prefix(while: { $0.isNumber })) ?? 0
                needed = end + 1 + length
                guard needed <= capacity else { return nil }
            }
        }
        return String(decoding: UnsafeRawBufferPointer(start: buffer, count: min(have, 4096)), as: UTF8.self)
    }
}
