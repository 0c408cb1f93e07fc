import Foundation
import Glibc

/// Stands in for the tcp output's downstream: a loopback server that keeps every byte each
/// connection sent, per connection (lines of two connections never mix). It can stop reading
/// for a while (its senders see a full window, as with a stopped process) and it can go away
/// and come back on the same port.
final class LineReceiver: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private(set) var port: UInt16 = 0
    private let lock = NSLock()
    // Guarded by `lock`.
    private var listener: Int32 = -1
    private var open: [(fd: Int32, bytes: ByteBuilder)] = []
    private var closed: [ByteBuilder] = []
    private var reading = true
    private var finishing = false
    private var threadDone = false
    private var total = 0
    private var accepted = 0
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: 256 << 10, alignment: 16)
    private let scratchBytes = 256 << 10

    /// Listens on `port` (0: any free one).
    init(port requested: UInt16 = 0) throws {
        listener = try Self.listen(port: requested)
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        Thread { self.run() }.start()
    }

    /// The reading thread holds the receiver until `stop()`.
    deinit { scratch.deallocate() }

    /// Bytes received so far, over every connection.
    var receivedBytes: Int { lock.withLock { total } }
    var connectionsAccepted: Int { lock.withLock { accepted } }

    /// Leaves received data in the kernel: the window closes and senders block.
    func stopReading() { lock.withLock { reading = false } }
    func resumeReading() { lock.withLock { reading = true } }

    /// Bytes the kernel holds for the open connections, not read yet (FIONREAD).
    func unreadBytes() -> Int {
        lock.withLock {
            open.reduce(0) { sum, connection in
                var pending: Int32 = 0
                return ioctl(connection.fd, UInt(FIONREAD), &pending) == 0 ? sum + Int(pending) : sum
            }
        }
    }

    /// Closes the listener, then every connection after reading what it had pending: new
    /// connections are refused until `comeBack()`.
    func goAway() {
        lock.withLock {
            if listener >= 0 { close(listener) }
            listener = -1
            for i in open.indices { _ = drain(open[i].fd, into: open[i].bytes) }
            for connection in open {
                close(connection.fd)
                closed.append(connection.bytes)
            }
            open.removeAll()
        }
    }

    func comeBack() throws {
        let fd = try Self.listen(port: port)
        lock.withLock { listener = fd }
    }

    /// Ends the reading thread and closes everything (reading what is pending first).
    func stop() {
        lock.withLock { finishing = true }
        while !lock.withLock({ threadDone }) { usleep(1_000) }
        goAway()
    }

    /// Every connection's bytes, in the order the connections were closed, then the open ones.
    func receivedData() -> Data {
        lock.withLock { (closed + open.map(\.bytes)).reduce(into: Data()) { $0 += $1.data } }
    }

    /// Every connection's bytes, in the order the connections were closed, then the open ones.
    func connectionData() -> [Data] {
        lock.withLock { (closed + open.map(\.bytes)).map(\.data) }
    }

    /// Every connection's bytes, tallied as numbered lines.
    func tally(expected: Int) -> NumberTally {
        lock.withLock {
            var tally = NumberTally(expected: expected)
            for bytes in closed { tally.add(bytes) }
            for connection in open { tally.add(connection.bytes) }
            return tally
        }
    }

    private func run() {
        var fds: [pollfd] = []
        while true {
            fds.removeAll(keepingCapacity: true)
            let stop: Bool = lock.withLock {
                if finishing { return true }
                if listener >= 0 { fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0)) }
                if reading { for connection in open { fds.append(pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)) } }
                return false
            }
            if stop { break }
            // Waits outside the lock; every socket is non-blocking, so acting on stale
            // readiness (a socket closed meanwhile) only reads EAGAIN.
            _ = poll(&fds, nfds_t(fds.count), 10)
            lock.withLock {
                while listener >= 0 {
                    let fd = accept(listener, nil, nil)
                    if fd < 0 { break }
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    open.append((fd, ByteBuilder(capacity: 1 << 20)))
                    accepted += 1
                }
                guard reading else { return }
                var i = 0
                while i < open.count {
                    if drain(open[i].fd, into: open[i].bytes) {
                        i += 1
                    } else {
                        close(open[i].fd)
                        closed.append(open[i].bytes)
                        open.remove(at: i)
                    }
                }
            }
        }
        lock.withLock { threadDone = true }
    }

    /// Reads until the socket has nothing more; false when the peer closed or reset it.
    private func drain(_ fd: Int32, into bytes: ByteBuilder) -> Bool {
        while true {
            let n = read(fd, scratch, scratchBytes)
            if n > 0 {
                bytes.append(UnsafeRawBufferPointer(start: scratch, count: n))
                total += n
                continue
            }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            return false
        }
    }

    static let receiveBufferBytes: Int32 = 4 << 20

    private static func listen(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        // A fixed receive buffer (inherited by accepted sockets) instead of autotuning, which
        // grew toward tcp_rmem's maximum (32 MiB here) under load and let the kernel hold more than
        // a 10 s outage writes (OutputOutage asserts the outage outlasts the socket buffers).
        var receiveBufferBytes = Self.receiveBufferBytes
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, socklen_t(MemoryLayout<Int32>.size))
        var address = LoopbackTCP.address(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, Glibc.listen(fd, 128) == 0 else {
            let error = errno
            close(fd)
            throw Failure(description: "listen on 127.0.0.1:\(port): errno \(error)")
        }
        return fd
    }
}
