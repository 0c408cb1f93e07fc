import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// Rotation and truncation faster than the followed file's poll interval (100 ms).
    @Suite struct RotationRaces {
        static func start(_ directory: TemporaryDirectory) throws -> (input: String, output: String, sluice: SluiceProcess) {
            let input = directory.path("app.log"), output = directory.path("out.log")
            _ = FileManager.default.createFile(atPath: input, contents: nil)
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

        /// A file truncated and written again past the old read position within one poll
        /// interval: the node sees that the bytes before its position changed and reads the
        /// file again from the start (found by this suite; size alone cannot tell).
        @Test func aFileTruncatedAndRefilledWithinOnePollIntervalDeliversItsNewHead() throws {
            let directory = try TemporaryDirectory()
            let (input, output, sluice) = try Self.start(directory)
            try Self.append(0..<1_000, to: input)
            let firstBytes = fileSize(input)
            try sluice.waitForFile(output, toReach: firstBytes, within: .seconds(10))
            guard truncate(input, 0) == 0 else { throw WaitTimedOut(description: "truncate") }
            try Self.append(1_000..<3_000, to: input)  // at once: well within 100 ms
            usleep(1_000_000)
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            var tally = NumberTally(expected: 3_000)
            try Data(contentsOf: URL(fileURLWithPath: output)).withUnsafeBytes { tally.add($0) }
            #expect(tally.missingCount == 0, "\(tally)")
        }

    }
}
