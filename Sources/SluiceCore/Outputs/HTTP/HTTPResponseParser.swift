/// Reads one HTTP/1.1 response at a time from bytes received in pieces, in memory allocated
/// once: the status line and headers must fit `headBytesLimit` (a longer head is an error, not
/// a bigger buffer), the body is framed by Content-Length, chunked encoding or the end of the
/// connection, and only its first `bodyKeptLimit` bytes are kept (the error text of a refused
/// request); the rest is read and dropped. Everything the server sends is treated as hostile:
/// numbers are bounded, conflicting lengths and malformed lines are errors.
struct HTTPResponseParser {
    /// Longest status line plus headers taken (the `response-head-limit` default).
    static let defaultHeadBytesLimit = 16 << 10
    /// How much of a response body is kept for logs and dead-letter reasons.
    static let defaultBodyKeptLimit = 4 << 10
    /// Longest chunk-size line (hex digits, extensions) taken.
    static let chunkLineBytesLimit = 256

    enum Phase: Equatable {
        case head
        /// Content-Length: this many bytes still to come.
        case body(remaining: Int)
        /// Chunked: the next chunk-size line.
        case chunkSize
        /// Chunked: this many bytes of chunk data, then its CRLF.
        case chunkData(remaining: Int)
        case chunkDataEnd
        /// Chunked: trailer lines up to the empty one.
        case trailers
        /// No length given: the body ends when the server closes.
        case untilClose
        case done
    }

    /// What the bytes received so far make.
    enum Outcome: Equatable {
        /// More bytes are needed (receive into `space`).
        case incomplete
        /// A whole response: `status`, and the kept head of its body in `keptBody`.
        case complete
        /// The server broke the protocol (or a limit); the connection cannot be reused.
        case malformed(String)
    }

    let buffer: UnsafeMutableRawPointer
    let capacity: Int
    let bodyKept: UnsafeMutableRawPointer
    let bodyKeptLimit: Int
    /// Bytes received and not yet consumed, from `buffer`.
    private(set) var filled = 0
    private(set) var phase = Phase.head
    private(set) var status = 0
    private(set) var keptCount = 0
    /// The server said `Connection: close` (or spoke HTTP/1.0 without keep-alive).
    private(set) var closeAfter = false
    /// `Retry-After` in seconds when given as a number (an HTTP date is ignored), else nil.
    private(set) var retryAfterSeconds: Int?
    /// A dialect that reads all of a 2xx body as it arrives (the kept head is not enough).
    var bodyReader: UnsafeMutablePointer<BulkResponseReader>?

    init(headBytesLimit: Int = defaultHeadBytesLimit, bodyKeptLimit: Int = defaultBodyKeptLimit) {
        capacity = max(headBytesLimit, Self.chunkLineBytesLimit)
        buffer = .allocate(byteCount: capacity, alignment: 64)
        self.bodyKeptLimit = bodyKeptLimit
        bodyKept = .allocate(byteCount: max(bodyKeptLimit, 1), alignment: 16)
    }

    func deallocate() {
        buffer.deallocate()
        bodyKept.deallocate()
    }

    /// Ready for the next response (after a complete one, or on a new connection).
    mutating func reset() {
        filled = 0
        phase = .head
        status = 0
        keptCount = 0
        closeAfter = false
        retryAfterSeconds = nil
        bodyReader?.pointee.reset()
    }

    /// Where the next receive writes, and how much room it has (never 0 while incomplete).
    var space: (UnsafeMutableRawPointer, Int) { (buffer + filled, capacity - filled) }

    /// The kept head of the body, as text for logs and reasons (invalid UTF-8 repaired).
    var keptText: String {
        String(decoding: UnsafeRawBufferPointer(start: bodyKept, count: keptCount), as: UTF8.self)
    }

    /// `n` more bytes arrived at `space`.
    mutating func received(_ n: Int) -> Outcome {
        precondition(n > 0 && filled + n <= capacity, "receive beyond the response buffer")
        filled += n
        return advance()
    }

    /// The server closed the connection: the end of a body without a length, else an error.
    mutating func closed() -> Outcome {
        if phase == .untilClose {
            phase = .done
            return .complete
        }
        return .malformed(phase == .head && filled == 0 ? "connection closed before a response" : "connection closed in the middle of a response")
    }

