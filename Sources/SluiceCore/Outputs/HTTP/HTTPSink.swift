import CSupport
import Glibc

/// The HTTP/1.1 client every HTTP output shares: one keep-alive connection per worker, one
/// request per batch (or part of a batch) at a time, all through the worker's ring: connect,
/// send (head and body with one writev; gzip or zstd into a buffer allocated at start), and
/// receive into `HTTPResponseParser`. A request with no complete answer within `timeout` has
/// its connection shut down and is sent again on a new one. The verdict comes from the
/// endpoint's dialect.
struct HTTPSink {
    var connection: OutboundConnection
    let endpoint: HTTPEndpoint
    let timeoutNanos: UInt64
    @inline(__always) var fd: Int32 { connection.fd }
    var connected: Bool { connection.connected }

    /// The head: its fixed part at start, Content-Length and the blank line per request.
    let head: UnsafeMutableRawPointer
    let headFixedBytes: Int
    static let headTailBytes = 64
    /// json-array: the batch as an array; compressed: the body as sent (nil when not needed).
    let shaped: UnsafeMutableRawPointer?
    let compressed: UnsafeMutableRawPointer?
    let compressedCapacity: Int
    let compressor: OpaquePointer?
    let vectors: UnsafeMutablePointer<iovec>
    var parser: HTTPResponseParser
    /// elasticsearchBulk: reads each answer's items (as many as a request has events).
    let bulkReader: UnsafeMutablePointer<BulkResponseReader>?

    /// The request in flight: head bytes + body bytes, how much went out, its body's length as
    /// the batcher gave it.
    private(set) var inFlight = false
    var requestBytes = 0
    var sentBytes = 0
    var givenBytes = 0
    var headBytes = 0
    /// When the request in flight times out (0: none in flight).
    private(set) var deadlineNanos: UInt64 = 0
    private(set) var timedOut = false

