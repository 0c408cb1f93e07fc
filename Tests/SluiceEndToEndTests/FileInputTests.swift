import Foundation
import Testing

extension EndToEndTests {
    @Suite struct FileInput {
        static let eventTypes: [StaticString] = ["view", "click", "purchase"]

        /// Writes `count` NDJSON events with a random `type`, returning the bytes of every non-view
        /// line in file order. Some lines put `type` first, and every line has a decoy field
        /// holding a type name, so only the `type` field may decide.
        static func writeEvents(count: Int, to path: String) throws -> (expected: Data, views: Int) {
            let file = ByteBuilder(capacity: count * 110)
            let expected = ByteBuilder(capacity: count * 110)
            var views = 0
            for id in 0..<count {
                let r = mix(UInt64(id))
                let type = Int(r % 3)
                let start = file.count
                file.append("{")
                if r & 8 != 0 { file.append("\"type\":\""); file.append(eventTypes[type]); file.append("\",") }
                file.append("\"id\":")
                file.append(decimal: id)
                file.append(",\"user\":\"u")
                file.append(decimal: Int((r >> 20) % 10_000))
                file.append("\",\"previous\":\"")
                file.append(eventTypes[Int((r >> 40) % 3)])
                if r & 8 == 0 { file.append("\",\"type\":\""); file.append(eventTypes[type]) }
                file.append("\",\"value\":")
                file.append(decimal: Int((r >> 50) % 1000))
                file.append(",\"msg\":\"lorem ipsum dolor sit amet\"}\n")
                if type == 0 {
                    views += 1
                } else {
                    file.withBytes { expected.append(UnsafeRawBufferPointer(rebasing: $0[start...])) }
                }
            }
            try file.write(to: path)
            return (expected.data, views)
        }

        @Test func aMillionLineFileLosesExactlyItsViewEventsAndKeepsOrderAndBytes() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("events.ndjson"), output = directory.path("out.ndjson")
            let count = 1_000_000
            let (expected, views) = try Self.writeEvents(count: count, to: input)
            let sluice = try SluiceProcess(["run", "--input", "file:path=\(input)", "--action", "json_decode",
                                            "--action", "discard:field=type,equals=view", "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))

            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            expectSameBytes(written, expected)
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == count, "\(summary)")
            #expect(summary.count("events_out") == count - views, "\(summary)")
            #expect(summary.count("discarded") == views, "\(summary)")
            #expect(summary.count("invalid_json") == 0, "\(summary)")
        }

        @Test func framingDeliversPartialLastLineSkipsEmptyLinesKeepsBinaryAndCutsAThreeMiBLine() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("mixed.log"), output = directory.path("out.log")
            let maxEventBytes = 1 << 20
            let everyByteButNewline = (0...255).map(UInt8.init).filter { $0 != 0x0A }
            // Position-dependent content shows which part of the long line is kept.
            let longLine = (0..<(3 << 20)).map { UInt8(33 + ($0 / 7) % 90) }
            let file = ByteBuilder(capacity: 4 << 20)
            let expected = ByteBuilder(capacity: 2 << 20)
            func line(_ bytes: [UInt8], kept: [UInt8]? = nil) {
                file.append(bytes); file.append(byte: 0x0A)
                expected.append(kept ?? bytes); expected.append(byte: 0x0A)
            }
            line(Array("first line".utf8))
            file.append(byte: 0x0A)
            line(Array("nul\u{0}in\u{0}the middle\u{0}".utf8))
            line([0, 0, 0])
            line(everyByteButNewline)
            line(Array("crlf line\r".utf8))
            file.append([0x0A, 0x0A])
            line(longLine, kept: Array(longLine.prefix(maxEventBytes)))
            line(Array("the line after the long one arrives intact".utf8))
            line(Array(everyByteButNewline.reversed()))
            file.append(Array("partial last line without newline".utf8))
            expected.append(Array("partial last line without newline\n".utf8))
            try file.write(to: input)

            let sluice = try SluiceProcess(["run", "--input", "file:path=\(input)", "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(30)) == .exited(0))
            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            expectSameBytes(written, expected.data)
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 9, "\(summary)")
            #expect(summary.count("events_out") == 9, "\(summary)")
            #expect(summary.count("partial_records") == 1, "\(summary)")
            #expect(summary.count("empty_lines") == 3, "\(summary)")
            #expect(summary.count("cut_records") == 1, "\(summary)")
            #expect(summary.count("cut_bytes") == (3 << 20) - maxEventBytes, "\(summary)")
        }

