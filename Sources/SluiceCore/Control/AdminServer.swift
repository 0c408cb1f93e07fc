import Glibc

/// Where the admin HTTP interface listens (`--admin HOST:PORT`, IPv4; `off` disables it).
public struct AdminAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public static let defaultAddress = AdminAddress(host: "127.0.0.1", port: 9090)

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// "127.0.0.1:9090" → address; nil when it is not an IPv4 address and port.
    public init?(parsing text: String) {
        guard let (host, port) = SocketAddress.splitHostPort(text), SocketAddress.ipv4(host, port: port) != nil else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { "\(host):\(port)" }
}

/// The admin HTTP/1.1 server: a nonblocking listening socket and a bounded set of clients,
/// serviced by the control thread between its other duties (`service` waits in poll() for at
/// most the time it is given). One request per connection (`Connection: close`), GET/HEAD
/// only, no request bodies: all the admin API needs. Every client has a deadline, so a slow or
/// silent client costs one slot for a while and never holds the control loop.
///
/// Why not Hummingbird or SwiftNIO: either brings an event loop group with its own threads and
/// dozens of modules into the build (minutes of compile time on these machines, megabytes of
/// binary) to serve four read-only endpoints to a scraper; this file is the whole server.
final class AdminServer {
    /// Longest request head (request line and headers) accepted; longer gets 413.
    static let maxRequestHeadBytes = 8 << 10
    /// Clients served at once; more are answered 503 and closed at once.
    static let maxClients = 64
    /// A client must send its request and take its response within this time, or it is closed.
    static let clientDeadlineNanos: UInt64 = 5_000_000_000
    /// After the response, input is read and dropped this long so the close does not reset the
    /// connection before the client read the response (a 413 leaves unread bytes behind).
    static let lingerNanos: UInt64 = 500_000_000
    /// Connections accepted per service turn, so a connection flood cannot starve the rest of the loop.
    static let maxAcceptsPerTurn = 64
    static let readChunkBytes = 4096

    struct Request {
        var method: String
        var path: String
    }

    struct Response {
        var status: Int
        var contentType = "text/plain; charset=utf-8"
        var body: [UInt8]
        var extraHeaders: [(String, String)] = []

