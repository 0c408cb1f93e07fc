/// The request line and headers of one HTTP/1.1 request, parsed by hand from the bytes before
/// the blank line, bounded (`maxHeaders`), and strict where leniency lets a request be read two
/// ways (request smuggling): `Content-Length` together with `Transfer-Encoding`, two different
/// `Content-Length`s, a length that is not plain digits or overflows, a transfer coding other
/// than `chunked`, folded header lines and whitespace before a colon are all rejected.
struct HTTPRequestHead: Equatable {
    enum Method: Equatable { case get, head, post, put, other }
    enum Body: Equatable {
        case none
        case length(Int)
        case chunked
    }
    enum Encoding: Equatable { case identity, gzip }
    enum Problem: Error {
        case malformed(StaticString)
        case tooManyHeaders
        case unsupportedEncoding
        case unsupportedVersion

        var reason: StaticString {
            switch self {
            case .malformed(let why): why
            case .tooManyHeaders: "too many header fields"
            case .unsupportedEncoding: "unsupported Content-Encoding (gzip and identity are accepted)"
            case .unsupportedVersion: "unsupported HTTP version"
            }
        }
    }

    var method: Method = .other
    /// The request target's path (without `?query`), as offsets into the head's bytes.
    var path: Range<Int> = 0..<0
    var body: Body = .none
    var encoding: Encoding = .identity
    /// The connection stays open after the answer (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    var keepAlive = true
    var expectContinue = false

    /// Parses `head`: the request line and header lines, each ending in CRLF, without the final
    /// empty line.
    static func parse(_ head: UnsafeRawBufferPointer, maxHeaders: Int) throws(Problem) -> HTTPRequestHead {
        var request = HTTPRequestHead()
        var lines = HeadLines(head)
        guard let line = try lines.next() else { throw .malformed("empty request") }
        try request.parseRequestLine(head, line)
        var headerCount = 0
        var contentLength: Int? = nil
        var transferEncoding = false
        while let line = try lines.next() {
            headerCount += 1
            if headerCount > maxHeaders { throw .tooManyHeaders }
            guard !line.isEmpty else { throw .malformed("empty header line") }
            let first = head[line.lowerBound]
            if first == 0x20 || first == 0x09 { throw .malformed("folded header line") }
            guard let colon = head[line].firstIndex(of: 0x3A), colon > line.lowerBound else { throw .malformed("header line without a name") }
            let name = line.lowerBound..<colon
            for i in name where !isTokenByte(head[i]) { throw .malformed("invalid header name") }
            let value = trimmed(head, colon + 1..<line.upperBound)
            if equalsIgnoringCase(head, name, "content-length") {
                let length = try parseLength(head, value)
                if let earlier = contentLength, earlier != length { throw .malformed("two different Content-Length headers") }
                contentLength = length
            } else if equalsIgnoringCase(head, name, "transfer-encoding") {
                guard !transferEncoding else { throw .malformed("two Transfer-Encoding headers") }
                guard equalsIgnoringCase(head, value, "chunked") else { throw .malformed("unsupported Transfer-Encoding (only chunked)") }
                transferEncoding = true
            } else if equalsIgnoringCase(head, name, "content-encoding") {
                if equalsIgnoringCase(head, value, "gzip") || equalsIgnoringCase(head, value, "x-gzip") || equalsIgnoringCase(head, value, "deflate") {
                    request.encoding = .gzip
                } else if !equalsIgnoringCase(head, value, "identity") {
                    throw .unsupportedEncoding
                }
            } else if equalsIgnoringCase(head, name, "connection") {
                if contains(head, value, "close") { request.keepAlive = false }
                if contains(head, value, "keep-alive") { request.keepAlive = true }
            } else if equalsIgnoringCase(head, name, "expect") {
                guard equalsIgnoringCase(head, value, "100-continue") else { throw .malformed("unsupported Expect") }
                request.expectContinue = true
            }
        }
        if transferEncoding && contentLength != nil { throw .malformed("both Content-Length and Transfer-Encoding") }
        if transferEncoding { request.body = .chunked } else if let length = contentLength, length > 0 { request.body = .length(length) }
        return request
    }

