import Foundation
import Glibc
import Synchronization

/// Sends numbered lines (`NumberedLines`) over TCP from its own thread, one chunk per
/// `chunkInterval` (paced against the clock). When the connection breaks (the node was killed)
/// it connects again and goes on with the next chunk; each connection's range of numbers is
/// kept, so a test can tell the lines that were in flight when the node died from the others.
final class NumberedLineSender: @unchecked Sendable {
    struct Connection: CustomStringConvertible {
        var numbers: Range<Int>
        /// Closed by the sender after its last line, and then by the node (it read them all),
        /// or broken.
        var closedCleanly: Bool
        /// When the node's close reached the sender (a clean end).
        var endedAt: ContinuousClock.Instant? = nil
        var description: String { "\(numbers.lowerBound)..<\(numbers.upperBound)\(closedCleanly ? "" : " (broken)")" }
    }

    let port: UInt16
    let numbers: Range<Int>
    let linesPerChunk: Int
    let chunkInterval: Duration
    private let state = Mutex<(connections: [Connection], done: Bool, failure: String?)>(([], false, nil))

    init(port: UInt16, numbers: Range<Int>, linesPerChunk: Int, chunkInterval: Duration) {
        self.port = port
        self.numbers = numbers
        self.linesPerChunk = linesPerChunk
        self.chunkInterval = chunkInterval
    }

    func start() { Thread { self.run() }.start() }

    var isDone: Bool { state.withLock { $0.done } }
    var connections: [Connection] { state.withLock { $0.connections } }

    func waitUntilDone(within timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while !isDone {
            if ContinuousClock.now > deadline { throw LoopbackTCP.Failure(description: "the sender did not finish within \(timeout): \(connections)") }
            usleep(10_000)
        }
        if let failure = state.withLock({ $0.failure }) { throw LoopbackTCP.Failure(description: failure) }
    }

    private func run() {
        defer { state.withLock { $0.done = true } }
        let chunk = ByteBuilder(capacity: linesPerChunk * 100)
        let start = ContinuousClock.now
        var n = numbers.lowerBound
        var chunkIndex = 0
        do {
            while n < numbers.upperBound {
                let fd = try LoopbackTCP.connect(port: port, within: .seconds(30))
                let first = n
                state.withLock { $0.connections.append(Connection(numbers: first..<first, closedCleanly: false)) }
                var broken = false
                while n < numbers.upperBound {
                    let end = min(n + linesPerChunk, numbers.upperBound)
                    chunk.removeAll()
                    NumberedLines.append(n..<end, to: chunk)
                    n = end
                    state.withLock { $0.connections[$0.connections.count - 1].numbers = first..<end }
                    do {
                        try chunk.withBytes { try LoopbackTCP.sendAll(fd, $0) }
                    } catch {
                        broken = true
                        break
                    }
                    chunkIndex += 1
                    let next = start + chunkInterval * chunkIndex
                    let now = ContinuousClock.now
                    if next > now { usleep(UInt32((next - now) / .microseconds(1))) }
                }
                if !broken {
                    // A clean end: the node reads to the end of the stream, then closes it. A
                    // reset instead means the node died with lines unread (the last sends
                    // went into its socket buffer, not to it).
                    shutdown(fd, Int32(SHUT_WR))
                    var byte: UInt8 = 0
                    let ended = recv(fd, &byte, 1, 0) == 0
                    let at = ContinuousClock.now
                    state.withLock {
                        $0.connections[$0.connections.count - 1].closedCleanly = ended
                        if ended { $0.connections[$0.connections.count - 1].endedAt = at }
                    }
                }
                close(fd)
            }
        } catch {
            state.withLock { $0.failure = "\(error)" }
        }
    }
}