        init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String, extraHeaders: [(String, String)] = []) {
            self.status = status
            self.contentType = contentType
            self.body = Array(body.utf8)
            self.extraHeaders = extraHeaders
        }
    }

    /// `waiting`: the answer depends on the data path (an event sample); `pending` is asked
    /// each turn until it has the response.
    enum Phase { case reading, waiting, writing, lingering }

    /// A route's answer that is not ready yet (status 0).
    static let deferred = Response(status: 0, body: "")

    struct Client {
        var fd: Int32
        var phase = Phase.reading
        var received: [UInt8] = []
        var outgoing: [UInt8] = []
        var sent = 0
        var deadlineNanos: UInt64
    }

    let listenFD: Int32
    let address: AdminAddress
    private(set) var clients: [Client] = []
    private var pollSet: [pollfd] = []

    /// Listens on `address` (SO_REUSEADDR, not SO_REUSEPORT: a second node on the same port must
    /// fail rather than share the scrapes). Port 0 picks a free port; `address` holds the real one.
    init(address requested: AdminAddress) throws(SystemError) {
        let fd = try SocketAddress.listen(host: requested.host, port: requested.port, backlog: 128, reusePort: false)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        listenFD = fd
        address = AdminAddress(host: requested.host, port: UInt16(bigEndian: bound.sin_port))
        clients.reserveCapacity(AdminServer.maxClients)
    }

    deinit {
        for c in clients { Glibc.close(c.fd) }
        Glibc.close(listenFD)
    }

    /// Waits up to `timeoutMillis` for admin traffic and serves what arrived, answering complete
    /// requests with `route`.
    /// `wakeFDs` are polled too (after the clients) so that they end the wait; they are not read.
    func service(timeoutMillis: Int32, now: () -> UInt64, route: (Request) -> Response, pending: () -> Response? = { nil }, wakeFDs: [Int32] = []) {
        // Deferred answers first: a waiting client is answered as soon as its data is there.
        for i in clients.indices where clients[i].phase == .waiting {
            if let response = pending() {
                respond(&clients[i], response)
                write(i, now: now())
                break  // one sample at a time
            }
        }
        pollSet.removeAll(keepingCapacity: true)
        pollSet.append(pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0))
        for c in clients {
            pollSet.append(pollfd(fd: c.fd, events: Int16(c.phase == .writing ? POLLOUT : c.phase == .waiting ? 0 : POLLIN), revents: 0))
        }
        for fd in wakeFDs { pollSet.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
        let ready = poll(&pollSet, nfds_t(pollSet.count), timeoutMillis)
        let turn = now()
        if ready > 0 {
            // Clients first (their indices match pollSet[1...]), then new connections.
            for i in stride(from: clients.count - 1, through: 0, by: -1) where pollSet[i + 1].revents != 0 {
                advance(i, now: turn, route: route)
            }
            if pollSet[0].revents != 0 { acceptClients(now: turn) }
        }
        for i in stride(from: clients.count - 1, through: 0, by: -1) where turn >= clients[i].deadlineNanos {
            drop(i)
        }
    }

    private func acceptClients(now: UInt64) {
        for _ in 0..<AdminServer.maxAcceptsPerTurn {
            let fd = accept(listenFD, nil, nil)
            if fd < 0 { return }  // EAGAIN: no more waiting; other errors (EMFILE, …): try next turn
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var client = Client(fd: fd, deadlineNanos: now + AdminServer.clientDeadlineNanos)
            if clients.count >= AdminServer.maxClients {
                // Best effort, one nonblocking send: the client learns why, the slot count holds.
                respond(&client, Response(status: 503, body: "too many admin clients\n"))
                _ = client.outgoing.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT)) }
                Glibc.close(fd)
                continue
            }
            clients.append(client)
        }
    }

    /// Moves client `i` along: read the head, answer, write, linger, close.
    private func advance(_ i: Int, now: UInt64, route: (Request) -> Response) {
        switch clients[i].phase {
        case .reading:
            var chunk = [UInt8](repeating: 0, count: AdminServer.readChunkBytes)
            let n = chunk.withUnsafeMutableBytes { recv(clients[i].fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { drop(i); return }
            if n < 0 { return }
            clients[i].received.append(contentsOf: chunk[0..<n])
            switch AdminServer.parseHead(clients[i].received) {
            case .incomplete:
                if clients[i].received.count > AdminServer.maxRequestHeadBytes {
                    respond(&clients[i], Response(status: 413, body: "request head over \(AdminServer.maxRequestHeadBytes) bytes\n"))
                }
            case .malformed(let reason):
                respond(&clients[i], Response(status: 400, body: "bad request: \(reason)\n"))
            case .complete(let request, let headBytes):
                if headBytes > AdminServer.maxRequestHeadBytes {
                    respond(&clients[i], Response(status: 413, body: "request head over \(AdminServer.maxRequestHeadBytes) bytes\n"))
                } else {
                    var response = route(request)
                    if response.status == 0 {
                        clients[i].phase = .waiting
                        clients[i].deadlineNanos = now + EventSampler.waitNanos + 1_000_000_000
                        return
                    }
                    if request.method == "HEAD" { response.extraHeaders.append(("Content-Length", String(response.body.count))); response.body = [] }
                    respond(&clients[i], response)
                }
            }
            if clients[i].phase == .writing { write(i, now: now) }
        case .writing:
            write(i, now: now)
        case .waiting:
            break
        case .lingering:
            var chunk = [UInt8](repeating: 0, count: AdminServer.readChunkBytes)
            let n = chunk.withUnsafeMutableBytes { recv(clients[i].fd, $0.baseAddress, $0.count, 0) }
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { drop(i) }
        }
    }

    private func write(_ i: Int, now: UInt64) {
        while clients[i].sent < clients[i].outgoing.count {
            let n = clients[i].outgoing.withUnsafeBytes {
                send(clients[i].fd, $0.baseAddress! + clients[i].sent, $0.count - clients[i].sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { return }
                drop(i)
                return
            }
            clients[i].sent += n
        }
        shutdown(clients[i].fd, Int32(SHUT_WR))
        clients[i].phase = .lingering
        clients[i].received = []
        clients[i].outgoing = []
        clients[i].deadlineNanos = min(clients[i].deadlineNanos, now + AdminServer.lingerNanos)
    }

    private func respond(_ client: inout Client, _ response: Response) {
        var head = "HTTP/1.1 \(response.status) \(AdminServer.reason(response.status))\r\n"
        head += "Content-Type: \(response.contentType)\r\n"
        if !response.extraHeaders.contains(where: { $0.0 == "Content-Length" }) { head += "Content-Length: \(response.body.count)\r\n" }
        for (name, value) in response.extraHeaders { head += "\(name): \(value)\r\n" }
        head += "Connection: close\r\n\r\n"
        client.outgoing = Array(head.utf8) + response.body
        client.sent = 0
        client.phase = .writing
    }

    private func drop(_ i: Int) {
        Glibc.close(clients[i].fd)
        clients.remove(at: i)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 413: "Content Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }

    // MARK: Parsing

    enum HeadParse {
        case incomplete
        case malformed(String)
        /// The request and the bytes of its head, blank line included.
        case complete(Request, headBytes: Int)
    }

    /// Parses a request head (RFC 9112): request line `METHOD SP TARGET SP HTTP/1.x`, header
    /// fields `name: value`, a blank line. Bare LF line ends are accepted, as the RFC allows.
    static func parseHead(_ bytes: [UInt8]) -> HeadParse {
        var lines: [ArraySlice<UInt8>] = []
        var start = 0
        var end: Int?
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                var line = bytes[start..<i]
                if line.last == 13 { line = line.dropLast() }
                if line.isEmpty && !lines.isEmpty { end = i + 1; break }
                if !line.isEmpty { lines.append(line) }  // a leading empty line is tolerated (RFC 9112 §2.2)
                start = i + 1
            }
            i += 1
        }
        guard let headBytes = end else {
            // Reject garbage early instead of waiting for 8 KiB of it.
            if let first = lines.first, requestLine(first) == nil { return .malformed("request line") }
            return .incomplete
        }
        guard let (method, target) = requestLine(lines[0]) else { return .malformed("request line") }
        for field in lines.dropFirst() {
            guard let colon = field.firstIndex(of: 58), colon > field.startIndex else { return .malformed("header field without a name") }
            let name = field[field.startIndex..<colon]
            if name.contains(where: { !isTokenByte($0) }) { return .malformed("header field name") }
        }
        var path = target
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = String(path[..<q]) }
        return .complete(Request(method: method, path: path), headBytes: headBytes)
    }

    static func requestLine(_ line: ArraySlice<UInt8>) -> (String, String)? {
        let parts = line.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte) else { return nil }
        guard parts[1].first == 47, parts[1].allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }  // origin-form
        let version = Array(parts[2])
        guard version.count == 8, version.starts(with: Array("HTTP/1.".utf8)), version[7] >= 48 && version[7] <= 57 else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), String(decoding: parts[1], as: UTF8.self))
    }

    /// tchar of RFC 9110 §5.6.2.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 48...57, 65...90, 97...122: true
        case 33, 35, 36, 37, 38, 39, 42, 43, 45, 46, 94, 95, 96, 124, 126: true
        default: false
        }
    }
}
