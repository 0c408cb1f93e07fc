import Foundation
import Testing

@testable import SluiceCore

private func makeRing(entries: UInt32 = 8) throws -> Ring {
    var options = Ring.Options()
    options.entries = entries
    return try Ring(options)
}

/// Submits and waits until `count` completions arrived (each wait bounded so a lost completion
/// fails the test instead of hanging it).
private func completions(_ ring: Ring, count: Int) throws -> [(userData: UInt64, result: Int32)] {
    var results: [(userData: UInt64, result: Int32)] = []
    var waits = 0
    while results.count < count && waits < 50 {
        try ring.submit(wait: true, timeoutNanos: 200_000_000)
        ring.drainCompletions { userData, result, _ in results.append((userData, result)) }
        waits += 1
    }
    #expect(results.count == count)
    return results
}

/// A temp file opened read-write; closed and removed by the caller.
private func temporaryFile() throws -> (fd: Int32, path: String) {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-ring-\(UUID().uuidString)").path
    let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw SystemError.lastErrno("open \(path)") }
    return (fd, path)
}

@Suite struct RingTests {
    @Test func aNopCompletesWithItsUserData() throws {
        let ring = try makeRing()
        ring.nop(userData: 7)
        let results = try completions(ring, count: 1)
        #expect(results.first?.userData == 7)
        #expect(results.first?.result == 0)
    }

    @Test func aTimeoutCompletesWithETIME() throws {
        let ring = try makeRing()
        ring.timeout(nanoseconds: 1_000_000, userData: 42)
        let results = try completions(ring, count: 1)
        #expect(results.first?.userData == 42)
        #expect(results.first?.result == -ETIME)
        #expect(SystemError(negated: results.first?.result ?? 0, operation: "timeout").name == "ETIME")
    }

    @Test func aFileWrittenThroughTheRingReadsBackThroughIt() throws {
        let ring = try makeRing()
        let (fd, path) = try temporaryFile()
        defer { close(fd); unlink(path) }
        let text = Array("hello through io_uring\n".utf8)
        text.withUnsafeBytes { ring.write(fd: fd, from: $0.baseAddress!, count: $0.count, offset: 0, userData: 1) }
        let written = try completions(ring, count: 1)
        #expect(written.first?.userData == 1)
        #expect(written.first?.result == Int32(text.count))

        var whole = [UInt8](repeating: 0, count: 64)
        var tail = [UInt8](repeating: 0, count: 64)
        whole.withUnsafeMutableBytes { ring.read(fd: fd, into: $0.baseAddress!, count: $0.count, offset: 0, userData: 2) }
        tail.withUnsafeMutableBytes { ring.read(fd: fd, into: $0.baseAddress!, count: $0.count, offset: 6, userData: 3) }
        let read = try completions(ring, count: 2).sorted { $0.userData < $1.userData }
        #expect(read.map(\.userData) == [2, 3])
        #expect(read.map(\.result) == [Int32(text.count), Int32(text.count - 6)])
        #expect(Array(whole.prefix(text.count)) == text)
        #expect(Array(tail.prefix(text.count - 6)) == Array(text.dropFirst(6)))
    }

    @Test func aFailedOperationCompletesWithTheNegatedErrno() throws {
        let ring = try makeRing()
        var buffer = [UInt8](repeating: 0, count: 8)
        buffer.withUnsafeMutableBytes { ring.read(fd: 9999, into: $0.baseAddress!, count: 8, offset: 0, userData: 5) }
        let results = try completions(ring, count: 1)
        #expect(results.first?.result == -EBADF)
        #expect(SystemError(negated: results.first?.result ?? 0, operation: "read").name == "EBADF")
    }

    @Test func preparingPastAFullSubmissionQueueSubmitsToMakeRoom() throws {
        let ring = try makeRing(entries: 8)
        #expect(ring.submissionSpace == 8)
        ring.nop(userData: 0)
        #expect(ring.submissionSpace == 7)
        for i in 1..<12 { ring.nop(userData: UInt64(i)) }
        let results = try completions(ring, count: 12)
        #expect(Set(results.map(\.userData)) == Set(0..<12))
        #expect(results.allSatisfy { $0.result == 0 })
    }

    @Test func completionFlagsDecodeBufferIDsAndMore() {
        #expect(CompletionFlags.hasMore(2))
        #expect(!CompletionFlags.hasMore(1))
        #expect(CompletionFlags.bufferID(1 | 5 << 16) == 5)
        #expect(CompletionFlags.bufferID(5 << 16) == nil)
    }
}
