import Foundation
import Glibc
import Synchronization

/// A TCP listener on 127.0.0.1 that accepts its first `silent` connections and never answers
/// them (nor closes them), then forwards every later connection byte for byte, both ways, to
/// 127.0.0.1:`target`: a server that hangs with its connections open, then recovers.
final class SilentThenForwardingProxy: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let silent: Int
    private let target: UInt16
    private let acceptedCount = Atomic<Int>(0)
    private let open = Mutex<[Int32]>([])

    init(silent: Int, target: UInt16) throws {
        self.silent = silent
        self.target = target
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw LoopbackTCP.Failure(description: "socket: errno \(errno)") }
        var address = LoopbackTCP.address(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw LoopbackTCP.Failure(description: "bind/listen: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        self.listener = listener
        Thread { self.acceptLoop() }.start()
    }

    /// Connections accepted so far (silent ones included).
    var accepted: Int { acceptedCount.load(ordering: .acquiring) }

    /// Stops accepting and closes every connection.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        open.withLock { fds in
            for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listener)
                return
            }
            open.withLock { $0.append(client) }
            let n = acceptedCount.add(1, ordering: .acquiringAndReleasing).newValue
            if n <= silent { continue }  // held open, never read from nor written to
            guard let server = try? LoopbackTCP.connect(port: target) else {
                shutdown(client, Int32(SHUT_RDWR))
                continue
            }
            open.withLock { $0.append(server) }
            Thread { Self.pump(from: client, to: server) }.start()
            Thread { Self.pump(from: server, to: client) }.start()
        }
    }

    /// Copies until either side ends, then ends both directions.
    private static func pump(from source: Int32, to sink: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        outer: while true {
            let n = recv(source, &buffer, buffer.count, 0)
            if n <= 0 { break }
            var sent = 0
            while sent < n {
                let m = buffer.withUnsafeBytes { send(sink, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if m <= 0 { break outer }
                sent += m
            }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(sink, Int32(SHUT_RDWR))
    }
}
