import Foundation
import Glibc
import Testing

extension EndToEndTests {
    @Suite struct DefaultPipeline {
        static let port: UInt16 = 5140

        @Test func withoutArgumentsSluiceRunsTheEmbeddedTCPToStdoutPipeline() throws {
            guard LoopbackTCP.isFree(port: Self.port) else {
                Issue.record("127.0.0.1:\(Self.port) is busy, so the embedded default pipeline could not be tested; free the port and rerun")
                return
            }
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["run"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let stderr = sluice.standardError()
            #expect(stderr.contains("embedded default pipeline"), "\(stderr)")
            #expect(stderr.contains("127.0.0.1:\(Self.port)"), "\(stderr)")

            let fd = try LoopbackTCP.connect(port: Self.port)
            let line = "hello from the end-to-end test \(getpid())\n"
            try Array(line.utf8).withUnsafeBytes { try LoopbackTCP.sendAll(fd, $0) }
            close(fd)
            let deadline = ContinuousClock.now + .seconds(10)
            while sluice.standardOutput().count < line.utf8.count && ContinuousClock.now < deadline { usleep(10_000) }

            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            #expect(String(decoding: sluice.standardOutput(), as: UTF8.self) == line)
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 1, "\(summary)")
            #expect(summary.count("connections_accepted") == 1, "\(summary)")
        }
    }
}
