import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The tcp output's downstream stops for a while: nothing may be lost, and the node must hold
    /// the backlog in its fixed pool (inputs pause) instead of growing.
    @Suite struct OutputOutage {
        /// The receiver stops reading for 10 s, as a SIGSTOPped process would (its kernel keeps the
        /// connection and closes the window), while the writer keeps appending far more than the
        /// socket buffers hold. RSS is sampled every 250 ms during the outage.
        @Test func aReceiverThatStopsReadingForTenSecondsGetsEveryEventAndTheNodeDoesNotGrow() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.ndjson")
            let count = 600_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            let sluice = try SluiceProcess(["run", "--input", "file:path=\(input),follow=true",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port),reconnect-max=500ms"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let pid = try ProcessStatus.processID(of: sluice)
            // 50,000 lines/s for 12 s: about 38 MB arrive during the outage.
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(20))
            writer.start()
            try waitUntil("100,000 lines at the receiver", within: .seconds(30), while: sluice) {
                receiver.receivedBytes >= 100_000 * 70
            }

            let rssBefore = try ProcessStatus.residentBytes(of: pid)
            receiver.stopReading()
            let writtenBefore = writer.bytesWritten, receivedBefore = receiver.receivedBytes
            var rssDuring: [Int] = []
            let outageEnd = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < outageEnd {
                usleep(250_000)
                rssDuring.append(try ProcessStatus.residentBytes(of: pid))
            }
            let heldByReceiverKernel = receiver.unreadBytes()
            let writtenDuring = writer.bytesWritten - writtenBefore
            receiver.resumeReading()

            try writer.waitUntilDone(within: .seconds(60))
            let inputBytes = fileSize(input)
            try waitUntil("every byte at the receiver", within: .seconds(60), while: sluice) { receiver.receivedBytes >= inputBytes }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            receiver.stop()

            let tally = receiver.tally(expected: count)
            let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
            recordMeasurement("RSS before \(mib(rssBefore)), during outage min \(mib(rssDuring.min() ?? 0)) max \(mib(rssDuring.max() ?? 0)) "
                + "(\(rssDuring.count) samples); during the outage the writer appended \(mib(writtenDuring)), the receiver's kernel held "
                + "\(mib(heldByReceiverKernel)) unread (received before: \(mib(receivedBefore))); \(tally); \(try sluice.summary())",
                named: "output-outage")
            #expect(tally.missingCount == 0, "\(tally)")
            #expect(tally.malformedLines == 0 && tally.unterminatedBytes == 0, "\(tally)")
            #expect(writtenDuring > 4 * heldByReceiverKernel, "the outage must outlast what the socket buffers hold")
            let limit = Double(rssBefore) * 1.10
            #expect(rssDuring.allSatisfy { Double($0) <= limit }, "RSS before \(rssBefore) B, during: \(rssDuring)")
        }
    }
}