        @Test func aLineOfExactlyMaxEventSizeIsKeptWholeAndOneByteMoreIsCut() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("edge.log"), output = directory.path("out.log")
            let limit = 64 << 10
            let file = ByteBuilder(capacity: 4 * limit)
            for (letter, length) in [(UInt8(ascii: "a"), limit), (UInt8(ascii: "b"), limit + 1), (UInt8(ascii: "c"), limit - 1)] {
                file.append([UInt8](repeating: letter, count: length)); file.append(byte: 0x0A)
            }
            try file.write(to: input)
            let sluice = try SluiceProcess(["run", "--max-event-size", "64KiB", "--input", "file:path=\(input)", "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(30)) == .exited(0))
            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            let lengths = written.split(separator: 0x0A).map { ($0.first.map { Character(UnicodeScalar($0)) }, $0.count) }
            #expect(lengths.map(\.0) == ["a", "b", "c"])
            #expect(lengths.map(\.1) == [limit, limit, limit - 1])
            let summary = try sluice.summary()
            #expect(summary.count("cut_records") == 1, "\(summary)")
            #expect(summary.count("cut_bytes") == 1, "\(summary)")
        }
    }
}

extension EndToEndTests.FileInput {
    /// `parallel=true` splits a large file into ranges cut at newlines (two of the default 16 MiB
    /// here): every line arrives exactly once, whole, and in file order within each range.
    @Test func aParallelReadDeliversEveryLineOfALargeFileOnceAcrossTwoWorkers() throws {
        try checkParallelRead(rangeParameter: "", ranges: 2)
    }

    /// With small ranges the workers claim ranges one after another (30 ranges of ~1 MiB): still
    /// every line once, in order within each range, and the last line without a newline arrives.
    @Test func workersClaimTheRangesOfAParallelFileOneAfterAnother() throws {
        try checkParallelRead(rangeParameter: ",parallel-range=1MiB", ranges: 31, partialLastLine: true)
    }

    func checkParallelRead(rangeParameter: String, ranges: Int, partialLastLine: Bool = false) throws {
        let directory = try TemporaryDirectory()
        let input = directory.path("big.ndjson"), output = directory.path("out.ndjson")
        let count = 300_000  // ~30 MiB, above the 16 MiB minimum for splitting
        let file = ByteBuilder(capacity: count * 110)
        for id in 0..<count {
            file.append("{\"id\":")
            file.append(decimal: id, width: 7)
            file.append(",\"pad\":\"")
            for _ in 0..<Int(mix(UInt64(id)) % 150) { file.append(byte: 120) }
            file.append(partialLastLine && id == count - 1 ? "\"}" : "\"}\n")
        }
        try file.write(to: input)
        let sluice = try SluiceProcess(["run", "--workers", "2", "--input", "file:path=\(input),parallel=true\(rangeParameter)",
                                        "--output", "file:path=\(output)"], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
        let written = try Data(contentsOf: URL(fileURLWithPath: output))
        var seen = [Bool](repeating: false, count: count)
        var duplicates = 0, malformed = 0, outOfOrder = 0
        var lastByRange: [Int] = []
        written.withUnsafeBytes { bytes in
            _ = bytes.forEachLine { line in
                guard line.count >= 15, line[0] == UInt8(ascii: "{") else { malformed += 1; return }
                var id = 0
                for k in 6..<13 { id = id * 10 + Int(line[k] - 48) }
                guard id < count else { malformed += 1; return }
                if seen[id] { duplicates += 1 }
                seen[id] = true
                // Lines of one range come in order: each line continues one of the runs seen so
                // far or starts a new one, and there are no more runs than ranges.
                if let r = lastByRange.firstIndex(where: { $0 == id - 1 }) { lastByRange[r] = id } else if lastByRange.count < ranges { lastByRange.append(id) } else { outOfOrder += 1 }
            }
        }
        #expect(malformed == 0)
        #expect(duplicates == 0)
        #expect(seen.allSatisfy { $0 }, "\(seen.filter { !$0 }.count) line(s) missing")
        #expect(outOfOrder == 0)
        #expect(try sluice.summary().count("events_out") == count)
    }

    @Test func parallelCannotBeCombinedWithFollowOrOffsets() throws {
        let directory = try TemporaryDirectory()
        for spec in ["file:path=/etc/hostname,parallel=true,follow=true", "file:path=/etc/hostname,parallel=true,offsets=\(directory.path("o"))"] {
            let sluice = try SluiceProcess(["run", "--input", spec, "--output", "devnull"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(2))
            #expect(sluice.standardError().contains("parallel=true"))
        }
    }
}

extension EndToEndTests.FileInput {
    /// A followed glob is expanded again: a file created after start, and lines appended to
    /// it later, are delivered.
    @Test func aFollowedGlobPicksUpFilesCreatedAfterStart() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.ndjson")
        try Data("{\"n\":1}\n".utf8).write(to: URL(fileURLWithPath: directory.path("a.log")))
        let sluice = try SluiceProcess(["run", "--input", "file:path=\(directory.path("*.log")),follow=true,rescan-interval=100ms,poll-interval=20ms",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        try sluice.waitForFile(output, toReach: 8, within: .seconds(10))
        try Data("{\"n\":2}\n".utf8).write(to: URL(fileURLWithPath: directory.path("b.log")))
        try sluice.waitForFile(output, toReach: 16, within: .seconds(10))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: directory.path("b.log")))
        handle.seekToEndOfFile()
        handle.write(Data("{\"n\":3}\n".utf8))
        try handle.close()
        try sluice.waitForFile(output, toReach: 24, within: .seconds(10))
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n").sorted()
        #expect(lines == ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}"])
        #expect(sluice.standardError().contains("which appeared after start"))
    }
}

extension EndToEndTests.FileInput {
    /// inotify: with a 30 s poll-interval, lines appended to a followed file arrive within
    /// seconds; without inotify each would wait for the next poll.
    @Test func appendedLinesArriveLongBeforeTheNextPollOfAFollowedFile() throws {
        let directory = try TemporaryDirectory()
        let input = directory.path("app.log"), output = directory.path("out.ndjson")
        try Data("{\"n\":1}\n".utf8).write(to: URL(fileURLWithPath: input))
        let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input),follow=true,poll-interval=30s",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForFile(output, toReach: 8, within: .seconds(10))
        usleep(300_000)  // the reader is now waiting at the end of the file
        for n in 2...4 {
            let started = ContinuousClock.now
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: input))
            handle.seekToEndOfFile()
            handle.write(Data("{\"n\":\(n)}\n".utf8))
            try handle.close()
            try sluice.waitForFile(output, toReach: 8 * n, within: .seconds(10))
            #expect(ContinuousClock.now - started < .seconds(5), "line \(n) waited for a poll")
            usleep(200_000)
        }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n")
        #expect(lines == ["{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}"])
    }
}

