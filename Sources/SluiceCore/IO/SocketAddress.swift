import Glibc

/// IPv4 socket helpers for the tcp input (set up on the control thread, not per event).
/// An IPv4 address and port as a user gives them (`127.0.0.1:5140`), checked to parse.
public struct IPv4Endpoint: Sendable, Equatable {
    public let host: String
    public let port: UInt16
}

public enum SocketAddress {
    public static func ipv4(_ host: String, port: UInt16) -> sockaddr_in? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
        return address
    }

    /// "HOST:PORT" split at the last colon, or nil when there is no port number.
    public static func splitHostPort(_ text: String) -> (host: String, port: UInt16)? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        return (String(text[..<colon]), port)
    }

    /// A listening socket with SO_REUSEADDR and (unless `reusePort` is false) SO_REUSEPORT.
    public static func listen(host: String, port: UInt16, backlog: Int32 = 4096, reusePort: Bool = true) throws(SystemError) -> Int32 {
        guard var address = ipv4(host, port: port) else { throw SystemError(code: EINVAL, operation: "parsing address \(host)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .lastErrno("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if reusePort { setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let e = SystemError.lastErrno("bind \(host):\(port)")
            Glibc.close(fd)
            throw e
        }
        if Glibc.listen(fd, backlog) != 0 {
            let e = SystemError.lastErrno("listen \(host):\(port)")
            Glibc.close(fd)
            throw e
        }
        return fd
    }
}