    /// `items`: the most events one request carries (the bulk dialect's answers hold one item each).
    init(_ endpoint: HTTPEndpoint, bufferBytes: Int, items: Int = 0) {
        self.endpoint = endpoint
        connection = OutboundConnection(host: endpoint.host, port: endpoint.port, stream: true,
                                        reconnectMaxNanos: UInt64(endpoint.retryMaxMicros) * 1000)
        timeoutNanos = UInt64(endpoint.timeoutMicros) * 1000
        let fixed = endpoint.fixedHead
        headFixedBytes = fixed.count
        let head = UnsafeMutableRawPointer.allocate(byteCount: fixed.count + Self.headTailBytes, alignment: 64)
        fixed.withUnsafeBytes { head.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        self.head = head
        shaped = endpoint.format == .jsonArray ? .allocate(byteCount: bufferBytes + 2, alignment: 64) : nil
        switch endpoint.compression {
        case .none:
            compressor = nil
            compressed = nil
            compressedCapacity = 0
        case .gzip, .zstd:
            let c = sl_compressor_create(endpoint.compression == .gzip ? 1 : 2, endpoint.compression == .gzip ? 1 : 3)
            precondition(c != nil, "out of memory for the \(endpoint.compression.rawValue) compressor")
            compressor = c
            compressedCapacity = sl_compressor_bound(c, bufferBytes + 2)
            compressed = .allocate(byteCount: compressedCapacity, alignment: 64)
        }
        vectors = .allocate(capacity: 2)
        parser = HTTPResponseParser(headBytesLimit: endpoint.headBytesLimit, bodyKeptLimit: endpoint.bodyKeptLimit)
        if endpoint.dialect == .elasticsearchBulk {
            let reader = UnsafeMutablePointer<BulkResponseReader>.allocate(capacity: 1)
            reader.initialize(to: BulkResponseReader(capacity: items))
            bulkReader = reader
            parser.bodyReader = reader
        } else {
            bulkReader = nil
        }
    }

    // MARK: Sending

    /// Sends `count` bytes of lines at `bytes` as one request (shaped and compressed first).
    mutating func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        precondition(connected && !inFlight, "HTTP request without a connection, or with one in flight")
        var body = bytes
        var bodyBytes = count
        if let shaped {
            // `[` + the lines with each newline a comma + `]` (the last newline becomes `]`).
            shaped.storeBytes(of: 91, as: UInt8.self)
            (shaped + 1).copyMemory(from: bytes, byteCount: count)
            let p = (shaped + 1).assumingMemoryBound(to: UInt8.self)
            for i in 0..<count where p[i] == 10 { p[i] = 44 }
            p[count - 1] = 93
            body = UnsafeRawPointer(shaped)
            bodyBytes = count + 1
        }
        if let compressor, let compressed {
            let n = sl_compressor_compress(compressor, body, bodyBytes, compressed, compressedCapacity)
            precondition(n >= 0, "\(endpoint.compression.rawValue) compression failed within its bound")
            body = UnsafeRawPointer(compressed)
            bodyBytes = n
        }
        var w = ByteWriter(head + headFixedBytes)
        w.put("Content-Length: ")
        w.put(UInt64(bodyBytes))
        w.put("\r\n\r\n")
        headBytes = headFixedBytes + w.count
        vectors[0] = iovec(iov_base: head, iov_len: headBytes)
        vectors[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: body), iov_len: bodyBytes)
        requestBytes = headBytes + bodyBytes
        sentBytes = 0
        givenBytes = count
        inFlight = true
        timedOut = false
        deadlineNanos = context.now + timeoutNanos
        submitSend(context: context)
    }

    private func submitSend(context: OutputContext) {
        // The rest of the request from `sentBytes`: the unsent end of the head, then the body.
        if sentBytes < headBytes {
            let iov = vectors
            iov[0].iov_base = head + sentBytes
            iov[0].iov_len = headBytes - sentBytes
            context.ring.writev(fd: fd, vectors: iov, count: 2, offset: 0, userData: context.userData(.outputWrite))
        } else {
            let done = sentBytes - headBytes
            context.ring.send(fd: fd, from: vectors[1].iov_base! + done, count: vectors[1].iov_len - done,
                              userData: context.userData(.outputWrite))
        }
    }

    /// A send completed: the rest goes out, or (all sent) the response is awaited.
    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        guard result > 0 else { return .connectionLost(timedOut ? -ETIMEDOUT : (result == 0 ? -EPIPE : result)) }
        sentBytes += Int(result)
        if sentBytes < requestBytes {
            submitSend(context: context)
            return .continuing
        }
        parser.reset()
        submitReceive(context: context)
        return .wrote(givenBytes)
    }

    private func submitReceive(context: OutputContext) {
        let (at, room) = parser.space
        context.ring.receive(fd: fd, into: at, count: room, userData: context.userData(.outputReceive))
    }

    // MARK: Receiving

    /// A receive completed: more to read, or the verdict on the whole response.
    mutating func received(result: Int32, context: OutputContext) -> SinkResponse {
        if result < 0 { return lost(result) }
        let outcome = result == 0 ? parser.closed() : parser.received(Int(result))
        switch outcome {
        case .incomplete:
            submitReceive(context: context)
            return .incomplete
        case .malformed(let problem):
            if timedOut { return lost(-ETIMEDOUT) }
            Log.error(context.logName, "response from \(endpoint.host):\(endpoint.port): \(problem); sending again on a new connection")
            return lost(result == 0 ? -ECONNRESET : -EPROTO)
        case .complete:
            inFlight = false
            deadlineNanos = 0
            if parser.closeAfter || result == 0 { closeAfterResponse(context: context) }
            return verdict()
        }
    }

    private mutating func lost(_ error: Int32) -> SinkResponse {
        inFlight = false
        deadlineNanos = 0
        return .connectionLost(timedOut ? -ETIMEDOUT : error)
    }

    /// The response is whole and the server closes (or closed): a new connection, at once.
    private mutating func closeAfterResponse(context: OutputContext) {
        connection.closedByPeer(context: context)
    }

    /// The endpoint's dialect judges the complete response.
    func verdict() -> SinkResponse {
        let status = parser.status
        let retryAfter = UInt64(min(parser.retryAfterSeconds ?? 0, 86_400)) * 1_000_000_000
        switch endpoint.dialect {
        case .elasticsearchBulk where (200...299).contains(status):
            switch bulkReader!.pointee.outcome() {
            case .allAccepted: return .accepted
            case .items(let items): return .itemized(items)
            case .malformed(let problem): return .retry(afterNanos: 0, reason: "HTTP \(status) with a bulk answer that does not read: \(problem)")
            }
        case .generic, .elasticsearchBulk:
            if (200...299).contains(status) { return .accepted }
            let text = reason()
            if status == 408 || status == 429 || status >= 500 || status < 200 || (300...399).contains(status) {
                return .retry(afterNanos: retryAfter, reason: text)
            }
            return .rejected(text, line: nil)
        case .clickhouse:
            if status == 200 { return .accepted }
            let text = reason()
            if let code = ClickHouseErrors.code(in: parser.bodyKept, count: parser.keptCount), ClickHouseErrors.isDataError(code) {
                return .rejected(text, line: nil)
            }
            return .retry(afterNanos: retryAfter, reason: text)
        }
    }

    /// `HTTP 400: <the start of the body>`, one line, bounded.
    func reason() -> String {
        var text = parser.keptText
        if text.utf8.count > Self.reasonBytesLimit { text = String(decoding: Array(text.utf8.prefix(Self.reasonBytesLimit)), as: UTF8.self) + "…" }
        text = String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
        while text.last == " " { text.removeLast() }
        return "HTTP \(parser.status)" + (text.isEmpty ? "" : ": " + text)
    }

    /// Longest server text carried into logs and dead-letter reasons.
    static let reasonBytesLimit = DeadLetterQueue.reasonBytesLimit - 20

    // MARK: Connection

    /// Connects when due; shuts down a connection whose request timed out (the operation in
    /// flight then completes and reports it).
    mutating func tick(context: OutputContext) {
        if inFlight && !timedOut && context.now >= deadlineNanos {
            timedOut = true
            context.count(.outputTimeouts, 1)
            Log.error(context.logName, "no answer from \(endpoint.host):\(endpoint.port) within \(timeoutNanos / 1_000_000) ms; sending again on a new connection")
            shutdown(fd, Int32(SHUT_RDWR))
        }
        connection.tick(context: context)
    }

    /// The request's timeout, when one is in flight.
    var responseDeadline: UInt64? { inFlight && !timedOut ? deadlineNanos : nil }

    /// The connection failed, timed out or did not answer: closed, and the next one scheduled.
    mutating func disconnect(result: Int32, context: OutputContext) {
        inFlight = false
        deadlineNanos = 0
        let what = result == -ETIMEDOUT ? "request timed out" : SystemError(negated: result, operation: "HTTP request").description
        connection.lost(context: context, reason: what)
    }

    func close() { connection.close() }

    func dispose() {
        connection.dispose()
        head.deallocate()
        shaped?.deallocate()
        compressed?.deallocate()
        if let compressor { sl_compressor_free(compressor) }
        vectors.deallocate()
        parser.deallocate()
        if let bulkReader {
            bulkReader.pointee.deallocate()
            bulkReader.deallocate()
        }
    }
}