extension EndToEndTests.FileInput {
    /// A followed path or glob that names no file yet keeps the node running until the file
    /// appears; its lines are delivered. (The node used to find its inputs finished at once and
    /// exit 0 with nothing read.)
    @Test(arguments: ["app.log", "*.log"])
    func aFollowedPathThatDoesNotExistYetIsWaitedFor(pattern: String) throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.ndjson")
        let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(directory.path(pattern)),follow=true,rescan-interval=100ms",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        usleep(500_000)
        #expect(sluice.isRunning, "the node exited with nothing to read: \(sluice.standardError())")
        try Data("{\"n\":1}\n{\"n\":2}\n".utf8).write(to: URL(fileURLWithPath: directory.path("app.log")))
        try sluice.waitForFile(output, toReach: 16, within: .seconds(10))
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self) == "{\"n\":1}\n{\"n\":2}\n")
    }
}

extension EndToEndTests.FileInput {
    /// Several files on one worker whose lines all outgrow an ordinary event slot, with one
    /// large slot: the files take turns at it, and every line arrives, even with a 60 s
    /// flush interval. Found by an adversarial run: the worker stopped serving its files at the
    /// first one that found no free large slot (the file holding it could starve), and it
    /// counted those failed attempts as progress, so it never went idle and a partly filled
    /// output batch (holding the large slot) waited for the whole flush interval: one line
    /// per flush interval, 20 s for 4,000 lines at the default 5 ms. Now the other sources are
    /// still served, and a worker whose sources only wait for events is idle, which flushes
    /// its output at once.
    @Test func filesTakingTurnsAtTheOnlyLargeSlotAllFinish() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.log")
        let files = 4, linesPerFile = 150
        var random = SeededRandom(seed: 11)
        for f in 0..<files {
            var text = ""
            for n in 0..<linesPerFile { text += "f\(f):\(n):" + String(repeating: "z", count: Int.random(in: 5_000...20_000, using: &random)) + "\n" }
            try Data(text.utf8).write(to: URL(fileURLWithPath: directory.path("in\(f).log")))
        }
        let sluice = try SluiceProcess(["run", "--admin", "off", "--workers", "1", "--large-event-slots", "1", "--flush-interval", "60s",
                                        "--input", "file:path=\(directory.path("in*.log"))", "--output", "file:path=\(output)"], in: directory)
        #expect(try sluice.waitForExit(within: .seconds(50)) == .exited(0))
        let summary = try sluice.summary()
        #expect(summary.count("events_in") == files * linesPerFile, "\(summary)")
        var next = [Int](repeating: 0, count: files)
        var wrong = 0
        for line in String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2)
            guard parts.count == 3, let f = Int(parts[0].dropFirst()), f < files, Int(parts[1]) == next[f] else { wrong += 1; continue }
            next[f] += 1
        }
        #expect(wrong == 0, "lines out of order or malformed")
        #expect(next == [Int](repeating: linesPerFile, count: files), "lines per file: \(next)")
    }
}