    private mutating func advance() -> Outcome {
        var at = 0
        defer { compact(from: at) }
        while true {
            switch phase {
            case .head:
                guard let end = find(crlfcrlf: at) else {
                    return filled - at >= capacity ? .malformed("response head over \(capacity) bytes") : .incomplete
                }
                if let problem = parseHead(from: at, to: end) { return .malformed(problem) }
                at = end + 4
                if status >= 100 && status < 200 {  // 100 Continue and friends: the real answer follows
                    status = 0
                    phase = .head
                }
            case .body(let remaining):
                let take = min(remaining, filled - at)
                keep(at, take)
                at += take
                if remaining - take == 0 {
                    phase = .done
                } else {
                    phase = .body(remaining: remaining - take)
                    return .incomplete
                }
            case .chunkSize:
                guard let end = findLineEnd(from: at) else {
                    return filled - at > Self.chunkLineBytesLimit ? .malformed("chunk-size line over \(Self.chunkLineBytesLimit) bytes") : .incomplete
                }
                guard let size = chunkSize(from: at, to: end) else { return .malformed("invalid chunk size") }
                at = end + 2
                phase = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                let take = min(remaining, filled - at)
                keep(at, take)
                at += take
                if remaining - take > 0 {
                    phase = .chunkData(remaining: remaining - take)
                    return .incomplete
                }
                phase = .chunkDataEnd
            case .chunkDataEnd:
                if filled - at < 2 { return .incomplete }
                guard byte(at) == 13 && byte(at + 1) == 10 else { return .malformed("chunk data not followed by CRLF") }
                at += 2
                phase = .chunkSize
            case .trailers:
                guard let end = findLineEnd(from: at) else {
                    return filled - at >= capacity ? .malformed("trailers over \(capacity) bytes") : .incomplete
                }
                let empty = end == at
                at = end + 2
                if empty { phase = .done }
            case .untilClose:
                keep(at, filled - at)
                at = filled
                return .incomplete
            case .done:
                // Bytes after a complete response: nothing was asked, so the server is broken.
                if at < filled { return .malformed("bytes after the end of the response") }
                return .complete
            }
        }
    }

    /// Drops the consumed bytes, keeping a partial line at the front of the buffer.
    private mutating func compact(from at: Int) {
        if at == 0 { return }
        if at < filled { buffer.copyMemory(from: UnsafeRawPointer(buffer + at), byteCount: filled - at) }
        filled -= at
    }

    @inline(__always) private func byte(_ i: Int) -> UInt8 { buffer.load(fromByteOffset: i, as: UInt8.self) }

    private mutating func keep(_ at: Int, _ count: Int) {
        if let bodyReader, count > 0, status >= 200 && status <= 299 { bodyReader.pointee.feed(UnsafeRawPointer(buffer + at), count) }
        let n = min(count, bodyKeptLimit - keptCount)
        if n > 0 {
            (bodyKept + keptCount).copyMemory(from: UnsafeRawPointer(buffer + at), byteCount: n)
            keptCount += n
        }
    }

    private func find(crlfcrlf from: Int) -> Int? {
        var i = from
        while i + 3 < filled {
            if byte(i) == 13 && byte(i + 1) == 10 && byte(i + 2) == 13 && byte(i + 3) == 10 { return i }
            i += 1
        }
        return nil
    }

    /// The index of the CR of the next CRLF at or after `from`.
    private func findLineEnd(from: Int) -> Int? {
        var i = from
        while i + 1 < filled {
            if byte(i) == 13 && byte(i + 1) == 10 { return i }
            i += 1
        }
        return nil
    }

    private func chunkSize(from: Int, to end: Int) -> Int? {
        var value = 0
        var digits = 0
        var i = from
        while i < end {
            let c = byte(i)
            let digit: Int
            switch c {
            case 48...57: digit = Int(c) - 48
            case 97...102: digit = Int(c) - 87
            case 65...70: digit = Int(c) - 55
            case 59, 32, 9: i = end; continue  // extensions (and whitespace before them) are ignored
            default: return nil
            }
            digits += 1
            if digits > 15 { return nil }  // over 2^60: no real chunk is that long
            value = value << 4 | digit
            i += 1
        }
        return digits > 0 ? value : nil
    }

