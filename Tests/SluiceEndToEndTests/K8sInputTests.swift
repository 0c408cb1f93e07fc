import Foundation
import Glibc
import SluiceCore
import Testing

extension EndToEndTests {
    /// The k8s input on container log files the test writes as container runtimes do (CRI and
    /// Docker JSON, long messages split into partial lines, writes cut mid-line and mid-record).
    @Suite struct K8sInput {
        typealias Files = ContainerLogFiles

        static func seed() -> UInt64 {
            ProcessInfo.processInfo.environment["SLUICE_E2E_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...UInt64.max)
        }

        /// Sixteen containers, half CRI and half Docker, half of the files there before the node
        /// starts and half appearing under the glob after; every file written in pieces of random
        /// size while the node follows it. Each file's events are its records, each once, in order,
        /// the partial lines joined, with the metadata of the file name.
        @Test func criAndDockerFilesUnderAGlobWrittenInPiecesArriveWholeOnceAndInOrder() throws {
            let directory = try TemporaryDirectory()
            let containers = directory.path("containers"), output = directory.path("out.ndjson")
            try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
            let seed = Self.seed()
            var random = SeededRandom(seed: seed)
            let fileCount = 16, perFile = 400
            let contents = (0..<fileCount).map { Files.content($0, 0..<perFile, $0 % 2 == 0 ? .cri : .docker) }
            let paths = (0..<fileCount).map { "\(containers)/\(Files.name($0))" }
            for f in 0..<fileCount / 2 { try Files.appendInPieces(Array(contents[f].bytes.prefix(contents[f].bytes.count / 3)), to: paths[f], using: &random) }

            let sluice = try SluiceProcess(["run", "--input", "k8s:path=\(containers)/*.log,rescan-interval=100ms,poll-interval=20ms",
                                            "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            // The rest of every file, the files round after round, a piece of each at a time.
            var written = (0..<fileCount).map { $0 < fileCount / 2 ? contents[$0].bytes.count / 3 : 0 }
            while written.indices.contains(where: { written[$0] < contents[$0].bytes.count }) {
                for f in 0..<fileCount where written[f] < contents[f].bytes.count {
                    let n = min(contents[f].bytes.count - written[f], Int.random(in: 1_000...40_000, using: &random))
                    try Files.appendInPieces(Array(contents[f].bytes[written[f]..<written[f] + n]), to: paths[f], using: &random, pauseMicros: 300)
                    written[f] += n
                }
            }
            let total = contents.reduce(0) { $0 + $1.records.count }
            try waitUntil("\(total) events", within: .seconds(60), while: sluice) {
                (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } ?? 0 >= total
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

            let arrived = Files.Arrived(try Data(contentsOf: URL(fileURLWithPath: output)))
            #expect(arrived.unreadable == 0)
            for f in 0..<fileCount {
                let problems = arrived.problems(file: f, expected: contents[f].records)
                #expect(problems.isEmpty, "seed \(seed): \(problems)")
            }
            let summary = try sluice.summary()
            let partials = contents.reduce(0) { $0 + $1.bytes.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } } - total
            #expect(summary.count("partial_lines_joined") == partials && summary.count("container_log_parse_errors") == 0, "\(summary)")
        }

        /// A CRI and a Docker container whose files are rotated five times within about a second
        /// (rename, new file) while the output's receiver does not read, so the reader is far
        /// behind: every rotated file is kept open and read in turn, and a record whose first
        /// line went into the old file and its last into the new one is joined across them. Each
        /// file's events: every record once, in order.
        @Test func fiveRotationsWhileTheOutputIsSlowedDeliverEveryRecordOnceInOrder() throws {
            let directory = try TemporaryDirectory()
            let containers = directory.path("containers")
            try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
            let perFile = 3_000, rotations = 5
            let formats: [Files.Format] = [.cri, .docker]
            let paths = (0..<2).map { "\(containers)/\(Files.name($0))" }
            var expected: [[Files.Record]] = [[], []]
            var random = SeededRandom(seed: Self.seed())
            for f in 0..<2 {
                let first = Files.content(f, 0..<perFile, formats[f])
                try Files.appendInPieces(first.bytes, to: paths[f], using: &random)
                expected[f] = first.records
            }
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.stopReading()
            // A small pool without medium slots, so the stalled output holds the reader back
            // (the long records wait for the few large slots).
            let sluice = try SluiceProcess(["run", "--workers", "1", "--pool-capacity", "1024", "--medium-event-slots", "0",
                                            "--input", "k8s:path=\(containers)/*.log",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            try waitUntil("the output to stall", within: .seconds(20), while: sluice) { receiver.unreadBytes() > 0 }
            Thread.sleep(forTimeInterval: 0.3)
            for r in 1...rotations {
                for f in 0..<2 {
                    // A long record: its first line ends the old file, the rest starts the new one.
                    let straddling = Files.record(f, 11 * 100_000 * r + 3)  // k % 11 == 3: a long one
                    let lines = Files.lines(straddling, formats[f])
                    try Files.appendInPieces(lines[0], to: paths[f], using: &random)
                    guard rename(paths[f], "\(paths[f]).\(r)") == 0 else { Issue.record("rename: errno \(errno)"); return }
                    let next = Files.content(f, r * perFile..<(r + 1) * perFile, formats[f])
                    try Files.appendInPieces(Array(lines.dropFirst().joined()) + next.bytes, to: paths[f], using: &random)
                    expected[f] += [straddling] + next.records
                }
                Thread.sleep(forTimeInterval: 0.18)
            }
            receiver.resumeReading()
            let total = expected[0].count + expected[1].count
            try waitUntil("\(total) events at the receiver", within: .seconds(60), while: sluice) {
                receiver.receivedData().reduce(0) { $0 + ($1 == 10 ? 1 : 0) } >= total
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

            let arrived = Files.Arrived(receiver.receivedData())
            #expect(arrived.unreadable == 0)
            for f in 0..<2 {
                let problems = arrived.problems(file: f, expected: expected[f])
                #expect(problems.isEmpty, "\(problems)")
            }
            let stderr = sluice.standardError()
            #expect(stderr.components(separatedBy: "was rotated").count - 1 == 2 * rotations, "\(stderr)")
            #expect(stderr.contains("4 newer waiting"), "the reader was still in the first file after the last rotation: \(stderr)")
        }

        /// A container removed: its log file is deleted. The node reads it to its end, hands on
        /// the record its last partial line began (the rest will never come), and closes it.
        @Test func aDeletedFileIsReadToItsEndItsPendingRecordHandedOnAndClosed() throws {
            let directory = try TemporaryDirectory()
            let containers = directory.path("containers"), output = directory.path("out.ndjson")
            try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
            let path = "\(containers)/\(Files.name(0))"
            let content = Files.content(0, 0..<50, .cri)
            let unfinished = Files.lines(Files.record(0, 11 * 1000 + 3), .cri)[0]  // the first of a long record's lines
            try Data(content.bytes + unfinished).write(to: URL(fileURLWithPath: path))
            let sluice = try SluiceProcess(["run", "--input", "k8s:path=\(containers)/*.log,poll-interval=20ms", "--output", "file:path=\(output)"],
                                           in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let lineCount = { (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } ?? 0 }
            try waitUntil("\(content.records.count) events", within: .seconds(20), while: sluice) { lineCount() >= content.records.count }
            #expect(sluice.openFiles().contains(path))
            #expect(unlink(path) == 0)
            try waitUntil("the pending record handed on", within: .seconds(20), while: sluice) { lineCount() > content.records.count }
            try waitUntil("the deleted file closed", within: .seconds(20), while: sluice) { !sluice.openFiles().contains { $0.hasPrefix(path) } }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

            let arrived = Files.Arrived(try Data(contentsOf: URL(fileURLWithPath: output)))
            let events = arrived.byContainer["app-0"] ?? []
            #expect(events.count == content.records.count + 1)
            #expect(events.dropLast().map { $0["log"] as? String } == content.records.map(\.message))
            let expectedPart = String(decoding: unfinished.dropFirst(unfinished.firstIndex(of: UInt8(ascii: "P"))! + 2).dropLast(), as: UTF8.self)
            #expect(events.last?["log"] as? String == expectedPart)
            #expect(sluice.standardError().contains("was deleted: read to its end, closed"))
        }

        /// Four containers (CRI and Docker) written while the node is killed three times at random
        /// moments and started again with its offsets: every record arrives whole at least once
        /// (a record split into partial lines is read again from its first line, never in parts).
        @Test func killedThreeTimesWhileWrittenEveryRecordArrivesWholeAtLeastOnce() throws {
            let directory = try TemporaryDirectory()
            let containers = directory.path("containers"), output = directory.path("out.ndjson"), offsets = directory.path("offsets")
            try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
            let seed = Self.seed()
            var random = SeededRandom(seed: seed)
            let fileCount = 4, perFile = 4_000
            let contents = (0..<fileCount).map { Files.content($0, 0..<perFile, $0 % 2 == 0 ? .cri : .docker) }
            let paths = (0..<fileCount).map { "\(containers)/\(Files.name($0))" }
            for path in paths { #expect(FileManager.default.createFile(atPath: path, contents: nil)) }
            let arguments = ["run", "--input", "k8s:path=\(containers)/*.log,offsets=\(offsets),offsets-interval=50ms,poll-interval=20ms",
                             "--output", "file:path=\(output)"]

            // The writer: a piece of every file in turn, about 3 s in all.
            let done = DispatchSemaphore(value: 0)
            let writerSeed = random.next()
            let writer = Thread {
                var random = SeededRandom(seed: writerSeed)
                var written = [Int](repeating: 0, count: fileCount)
                while written.indices.contains(where: { written[$0] < contents[$0].bytes.count }) {
                    for f in 0..<fileCount where written[f] < contents[f].bytes.count {
                        let n = min(contents[f].bytes.count - written[f], Int.random(in: 2_000...30_000, using: &random))
                        try? Files.appendInPieces(Array(contents[f].bytes[written[f]..<written[f] + n]), to: paths[f], using: &random)
                        written[f] += n
                    }
                    usleep(20_000)
                }
                done.signal()
            }
            writer.start()
            var runs: [String] = []
            for run in 1...3 {
                let sluice = try SluiceProcess(arguments, in: directory)
                let lifetimeMillis = Int.random(in: 300...1_200, using: &random)
                usleep(UInt32(lifetimeMillis) * 1000)
                sluice.send(signal: SIGKILL)
                #expect(try sluice.waitForExit(within: .seconds(10)) == .signalled(SIGKILL), "run \(run)")
                runs.append("run \(run): SIGKILL after \(lifetimeMillis) ms, \(fileSize(output)) B out")
            }
            let last = try SluiceProcess(arguments, in: directory)
            #expect(done.wait(timeout: .now() + 60) == .success, "the writer finished")
            try waitUntil("every file's saved offset at its end", within: .seconds(60), while: last) {
                let saved = (try? OffsetFile.read(path: offsets)) ?? []
                return paths.allSatisfy { path in saved.contains { $0.path == path && Int($0.offset) == fileSize(path) } }
            }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))

            let arrived = Files.Arrived(try Data(contentsOf: URL(fileURLWithPath: output)))
            let total = contents.reduce(0) { $0 + $1.records.count }
            recordMeasurement("seed \(seed); \(runs.joined(separator: "; ")); \(arrived.events) events for \(total) records, \(arrived.unreadable) cut lines",
                              named: "k8s-kill-9")
            #expect(arrived.unreadable <= 3, "at most one line cut per SIGKILL")
            for f in 0..<fileCount {
                let problems = arrived.problems(file: f, expected: contents[f].records, atLeastOnce: true)
                #expect(problems.isEmpty, "seed \(seed): \(problems)")
            }
        }
    }
}

extension EndToEndTests.K8sInput {
    /// A CRI container that wrote a `P` line and died before its `F`, and a Docker container
    /// whose last `log` has no final `\n`: once the files have been read to their end for
    /// `partial-timeout`, each pending record comes out alone as one event with
    /// `"partial":true`, counted in partial_timeouts; a line written after that is a record of
    /// its own, and the records before arrive untouched.
    @Test func aRecordWhoseLastLineNeverComesIsHandedOnPartialAfterTheTimeout() throws {
        let directory = try TemporaryDirectory()
        let containers = directory.path("containers"), output = directory.path("out.ndjson")
        try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
        let formats: [Files.Format] = [.cri, .docker]
        let paths = (0..<2).map { "\(containers)/\(Files.name($0))" }
        var contents: [(bytes: [UInt8], records: [Files.Record])] = []
        var unfinished: [[UInt8]] = []
        for f in 0..<2 {
            let content = Files.content(f, 0..<40, formats[f])
            let first = Files.lines(Files.record(f, 11 * 1000 + 3), formats[f])[0]  // the first of a long record's lines
            try Data(content.bytes + first).write(to: URL(fileURLWithPath: paths[f]))
            contents.append(content)
            unfinished.append(first)
        }
        let sluice = try SluiceProcess(["run", "--input", "k8s:path=\(containers)/*.log,poll-interval=20ms,partial-timeout=300ms",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        let lineCount = { (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } ?? 0 }
        try waitUntil("every record and both partial ones", within: .seconds(20), while: sluice) { lineCount() >= 40 + 40 + 2 }
        // Later lines: records of their own (the pending ones are gone).
        let later = (0..<2).map { Files.content($0, 50..<52, formats[$0]) }
        for f in 0..<2 {
            let fd = open(paths[f], O_WRONLY | O_APPEND)
            #expect(later[f].bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == later[f].bytes.count)
            close(fd)
        }
        try waitUntil("the later records", within: .seconds(20), while: sluice) { lineCount() >= 40 + 40 + 2 + 4 }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

        let arrived = Files.Arrived(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(arrived.unreadable == 0)
        for f in 0..<2 {
            let events = arrived.byContainer["app-\(f)"] ?? []
            try #require(events.count == 40 + 1 + 2, "\(events.count) events of file \(f)")
            #expect(events.prefix(40).map { $0["log"] as? String } == contents[f].records.map(\.message))
            #expect(events.prefix(40).allSatisfy { $0["partial"] == nil })
            let pending = events[40]
            #expect(pending["partial"] as? Bool == true, "\(pending)")
            // The unfinished line's message: CRI as written (a character the runtime cut in two
            // comes out as U+FFFD), Docker's log unescaped.
            let line = unfinished[f]
            let expectedPart = formats[f] == .cri
                ? String(decoding: line.dropFirst(line.firstIndex(of: UInt8(ascii: "P"))! + 2).dropLast(), as: UTF8.self)
                : (try JSONSerialization.jsonObject(with: Data(line.dropLast())) as? [String: Any])?["log"] as? String
            #expect(pending["log"] as? String == expectedPart, "file \(f)")
            #expect(events.suffix(2).map { $0["log"] as? String } == later[f].records.map(\.message))
        }
        let summary = try sluice.summary()
        #expect(summary.count("partial_timeouts") == 2 && summary.count("partial_records") == 2, "\(summary)")
    }

    /// Fifteen containers come and go, three at a time, on one worker that may hold only four
    /// file sources (`--max-file-sources 4`): each deleted file is read to its end and closed,
    /// and its entry is reused once its events came back, so every container's records
    /// arrive once, in order, none refused; the offsets file keeps no more entries than that.
    @Test func moreContainersThanFileSourcesComeAndGoOverTheNodesLife() throws {
        let directory = try TemporaryDirectory()
        let containers = directory.path("containers"), output = directory.path("out.ndjson"), offsets = directory.path("offsets")
        try FileManager.default.createDirectory(atPath: containers, withIntermediateDirectories: true)
        let sluice = try SluiceProcess(["run", "--workers", "1", "--max-file-sources", "4",
                                        "--input", "k8s:path=\(containers)/*.log,rescan-interval=50ms,poll-interval=20ms,offsets=\(offsets),offsets-interval=50ms",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        let lineCount = { (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $0 + ($1 == 10 ? 1 : 0) } ?? 0 }
        let waves = 5, perWave = 3, perFile = 60
        var contents: [[Files.Record]] = []
        for wave in 0..<waves {
            let files = (wave * perWave..<(wave + 1) * perWave)
            for f in files {
                let content = Files.content(f, 0..<perFile, f % 2 == 0 ? .cri : .docker)
                try Data(content.bytes).write(to: URL(fileURLWithPath: "\(containers)/\(Files.name(f))"))
                contents.append(content.records)
            }
            let expected = contents.reduce(0) { $0 + $1.count }
            try waitUntil("wave \(wave): \(expected) events", within: .seconds(20), while: sluice) { lineCount() >= expected }
            for f in files { #expect(unlink("\(containers)/\(Files.name(f))") == 0) }
            try waitUntil("wave \(wave): its files closed", within: .seconds(20), while: sluice) {
                !sluice.openFiles().contains { $0.hasPrefix(containers) }
            }
        }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))

        let arrived = Files.Arrived(try Data(contentsOf: URL(fileURLWithPath: output)))
        #expect(arrived.unreadable == 0)
        for f in 0..<waves * perWave {
            let problems = arrived.problems(file: f, expected: contents[f])
            #expect(problems.isEmpty, "file \(f): \(problems)")
        }
        let summary = try sluice.summary()
        #expect(summary.count("input_errors") == 0, "\(summary)")
        #expect(!sluice.standardError().contains("max-file-sources"), "\(sluice.standardErrorTail())")
        let saved = try OffsetFile.read(path: offsets)
        #expect(saved.count <= 4, "\(saved.count) entries in the offsets file: \(saved.map(\.path))")
    }
}
