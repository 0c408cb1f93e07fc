import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// `buffer=disk` on a tcp output: inputs are acknowledged once their events are in the
    /// buffer's segment files, the output drains them in order when its receiver is there, and
    /// the files survive SIGTERM, SIGKILL, corruption and a full disk. Counts are scaled down
    /// from issue 15's (200,000 events/s for 60 s, 1,000,000 lines and five kills) so the suite
    /// runs in about a minute on a debug build; the figures each run measured are recorded.
    @Suite struct DiskBuffer {
        /// The tcp output to `port` with a disk buffer in `buffer`; `extra` adds buffer keys.
        static func output(port: UInt16, buffer: String, _ extra: String = "") -> String {
            "tcp:address=127.0.0.1:\(port),reconnect-max=200ms,buffer=disk,buffer-dir=\(buffer),buffer-max-size=256MiB" + (extra.isEmpty ? "" : "," + extra)
        }

        /// How long after a clean end the node may still hold a connection's last lines
        /// unwritten: its batch goes out within the flush interval, on a loaded debug build
        /// well within this.
        static let cleanEndGrace: Duration = .seconds(2)

        static func metrics(_ admin: UInt16) throws -> [PrometheusSample] {
            try PrometheusSample.parse(AdminHTTP.get(port: admin, "/metrics").body)
        }

        /// For every range in `streams`, whether its numbers arrive in increasing order within
        /// each receiver connection (each stream is written by one worker, over its connection);
        /// the first stream out of order, or nil.
        static func outOfOrder(_ connections: [Data], streams: [Range<Int>]) -> String? {
            for (c, data) in connections.enumerated() {
                var last = [Int](repeating: -1, count: streams.count)
                for n in lineNumbers(data) {
                    guard let s = streams.firstIndex(where: { $0.contains(n) }) else { continue }
                    if n <= last[s] { return "connection \(c): \(n) after \(last[s]) (stream \(streams[s]))" }
                    last[s] = n
                }
            }
            return nil
        }

        /// The output is down while two tcp connections and a followed file deliver 90,000 lines:
        /// the inputs never pause (no backpressure time), RSS stays flat, everything is in the
        /// buffer; SIGTERM exits at once leaving it there; the next run delivers every line once,
        /// in order per stream, when the receiver appears, and deletes the delivered segments.
        @Test func anOutputDownWhileTCPAndFileInputsArriveCausesNoBackpressureAndEveryLineArrivesInOrderPerStream() throws {
            let directory = try TemporaryDirectory()
            let (inPort, outPort, admin) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let input = directory.path("app.ndjson"), buffer = directory.path("buffer")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let perStream = 30_000
            let streams = (0..<3).map { ($0 * perStream)..<(($0 + 1) * perStream) }
            let arguments = ["run", "--workers", "2", "--pool-capacity", "16384", "--admin", "127.0.0.1:\(admin)",
                             "--input", "tcp:listen=127.0.0.1:\(inPort)", "--input", "file:path=\(input),follow=true,offsets=\(directory.path("offsets")),offsets-interval=100ms",
                             "--output", Self.output(port: outPort, buffer: buffer)]
            let sluice = try SluiceProcess(arguments, in: directory)
            try AdminHTTP.waitForReady(port: admin, sluice)
            let pid = try ProcessStatus.processID(of: sluice)
            let rssBefore = try ProcessStatus.residentBytes(of: pid)

            // 10,000 lines/s per stream for 3 s; the output's port has no listener.
            let writer = NumberedLineAppender(path: input, numbers: streams[0], linesPerChunk: 500, chunkInterval: .milliseconds(50))
            let senders = streams[1...].map { NumberedLineSender(port: inPort, numbers: $0, linesPerChunk: 500, chunkInterval: .milliseconds(50)) }
            writer.start()
            senders.forEach { $0.start() }
            var rss: [Int] = []
            while !writer.isDone || !senders.allSatisfy(\.isDone) {
                usleep(250_000)
                rss.append(try ProcessStatus.residentBytes(of: pid))
            }
            try writer.waitUntilDone(within: .seconds(30))
            for s in senders { try s.waitUntilDone(within: .seconds(30)) }
            var metrics: [PrometheusSample] = []
            try AdminHTTP.waitFor("every line written to the buffer", within: .seconds(30)) {
                metrics = try Self.metrics(admin)
                return PrometheusSample.value(metrics, "sluice_buffer_records_written_total") == Double(3 * perStream)
            }
            let backpressure = PrometheusSample.value(metrics, "sluice_backpressure_seconds_total") ?? -1
            let bufferBytes = PrometheusSample.value(metrics, "sluice_buffer_bytes", ["pipeline": "main", "output": "0", "plugin": "tcp"]) ?? 0
            let age = PrometheusSample.value(metrics, "sluice_buffer_oldest_record_age_seconds") ?? -1
            #expect(backpressure == 0, "the inputs paused for \(backpressure) s while the buffer had room")
            #expect(PrometheusSample.value(metrics, "sluice_events_out_total", ["pipeline": "main"]) == 0)
            #expect(bufferBytes > Double(3 * perStream * 80))
            let pipelines = try AdminHTTP.get(port: admin, "/pipelines").body
            #expect(pipelines.contains("\"buffers\":[{\"output\":0,\"plugin\":\"tcp\""), "\(pipelines)")
            #expect(pipelines.contains("\"records_written\":\(3 * perStream)"), "\(pipelines)")

            // SIGTERM with the output down: the buffer keeps what was not delivered.
            let stopStart = ContinuousClock.now
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
            let stopTime = ContinuousClock.now - stopStart
            var inFiles = NumberTally(expected: 3 * perStream)
            for payload in BufferSegments.payloads(under: buffer) { payload.withUnsafeBytes { inFiles.add(line: $0) } }
            #expect(inFiles.missingCount == 0, "in the segment files: \(inFiles)")

            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            let second = try SluiceProcess(arguments, in: directory)
            var tally = NumberTally(expected: 3 * perStream)
            try waitUntil("every line at the receiver", within: .seconds(60), while: second) {
                tally = receiver.tally(expected: 3 * perStream)
                return tally.missingCount == 0
            }
            let drained = try Self.metrics(admin)
            second.send(signal: SIGTERM)
            #expect(try second.waitForExit(within: .seconds(10)) == .exited(0))
            tally = receiver.tally(expected: 3 * perStream)
            recordMeasurement("backpressure \(backpressure) s; buffer \(Int(bufferBytes)) B, oldest record \(age) s; RSS before \(rssBefore) B, "
                + "during \(rss.min() ?? 0)...\(rss.max() ?? 0) B; SIGTERM took \(stopTime); \(tally); \(try second.summary())", named: "disk-buffer-outage")
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            #expect(Self.outOfOrder(receiver.connectionData(), streams: streams) == nil)
            #expect(rss.allSatisfy { Double($0) <= Double(rssBefore) * 1.10 }, "RSS before \(rssBefore) B, during: \(rss)")
            #expect(PrometheusSample.value(drained, "sluice_buffer_records_read_total") == Double(3 * perStream))
            #expect(PrometheusSample.value(drained, "sluice_events_out_total", ["pipeline": "main"]) == Double(3 * perStream))
            #expect(BufferSegments.files(under: buffer).isEmpty, "delivered segments are deleted: \(BufferSegments.files(under: buffer))")
        }

        /// A reload (SIGHUP) of a pipeline whose output is down: the old definition stops its
        /// buffer without delivering, the new one takes the same directory over, and every line
        /// from before and after the reload arrives once the receiver is there.
        @Test func aReloadedPipelineTakesItsDiskBufferOverAndDeliversEveryLineOnce() throws {
            let directory = try TemporaryDirectory()
            let (inPort, outPort, admin) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let config = directory.path("sluice.yaml")
            func write(reconnectMax: String) throws {
                try """
                settings: {admin: "127.0.0.1:\(admin)", workers: 2}
                pipelines:
                  main:
                    input: {type: tcp, listen: "127.0.0.1:\(inPort)"}
                    output: {type: tcp, address: "127.0.0.1:\(outPort)", reconnect-max: \(reconnectMax), buffer: disk, buffer-dir: \(directory.path("buffer")), buffer-max-size: 64MiB}
                """.write(toFile: config, atomically: true, encoding: .utf8)
            }
            try write(reconnectMax: "200ms")
            let sluice = try SluiceProcess(["run", "--config", config], in: directory)
            try AdminHTTP.waitForReady(port: admin, sluice)
            let count = 20_000
            let before = NumberedLineSender(port: inPort, numbers: 0..<(count / 2), linesPerChunk: 1_000, chunkInterval: .milliseconds(10))
            before.start()
            try before.waitUntilDone(within: .seconds(30))
            try AdminHTTP.waitFor("the first half in the buffer", within: .seconds(30)) {
                PrometheusSample.value(try Self.metrics(admin), "sluice_buffer_records_written_total") == Double(count / 2)
            }
            try write(reconnectMax: "300ms")
            sluice.send(signal: SIGHUP)
            try sluice.waitForStandardError(containing: "reload done", within: .seconds(20))
            let after = NumberedLineSender(port: inPort, numbers: (count / 2)..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(10))
            after.start()
            try after.waitUntilDone(within: .seconds(30))
            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            var tally = NumberTally(expected: count)
            try waitUntil("every line at the receiver", within: .seconds(30), while: sluice) {
                tally = receiver.tally(expected: count)
                return tally.missingCount == 0
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
            tally = receiver.tally(expected: count)
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
        }

        /// A buffer filled by two workers while the output is down, then a run with one worker and
        /// the output up: the second worker's directory, which no worker owns any more, is
        /// adopted by worker 0 at start and every line is delivered once.
        @Test func aWorkerDirectoryLeftByARunWithMoreWorkersIsAdoptedAndDelivered() throws {
            let directory = try TemporaryDirectory()
            let (inPort, outPort, admin) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let buffer = directory.path("buffer")
            func arguments(workers: Int) -> [String] {
                ["run", "--workers", "\(workers)", "--admin", "127.0.0.1:\(admin)", "--input", "tcp:listen=127.0.0.1:\(inPort)",
                 "--output", Self.output(port: outPort, buffer: buffer)]
            }
            let count = 40_000, connections = 8
            let first = try SluiceProcess(arguments(workers: 2), in: directory)
            try AdminHTTP.waitForReady(port: admin, first)
            // Eight connections: the kernel spreads them over both workers' listening sockets.
            let senders = (0..<connections).map { c in
                NumberedLineSender(port: inPort, numbers: (c * count / connections)..<((c + 1) * count / connections), linesPerChunk: 500,
                                   chunkInterval: .milliseconds(5))
            }
            senders.forEach { $0.start() }
            for s in senders { try s.waitUntilDone(within: .seconds(30)) }
            try AdminHTTP.waitFor("every line in the buffer", within: .seconds(30)) {
                PrometheusSample.value(try Self.metrics(admin), "sluice_buffer_records_written_total") == Double(count)
            }
            first.send(signal: SIGTERM)
            #expect(try first.waitForExit(within: .seconds(10)) == .exited(0))
            let secondWorker = BufferSegments.files(under: buffer).filter { $0.contains("/worker-1/") }
            #expect(!secondWorker.isEmpty, "worker 1 wrote nothing: \(BufferSegments.files(under: buffer))")

            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            let second = try SluiceProcess(arguments(workers: 1), in: directory)
            var tally = NumberTally(expected: count)
            try waitUntil("every line at the receiver", within: .seconds(60), while: second) {
                tally = receiver.tally(expected: count)
                return tally.missingCount == 0
            }
            second.send(signal: SIGTERM)
            #expect(try second.waitForExit(within: .seconds(10)) == .exited(0))
            tally = receiver.tally(expected: count)
            recordMeasurement("\(secondWorker.count) segment(s) of worker 1 adopted; \(tally)", named: "disk-buffer-adoption")
            #expect(tally.missingCount == 0 && tally.duplicates == 0, "\(tally)")
            #expect(!FileManager.default.fileExists(atPath: buffer + "/worker-1"), "the adopted directory is removed")
            #expect(second.standardError().contains("adopted by"), "\(second.standardErrorTail())")
        }

        /// SIGKILL while lines arrive over TCP and the output is down part of the time: every
        /// line that was in a segment file when the node died is delivered, every line of a
        /// connection that ended cleanly (the node read it to its end and closed it) at least
        /// `cleanEndGrace` before a kill too, and what is lost is only the tail of a connection
        /// the kill cut (lines the kernel had taken, or the node had read, that were not in the
        /// buffer yet: the node closes a connection once it has read it, not once its lines are
        /// in the buffer).
        @Test(arguments: [("batch", 5, 100_000), ("none", 2, 50_000), ("interval:200ms", 2, 50_000)])
        func killedWhileLinesArriveOverTCPEveryLineThatWasInTheBufferIsDelivered(sync: String, kills: Int, count: Int) throws {
            let directory = try TemporaryDirectory()
            let (inPort, outPort) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let buffer = directory.path("buffer")
            let arguments = ["run", "--workers", "2", "--admin", "off", "--input", "tcp:listen=127.0.0.1:\(inPort)",
                             "--output", Self.output(port: outPort, buffer: buffer, "buffer-sync=\(sync)")]
            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            let seed = ProcessInfo.processInfo.environment["SLUICE_E2E_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...UInt64.max)
            var random = SeededRandom(seed: seed)
            // 20,000 lines/s.
            let sender = NumberedLineSender(port: inPort, numbers: 0..<count, linesPerChunk: 200, chunkInterval: .milliseconds(10))
            var mustArrive = Set<Int>()
            var runs: [String] = []
            var killedAt: [ContinuousClock.Instant] = []
            sender.start()
            for run in 1...kills {
                // The output is down during odd runs.
                if run % 2 == 1 { receiver.goAway() } else { try receiver.comeBack() }
                let sluice = try SluiceProcess(arguments, in: directory)
                // Killed once it wrote to the buffer (a slow start must not make an empty run).
                let bytesBefore = BufferSegments.files(under: buffer).reduce(0) { $0 + fileSize($1) }
                try? waitUntil("records written by run \(run)", within: .seconds(10), while: sluice) {
                    sender.isDone || BufferSegments.files(under: buffer).reduce(0) { $0 + fileSize($1) } > bytesBefore
                }
                let lifetimeMillis = Int.random(in: 400...1_200, using: &random)
                usleep(UInt32(lifetimeMillis) * 1000)
                killedAt.append(ContinuousClock.now)
                sluice.send(signal: SIGKILL)
                #expect(try sluice.waitForExit(within: .seconds(10)) == .signalled(SIGKILL))
                let inBuffer = BufferSegments.payloads(under: buffer).flatMap { lineNumbers($0 + Data([10])) }
                mustArrive.formUnion(inBuffer)
                runs.append("run \(run) (output \(run % 2 == 1 ? "down" : "up")): killed after \(lifetimeMillis) ms, \(inBuffer.count) lines in the buffer")
            }
            if kills % 2 == 1 { try receiver.comeBack() }
            let last = try SluiceProcess(arguments, in: directory)
            try sender.waitUntilDone(within: .seconds(60))
            let connections = sender.connections
            // A clean end just before a kill may have lines read and not yet written to the buffer.
            func cutByAKill(_ c: NumberedLineSender.Connection) -> Bool {
                guard let end = c.endedAt else { return true }
                return killedAt.contains { $0 >= end && $0 - end < Self.cleanEndGrace }
            }
            let clean = connections.filter { $0.closedCleanly && !cutByAKill($0) }.flatMap { Array($0.numbers) }
            var tally = NumberTally(expected: count)
            try? waitUntil("every buffered and cleanly sent line at the receiver", within: .seconds(30), while: last) {
                tally = receiver.tally(expected: count)
                return mustArrive.allSatisfy { tally.counts[$0] > 0 } && clean.allSatisfy { tally.counts[$0] > 0 }
            }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))
            tally = receiver.tally(expected: count)
            let missingBuffered = mustArrive.filter { tally.counts[$0] == 0 }.sorted()
            let missingClean = clean.filter { tally.counts[$0] == 0 }
            // Each connection's delivered lines are a prefix of what it sent: a loss is only the
            // tail a kill cut off, never a hole.
            var lostPerKill: [Int] = []
            var holes: [String] = []
            for c in connections {
                let delivered = c.numbers.map { tally.counts[$0] > 0 }
                let prefix = delivered.firstIndex(of: false) ?? delivered.count
                if delivered[prefix...].contains(true) { holes.append("\(c): line \(c.numbers.lowerBound + prefix) missing before later ones") }
                if !c.closedCleanly || cutByAKill(c) { lostPerKill.append(delivered.count - prefix) }
            }
            recordMeasurement("sync=\(sync), seed \(seed); \(runs.joined(separator: "; ")); connections \(connections); "
                + "lines lost per kill (sent, not yet in the buffer): \(lostPerKill); \(tally); last run: \(try last.summary())",
                named: "disk-buffer-kill-\(sync)")
            #expect(missingBuffered.isEmpty, "\(missingBuffered.count) lines that were in the buffer never arrived, first \(missingBuffered.prefix(10))")
            if !missingClean.isEmpty || !missingBuffered.isEmpty {
                let left = Set(BufferSegments.payloads(under: buffer).flatMap { lineNumbers($0 + Data([10])) })
                let files = BufferSegments.files(under: buffer).map { "\(($0 as NSString).lastPathComponent): \(fileSize($0)) B" }
                Issue.record("still in the buffer after the last run: \(missingClean.filter(left.contains).count) of the missing clean lines; files \(files); last run's log:\n\(last.standardErrorTail())")
            }
            #expect(missingClean.isEmpty, "\(missingClean.count) lines of cleanly closed connections never arrived")
            #expect(holes.isEmpty, "\(holes)")
            #expect(mustArrive.count > 0)
        }

        /// Segment files damaged while the node is down — bytes flipped in the middle of one, a
        /// middle segment's tail deleted, the last one cut mid-record: the node starts, cuts the
        /// torn tail and skips the damaged stretches (each logged with its place and counted),
        /// and delivers every record that is still intact.
        @Test func damagedSegmentsAreReportedAndEveryIntactRecordIsDelivered() throws {
            let directory = try TemporaryDirectory()
            let (inPort, outPort, admin) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let buffer = directory.path("buffer")
            let count = 20_000
            let arguments = ["run", "--workers", "1", "--admin", "127.0.0.1:\(admin)", "--input", "tcp:listen=127.0.0.1:\(inPort)",
                             "--output", Self.output(port: outPort, buffer: buffer, "buffer-segment-size=64KiB")]
            let sluice = try SluiceProcess(arguments, in: directory)
            try AdminHTTP.waitForReady(port: admin, sluice)
            let sender = NumberedLineSender(port: inPort, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(10))
            sender.start()
            try sender.waitUntilDone(within: .seconds(30))
            try AdminHTTP.waitFor("every line in the buffer", within: .seconds(30)) {
                PrometheusSample.value(try Self.metrics(admin), "sluice_buffer_records_written_total") == Double(count)
            }
            sluice.send(signal: SIGKILL)
            _ = try sluice.waitForExit(within: .seconds(10))

            let files = BufferSegments.files(under: buffer)
            try #require(files.count >= 12, "\(files.count) segments")
            // Flip bytes inside a record of the fourth segment.
            let flipped = files[3]
            var data = try Data(contentsOf: URL(fileURLWithPath: flipped))
            let records = BufferSegments.records(in: data)
            let victim = records[records.count / 2].offset
            for i in (victim + 30)..<(victim + 34) { data[i] ^= 0xFF }
            try data.write(to: URL(fileURLWithPath: flipped))
            // Delete the tail of the eighth segment, mid-record.
            let cut = files[7]
            let cutRecords = BufferSegments.records(in: try Data(contentsOf: URL(fileURLWithPath: cut)))
            #expect(truncate(cut, off_t(cutRecords[cutRecords.count / 3].offset + 10)) == 0)
            // Cut the last segment mid-record (as a crash during a write would).
            let lastFile = files[files.count - 1]
            let lastRecords = BufferSegments.records(in: try Data(contentsOf: URL(fileURLWithPath: lastFile)))
            let tornAt = lastRecords[lastRecords.count - 2].offset
            #expect(truncate(lastFile, off_t(tornAt + 17)) == 0)
            var intact = Set<Int>()
            for payload in BufferSegments.payloads(under: buffer) { intact.formUnion(lineNumbers(payload + Data([10]))) }
            let damaged = count - intact.count
            #expect(damaged > 2 && damaged < count / 2, "\(damaged) records damaged")

            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            let second = try SluiceProcess(arguments, in: directory)
            try AdminHTTP.waitForReady(port: admin, second)
            var tally = NumberTally(expected: count)
            try? waitUntil("every intact record at the receiver", within: .seconds(30), while: second) {
                tally = receiver.tally(expected: count)
                return intact.allSatisfy { tally.counts[$0] > 0 }
            }
            let metrics = try Self.metrics(admin)
            second.send(signal: SIGTERM)
            #expect(try second.waitForExit(within: .seconds(10)) == .exited(0))
            tally = receiver.tally(expected: count)
            let log = second.standardError()
            let missingIntact = intact.filter { tally.counts[$0] == 0 }.count
            recordMeasurement("\(files.count) segments, \(damaged) records damaged; \(tally); corrupt \(PrometheusSample.value(metrics, "sluice_buffer_corrupt_total") ?? -1), "
                + "torn tails \(PrometheusSample.value(metrics, "sluice_buffer_torn_tails_total") ?? -1)", named: "disk-buffer-corruption")
            #expect(missingIntact == 0, "\(missingIntact) intact records not delivered; \(tally)")
            #expect(tally.distinct == intact.count, "only intact records arrive: \(tally)")
            #expect(PrometheusSample.value(metrics, "sluice_buffer_torn_tails_total") == 1)
            #expect(PrometheusSample.value(metrics, "sluice_buffer_corrupt_total") == 2)
            let lastName = (lastFile as NSString).lastPathComponent, flippedName = (flipped as NSString).lastPathComponent
            let cutName = (cut as NSString).lastPathComponent
            #expect(log.contains("\(lastName): torn tail at byte \(tornAt)"), "\(second.standardErrorTail())")
            #expect(log.contains("\(flippedName): corrupt bytes \(victim)..<"), "\(second.standardErrorTail())")
            #expect(log.contains("\(cutName): no valid record after byte \(cutRecords[cutRecords.count / 3].offset)"), "\(second.standardErrorTail())")
        }

        /// A buffer on a 2 MiB tmpfs (buffer-max-size far above it) while the output is down:
        /// with buffer-full=block the disk fills, the inputs pause (backpressure), and every line
        /// arrives once the output returns; with drop-newest the inputs never pause and what
        /// does not fit is dropped, counted, and everything else delivered.
        @Test(.enabled(if: geteuid() == 0, "mounting a tmpfs needs root"), arguments: ["block", "drop-newest"])
        func aFullDiskBlocksTheInputsWithoutLossOrDropsAndCountsTheNewest(policy: String) throws {
            let directory = try TemporaryDirectory()
            let mountPoint = directory.path("small")
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            let mount = Process()
            mount.executableURL = URL(fileURLWithPath: "/bin/mount")
            mount.arguments = ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]
            try mount.run()
            mount.waitUntilExit()
            try #require(mount.terminationStatus == 0, "mount -t tmpfs failed")
            defer {
                let umount = Process()
                umount.executableURL = URL(fileURLWithPath: "/bin/umount")
                umount.arguments = ["-l", mountPoint]
                try? umount.run()
                umount.waitUntilExit()
            }
            let (inPort, outPort, admin) = (try LoopbackTCP.freePort(), try LoopbackTCP.freePort(), try LoopbackTCP.freePort())
            let count = 60_000  // about 6 MB of records: three times the file system
            let arguments = ["run", "--workers", "1", "--admin", "127.0.0.1:\(admin)", "--input", "tcp:listen=127.0.0.1:\(inPort)",
                             "--output", Self.output(port: outPort, buffer: mountPoint + "/buffer", "buffer-segment-size=256KiB,buffer-full=\(policy)")]
            let sluice = try SluiceProcess(arguments, in: directory)
            try AdminHTTP.waitForReady(port: admin, sluice)
            let sender = NumberedLineSender(port: inPort, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(20))
            sender.start()
            var metrics: [PrometheusSample] = []
            func value(_ name: String) -> Double { PrometheusSample.value(metrics, name) ?? -1 }
            if policy == "block" {
                try AdminHTTP.waitFor("the inputs paused on the full disk", within: .seconds(30)) {
                    metrics = try Self.metrics(admin)
                    return value("sluice_backpressure_seconds_total") > 0.5
                }
                #expect(!sender.isDone, "the sender was held back")
            } else {
                try sender.waitUntilDone(within: .seconds(30))
                try AdminHTTP.waitFor("every line framed", within: .seconds(30)) {
                    metrics = try Self.metrics(admin)
                    return value("sluice_events_in_total") == Double(count)
                        && value("sluice_buffer_records_written_total") + value("sluice_buffer_records_dropped_total") == Double(count)
                }
            }
            let whileFull = (backpressure: value("sluice_backpressure_seconds_total"), dropped: value("sluice_buffer_records_dropped_total"),
                             bytes: value("sluice_buffer_bytes"))
            let receiver = try LineReceiver(port: outPort)
            defer { receiver.stop() }
            try sender.waitUntilDone(within: .seconds(60))
            var tally = NumberTally(expected: count)
            try waitUntil("every line delivered or dropped", within: .seconds(60), while: sluice) {
                tally = receiver.tally(expected: count)
                metrics = try Self.metrics(admin)
                return tally.distinct + Int(value("sluice_buffer_records_dropped_total")) == count
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
            recordMeasurement("\(policy): while full: backpressure \(whileFull.backpressure) s, dropped \(whileFull.dropped), buffer \(whileFull.bytes) B; "
                + "\(tally); \(try sluice.summary())", named: "disk-buffer-full-\(policy)")
            #expect(sluice.standardError().contains("the disk under"), "\(sluice.standardErrorTail())")
            if policy == "block" {
                #expect(tally.missingCount == 0, "\(tally)")
                #expect(value("sluice_buffer_records_dropped_total") == 0)
            } else {
                #expect(whileFull.dropped > 0 && whileFull.backpressure == 0, "\(whileFull)")
                #expect(tally.distinct == count - Int(value("sluice_buffer_records_dropped_total")), "\(tally)")
            }
        }
    }
}