    /// `METHOD SP TARGET SP HTTP/1.x`.
    mutating func parseRequestLine(_ head: UnsafeRawBufferPointer, _ line: Range<Int>) throws(Problem) {
        guard let space = head[line].firstIndex(of: 0x20) else { throw .malformed("request line without a target") }
        let target = space + 1
        guard let space2 = head[target..<line.upperBound].firstIndex(of: 0x20), space2 > target else { throw .malformed("request line without a version") }
        let method = line.lowerBound..<space
        if Self.equals(head, method, "GET") { self.method = .get }
        else if Self.equals(head, method, "HEAD") { self.method = .head }
        else if Self.equals(head, method, "POST") { self.method = .post }
        else if Self.equals(head, method, "PUT") { self.method = .put }
        else {
            for i in method where !Self.isTokenByte(head[i]) { throw .malformed("invalid method") }
        }
        for i in target..<space2 where head[i] <= 0x20 || head[i] >= 0x7F { throw .malformed("invalid byte in the request target") }
        guard head[target] == 0x2F || head[target] == 0x2A || head[target] == 0x68 else { throw .malformed("request target is not a path") }
        let query = head[target..<space2].firstIndex(of: 0x3F) ?? space2
        path = target..<query
        let version = space2 + 1..<line.upperBound
        if Self.equals(head, version, "HTTP/1.1") { keepAlive = true }
        else if Self.equals(head, version, "HTTP/1.0") { keepAlive = false }
        else if version.count == 8 && Self.equals(head, version.lowerBound..<version.lowerBound + 5, "HTTP/") { throw .unsupportedVersion }
        else { throw .malformed("invalid HTTP version") }
    }

    /// Plain decimal digits, at most 18 of them (no sign, no list, no overflow).
    static func parseLength(_ head: UnsafeRawBufferPointer, _ value: Range<Int>) throws(Problem) -> Int {
        guard !value.isEmpty, value.count <= 18 else { throw .malformed("invalid Content-Length") }
        var length = 0
        for i in value {
            let digit = head[i] &- 0x30
            guard digit < 10 else { throw .malformed("invalid Content-Length") }
            length = length * 10 + Int(digit)
        }
        return length
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case 0x21, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2A, 0x2B, 0x2D, 0x2E, 0x5E, 0x5F, 0x60, 0x7C, 0x7E: true
        default: false
        }
    }

    static func trimmed(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper && (head[lower] == 0x20 || head[lower] == 0x09) { lower += 1 }
        while upper > lower && (head[upper - 1] == 0x20 || head[upper - 1] == 0x09) { upper -= 1 }
        return lower..<upper
    }

    static func equals(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: StaticString) -> Bool {
        guard range.count == text.utf8CodeUnitCount else { return false }
        for (k, i) in range.enumerated() where head[i] != text.utf8Start[k] { return false }
        return true
    }

    static func equalsIgnoringCase(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        for (k, i) in range.enumerated() where lower(head[i]) != lowercase.utf8Start[k] { return false }
        return true
    }

    /// A comma-separated token list (`Connection: keep-alive, Upgrade`) holds `lowercase`.
    static func contains(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        var start = range.lowerBound
        while start <= range.upperBound {
            let comma = head[start..<range.upperBound].firstIndex(of: 0x2C) ?? range.upperBound
            if equalsIgnoringCase(head, trimmed(head, start..<comma), lowercase) { return true }
            start = comma + 1
        }
        return false
    }

    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
}

/// The CRLF-terminated lines of a request head.
struct HeadLines {
    let head: UnsafeRawBufferPointer
    var position = 0

    init(_ head: UnsafeRawBufferPointer) { self.head = head }

    mutating func next() throws(HTTPRequestHead.Problem) -> Range<Int>? {
        guard position < head.count else { return nil }
        guard let lf = head[position...].firstIndex(of: 0x0A) else { throw .malformed("header line without CRLF") }
        guard lf > position, head[lf - 1] == 0x0D else { throw .malformed("bare LF in the head") }
        for i in position..<lf - 1 where head[i] == 0x0D || head[i] == 0 { throw .malformed("bare CR or NUL in the head") }
        defer { position = lf + 1 }
        return position..<lf - 1
    }
}