/// ClickHouse's exception codes, read from the error text its HTTP interface answers with
/// (`Code: 27, e.displayText() = DB::Exception: Cannot parse input…`).
enum ClickHouseErrors {
    /// Codes that mean the rows themselves are wrong (a value that does not parse or fit its
    /// column, malformed JSON): the rows go to the dead-letter file. Any other error (the
    /// server, the table, memory, too many parts) is retried.
    static let dataErrors: Set<Int> = [6, 25, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 190, 321]

    static func isDataError(_ code: Int) -> Bool { dataErrors.contains(code) }

    /// The number after the first `Code: ` in the text.
    static func code(in bytes: UnsafeRawPointer, count: Int) -> Int? {
        let text = UnsafeRawBufferPointer(start: bytes, count: count)
        let marker = Array("Code: ".utf8)
        guard count >= marker.count else { return nil }
        for start in 0...(count - marker.count) where text[start] == marker[0] {
            guard zip(marker.indices, marker).allSatisfy({ text[start + $0.0] == $0.1 }) else { continue }
            var value = 0
            var digits = 0
            var i = start + marker.count
            while i < count, text[i] >= 48, text[i] <= 57, digits < 6 {
                value = value * 10 + Int(text[i] - 48)
                digits += 1
                i += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }
}
