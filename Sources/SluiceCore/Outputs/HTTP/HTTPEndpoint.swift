import Glibc

/// What an HTTP output sends and how it reads the answer, built by each HTTP output's
/// definition (`http`, `clickhouse`) from its parameters: where to connect, the fixed part of
/// the request head, the body's shape and compression, the time limits, and the dialect that
/// turns a response into a verdict.
public struct HTTPEndpoint: Sendable, Equatable {
    public enum BodyFormat: String, Sendable, CaseIterable { case ndjson, jsonArray = "json-array" }
    public enum Compression: String, Sendable, CaseIterable { case none, gzip, zstd }

    /// How a response is judged.
    public enum Dialect: Sendable, Equatable {
        /// 2xx acknowledges; 408, 429 and 5xx are retried (honouring Retry-After); other 4xx
        /// rejects the batch (split down to the events the server refuses); 1xx/3xx: retried.
        case generic
        /// 200 acknowledges; an exception whose code is a data error (a value that does not
        /// parse or fit its column) rejects; any other error is retried.
        case clickhouse
        /// Elasticsearch's bulk API: a 2xx answer is read whole (`BulkResponseReader`) and
        /// judges each event on its own (accepted, retried on 429/5xx, rejected on other 4xx);
        /// any other status is judged as `generic` judges it, for the whole request.
        case elasticsearchBulk
    }

    public var host: String
    public var port: UInt16
    /// The request target: path and query, already percent-encoded.
    public var target: String
    /// Extra header lines, `Name: value` each.
    public var headers: [String] = []
    public var format = BodyFormat.ndjson
    public var compression = Compression.none
    public var timeoutMicros = 30_000_000
    public var retryMaxMicros = 30_000_000
    public var headBytesLimit = HTTPResponseParser.defaultHeadBytesLimit
    public var bodyKeptLimit = HTTPResponseParser.defaultBodyKeptLimit
    public var dialect = Dialect.generic

    /// The head up to (not including) Content-Length, which each request adds.
    var fixedHead: [UInt8] {
        var text = "POST \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nUser-Agent: sluice\r\n"
        text += "Content-Type: \(format == .jsonArray ? "application/json" : "application/x-ndjson")\r\n"
        if compression != .none { text += "Content-Encoding: \(compression.rawValue)\r\n" }
        for h in headers { text += h + "\r\n" }
        return Array(text.utf8)
    }

    /// `http://HOST[:PORT][/PATH[?QUERY]]` with an IPv4 address (or `localhost`): host, port
    /// (80 by default) and target (`/` when absent), or why not.
    static func parseURL(_ text: String) -> Result<(host: String, port: UInt16, target: String), ParameterMismatch> {
        if text.hasPrefix("https://") {
            return .failure(ParameterMismatch(message: "https is not supported (no TLS in sluice): use http:// or a local TLS proxy"))
        }
        guard text.hasPrefix("http://") else { return .failure(ParameterMismatch(message: "expected http://HOST:PORT/PATH, got '\(text)'")) }
        let rest = text.dropFirst(7)
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = String(rest[..<slash])
        var target = String(rest[slash...])
        if target.isEmpty { target = "/" } else if target.first == "?" { target = "/" + target }
        // By bytes: "\r\n" is one Character, equal to neither "\r" nor "\n".
        guard !target.utf8.contains(where: { $0 == 32 || $0 == 13 || $0 == 10 }) else {
            return .failure(ParameterMismatch(message: "the URL's path may not contain spaces or line breaks (percent-encode them)"))
        }
        var host = authority
        var port: UInt16 = 80
        if let (h, p) = SocketAddress.splitHostPort(authority) {
            host = h
            port = p
        } else if authority.contains(":") {
            return .failure(ParameterMismatch(message: "invalid port in '\(authority)'"))
        }
        if host == "localhost" { host = "127.0.0.1" }
        guard port > 0, SocketAddress.ipv4(host, port: port) != nil else {
            return .failure(ParameterMismatch(message: "'\(host)' is not an IPv4 address (names are not resolved: give the address)"))
        }
        return .success((host, port, target))
    }

    /// `NAME:VALUE` as a header line, or why not (no line breaks: they would forge headers).
    static func headerLine(_ text: String) -> Result<String, ParameterMismatch> {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            return .failure(ParameterMismatch(message: "expected NAME:VALUE, got '\(text)'"))
        }
        let name = text[..<colon]
        let value = text[text.index(after: colon)...].drop(while: { $0 == " " })
        guard !name.utf8.contains(where: { $0 == 32 || $0 == 9 }), !text.utf8.contains(where: { $0 == 13 || $0 == 10 }) else {
            return .failure(ParameterMismatch(message: "header '\(text)': no spaces in the name, no line breaks"))
        }
        let lower = name.lowercased()
        guard !["content-length", "transfer-encoding", "host", "content-encoding", "connection"].contains(lower) else {
            return .failure(ParameterMismatch(message: "header \(name) is set by the output itself"))
        }
        return .success("\(name): \(value)")
    }

    /// Percent-encodes a query value (RFC 3986 unreserved characters stay).
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 48...57, 65...90, 97...122, 45, 46, 95, 126: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
            }
        }
        return out
    }
}

extension ParameterKind where Value == String {
    /// An `http://` URL with an IPv4 address.
    static var httpURL: Self {
        ParameterKind(summary: "http:// URL") { (text: String) throws(ParameterMismatch) in
            switch HTTPEndpoint.parseURL(text) {
            case .success: return text
            case .failure(let e): throw e
            }
        }
    }

    /// `NAME:VALUE`, one HTTP header.
    static var httpHeader: Self {
        ParameterKind(summary: "NAME:VALUE") { (text: String) throws(ParameterMismatch) in
            switch HTTPEndpoint.headerLine(text) {
            case .success(let line): return line
            case .failure(let e): throw e
            }
        }
    }
}
