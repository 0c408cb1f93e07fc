import Foundation
import Glibc
import Testing

extension EndToEndTests {
    /// The `clickhouse` output against the real Debian clickhouse-server (18.16), one server for
    /// the suite, a table per test. Rows are counted with `SELECT count()` and read back as
    /// JSONEachRow, which must equal the numbered lines sent, field by field.
    @Suite(.serialized)
    struct ClickHouseOutput {
        static let numberedColumns = "(n UInt32, check String, pad String) ENGINE = MergeTree ORDER BY n"

        /// The table's rows as numbered lines (ClickHouse writes JSONEachRow in column order,
        /// the same bytes as the lines sent).
        static func tally(_ server: ClickHouseServer, _ table: String, expected: Int) throws -> NumberTally {
            var tally = NumberTally(expected: expected)
            let rows = try server.query("SELECT n, check, pad FROM \(table) FORMAT JSONEachRow")
            Array(rows.utf8).withUnsafeBytes { tally.add($0) }
            return tally
        }

        @Test func everyRowIsInsertedGzippedAndReadsBackFieldByField() throws {
            let server = try ClickHouseServer.shared()
            let table = ClickHouseServer.tableName("numbered")
            try server.query("CREATE TABLE \(table) \(Self.numberedColumns)")
            let directory = try TemporaryDirectory()
            let count = 50_000
            let input = directory.path("in.ndjson")
            try NumberedLines.bytes(0..<count).data.write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)",
                                            "--output", "clickhouse:url=http://127.0.0.1:\(server.httpPort),table=\(table),compression=gzip"],
                                           in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            #expect(try server.query("SELECT count() FROM \(table)") == "\(count)\n")
            let tally = try Self.tally(server, table, expected: count)
            #expect(tally.missingCount == 0 && tally.duplicates == 0 && tally.malformedLines == 0, "\(tally)")
            #expect(try sluice.summary().count("events_out") == count)
        }

        @Test func rowsTheServerRefusesGoToTheDeadLetterFileWithItsErrorAndTheOtherRowsAreInserted() throws {
            let server = try ClickHouseServer.shared()
            let table = ClickHouseServer.tableName("typed")
            try server.query("CREATE TABLE \(table) (n UInt32, msg String) ENGINE = MergeTree ORDER BY n")
            let directory = try TemporaryDirectory()
            var lines = ""
            var refused: [String] = []
            for n in 0..<3_000 {
                if n % 1_000 == 17 {
                    let line = "{\"n\":\"not a number \(n)\",\"msg\":\"m\(n)\"}"
                    refused.append(line)
                    lines += line + "\n"
                } else {
                    lines += "{\"n\":\(n),\"msg\":\"m\(n)\"}\n"
                }
            }
            let input = directory.path("in.ndjson")
            try lines.write(toFile: input, atomically: true, encoding: .utf8)
            let dead = directory.path("dead.ndjson")
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)",
                                            "--output", "clickhouse:url=http://127.0.0.1:\(server.httpPort),table=\(table),dead-letter=\(dead)"],
                                           in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            #expect(try server.query("SELECT count(), uniqExact(n), countIf(msg = concat('m', toString(n))) FROM \(table)") == "2997\t2997\t2997\n")
            let deadLines = try String(contentsOfFile: dead, encoding: .utf8).split(separator: "\n")
            #expect(deadLines.count == 3)
            // Two connections may have two batches out: their dead letters come in either order.
            var events: Set<String> = []
            for line in deadLines {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                events.insert(object?["event"] as? String ?? "")
                let reason = object?["reason"] as? String ?? ""
                #expect(reason.hasPrefix("HTTP 500: Code: 27, e.displayText() = DB::Exception: Cannot parse input"), "\(reason)")
            }
            #expect(events == Set(refused))
            let summary = try sluice.summary()
            #expect(summary.count("dead_lettered") == 3 && summary.count("events_out") == 2997)
        }

        /// `connections=2`: batches of 250 go out on two connections at once while rows the
        /// server refuses split some of them into halves (each lane keeps its own ranges);
        /// every other row is inserted exactly once, each refused one is in the dead-letter file.
        @Test func twoConnectionsInsertEveryRowOnceWhileRefusedRowsSplitTheirBatches() throws {
            let server = try ClickHouseServer.shared()
            let table = ClickHouseServer.tableName("lanes")
            try server.query("CREATE TABLE \(table) (n UInt32, msg String) ENGINE = MergeTree ORDER BY n")
            let directory = try TemporaryDirectory()
            let count = 20_000
            var lines = ""
            var refused = 0
            for n in 0..<count {
                if n % 997 == 13 {
                    lines += "{\"n\":\"not a number \(n)\",\"msg\":\"m\(n)\"}\n"
                    refused += 1
                } else {
                    lines += "{\"n\":\(n),\"msg\":\"m\(n)\"}\n"
                }
            }
            let input = directory.path("in.ndjson")
            try lines.write(toFile: input, atomically: true, encoding: .utf8)
            let dead = directory.path("dead.ndjson")
            let sluice = try SluiceProcess(["run", "--admin", "off", "--batch-size", "250", "--input", "file:path=\(input)",
                                            "--output", "clickhouse:url=http://127.0.0.1:\(server.httpPort),table=\(table),connections=2,dead-letter=\(dead)"],
                                           in: directory)
            #expect(try sluice.waitForExit(within: .seconds(120)) == .exited(0), "\(sluice.standardErrorTail())")
            let kept = count - refused
            #expect(try server.query("SELECT count(), uniqExact(n), countIf(msg = concat('m', toString(n))) FROM \(table)") == "\(kept)\t\(kept)\t\(kept)\n")
            #expect(try String(contentsOfFile: dead, encoding: .utf8).split(separator: "\n").count == refused)
            let summary = try sluice.summary()
            #expect(summary.count("dead_lettered") == refused && summary.count("events_out") == kept)
        }

        /// The server is killed and down for 3 s while a followed file grows: the node holds the rows,
        /// retries, and every row is in the table at least once after the restart.
        @Test func rowsWrittenWhileTheServerIsDownAreInsertedAfterItComesBack() throws {
            let server = try ClickHouseServer.shared()
            let table = ClickHouseServer.tableName("outage")
            try server.query("CREATE TABLE \(table) \(Self.numberedColumns)")
            let directory = try TemporaryDirectory()
            let count = 200_000
            let input = directory.path("in.ndjson")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input),follow=true",
                                            "--output", "clickhouse:url=http://127.0.0.1:\(server.httpPort),table=\(table),retry-max=500ms,timeout=5s"],
                                           in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(20))
            writer.start()
            try waitUntil("20,000 rows in the table", within: .seconds(30), while: sluice) {
                Int(try server.query("SELECT count() FROM \(table)").dropLast()) ?? 0 >= 20_000
            }
            server.stop()
            sleep(3)
            try server.start()
            try writer.waitUntilDone(within: .seconds(60))
            try waitUntil("every row in the table", within: .seconds(60), while: sluice) {
                Int(try server.query("SELECT uniqExact(n) FROM \(table)").dropLast()) ?? 0 >= count
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let tally = try Self.tally(server, table, expected: count)
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
            let summary = try sluice.summary()
            #expect(summary.count("output_errors") >= 1, "\(summary)")
            recordMeasurement("server killed, down 3 s mid-stream: \(tally); \(summary)", named: "clickhouse-outage")
        }

        /// SIGKILL three times while a followed file grows: with offsets, every line is in the
        /// table at least once after the last run caught up (duplicates reported).
        @Test func killedThreeTimesWhileAFileGrowsEveryLineIsInTheTable() throws {
            let server = try ClickHouseServer.shared()
            let table = ClickHouseServer.tableName("killed")
            try server.query("CREATE TABLE \(table) \(Self.numberedColumns)")
            let directory = try TemporaryDirectory()
            let count = 150_000
            let input = directory.path("in.ndjson"), offsets = directory.path("offsets")
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let arguments = ["run", "--admin", "off", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=50ms",
                             "--output", "clickhouse:url=http://127.0.0.1:\(server.httpPort),table=\(table),compression=gzip"]
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(10))
            writer.start()
            func rows() -> Int { Int((try? server.query("SELECT count() FROM \(table)"))?.dropLast() ?? "") ?? 0 }
            let kills = try killRepeatedly(arguments, in: directory, times: 3, at: .once("10,000 more rows", within: .seconds(30)) { _ in
                let before = rows()
                return { rows() > before + 10_000 }
            }) { _ in "\(writer.linesWritten) lines written, \(rows()) rows" }
            try writer.waitUntilDone(within: .seconds(60))
            let last = try SluiceProcess(arguments, in: directory)
            try waitUntil("every row in the table", within: .seconds(60), while: last) {
                Int(try server.query("SELECT uniqExact(n) FROM \(table)").dropLast()) ?? 0 >= count
            }
            last.send(signal: SIGTERM)
            #expect(try last.waitForExit(within: .seconds(15)) == .exited(0))
            let tally = try Self.tally(server, table, expected: count)
            #expect(tally.missingCount == 0 && tally.malformedLines == 0, "\(tally)")
            recordMeasurement("3 SIGKILLs while the file grew: \(kills); \(tally)", named: "clickhouse-kill")
        }
    }
}
