import Foundation
import Glibc
import Testing

extension EndToEndTests.FileInput {
    /// The descriptors of the node's open files that name `path` (a deleted one shows as
    /// `path (deleted)` in /proc/PID/fd).
    static func descriptors(of sluice: SluiceProcess, naming path: String) -> [String] {
        sluice.openFiles().filter { $0.hasPrefix(path) }
    }

    /// logrotate without copytruncate and a writer that reopens its log late: the file is
    /// deleted while the node is far behind (output stalled) and the writer still appends to it
    /// through its open descriptor. The node keeps the deleted file open while its events are
    /// unacknowledged, even past `deleted-grace`; it reads what was appended after the deletion,
    /// then closes it (its descriptor leaves /proc/PID/fd, so the disk space is freed), and every
    /// line arrives once, in order.
    @Test func aDeletedFileStillWrittenIsReadToItsEndAndClosedOnceItsEventsAreAcknowledged() throws {
        let directory = try TemporaryDirectory()
        let input = directory.path("app.log")
        let before = 100_000, after = 50_000
        try NumberedLines.bytes(0..<before).write(to: input)
        let receiver = try LineReceiver()
        defer { receiver.stop() }
        receiver.stopReading()
        let sluice = try SluiceProcess(["run", "--workers", "1", "--pool-capacity", "1024",
                                        "--input", "file:path=\(input),follow=true,poll-interval=20ms,deleted-grace=1s",
                                        "--output", "tcp:address=127.0.0.1:\(receiver.port)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        try waitUntil("the output to stall", within: .seconds(20), while: sluice) { receiver.unreadBytes() > 0 }
        // The writer still holds the file when it is deleted, and appends to it after.
        let writer = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
        writer.seekToEndOfFile()
        #expect(unlink(input) == 0)
        writer.write(NumberedLines.bytes(before..<before + after).data)
        try writer.close()
        // Past the grace, but with most events not yet acknowledged: still open.
        Thread.sleep(forTimeInterval: 2)
        #expect(Self.descriptors(of: sluice, naming: input) == ["\(input) (deleted)"], "\(sluice.openFiles())")
        let expected = NumberedLines.bytes(0..<before + after).data
        receiver.resumeReading()
        try waitUntil("every byte at the receiver", within: .seconds(60), while: sluice) { receiver.receivedBytes >= expected.count }
        try waitUntil("the deleted file closed", within: .seconds(20), while: sluice) { Self.descriptors(of: sluice, naming: input).isEmpty }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        receiver.stop()
        let written = receiver.receivedData()
        #expect(written == expected, "\(written.firstDifferingLine(from: expected))")
        let tally = receiver.tally(expected: before + after)
        #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
        #expect(sluice.standardError().contains("\(input) was deleted: read to its end, closed"))
    }

    /// Two workers following a glob with the default `deleted-grace` (5 s): the file the
    /// worker that does not rescan the glob reads is deleted. It stays open during the grace
    /// (a writer may still add to it), is closed after, and a new file created later under the
    /// same name is read from its start: the name goes back to the rescanning worker.
    @Test func aDeletedFileIsClosedAfterTheGraceAndANewFileOfItsNameIsReadFromItsStart() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.ndjson")
        let a = directory.path("a.log"), b = directory.path("b.log")
        try NumberedLines.bytes(0..<1000).write(to: a)
        try NumberedLines.bytes(1000..<2000).write(to: b)
        let sluice = try SluiceProcess(["run", "--workers", "2",
                                        "--input", "file:path=\(directory.path("*.log")),follow=true,poll-interval=20ms,rescan-interval=100ms",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        let lineCount = { (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } ?? 0 }
        try waitUntil("2000 lines", within: .seconds(20), while: sluice) { lineCount() >= 2000 }
        for path in [a, b] {
            #expect(unlink(path) == 0)
            // Well within the 5 s grace: still open.
            Thread.sleep(forTimeInterval: 1)
            #expect(Self.descriptors(of: sluice, naming: path) == ["\(path) (deleted)"], "\(sluice.openFiles())")
            try waitUntil("\(path) closed", within: .seconds(30), while: sluice) { Self.descriptors(of: sluice, naming: path).isEmpty }
            #expect(sluice.standardError().contains("\(path) was deleted: read to its end, closed"))
        }
        // The same names again: new files, read from their start.
        try NumberedLines.bytes(2000..<2500).write(to: a)
        try NumberedLines.bytes(2500..<3000).write(to: b)
        try waitUntil("3000 lines", within: .seconds(20), while: sluice) { lineCount() >= 3000 }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n")
        let numbers = lines.compactMap { line -> Int? in
            guard line.hasPrefix("{\"n\":"), let comma = line.firstIndex(of: ",") else { return nil }
            return Int(line[line.index(line.startIndex, offsetBy: 5)..<comma])
        }
        #expect(numbers.count == 3000 && numbers.sorted() == Array(0..<3000), "\(numbers.count) lines")
        #expect(sluice.standardError().components(separatedBy: "which appeared after start").count - 1 == 2, "\(sluice.standardError())")
    }
}
