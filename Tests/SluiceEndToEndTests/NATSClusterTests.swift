import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// Two Sluice nodes through a three-server JetStream cluster (each server its own store,
    /// routes between them) and a stream with three replicas: an edge node follows a growing
    /// file and publishes it (`nats` output), an aggregating node pulls it from a durable
    /// consumer and writes it to a file (`nats` input). Everything that can die is killed.
    @Suite struct NATSCluster {
        /// While the lines flow: the stream's leader is SIGKILLed and started again a second
        /// later, the aggregating node is SIGKILLed twice and the edge node twice, each restarted
        /// at once (the edge from its saved offsets). Every line must reach the final file at
        /// least once; the duplicates are reported. The issue asks for 1,000,000 lines; CI runs
        /// 100,000 (written in 5 s) to keep the suite near a minute on a debug build;
        /// `SLUICE_NATS_LINES=1000000` runs the full size.
        @Test func everyLineReachesTheAggregatorThroughKillsOfTheStreamLeaderAndOfBothNodes() throws {
            let directory = try TemporaryDirectory()
            let servers = try NATSServer.cluster()
            let urls = servers.map(\.url).joined(separator: ",")
            try JetStreamClient.addStream(urls, name: NATS.stream, subjects: "logs.>", replicas: 3)
            let count = ProcessInfo.processInfo.environment["SLUICE_NATS_LINES"].flatMap { Int($0) } ?? 100_000
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), output = directory.path("out.ndjson")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let chunk = max(1, count / 50)
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: chunk, chunkInterval: .milliseconds(100))
            let edgeArguments = ["run", "--admin", "off", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms",
                                 "--output", NATS.output(urls, extra: ",ack-timeout=2s")]
            let aggregatorArguments = ["run", "--admin", "off", "--input", NATS.input(urls, consumer: "aggregator", extra: ",ack-wait=3s"),
                                       "--output", "file:path=\(output),sync=true"]
            var edge = try SluiceProcess(edgeArguments, in: directory)
            var aggregator = try SluiceProcess(aggregatorArguments, in: directory)
            var start = ContinuousClock.now
            var log: [String] = []
            func note(_ what: String) {
                let t = ContinuousClock.now - start
                log.append("\(t.components.seconds).\(t.components.attoseconds / 100_000_000_000_000_000)s \(what) (\(writer.linesWritten) written)")
            }
            func at(_ seconds: Double) { while ContinuousClock.now - start < .milliseconds(Int(seconds * 1000)) { usleep(10_000) } }
            func restarted(_ node: SluiceProcess, _ arguments: [String], _ name: String) throws -> SluiceProcess {
                node.send(signal: SIGKILL)
                #expect(try node.waitForExit(within: .seconds(10)) == .signalled(SIGKILL), "\(name)")
                note("SIGKILL \(name)")
                return try SluiceProcess(arguments, in: directory)
            }

            // Looked up before the clock starts (the Python client takes most of a second).
            let leaderName = try JetStreamClient.stream(urls, NATS.stream).leader
            let leader = servers.first { $0.name == leaderName } ?? servers[0]
            start = ContinuousClock.now
            writer.start()
            at(0.8)
            aggregator = try restarted(aggregator, aggregatorArguments, "aggregator")
            at(1.6)
            leader.kill()
            note("SIGKILL nats-server \(leader.name) (stream leader: \(leaderName ?? "unknown"))")
            at(2.2)
            edge = try restarted(edge, edgeArguments, "edge")
            at(2.6)
            try leader.start()
            note("nats-server \(leader.name) started again")
            at(3.4)
            aggregator = try restarted(aggregator, aggregatorArguments, "aggregator")
            at(4.2)
            edge = try restarted(edge, edgeArguments, "edge")

            try writer.waitUntilDone(within: .seconds(120))
            note("writer done")
            try waitUntil("every line in \(output)", within: .seconds(180), while: aggregator) {
                NumberTally(file: output, expected: count).missingCount == 0
            }
            note("every line arrived")
            for (node, name) in [(edge, "edge"), (aggregator, "aggregator")] {
                node.send(signal: SIGTERM)
                #expect(try node.waitForExit(within: .seconds(20)) == .exited(0), "\(name): \(node.standardErrorTail())")
            }
            let tally = NumberTally(file: output, expected: count)
            let stream = try JetStreamClient.stream(urls, NATS.stream)
            recordMeasurement("\(count) lines; \(log.joined(separator: "; ")); stream holds \(stream.messages) messages "
                + "(\(stream.messages - count) duplicates past the message-id window); final file: \(tally); "
                + "edge last run: \(try edge.summary()); aggregator last run: \(try aggregator.summary())", named: "nats-cluster-kills")
            #expect(tally.missingCount == 0, "\(tally)")
            // The aggregating node, which writes the file, is SIGKILLed twice: a kill in the
            // middle of a write leaves the line it cut (guarantees.md, "Not promised").
            #expect(tally.malformedLines <= 2, "at most one cut line per SIGKILL of the aggregator: \(tally)")
            #expect(stream.messages >= count)
        }
    }
}
