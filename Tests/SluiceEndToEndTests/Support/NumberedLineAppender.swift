import Foundation
import Glibc
import Synchronization

/// Appends numbered lines to a file from its own thread, one chunk per `chunkInterval` (paced
/// against the clock, so a slow debug build keeps the same duration), while the test kills,
/// stops or restarts the node reading it. `beforeChunk` runs on the writer's thread before the
/// chunk that starts at line `n`: rotations done there are in order with the writes, as a
/// logging application would see them.
final class NumberedLineAppender: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let path: String
    let numbers: Range<Int>
    let linesPerChunk: Int
    let chunkInterval: Duration
    private let beforeChunk: (@Sendable (_ n: Int, _ appender: NumberedLineAppender) throws -> Void)?
    /// Touched only by the writer thread (and `beforeChunk`, which runs on it).
    private var fd: Int32 = -1
    private let written = Atomic<Int>(0)
    private let writtenBytes = Atomic<Int>(0)
    private let finished = Atomic<Bool>(false)
    private let failure = Mutex<String?>(nil)

    init(path: String, numbers: Range<Int>, linesPerChunk: Int, chunkInterval: Duration,
         beforeChunk: (@Sendable (_ n: Int, _ appender: NumberedLineAppender) throws -> Void)? = nil) {
        self.path = path
        self.numbers = numbers
        self.linesPerChunk = linesPerChunk
        self.chunkInterval = chunkInterval
        self.beforeChunk = beforeChunk
    }

    /// Lines appended so far.
    var linesWritten: Int { written.load(ordering: .acquiring) }
    var isDone: Bool { finished.load(ordering: .acquiring) }
    /// Bytes appended so far, across every file the path named.
    var bytesWritten: Int { writtenBytes.load(ordering: .acquiring) }

    func start() {
        Thread { self.run() }.start()
    }

    /// Opens the path again (a new file after a rename); call from `beforeChunk`.
    func reopen() throws {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "open \(path): errno \(errno)") }
    }

    /// Waits for the last line; throws what went wrong on the writer's thread.
    func waitUntilDone(within timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while !finished.load(ordering: .acquiring) {
            if ContinuousClock.now > deadline { throw Failure(description: "the writer did not finish within \(timeout) (\(linesWritten) of \(numbers.count) lines)") }
            usleep(10_000)
        }
        if let failure = failure.withLock({ $0 }) { throw Failure(description: failure) }
    }

    private func run() {
        defer {
            if fd >= 0 { close(fd) }
            finished.store(true, ordering: .releasing)
        }
        do {
            try reopen()
            let chunk = ByteBuilder(capacity: linesPerChunk * 80)
            let start = ContinuousClock.now
            var n = numbers.lowerBound
            var chunkIndex = 0
            while n < numbers.upperBound {
                try beforeChunk?(n, self)
                let end = min(n + linesPerChunk, numbers.upperBound)
                chunk.removeAll()
                NumberedLines.append(n..<end, to: chunk)
                try chunk.withBytes { bytes in
                    var done = 0
                    while done < bytes.count {
                        let w = write(fd, bytes.baseAddress! + done, bytes.count - done)
                        if w < 0 {
                            if errno == EINTR { continue }
                            throw Failure(description: "write \(path): errno \(errno)")
                        }
                        done += w
                    }
                }
                writtenBytes.add(chunk.count, ordering: .releasing)
                written.store(end - numbers.lowerBound, ordering: .releasing)
                n = end
                chunkIndex += 1
                let next = start + chunkInterval * chunkIndex
                let now = ContinuousClock.now
                if next > now { usleep(UInt32((next - now) / .microseconds(1))) }
            }
        } catch {
            failure.withLock { $0 = "\(error)" }
        }
    }
}
