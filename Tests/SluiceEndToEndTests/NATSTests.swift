import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The `nats` output and input against real `nats-server` processes with JetStream, each
    /// test its own server (it starts in well under a second) in a temporary directory; streams
    /// made and inspected with the Python client nats-py.
    @Suite struct NATS {
        static let stream = "LOGS"

        static func output(_ urls: String, subject: String = "logs.app", extra: String = "") -> String {
            "nats:" + urls.split(separator: ",").map { "url=\($0)" }.joined(separator: ",") + ",subject=\(subject),stream=\(stream)" + extra
        }

        static func input(_ urls: String, consumer: String, extra: String = "") -> String {
            "nats:" + urls.split(separator: ",").map { "url=\($0)" }.joined(separator: ",") + ",stream=\(stream),consumer=\(consumer)" + extra
        }

        /// Publishes lines `0..<count` of a file into the stream with a node that exits when done
        /// (`create-stream`: the output makes the stream, as `logs.*`).
        static func fill(_ server: NATSServer, count: Int, in directory: TemporaryDirectory, createStream: Bool = false) throws {
            let input = directory.path("fill.ndjson")
            try NumberedLines.bytes(0..<count).write(to: input)
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)",
                                            "--output", output(server.url, extra: createStream ? ",create-stream=true" : "")], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            #expect(try JetStreamClient.stream(server.url, stream).messages == count)
        }

        /// Each line is one message, on the subject its `${pad}` field names, with a Nats-Msg-Id
        /// and the expected stream; the same file published again adds nothing: every message id
        /// is one the stream has seen (source identity, offset, payload hash).
        @Test func everyLineIsOneMessageOnItsSubjectAndAReplayIsDroppedByItsMessageID() throws {
            let directory = try TemporaryDirectory()
            let server = try NATSServer(name: "solo", clientPort: try LoopbackTCP.freePort())
            try JetStreamClient.addStream(server.url, name: Self.stream, subjects: "logs.>")
            let count = 20_000
            let input = directory.path("app.ndjson")
            try NumberedLines.bytes(0..<count).write(to: input)
            let arguments = ["run", "--admin", "off", "--input", "file:path=\(input)", "--action", "json_decode",
                             "--output", Self.output(server.url, subject: "logs.${pad}", extra: ",id-prefix=edge-1")]
            let first = try SluiceProcess(arguments, in: directory)
            #expect(try first.waitForExit(within: .seconds(60)) == .exited(0), "\(first.standardErrorTail())")
            #expect(try first.summary().count("events_out") == count)
            let stream = try JetStreamClient.stream(server.url, Self.stream)
            #expect(stream.messages == count)
            #expect(stream.subjects == ["logs.abcdefghijklmnopqrstuvwxyz": count])
            let message = try JetStreamClient.message(server.url, Self.stream, sequence: 1)
            #expect(message.data == String(decoding: NumberedLines.bytes(0..<1).data.dropLast(), as: UTF8.self))
            #expect(message.headers["Nats-Msg-Id"]?.hasPrefix("edge-1-") == true, "\(message.headers)")
            #expect(message.headers["Nats-Expected-Stream"] == Self.stream)

            let replay = try SluiceProcess(arguments, in: directory)
            #expect(try replay.waitForExit(within: .seconds(60)) == .exited(0), "\(replay.standardErrorTail())")
            #expect(try replay.summary().count("events_out") == count)
            #expect(try JetStreamClient.stream(server.url, Self.stream).messages == count, "the replay must be dropped by message id")
        }

        /// A node reading the stream is killed twice while it writes the messages to a file:
        /// JetStream delivers what it had not acknowledged again (after ack-wait), so every line
        /// is in the file at least once; at the end nothing is left unacknowledged.
        @Test func aNatsInputKilledTwiceDeliversEveryMessageAtLeastOnceAndAcknowledgesThemAll() throws {
            let directory = try TemporaryDirectory()
            let server = try NATSServer(name: "solo", clientPort: try LoopbackTCP.freePort())
            try JetStreamClient.addStream(server.url, name: Self.stream, subjects: "logs.>")
            let count = 30_000
            try Self.fill(server, count: count, in: directory)
            let output = directory.path("out.ndjson")
            let arguments = ["run", "--admin", "off", "--input", Self.input(server.url, consumer: "aggregator", extra: ",ack-wait=2s,batch=128"),
                             "--output", "file:path=\(output),sync=true"]
            let kills = try killRepeatedly(arguments, in: directory, times: 2, at: .once("200,000 more bytes out", within: .seconds(60)) { _ in
                let reach = fileSize(output) + 200_000
                return { fileSize(output) >= reach }
            }) { _ in "\(fileSize(output)) B out" }
            let last = try SluiceProcess(arguments, in: directory)
            try waitUntil("every line in \(output)", within: .seconds(90), while: last) {
                NumberTally(file: output, expected: count).missingCount == 0
            }
            try waitUntil("no message left unacknowledged", within: .seconds(20), while: last) {
                let c = try JetStreamClient.consumer(server.url, Self.stream, "aggregator")
                return c.ackPending == 0 && c.pending == 0
            }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0), "\(last.standardErrorTail())")
            let tally = NumberTally(file: output, expected: count)
            recordMeasurement("\(kills); \(tally); last run: \(try last.summary())", named: "nats-input-kills")
            #expect(tally.missingCount == 0, "\(tally)")
            // A kill in the middle of a write leaves the line it cut (guarantees.md, "Not
            // promised"): the next start adds a newline after it, so at most one per kill.
            #expect(tally.malformedLines <= 2, "at most one cut line per SIGKILL: \(tally)")
        }

        /// The server is SIGKILLed while a followed file is published and started again a second
        /// later: the node holds its events meanwhile, publishes again what had no PubAck, and the
        /// stream ends with every line exactly once (what was published twice is dropped by id).
        @Test func aServerKilledAndRestartedMidStreamLosesNothing() throws {
            let directory = try TemporaryDirectory()
            let server = try NATSServer(name: "solo", clientPort: try LoopbackTCP.freePort())
            try JetStreamClient.addStream(server.url, name: Self.stream, subjects: "logs.>")
            let count = 40_000
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(50))
            let edge = try SluiceProcess(["run", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms",
                                          "--output", Self.output(server.url, extra: ",ack-timeout=1s")], in: directory)
            try edge.waitForStandardError(containing: "started", within: .seconds(10))
            writer.start()
            usleep(700_000)
            server.kill()
            let killedAt = writer.linesWritten
            usleep(1_000_000)
            try server.start()
            try writer.waitUntilDone(within: .seconds(60))
            try waitUntil("all \(count) lines in the stream", within: .seconds(60), while: edge) {
                try JetStreamClient.stream(server.url, Self.stream).messages >= count
            }
            edge.send(signal: SIGTERM)
            #expect(try edge.waitForExit(within: .seconds(15)) == .exited(0), "\(edge.standardErrorTail())")
            let summary = try edge.summary()
            recordMeasurement("server killed after \(killedAt) lines, restarted 1 s later; edge: \(summary)", named: "nats-server-restart")
            #expect(try JetStreamClient.stream(server.url, Self.stream).messages == count)
            #expect(summary.count("events_out") == count)
            #expect(edge.standardError().contains("disconnected from the NATS server"), "\(edge.standardErrorTail())")
        }

        /// Two nodes pull from one durable consumer: each gets part of the stream, together all
        /// of it. The stream is the one the output made (`create-stream`) with the first lines;
        /// the rest come once both nodes pull.
        @Test func twoNodesOnOneDurableConsumerShareTheMessages() throws {
            let directory = try TemporaryDirectory()
            let server = try NATSServer(name: "solo", clientPort: try LoopbackTCP.freePort())
            let first = 1_000, count = 30_000
            try Self.fill(server, count: first, in: directory, createStream: true)
            let outputs = [directory.path("a.ndjson"), directory.path("b.ndjson")]
            let nodes = try outputs.map { output in
                try SluiceProcess(["run", "--admin", "off", "--input", Self.input(server.url, consumer: "shared", extra: ",batch=64"),
                                   "--output", "file:path=\(output)"], in: directory)
            }
            // Both nodes pull before most of the messages come (each keeps two requests
            // waiting): one node started late could otherwise find the stream drained.
            try waitUntil("both nodes pulling", within: .seconds(30)) {
                JetStreamClient.waitingPulls(server.url, Self.stream, "shared") >= 4
            }
            let more = directory.path("more.ndjson")
            try NumberedLines.bytes(first..<count).write(to: more)
            let publisher = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(more)", "--output", Self.output(server.url)],
                                              in: directory)
            #expect(try publisher.waitForExit(within: .seconds(60)) == .exited(0), "\(publisher.standardErrorTail())")
            try waitUntil("every line in one of the two outputs", within: .seconds(90)) {
                var tally = NumberTally(expected: count)
                for o in outputs { (try? Data(contentsOf: URL(fileURLWithPath: o)))?.withUnsafeBytes { tally.add($0) } }
                return tally.missingCount == 0
            }
            for node in nodes { node.send(signal: SIGTERM) }
            for node in nodes { #expect(try node.waitForExit(within: .seconds(15)) == .exited(0), "\(node.standardErrorTail())") }
            var tally = NumberTally(expected: count)
            var shares: [Int] = []
            for o in outputs {
                let part = NumberTally(file: o, expected: count)
                shares.append(part.completeLines)
                (try? Data(contentsOf: URL(fileURLWithPath: o)))?.withUnsafeBytes { tally.add($0) }
            }
            recordMeasurement("shares \(shares); together: \(tally)", named: "nats-shared-consumer")
            #expect(shares.allSatisfy { $0 > 0 }, "each node must get part: \(shares)")
            #expect(tally.missingCount == 0, "\(tally)")
        }

        /// The durable consumer is deleted while the node waits on its pull requests: JetStream
        /// ends them, the node creates the consumer again (from the start of the stream) and
        /// goes on, so lines published afterwards arrive too.
        @Test func aConsumerDeletedWhileTheNodePullsIsCreatedAgain() throws {
            let directory = try TemporaryDirectory()
            let server = try NATSServer(name: "solo", clientPort: try LoopbackTCP.freePort())
            try JetStreamClient.addStream(server.url, name: Self.stream, subjects: "logs.>")
            let first = 1_000, total = 3_000
            try Self.fill(server, count: first, in: directory)
            let output = directory.path("out.ndjson")
            let node = try SluiceProcess(["run", "--admin", "off", "--input", Self.input(server.url, consumer: "agg", extra: ",batch=64"),
                                          "--output", "file:path=\(output)"], in: directory)
            try waitUntil("the first lines in the output", within: .seconds(30)) {
                NumberTally(file: output, expected: first).missingCount == 0
            }
            try JetStreamClient.deleteConsumer(server.url, Self.stream, "agg")
            let more = directory.path("more.ndjson")
            try NumberedLines.bytes(first..<total).write(to: more)
            let publisher = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(more)", "--output", Self.output(server.url)],
                                              in: directory)
            #expect(try publisher.waitForExit(within: .seconds(60)) == .exited(0), "\(publisher.standardErrorTail())")
            try waitUntil("every line in the output after the consumer was deleted", within: .seconds(30)) {
                NumberTally(file: output, expected: total).missingCount == 0
            }
            node.send(signal: SIGTERM)
            #expect(try node.waitForExit(within: .seconds(15)) == .exited(0), "\(node.standardErrorTail())")
            // JetStream's 409 ended the waiting requests (not only the node's timer for lost ones)
            #expect(node.standardError().contains("Consumer Deleted; setting it up again"), "\(node.standardErrorTail())")
            #expect(try JetStreamClient.consumer(server.url, Self.stream, "agg").ackPending == 0)
        }
    }
}