    /// Status line and headers between `from` and `end` (the CRLFCRLF); an error or nil.
    private mutating func parseHead(from: Int, to end: Int) -> String? {
        let head = UnsafeRawBufferPointer(start: buffer + from, count: end - from)
        var lines = head.split(separator: 10, omittingEmptySubsequences: false).makeIterator()
        guard let statusLine = lines.next() else { return "empty response head" }
        // "HTTP/1.x SSS reason"
        let s = Array(statusLine.prefix(12))
        guard s.count >= 12, s[0] == 72, s[1] == 84, s[2] == 84, s[3] == 80, s[4] == 47, s[5] == 49, s[6] == 46,
              s[8] == 32, (48...57).contains(s[9]), (48...57).contains(s[10]), (48...57).contains(s[11]) else {
            return "not an HTTP/1.x status line"
        }
        let minor = s[7]
        status = Int(s[9] - 48) * 100 + Int(s[10] - 48) * 10 + Int(s[11] - 48)
        guard status >= 100 && status <= 599 else { return "status \(status) out of range" }
        closeAfter = minor == 48  // HTTP/1.0: close unless keep-alive is said
        var contentLength: Int?
        var chunked = false
        for raw in lines {
            var line = raw[...]
            if line.last == 13 { line = line.dropLast() }
            if line.isEmpty { continue }
            guard let colon = line.firstIndex(of: 58) else { return "header line without a colon" }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, !name.contains(32), !name.contains(9) else { return "invalid header name" }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 32 || f == 9 { value = value.dropFirst() }
            while let l = value.last, l == 32 || l == 9 { value = value.dropLast() }
            if Self.equalsLower(name, "content-length") {
                guard let n = Self.decimal(value) else { return "invalid Content-Length" }
                if let earlier = contentLength, earlier != n { return "conflicting Content-Length headers" }
                contentLength = n
            } else if Self.equalsLower(name, "transfer-encoding") {
                // Only chunked is framed here; it must be the last coding.
                if Self.endsWithLower(value, "chunked") { chunked = true } else { return "unsupported Transfer-Encoding" }
            } else if Self.equalsLower(name, "connection") {
                if Self.containsLower(value, "close") { closeAfter = true }
                if Self.containsLower(value, "keep-alive") && minor == 48 { closeAfter = false }
            } else if Self.equalsLower(name, "retry-after") {
                retryAfterSeconds = Self.decimal(value)
            }
        }
        if status < 200 { return nil }
        if chunked && contentLength != nil { return "both Content-Length and chunked" }  // request smuggling shape
        if status == 204 || status == 304 {
            phase = .done
        } else if chunked {
            phase = .chunkSize
        } else if let n = contentLength {
            phase = n == 0 ? .done : .body(remaining: n)
        } else {
            phase = .untilClose
            closeAfter = true
        }
        return nil
    }

    /// A decimal of at most 15 digits (larger is not a sane length or delay).
    static func decimal(_ bytes: Slice<UnsafeRawBufferPointer>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 15 else { return nil }
        var n = 0
        for b in bytes {
            guard b >= 48 && b <= 57 else { return nil }
            n = n * 10 + Int(b - 48)
        }
        return n
    }

    static func lower(_ b: UInt8) -> UInt8 { b >= 65 && b <= 90 ? b + 32 : b }

    static func equalsLower(_ bytes: Slice<UnsafeRawBufferPointer>, _ text: StaticString) -> Bool {
        guard bytes.count == text.utf8CodeUnitCount else { return false }
        var i = 0
        for b in bytes {
            if lower(b) != text.utf8Start[i] { return false }
            i += 1
        }
        return true
    }

    static func endsWithLower(_ bytes: Slice<UnsafeRawBufferPointer>, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        return equalsLower(bytes[(bytes.endIndex - n)...], text)
    }

    static func containsLower(_ bytes: Slice<UnsafeRawBufferPointer>, _ text: StaticString) -> Bool {
        let n = text.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        var start = bytes.startIndex
        while start + n <= bytes.endIndex {
            if equalsLower(bytes[start..<(start + n)], text) { return true }
            start += 1
        }
        return false
    }
}
