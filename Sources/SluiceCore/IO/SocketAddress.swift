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

extension SocketAddress {
    /// Longest unix socket path (`sun_path` holds 108 bytes with its NUL).
    public static let maxUnixPathBytes = 107

    /// A unix socket bound at `path` (listening when `stream`), its file given `permissions`.
    /// A socket file left by a node that is gone (nobody accepts on it) is replaced; a live one,
    /// or any other file, is an error.
    public static func bindUnix(path: String, stream: Bool, permissions: Int) throws(SystemError) -> Int32 {
        guard path.utf8.count <= maxUnixPathBytes else { throw SystemError(code: ENAMETOOLONG, operation: "unix socket path \(path) (at most \(maxUnixPathBytes) bytes)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, b) in path.utf8.enumerated() { raw[i] = b }
        }
        let type = stream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        var existing = stat()
        if lstat(path, &existing) == 0 {
            guard existing.st_mode & S_IFMT == S_IFSOCK else { throw SystemError(code: EEXIST, operation: "unix socket \(path): a file that is not a socket is there") }
            let probe = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
            let live = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            } == 0
            Glibc.close(probe)
            guard !live else { throw SystemError(code: EADDRINUSE, operation: "unix socket \(path): another process listens there") }
            unlink(path)
        }
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .lastErrno("socket") }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let e = SystemError.lastErrno("bind \(path)")
            Glibc.close(fd)
            throw e
        }
        if chmod(path, mode_t(permissions)) != 0 || (stream && Glibc.listen(fd, 4096) != 0) {
            let e = SystemError.lastErrno(stream ? "chmod or listen \(path)" : "chmod \(path)")
            Glibc.close(fd)
            unlink(path)
            throw e
        }
        return fd
    }

    /// A UDP socket bound to `host:port` with SO_REUSEPORT (every worker binds one; the kernel
    /// spreads senders by their address) and SO_RXQ_OVFL (each datagram tells how many the
    /// kernel dropped so far).
    public static func bindUDP(host: String, port: UInt16, receiveBufferBytes: Int) throws(SystemError) -> Int32 {
        guard var address = ipv4(host, port: port) else { throw SystemError(code: EINVAL, operation: "parsing address \(host)") }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .lastErrno("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        var size = Int32(clamping: receiveBufferBytes)
        if size > 0 { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let e = SystemError.lastErrno("bind udp \(host):\(port)")
            Glibc.close(fd)
            throw e
        }
        enableDropCounting(fd)
        return fd
    }

    /// The socket's count of datagrams dropped so far (SO_MEMINFO's SK_MEMINFO_DROPS), or nil.
    public static func dropCount(_ fd: Int32) -> UInt32? {
        let soMemInfo: Int32 = 55, drops = 8
        var info = (UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0), UInt32(0))
        var length = socklen_t(MemoryLayout.size(ofValue: info))
        let rc = withUnsafeMutableBytes(of: &info) { getsockopt(fd, SOL_SOCKET, soMemInfo, $0.baseAddress, &length) }
        guard rc == 0, Int(length) > drops * 4 else { return nil }
        return withUnsafeBytes(of: &info) { $0.load(fromByteOffset: drops * 4, as: UInt32.self) }
    }

    /// SO_RXQ_OVFL: every datagram received carries the socket's count of drops so far.
    public static func enableDropCounting(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &one, socklen_t(MemoryLayout<Int32>.size))
    }
}
