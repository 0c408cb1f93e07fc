import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The journald input against journal files written by the real `systemd-journal-remote`
    /// (Debian's systemd-journal-remote) from export-format entries made here.
    @Suite struct JournaldInput {
        static let remote = ["/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }

        /// Entry `n`: a text message with quotes, a backslash, a tab and non-ASCII, a number, and a
        /// binary field (export format's length-prefixed form) holding a newline and a byte that
        /// is not UTF-8.
        static func exportEntries(_ numbers: Range<Int>) -> Data {
            var out = Data()
            for n in numbers {
                out += Data("__REALTIME_TIMESTAMP=\(1_733_300_000_000_000 + n)\n".utf8)
                out += Data("MESSAGE=entry \(n) \"quoted\" back\\slash\ttab Grüße 日本\n".utf8)
                out += Data("PRIORITY=\(n % 8)\nSEQ=\(n)\nSYSLOG_IDENTIFIER=app\n".utf8)
                let binary: [UInt8] = Array("two\nlines ".utf8) + [0xFF] + Array(" end".utf8)
                out += Data("BLOB\n".utf8)
                var length = UInt64(binary.count).littleEndian
                out += Data(bytes: &length, count: 8)
                out += Data(binary) + Data("\n".utf8)
                out += Data("\n".utf8)
            }
            return out
        }

        /// Appends entries to `directory/remote.journal` through systemd-journal-remote.
        static func write(_ numbers: Range<Int>, into directory: String) throws {
            let input = directory + ".export"
            try exportEntries(numbers).write(to: URL(fileURLWithPath: input))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(remote, "systemd-journal-remote is not installed"))
            process.arguments = ["--output=\(directory)/remote.journal", "--split-mode=none", input]
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }

        static func events(_ path: String) throws -> [[String: Any]] {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not a JSON object: \(line)")
            }
        }

        /// The `SEQ` numbers of the output's whole lines, found by a byte scan (cheap enough to run
        /// in a wait loop over 100,000 lines): a line counts when it ends in `}` and holds `"SEQ":"N"`.
        static func sequenceNumbers(_ path: String) -> Set<Int> {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { return [] }
            let key = Array("\"SEQ\":\"".utf8)
            var numbers = Set<Int>()
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                let base = UnsafeRawPointer(bytes.baseAddress!)
                var start = 0
                while start < bytes.count, let newline = memchr(base + start, 0x0A, bytes.count - start) {
                    let end = UnsafeRawPointer(newline) - base
                    defer { start = end + 1 }
                    guard end > start, bytes[end - 1] == UInt8(ascii: "}") else { continue }
                    var i = start
                    while i + key.count <= end, memcmp(base + i, key, key.count) != 0 {
                        guard let quote = memchr(base + i + 1, Int32(key[0]), end - i - 1) else { i = end; break }
                        i = UnsafeRawPointer(quote) - base
                    }
                    guard i + key.count <= end else { continue }
                    var j = i + key.count, n = 0, digits = 0
                    while j < end, bytes[j] >= 0x30, bytes[j] <= 0x39 { n = n * 10 + Int(bytes[j] - 0x30); j += 1; digits += 1 }
                    if digits > 0, j < end, bytes[j] == UInt8(ascii: "\"") { numbers.insert(n) }
                }
            }
            return numbers
        }

        @Test func everyEntryArrivesAsAJSONObjectOfItsFields() throws {
            let directory = try TemporaryDirectory()
            let journal = directory.path("journal"), output = directory.path("out.ndjson")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            let count = 20_000
            try Self.write(0..<count, into: journal)
            let sluice = try SluiceProcess(["run", "--input", "journald:directory=\(journal),follow=false", "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let events = try Self.events(output)
            #expect(events.count == count)
            var seen = Set<Int>()
            for e in events {
                let n = try #require(Int(e["SEQ"] as? String ?? ""))
                seen.insert(n)
                #expect(e["MESSAGE"] as? String == "entry \(n) \"quoted\" back\\slash\ttab Grüße 日本")
                #expect(e["PRIORITY"] as? String == "\(n % 8)")
                #expect(e["BLOB"] as? String == "two\nlines \u{FFFD} end")
                #expect(e["__REALTIME_TIMESTAMP"] as? String == "\(1_733_300_000_000_000 + n)")
            }
            #expect(seen.count == count)
            #expect(try sluice.summary().count("events_in") == count)
        }

        /// A pool far smaller than the journal: the reader waits for free events again and again
        /// (the entry it was at is read once an event is free), and every entry arrives once, in
        /// order, and the cursor saved at stop is the last entry's.
        @Test func aSmallPoolWaitsForEventsAndSkipsNoEntry() throws {
            let directory = try TemporaryDirectory()
            let journal = directory.path("journal"), output = directory.path("out.ndjson"), cursor = directory.path("cursor")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            let count = 5_000
            try Self.write(0..<count, into: journal)
            let sluice = try SluiceProcess(["run", "--workers", "1", "--pool-capacity", "64",
                                            "--input", "journald:directory=\(journal),follow=false,offsets=\(cursor)",
                                            "--output", "file:path=\(output),sync=true"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            #expect(try Self.events(output).map { Int($0["SEQ"] as? String ?? "") ?? -1 } == Array(0..<count))
            // A second run starts after the last entry: nothing again.
            let again = try SluiceProcess(["run", "--workers", "1", "--input", "journald:directory=\(journal),follow=false,offsets=\(cursor)",
                                           "--output", "file:path=\(directory.path("again.ndjson"))"], in: directory)
            #expect(try again.waitForExit(within: .seconds(30)) == .exited(0))
            #expect(((try? Self.events(directory.path("again.ndjson"))) ?? []).isEmpty)
        }

        /// The cursor of the last acknowledged entry is saved at stop; a second run reads only the
        /// entries written since.
        @Test func aRestartContinuesAfterTheSavedCursor() throws {
            let directory = try TemporaryDirectory()
            let journal = directory.path("journal"), cursor = directory.path("cursor")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            try Self.write(0..<1_000, into: journal)
            let first = directory.path("first.ndjson"), second = directory.path("second.ndjson")
            let run1 = try SluiceProcess(["run", "--input", "journald:directory=\(journal),follow=false,offsets=\(cursor)", "--output", "file:path=\(first)"], in: directory)
            #expect(try run1.waitForExit(within: .seconds(30)) == .exited(0))
            #expect(try Self.events(first).count == 1_000)
            #expect(try String(contentsOfFile: cursor, encoding: .utf8).hasPrefix("s="))

            try Self.write(1_000..<1_500, into: journal)
            let run2 = try SluiceProcess(["run", "--input", "journald:directory=\(journal),follow=false,offsets=\(cursor)", "--output", "file:path=\(second)"], in: directory)
            #expect(try run2.waitForExit(within: .seconds(30)) == .exited(0))
            let numbers = try Self.events(second).map { Int($0["SEQ"] as? String ?? "") ?? -1 }
            #expect(numbers == Array(1_000..<1_500))
        }

        /// SIGKILL three times while reading: the cursor saved is never past what the output had, so
        /// after the restarts every entry is in the output at least once.
        @Test func killedThreeTimesWhileReadingLosesNoEntry() throws {
            let directory = try TemporaryDirectory()
            let journal = directory.path("journal"), cursor = directory.path("cursor"), output = directory.path("out.ndjson")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            let count = 100_000
            try Self.write(0..<count, into: journal)
            let arguments = ["run", "--input", "journald:directory=\(journal),offsets=\(cursor),offsets-interval=20ms",
                             "--output", "file:path=\(output)"]
            func lines() -> Int { (try? Data(contentsOf: URL(fileURLWithPath: output)))?.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 } ?? 0 }
            let kills = try killRepeatedly(arguments, in: directory, times: 3, at: .once("15,000 more entries", within: .seconds(30)) { _ in
                let before = lines()
                return { lines() > before + 15_000 }
            }) { _ in "\(lines()) lines out" }
            let last = try SluiceProcess(arguments, in: directory)
            // A SIGKILL can cut the output's last write short, so a torn line is allowed (the file
            // output promises whole lines only up to the last acknowledged batch, and ends a cut
            // part with a newline when it opens the file again); what is checked is that every
            // entry is present as a whole JSON object.
            try waitUntil("every entry", within: .seconds(90), while: last) { Self.sequenceNumbers(output).count == count }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))
            // A cut part can end inside a character of more than one byte: read the bytes, not
            // a String that must be valid UTF-8 (the cut part does not parse either way).
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self)
            var seen: [Int] = [], torn = 0
            for line in text.split(separator: "\n") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let n = Int(object["SEQ"] as? String ?? "") else { torn += 1; continue }
                seen.append(n)
            }
            #expect(Set(seen) == Set(0..<count))
            #expect(torn <= 3, "at most one torn line per SIGKILL, found \(torn)")
            recordMeasurement("\(seen.count) events written for \(count) entries over 3 SIGKILLs (\(seen.count - count) read again, \(torn) torn lines); \(kills)", named: "journald-kill")
        }

        /// Followed: entries written after the start arrive; SIGTERM stops the node cleanly.
        @Test func aFollowedJournalDeliversEntriesWrittenLater() throws {
            let directory = try TemporaryDirectory()
            let journal = directory.path("journal"), output = directory.path("out.ndjson")
            try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
            try Self.write(0..<100, into: journal)
            let sluice = try SluiceProcess(["run", "--input", "journald:directory=\(journal),poll-interval=20ms", "--output", "file:path=\(output)"], in: directory)
            try waitUntil("the first entries", within: .seconds(20), while: sluice) { lineCount(output) == 100 }
            try Self.write(100..<300, into: journal)
            try waitUntil("the later entries", within: .seconds(20), while: sluice) { lineCount(output) == 300 }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            #expect(try Self.events(output).map { Int($0["SEQ"] as? String ?? "") ?? -1 } == Array(0..<300))
        }

        @Test func aMissingDirectoryStopsTheStartWithItsReason() throws {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(["run", "--input", "journald:directory=\(directory.path("nope"))", "--output", "devnull"], in: directory)
            // Like a file input's missing file: a start-up failure (1), not a syntax error (2).
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(1))
            #expect(sluice.standardError().contains("does not exist"), "\(sluice.standardError())")
        }
    }
}
