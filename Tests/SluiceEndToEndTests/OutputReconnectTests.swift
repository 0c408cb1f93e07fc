import Foundation
import Glibc
import Testing

extension EndToEndTests {
    @Suite struct OutputReconnect {
        /// The receiver goes away for 10 s (listener closed, each connection closed after reading
        /// what it had pending) and comes back on the same port: the tcp output must reconnect and
        /// resend, and every event must arrive (duplicates allowed).
        /// (Found by this suite: a batch sent after the receiver closed was acknowledged because
        /// the kernel took it, and lost; batches are now acknowledged when the peer's TCP has them.)
        @Test func aReceiverThatGoesAwayForTenSecondsAndComesBackGetsEveryEvent() throws {
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
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(20))
            writer.start()
            try waitUntil("100,000 lines at the receiver", within: .seconds(30), while: sluice) { receiver.receivedBytes >= 100_000 * 70 }
            let rssBefore = try ProcessStatus.residentBytes(of: pid)
            receiver.goAway()
            var rssDuring: [Int] = []
            let outageEnd = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < outageEnd {
                usleep(250_000)
                rssDuring.append(try ProcessStatus.residentBytes(of: pid))
            }
            try receiver.comeBack()
            try writer.waitUntilDone(within: .seconds(60))
            var tally = NumberTally(expected: count)
            try? waitUntil("every line at the receiver", within: .seconds(20), while: sluice) {
                tally = receiver.tally(expected: count)
                return tally.missingCount == 0
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            receiver.stop()
            tally = receiver.tally(expected: count)
            recordMeasurement("RSS before \(rssBefore), during \(rssDuring.min() ?? 0)...\(rssDuring.max() ?? 0); \(tally); \(try sluice.summary())", named: "output-reconnect")
            #expect(tally.missingCount == 0, "\(tally)")
            #expect(rssDuring.allSatisfy { Double($0) <= Double(rssBefore) * 1.10 }, "RSS before \(rssBefore) B, during: \(rssDuring)")
        }
    }
}
