import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// `add_file_name`: every event read from a file carries that file's path, whichever worker
    /// runs the actions; events of other inputs pass unchanged and are counted.
    @Suite struct AddFileName {
        static func lines(_ tag: String, _ range: Range<Int>) -> Data {
            Data(range.map { #"{"src":"\#(tag)","n":\#($0)}"# + "\n" }.joined().utf8)
        }

        /// The written lines as (src, n, file_name), checked to be objects of those three keys.
        static func parsed(_ path: String) throws -> [(src: String, n: Int, file: String?)] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                let object = try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any], "\(line)")
                return (try #require(object["src"] as? String), try #require(object["n"] as? Int), object["meta"].flatMap { ($0 as? [String: Any])?["file"] as? String })
            }
        }

        @Test func eachLineOfTwoFilesCarriesItsFilesPathWhicheverWorkerRunsIt() throws {
            let directory = try TemporaryDirectory()
            try FileManager.default.createDirectory(atPath: directory.path("in"), withIntermediateDirectories: true)
            let a = directory.path("in/a.log"), b = directory.path("in/b \"x\".log"), output = directory.path("out.ndjson")
            let count = 30_000
            try Self.lines("a", 0..<count).write(to: URL(fileURLWithPath: a))
            try Self.lines("b", 0..<count).write(to: URL(fileURLWithPath: b))
            let sluice = try SluiceProcess(["run", "--workers", "2", "--input", "file:path=\(directory.path("in"))/*.log",
                                            "--action", "json_decode", "--action", "add_file_name:field=meta.file",
                                            "--output", "file:path=\(output)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let written = try Self.parsed(output)
            #expect(written.count == 2 * count)
            let wrong = written.filter { $0.file != ($0.src == "a" ? a : b) }
            #expect(wrong.isEmpty, "\(wrong.prefix(3))")
            #expect(Set(written.filter { $0.src == "a" }.map(\.n)).count == count && Set(written.filter { $0.src == "b" }.map(\.n)).count == count)
            #expect(!(try sluice.summary()).has("no_file_name"))
        }

        @Test func linesOfARotatedFileAndOfTheNewOneCarryThePathTheyWereReadUnder() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("app.log"), output = directory.path("out.ndjson")
            try Self.lines("old", 0..<20_000).write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess(["run", "--input", "file:path=\(input),follow=true", "--action", "json_decode",
                                            "--action", "add_file_name:field=meta.file", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let first = Self.lines("old", 0..<20_000).count
            try sluice.waitForFile(output, toReach: first, within: .seconds(30))
            #expect(rename(input, "\(input).1") == 0)
            try Self.lines("new", 0..<20_000).write(to: URL(fileURLWithPath: input))
            // Whole lines only: the file may end in the middle of a write, and `parsed` records a
            // failed #require for a cut line even inside `try?`.
            try waitUntil("the new file's lines", within: .seconds(30), while: sluice) { lineCount(output) == 40_000 }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let written = try Self.parsed(output)
            #expect(written.count == 40_000)
            #expect(written.allSatisfy { $0.file == input }, "\(written.filter { $0.file != input }.prefix(3))")
            #expect(written.filter { $0.src == "new" }.count == 20_000)
        }

        @Test func eventsOfStdinPassUnchangedAndAreCounted() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let sluice = try SluiceProcess(["run", "--input", "stdin", "--action", "json_decode",
                                            "--action", "add_file_name:field=meta.file", "--output", "file:path=\(output)"],
                                           in: directory, standardInput: .pipe)
            try sluice.writeInput(Self.lines("in", 0..<1_000))
            try sluice.closeInput()
            #expect(try sluice.waitForExit(within: .seconds(30)) == .exited(0))
            let written = try Self.parsed(output)
            #expect(written.count == 1_000 && written.allSatisfy { $0.file == nil })
            #expect(try sluice.summary().count("no_file_name") == 1_000)
        }
    }
}
