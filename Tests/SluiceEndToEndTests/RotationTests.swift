import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// Log rotation under a followed file while the application keeps writing.
    @Suite struct Rotation {
        static let count = 300_000
        /// Where the writer rotates (before writing these lines).
        static let rotations = [100_000, 200_000]

        /// An empty followed file (app.log) → file output (out.log), started.
        static func start(_ directory: TemporaryDirectory) throws -> (input: String, output: String, sluice: SluiceProcess) {
            let input = directory.path("app.log"), output = directory.path("out.log")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let sluice = try SluiceProcess(["run", "--input", "file:path=\(input),follow=true", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            return (input, output, sluice)
        }

        static func append(_ numbers: Range<Int>, to path: String) throws {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: NumberedLines.bytes(numbers).data)
            try handle.close()
        }

        /// logrotate's default: rename the file away, the application opens a new one under the
        /// same path and writes on. The old file is read to its end before the new one, so the
        /// output is the three files one after the other, each line once, in order.
        @Test func aFileRenamedAndRecreatedTwiceWhileWrittenDeliversEveryLineOnceInOrder() throws {
            let directory = try TemporaryDirectory()
            let (input, output, sluice) = try Self.start(directory)
            let writer = NumberedLineAppender(path: input, numbers: 0..<Self.count, linesPerChunk: 1_000, chunkInterval: .milliseconds(10)) { n, appender in
                guard Self.rotations.contains(n) else { return }
                guard rename(input, "\(input).\(n)") == 0 else { throw NumberedLineAppender.Failure(description: "rename \(input): errno \(errno)") }
                try appender.reopen()
            }
            writer.start()
            try writer.waitUntilDone(within: .seconds(60))
            let total = writer.bytesWritten
            try sluice.waitForFile(output, toReach: total, within: .seconds(60))
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

            var expected = Data()
            for path in Self.rotations.map({ "\(input).\($0)" }) + [input] { expected += try Data(contentsOf: URL(fileURLWithPath: path)) }
            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(written == expected, "\(written.firstDifferingLine(from: expected))")
            let stderr = sluice.standardError()
            #expect(stderr.components(separatedBy: "was rotated").count - 1 == Self.rotations.count, "\(stderr)")
            var tally = NumberTally(expected: Self.count)
            written.withUnsafeBytes { tally.add($0) }
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
        }

        /// Five rotations within one second while the reader is far behind (the output's receiver
        /// stops reading, so the pool and the socket buffers fill and the reader waits): every
        /// newer file is opened as it appears under the path and waits its turn, so all six files
        /// arrive, each line once, file after file in order.
        @Test func fiveRotationsWithinOneSecondWhileTheOutputIsSlowedDeliverEveryLineOnceInOrder() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.log")
            let perFile = 200_000, files = 6
            try NumberedLines.bytes(0..<perFile).write(to: input)
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.stopReading()
            let sluice = try SluiceProcess(["run", "--workers", "1", "--pool-capacity", "1024",
                                            "--input", "file:path=\(input),follow=true",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            // The reader is behind: the receiver's kernel holds what it can and the node waits.
            try waitUntil("the output to stall", within: .seconds(20), while: sluice) { receiver.unreadBytes() > 0 }
            Thread.sleep(forTimeInterval: 0.3)
            let receivedBeforeRotations = receiver.unreadBytes() + receiver.receivedBytes
            var rotated: [String] = []
            for r in 1..<files {
                let away = "\(input).\(r)"
                guard rename(input, away) == 0 else { Issue.record("rename: errno \(errno)"); return }
                rotated.append(away)
                try NumberedLines.bytes(r * perFile..<(r + 1) * perFile).write(to: input)
                Thread.sleep(forTimeInterval: 0.18)
            }
            let totalBytes = (rotated + [input]).reduce(0) { $0 + fileSize($1) }
            #expect(receivedBeforeRotations < fileSize(rotated[0]), "the reader must still be in the first file when the rotations start")
            receiver.resumeReading()
            try waitUntil("every byte at the receiver", within: .seconds(60), while: sluice) { receiver.receivedBytes >= totalBytes }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            receiver.stop()

            var expected = Data()
            for path in rotated + [input] { expected += try Data(contentsOf: URL(fileURLWithPath: path)) }
            let written = receiver.receivedData()
            #expect(written == expected, "\(written.firstDifferingLine(from: expected))")
            let tally = receiver.tally(expected: perFile * files)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            let stderr = sluice.standardError()
            #expect(stderr.components(separatedBy: "was rotated").count - 1 == files - 1, "\(stderr)")
        }

        /// A rotation while the node is down: the saved offset belongs to the file now renamed
        /// `app.log.1`; at start the node finds it by its inode, reads it on from the saved offset
        /// and then the new `app.log` from its start, so nothing written while it was down is lost.
        @Test func aRotationWhileTheNodeIsDownIsReadOnFromTheSavedOffsetThenTheNewFile() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.log"), output = directory.path("out.log"), offsets = directory.path("offsets")
            let arguments = ["run", "--input", "file:path=\(input),follow=true,offsets=\(offsets)", "--output", "file:path=\(output)"]
            try NumberedLines.bytes(0..<1_000).write(to: input)
            let first = try SluiceProcess(arguments, in: directory)
            try first.waitForFile(output, toReach: fileSize(input), within: .seconds(20))
            first.send(signal: SIGTERM)
            #expect(try first.waitForExit(within: .seconds(15)) == .exited(0))

            try Self.append(1_000..<1_500, to: input)  // written after the stop, before the rotation
            #expect(rename(input, "\(input).1") == 0)
            try NumberedLines.bytes(1_500..<1_800).write(to: input)
            let total = fileSize("\(input).1") + fileSize(input)
            let second = try SluiceProcess(arguments, in: directory)
            try second.waitForFile(output, toReach: total, within: .seconds(20))
            second.send(signal: SIGTERM)
            #expect(try second.waitForExit(within: .seconds(15)) == .exited(0))

            var expected = try Data(contentsOf: URL(fileURLWithPath: "\(input).1"))
            expected += try Data(contentsOf: URL(fileURLWithPath: input))
            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            #expect(written == expected, "\(written.firstDifferingLine(from: expected))")
            #expect(second.standardError().contains("was rotated while the node was down"), "\(second.standardError())")
        }

        /// copytruncate: copy the file, truncate it in place, the application writes on at the
        /// start of the same file. The node cannot read what it had not read before the truncation
        /// (that is only in the copy, see docs/guarantees.md), so the writer lets it catch up first,
        /// as logrotate would in a quiet moment; every line written after a truncation must arrive,
        /// and every line before it at least once.
        @Test func copytruncateWhileWrittenDeliversEveryLineBeforeAndAfterTheTruncation() throws {
            let directory = try TemporaryDirectory()
            let (input, output, sluice) = try Self.start(directory)
            let writer = NumberedLineAppender(path: input, numbers: 0..<Self.count, linesPerChunk: 1_000, chunkInterval: .milliseconds(10)) { n, appender in
                guard Self.rotations.contains(n) else { return }
                let written = appender.bytesWritten
                try waitUntil("the node to catch up before copytruncate at line \(n)", within: .seconds(30)) { fileSize(output) >= written }
                try FileManager.default.copyItem(atPath: input, toPath: "\(input).\(n)")
                guard truncate(input, 0) == 0 else { throw NumberedLineAppender.Failure(description: "truncate \(input): errno \(errno)") }
            }
            writer.start()
            try writer.waitUntilDone(within: .seconds(90))
            var tally = NumberTally(expected: Self.count)
            try waitUntil("every line in the output", within: .seconds(30), while: sluice) {
                tally = NumberTally(expected: Self.count)
                try Data(contentsOf: URL(fileURLWithPath: output)).withUnsafeBytes { tally.add($0) }
                return tally.missingCount == 0
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let stderr = sluice.standardError()
            #expect(stderr.components(separatedBy: "(truncated)").count - 1 == Self.rotations.count, "\(stderr)")
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
            recordMeasurement("\(tally)", named: "copytruncate")
        }

        /// A file truncated and written again past the old read position within one poll
        /// interval (100 ms): the node sees that the bytes before its position changed and reads the
        /// file again from the start (found by this suite; size alone cannot tell).
        @Test func aFileTruncatedAndRefilledWithinOnePollIntervalDeliversItsNewHead() throws {
            let directory = try TemporaryDirectory()
            let (input, output, sluice) = try Self.start(directory)
            try Self.append(0..<1_000, to: input)
            let firstBytes = fileSize(input)
            try sluice.waitForFile(output, toReach: firstBytes, within: .seconds(10))
            guard truncate(input, 0) == 0 else { throw WaitTimedOut(description: "truncate") }
            try Self.append(1_000..<3_000, to: input)  // at once: well within 100 ms
            // A stop ends the reading of a file: the new head must be in the output first.
            try? waitUntil("the new head in the output", within: .seconds(15), while: sluice) {
                NumberTally(file: output, expected: 3_000).missingCount == 0
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            var tally = NumberTally(expected: 3_000)
            try Data(contentsOf: URL(fileURLWithPath: output)).withUnsafeBytes { tally.add($0) }
            #expect(tally.missingCount == 0, "\(tally)")
        }
    }
}
