import Foundation
import Glibc
import SluiceCore
import Testing

extension EndToEndTests {
    /// `split` and `join` through the built binary: every event counted, and at least once
    /// through crashes (the original line's offset commits only after every event made from it
    /// was acknowledged).
    @Suite struct FlowActions {
        /// Record `i` of a mixed file: an array of `i % 4` elements to split, or a stack trace of
        /// a start line and `i % 5` continuation lines to join, or a plain line. Returns the
        /// input lines and the lines the pipeline must write for them.
        static func record(_ i: Int) -> (input: [String], output: [String]) {
            switch i % 3 {
            case 0:
                let n = (i / 3) % 4
                let elements = (0..<n).map { #"{"k":"\#(i)-\#($0)"}"# }
                let line = #"{"id":\#(i),"items":[\#(elements.joined(separator: ","))],"tail":"t"}"#
                if n == 0 { return ([line], [line]) }
                return ([line], elements.map { #"{"id":\#(i),"items":\#($0),"tail":"t"}"# })
            case 1:
                let n = (i / 3) % 5
                let lines = [#"{"log":"Exception in thread \"main\" E\#(i)","id":\#(i)}"#] + (0..<n).map { #"{"log":"\tat f\#(i)_\#($0)(F.java:\#($0))","id":\#(i)}"# }
                let joined = #"Exception in thread \"main\" E\#(i)"# + (0..<n).map { #"\n\tat f\#(i)_\#($0)(F.java:\#($0))"# }.joined()
                return (lines, [#"{"log":"\#(joined)","id":\#(i)}"#])
            case _ where (i / 3) % 2 == 0:
                let line = #"{"log":"plain \#(i)","id":\#(i)}"#
                return ([line], [line])
            default:
                // An array right after a trace: its first element closes the open record (an
                // event split emitted makes join emit in turn).
                let line = #"{"id":\#(i),"items":["a","b"]}"#
                return ([line], [#"{"id":\#(i),"items":"a"}"#, #"{"id":\#(i),"items":"b"}"#])
            }
        }

        static let actions = ["--action", "json_decode", "--action", "split:field=items",
                              "--action", #"join:start=^Exception,continue=^\\s+at ,timeout=200ms"#]

        /// With `--max-fields 1` every array and every field after the first lies past the
        /// index: `json_decode` indexes them all since `split` follows it (`join` reads its field
        /// in the text and indexes a record's first event itself), and the output is the same.
        @Test(arguments: [[], ["--max-fields", "1"]])
        func everyElementAndEveryJoinedRecordArrivesOnceInOrder(flags: [String]) throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson"), output = directory.path("out.ndjson")
            var inputLines: [String] = [], expected: [String] = []
            for i in 0..<30_000 {
                let r = Self.record(i)
                inputLines += r.input
                expected += r.output
            }
            try Data((inputLines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess(["run"] + flags + ["--input", "file:path=\(input)"] + Self.actions + ["--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(120)) == .exited(0))
            let written = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
            #expect(written.count == expected.count)
            if let i = (0..<min(written.count, expected.count)).first(where: { written[$0] != expected[$0] }) {
                Issue.record("line \(i + 1): got \(written[i]), expected \(expected[i])")
            }
            let summary = try sluice.summary()
            let splitLines = (0..<30_000).filter { $0 % 3 == 0 || ($0 % 3 == 2 && ($0 / 3) % 2 == 1) }
            let elements = splitLines.map { $0 % 3 == 2 ? 2 : ($0 / 3) % 4 }
            #expect(summary.count("events_in") == inputLines.count)
            #expect(summary.count("events_derived") == elements.reduce(0) { $0 + max($1 - 1, 0) })
            // Every line without an array (trace and plain lines) and every empty array passes split.
            #expect(summary.count("split_skipped") == inputLines.count - splitLines.count + elements.filter { $0 == 0 }.count)
            #expect(summary.count("joined") == (0..<30_000).filter { $0 % 3 == 1 }.reduce(0) { $0 + ($1 / 3) % 5 })
            #expect(summary.count("events_out") == expected.count)
        }

        /// A record `join` holds (its stream goes quiet mid-record, far from its timeout) commits
        /// none of its lines: the saved offset stays before its first line while the lines before
        /// it are saved; killed then, the restarted node reads the record again and writes it
        /// whole once the next line closes it.
        @Test func anOpenRecordCommitsNothingUntilWrittenAndIsReadAgainAfterAKill() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), output = directory.path("out.ndjson")
            let plain = (0..<10).map { #"{"log":"plain \#($0)"}"# + "\n" }.joined()
            let trace = [#"{"log":"Exception boom"}"#, #"{"log":"\tat a(A.java:1)"}"#, #"{"log":"\tat b(B.java:2)"}"#].map { $0 + "\n" }.joined()
            try Data((plain + trace).utf8).write(to: URL(fileURLWithPath: input))
            let arguments = ["run", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=50ms",
                             "--action", "json_decode", "--action", #"join:start=^Exception,continue=^\\s+at ,timeout=60s"#,
                             "--output", "file:path=\(output),sync=true"]
            func saved() throws -> Int { Int(try OffsetFile.read(path: offsets).last { $0.path == input }?.offset ?? 0) }
            let first = try SluiceProcess(arguments, in: directory)
            try waitUntil("the plain lines' offset saved", within: .seconds(20), while: first) { try saved() == plain.utf8.count }
            usleep(500_000)  // ten saves later
            #expect(try saved() == plain.utf8.count, "the held record's lines are not committed")
            #expect(try String(contentsOfFile: output, encoding: .utf8) == plain)
            first.send(signal: SIGKILL)
            #expect(try first.waitForExit(within: .seconds(10)) == .signalled(SIGKILL))

            let second = try SluiceProcess(arguments, in: directory)
            let handle = try #require(FileHandle(forWritingAtPath: input))
            handle.seekToEndOfFile()
            handle.write(Data((#"{"log":"next"}"# + "\n").utf8))
            try handle.close()
            let total = fileSize(input)
            try waitUntil("the whole input saved", within: .seconds(20), while: second) { try saved() == total }
            second.send(signal: SIGTERM)
            #expect(try second.waitForExit(within: .seconds(15)) == .exited(0))
            #expect(try String(contentsOfFile: output, encoding: .utf8)
                == plain + #"{"log":"Exception boom\n\tat a(A.java:1)\n\tat b(B.java:2)"}"# + "\n" + #"{"log":"next"}"# + "\n")
        }

        /// Records are appended while the node is killed four times at random moments and
        /// restarted on its offsets file; afterwards every line the pipeline must write is in the
        /// output at least once. `SLUICE_E2E_SEED=N` repeats a schedule.
        @Test func killedFourTimesWhileSplittingAndJoiningEveryRecordArrivesAtLeastOnce() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), output = directory.path("out.ndjson")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let count = 120_000
            var chunks: [Data] = [], expected: Set<String> = []
            var chunk = ""
            for i in 0..<count {
                let r = Self.record(i)
                chunk += r.input.joined(separator: "\n") + "\n"
                expected.formUnion(r.output)
                if i % 200 == 199 {
                    chunks.append(Data(chunk.utf8))
                    chunk = ""
                }
            }
            // Whole records per write, 15 ms apart (about 9 s): a trace is never cut by the writer.
            let toWrite = chunks
            let writer = Thread {
                guard let handle = FileHandle(forWritingAtPath: input) else { return }
                for c in toWrite {
                    handle.seekToEndOfFile()
                    handle.write(c)
                    usleep(15_000)
                }
                try? handle.close()
            }
            writer.start()
            let arguments = ["run", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms"]
                + Self.actions + ["--output", "file:path=\(output),sync=true"]
            let seed = ProcessInfo.processInfo.environment["SLUICE_E2E_SEED"].flatMap { UInt64($0) } ?? .random(in: 1...UInt64.max)
            var random = SeededRandom(seed: seed)
            var runs: [String] = []
            for run in 1...4 {
                let sluice = try SluiceProcess(arguments, in: directory)
                let lifetimeMillis = Int.random(in: 300...2_000, using: &random)
                usleep(UInt32(lifetimeMillis) * 1000)
                sluice.send(signal: SIGKILL)
                #expect(try sluice.waitForExit(within: .seconds(10)) == .signalled(SIGKILL), "run \(run)")
                runs.append("run \(run): SIGKILL after \(lifetimeMillis) ms, \(fileSize(input)) B in, \(fileSize(output)) B out")
            }
            let last = try SluiceProcess(arguments, in: directory)
            let inputBytes = chunks.reduce(0) { $0 + $1.count }
            try waitUntil("the whole input written", within: .seconds(60)) { fileSize(input) == inputBytes }
            try waitUntil("saved offset \(inputBytes) (the last run caught up)", within: .seconds(180), while: last) {
                Int(try OffsetFile.read(path: offsets).last { $0.path == input }?.offset ?? 0) == inputBytes
            }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))
            let written = try Data(contentsOf: URL(fileURLWithPath: output))
            var seen = Set<String>()
            var lines = 0
            for line in written.split(separator: UInt8(ascii: "\n")) {
                seen.insert(String(decoding: line, as: UTF8.self))
                lines += 1
            }
            let missing = expected.subtracting(seen)
            recordMeasurement("seed \(seed); \(runs.joined(separator: "; ")); \(expected.count) expected lines, \(lines) written, \(missing.count) missing; last run: \(try last.summary())",
                              named: "flow-kill-9")
            #expect(missing.isEmpty, "seed \(seed): \(missing.count) missing, e.g. \(missing.prefix(3))")
        }
    }
}
