import Foundation
import Glibc
import SluiceCore
import Testing

extension EndToEndTests {
    /// The `postgres` output against a real PostgreSQL 15 (Debian's `postgresql`), one cluster
    /// for the suite (`PostgresServer`), a table per test. Rows are read back with libpq and
    /// compared with what was sent.
    @Suite struct PostgresOutput {
        static let numberedTable = #"(n bigint, "check" text, pad text)"#
        static let numberedColumns = "columns=n:n,columns=check:check,columns=pad:pad"

        /// What of numbered lines 0..<expected is in `table`: how often each came, and rows
        /// that are not a numbered line (a wrong check or pad).
        struct Tally: CustomStringConvertible {
            var counts: [Int]
            var wrong = 0
            var rows = 0
            var missing: Int { counts.filter { $0 == 0 }.count }
            var duplicates: Int { counts.reduce(0) { $0 + max($1 - 1, 0) } }
            var description: String { "\(rows) rows, \(missing) missing, \(duplicates) duplicates, \(wrong) wrong" }

            init(_ server: PostgresServer, _ table: String, expected: Int) throws {
                counts = [Int](repeating: 0, count: expected)
                for row in try server.query(#"SELECT n, "check", pad FROM \#(table)"#) {
                    rows += 1
                    guard let n = row[0].flatMap({ Int($0) }), n >= 0, n < expected,
                          row[1] == Self.check(n), row[2] == "abcdefghijklmnopqrstuvwxyz" else {
                        wrong += 1
                        continue
                    }
                    counts[n] += 1
                }
            }

            /// The check a numbered line carries (`NumberedLines`).
            static func check(_ n: Int) -> String {
                let hex = String(mix(UInt64(n)), radix: 16)
                return String(repeating: "0", count: 16 - hex.count) + hex
            }
        }

        static func rows(_ server: PostgresServer, _ table: String) throws -> Int { try server.number("SELECT count(*) FROM \(table)") }

        /// The repository's perf/realistic-corpus.py output: `megabytes` of production-shaped
        /// NDJSON (escapes, non-ASCII, nesting), one document per element.
        static func realisticLines(megabytes: Int, in directory: TemporaryDirectory) throws -> [String] {
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("perf/realistic-corpus.py").path
            let path = directory.path("realistic.ndjson")
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            p.arguments = [script, path, "\(megabytes)", "11"]
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }

        static func object(_ json: String) throws -> NSDictionary {
            try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? NSDictionary)
        }

        /// Realistic documents, each inside `{"n":N,"doc":…}`, through `columns` (nested paths,
        /// the nested document into a jsonb and a text column) and `json-column` (the whole line
        /// into a text column): read back field by field, undecoded and decoded alike.
        @Test(arguments: [false, true])
        func realisticRowsReadBackFieldByFieldFromColumnsAndTheJSONColumn(decoded: Bool) throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("realistic")
            try server.query("CREATE TABLE \(table) (n int, ts timestamptz, level text, service text, \"user\" text, message text, "
                + "doc jsonb, doc_text text, line text)")
            let directory = try TemporaryDirectory()
            let documents = try Self.realisticLines(megabytes: 3, in: directory)
            let lines = documents.enumerated().map { "{\"n\":\($0.offset),\"doc\":\($0.element)}" }
            let input = directory.path("in.ndjson")
            try (lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
            let columns = "columns=n:n,columns=ts:doc.ts,columns=level:doc.level,columns=service:doc.service,columns=user:doc.user,"
                + "columns=message:doc.message,columns=doc:doc,columns=doc_text:doc,json-column=line"
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)"] + (decoded ? ["--action", "json_decode"] : [])
                + ["--output", "postgres:dsn=\(server.dsn),table=\(table),\(columns)"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            #expect(try sluice.summary().count("events_out") == lines.count)

            let rows = try server.query(#"SELECT n, to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), level, service, "user", "#
                + "message, doc::text, doc_text, line FROM \(table) ORDER BY n")
            #expect(rows.count == lines.count)
            var mismatches: [String] = []
            for (i, row) in rows.enumerated() where i < documents.count {
                let expected = try Self.object(documents[i])
                let fields: [(String, String?, Any?)] = [
                    ("n", row[0], "\(i)"), ("ts", row[1], expected["ts"]), ("level", row[2], expected["level"]),
                    ("service", row[3], expected["service"]), ("user", row[4], expected["user"]), ("message", row[5], expected["message"]),
                    ("doc_text", row[7], documents[i]), ("line", row[8], lines[i]),
                ]
                for (name, got, want) in fields where got != want as? String { mismatches.append("row \(i) \(name): \(got ?? "NULL") ≠ \(want ?? "nil")") }
                if try row[6].map(Self.object) != expected { mismatches.append("row \(i) doc (jsonb) differs") }
            }
            #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
            recordMeasurement("\(lines.count) realistic rows (\(decoded ? "decoded" : "undecoded")): \(try sluice.summary())", named: "postgres-realistic")
        }

        /// Without `--batch-size` a transaction is bounded by the output buffer, not by the pool:
        /// each row's slot goes back once it is encoded (its offset commits after the COMMIT), so
        /// with 128 slots a worker 20,000 rows go in fewer transactions than 20,000 / 128 (and
        /// every row once); a `--batch-size` given is kept. With a second output in the pipeline
        /// the events keep their slots, and a transaction holds at most half a worker's share.
        @Test func transactionsAreBoundedByTheOutputBufferNotThePoolUnlessABatchSizeIsGiven() throws {
            let server = try PostgresServer.shared()
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson"), count = 20_000
            try NumberedLines.bytes(0..<count).write(to: input)
            let pool = ["--workers", "2", "--pool-capacity", "256"]
            var batches: [Int] = []
            for (flags, second) in [([String](), false), (["--batch-size", "100"], false), ([], true)] {
                let table = PostgresServer.tableName("batches")
                try server.query("CREATE TABLE \(table) \(Self.numberedTable)")
                let output = "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns)"
                let outputs = second ? ["--output", output, "--output", "devnull"] : ["--output", output]
                let sluice = try SluiceProcess(["run", "--admin", "off"] + pool + flags + ["--input", "file:path=\(input)"] + outputs, in: directory)
                #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
                let tally = try Tally(server, table, expected: count)
                #expect(tally.rows == count && tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
                batches.append(try sluice.summary().count("output_batches"))
            }
            #expect(batches[0] >= 1 && batches[0] < count / 128, "\(batches)")
            #expect(batches[1] >= count / 100, "\(batches)")
            #expect(batches[2] >= count / 64, "\(batches)")
        }

        /// Posts each file named on the command line to the http input, one request at a time,
        /// and after each answer counts the table with psql: ack=output answers only once the
        /// request's rows are committed, so the count never trails the rows answered.
        static let postAndCount = """
            import http.client, json, subprocess, sys
            port, dsn, table, files = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
            answered, trailing = 0, []
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for path in files:
                body = open(path, "rb").read()
                c.request("POST", "/rows", body=body, headers={"Content-Type": "application/x-ndjson"})
                r = c.getresponse()
                r.read()
                if r.status != 200: trailing.append("status %d" % r.status)
                answered += body.count(b"\\n")
                count = int(subprocess.run(["psql", "-X", "-At", dsn, "-c", "SELECT count(*) FROM " + table],
                                           check=True, capture_output=True, text=True).stdout)
                if count < answered: trailing.append("%d rows after %d answered" % (count, answered))
            print(json.dumps({"answered": answered, "trailing": trailing}))
            """

        /// The http input with ack=output into postgres, whose rows give their slots back before
        /// the COMMIT: a request is answered only after its rows are in the table (checked after
        /// every answer; a statement trigger holds every COPY 300 ms before its COMMIT, so an
        /// answer sent before the COMMIT would find its rows missing), and every row is there once.
        @Test func httpRequestsAreAnsweredOnlyAfterTheirRowsAreCommitted() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("http")
            try server.query("CREATE TABLE \(table) \(Self.numberedTable)")
            try server.query("CREATE FUNCTION \(table)_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$")
            try server.query("CREATE TRIGGER slow AFTER INSERT ON \(table) FOR EACH STATEMENT EXECUTE FUNCTION \(table)_slow()")
            let directory = try TemporaryDirectory()
            let requests = 10, perRequest = 5_000
            var files: [String] = []
            for k in 0..<requests {
                let path = directory.path("request-\(k).ndjson")
                try NumberedLines.bytes(k * perRequest..<(k + 1) * perRequest).write(to: path)
                files.append(path)
            }
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port)",
                                            "--output", "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let result = try PythonProcess(Self.postAndCount, ["\(port)", server.dsn, table] + files).finish(within: .seconds(120))
            let answer = try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any] ?? [:]
            #expect(answer["answered"] as? Int == requests * perRequest, "\(answer)")
            #expect((answer["trailing"] as? [String])?.isEmpty == true, "\(answer)")
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0), "\(sluice.standardErrorTail())")
            let tally = try Tally(server, table, expected: requests * perRequest)
            #expect(tally.rows == requests * perRequest && tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
        }

        /// `connections=2` (the default): batches alternate between two connections, each
        /// row's backend recorded by a column default; every row lands exactly once, both
        /// connections copied batches, and with `connections=1` one did.
        @Test func twoConnectionsCopyEveryRowExactlyOnce() throws {
            let server = try PostgresServer.shared()
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson"), count = 100_000
            try NumberedLines.bytes(0..<count).write(to: input)
            for connections in [2, 1] {
                let table = PostgresServer.tableName("lanes")
                try server.query(#"CREATE TABLE \#(table) (n bigint, "check" text, pad text, backend int DEFAULT pg_backend_pid())"#)
                let sluice = try SluiceProcess(["run", "--admin", "off", "--batch-size", "500", "--input", "file:path=\(input)",
                                                "--output", "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns),connections=\(connections)"],
                                               in: directory)
                #expect(try sluice.waitForExit(within: .seconds(120)) == .exited(0), "\(sluice.standardErrorTail())")
                let tally = try Tally(server, table, expected: count)
                #expect(tally.rows == count && tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
                #expect(try server.number("SELECT count(DISTINCT backend) FROM \(table)") == connections)
                #expect(try sluice.summary().count("output_batches") >= count / 500)
            }
        }

        /// json-column alone, into jsonb: every realistic document is in the table as the same JSON.
        @Test func theWholeEventGoesIntoAJSONBColumn() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("documents")
            try server.query("CREATE TABLE \(table) (doc jsonb NOT NULL)")
            let directory = try TemporaryDirectory()
            let documents = try Self.realisticLines(megabytes: 1, in: directory)
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(directory.path("realistic.ndjson"))",
                                            "--output", "postgres:dsn=\(server.dsn),table=\(table),json-column=doc"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            // jsonb keeps no key order: compare as sets of canonical texts.
            func canonical(_ json: String) throws -> String {
                String(decoding: try JSONSerialization.data(withJSONObject: try Self.object(json), options: [.sortedKeys]), as: UTF8.self)
            }
            let stored = try server.query("SELECT doc::text FROM \(table)").map { try canonical($0[0] ?? "") }.sorted()
            #expect(stored == (try documents.map(canonical).sorted()))
        }

        /// `conflict=n`: the same file sent twice (a replay), then with more lines: every line
        /// once, none twice; the second run's replayed rows count as delivered.
        @Test func withConflictAReplayAddsNoDuplicates() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("replay")
            try server.query(#"CREATE TABLE \#(table) (n bigint PRIMARY KEY, "check" text, pad text)"#)
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson")
            let output = "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns),conflict=n"
            for (run, count) in [20_000, 20_000, 30_000].enumerated() {
                try NumberedLines.bytes(0..<count).write(to: input)
                let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output", output], in: directory)
                #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "run \(run): \(sluice.standardErrorTail())")
                #expect(try sluice.summary().count("events_out") == count)
                let tally = try Tally(server, table, expected: count)
                #expect(tally.rows == count && tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "run \(run): \(tally)")
            }
        }

        /// Rows the server refuses (a value that is not an integer, text too long for its
        /// column, a NUL) go to the dead-letter file with the server's error; the rest of their
        /// batches land. With and without conflict= (the refusal then comes from the copy into
        /// the temporary table).
        @Test(arguments: [false, true])
        func refusedRowsGoToTheDeadLetterFileWithTheServersErrorAndTheOthersLand(conflict: Bool) throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("typed")
            try server.query("CREATE TABLE \(table) (n int PRIMARY KEY, msg varchar(12))")
            let directory = try TemporaryDirectory()
            var lines = "", refused: [(line: String, reason: String)] = [], good = 0
            for n in 0..<3_000 {
                switch n % 1_000 {
                case 17:
                    refused.append(("{\"n\":\"x\(n)\",\"msg\":\"m\"}", "ERROR 22P02: invalid input syntax for type integer: \"x\(n)\""))
                case 500:
                    refused.append(("{\"n\":\(n),\"msg\":\"much too long \(n)\"}", "ERROR 22001: value too long for type character varying(12)"))
                case 999:
                    refused.append(("{\"n\":\(n),\"msg\":\"nul\\u0000\"}", "ERROR 22021: invalid byte sequence for encoding \"UTF8\": 0x00"))
                default:
                    lines += "{\"n\":\(n),\"msg\":\"m\(n) é\\t\"}\n"
                    good += 1
                    continue
                }
                lines += refused.last!.line + "\n"
            }
            let input = directory.path("in.ndjson"), dead = directory.path("dead.ndjson")
            try lines.write(toFile: input, atomically: true, encoding: .utf8)
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "postgres:dsn=\(server.dsn),table=\(table),columns=n:n,columns=msg:msg,dead-letter=\(dead)"
                                                + (conflict ? ",conflict=n" : "")], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            #expect(try server.number("SELECT count(*) FROM \(table) WHERE msg = 'm' || n || ' é\t'") == good)
            #expect(try Self.rows(server, table) == good)
            let deadLines = try String(contentsOfFile: dead, encoding: .utf8).split(separator: "\n")
            #expect(deadLines.count == refused.count)
            var reasons: [String: String] = [:]
            for line in deadLines {
                let object = try Self.object(String(line))
                reasons[object["event"] as? String ?? ""] = object["reason"] as? String
            }
            for (line, reason) in refused { #expect(reasons[line] == reason, "\(line)") }
            let summary = try sluice.summary()
            #expect(summary.count("dead_lettered") == refused.count && summary.count("events_out") == good, "\(summary)")
        }

        /// The table does not exist yet: the batch is retried (the server's error in the log,
        /// output_retries counted) until it is created, then everything lands.
        @Test func aMissingTableIsRetriedUntilItExists() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("later")
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson")
            try NumberedLines.bytes(0..<5_000).write(to: input)
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "file:path=\(input)", "--output",
                                            "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns),retry-max=200ms"], in: directory)
            try sluice.waitForStandardError(containing: "ERROR 42P01: relation \"\(table)\" does not exist; retrying with backoff, events held",
                                            within: .seconds(20))
            try server.query("CREATE TABLE \(table) \(Self.numberedTable)")
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let tally = try Tally(server, table, expected: 5_000)
            #expect(tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
            #expect(try sluice.summary().count("output_retries") >= 1)
        }

        /// A listener that accepts connections and never answers (its first two: the node's two
        /// connections), then passes them on to the real server: each silent attempt times out
        /// (`timeout=`) and is tried again; nothing is acknowledged before the server answered,
        /// and every row lands once.
        @Test func aServerThatAcceptsAndNeverAnswersTimesOutAndIsRetried() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("silent")
            try server.query("CREATE TABLE \(table) \(Self.numberedTable)")
            let proxy = try SilentThenForwardingProxy(silent: 2, target: server.port)
            defer { proxy.stop() }
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson")
            try NumberedLines.bytes(0..<10_000).write(to: input)
            let started = ContinuousClock.now
            // One worker: every worker opens its `connections` (2) at start, so with two workers
            // four connections race for the proxy's two silent places, and when the file's worker
            // wins the forwarded ones nothing times out (seen on a loaded machine).
            let sluice = try SluiceProcess(["run", "--admin", "off", "--workers", "1", "--input", "file:path=\(input)", "--output",
                                            "postgres:dsn=postgresql://postgres@127.0.0.1:\(proxy.port)/postgres,table=\(table),"
                                                + "\(Self.numberedColumns),timeout=2s,retry-max=100ms"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0), "\(sluice.standardErrorTail())")
            let took = ContinuousClock.now - started
            let tally = try Tally(server, table, expected: 10_000)
            #expect(tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
            let summary = try sluice.summary()
            #expect(summary.count("output_timeouts") == 2, "\(summary)")
            #expect(proxy.accepted >= 3)
            #expect(took >= .seconds(2), "a 2 s timeout before the first answer")
            #expect(sluice.standardError().contains("no answer from PostgreSQL within 2000 ms"))
        }

        /// The sum of a metric's samples on a /metrics page (0 when absent).
        static func metric(_ page: String, _ name: String) -> Double {
            page.split(separator: "\n").reduce(0) { sum, line in
                guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return sum }
                return sum + value
            }
        }

        /// The issue's outage: 1,000,000 numbered lines appended to a followed file at 50,000 a
        /// second; once 150,000 rows are in the table the server is stopped (`pg_ctl stop -m
        /// fast`, as a service stop does) for 10 s and started again. With `conflict=n` every
        /// line is in the table exactly once; meanwhile nothing is acknowledged, the input
        /// pauses (what the node read and did not deliver stays within its pool and the output's
        /// two batches), RSS stays flat, and /metrics counts the failed attempts.
        @Test func aServerStoppedForTenSecondsMidStreamHasEveryRowExactlyOnceWithConflict() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("outage")
            try server.query(#"CREATE TABLE \#(table) (n bigint PRIMARY KEY, "check" text, pad text)"#)
            let directory = try TemporaryDirectory()
            let input = directory.path("app.ndjson"), count = 1_000_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let (sluice, port) = try AdminHTTP.startReadyNode(["--input", "file:path=\(input),follow=true", "--output",
                                                               "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns),conflict=n,retry-max=500ms"],
                                                              in: directory)
            let pid = try ProcessStatus.processID(of: sluice)
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 1_000, chunkInterval: .milliseconds(20))
            writer.start()
            try waitUntil("150,000 rows in the table", within: .seconds(60), while: sluice) { try Self.rows(server, table) >= 150_000 }
            let rssBefore = try ProcessStatus.residentBytes(of: pid)
            try server.stop(mode: "fast")
            let stopped = ContinuousClock.now
            var samples: [(inMinusOut: Double, out: Double, failures: Double, rss: Int)] = []
            while ContinuousClock.now - stopped < .seconds(10) {
                usleep(500_000)
                let page = try AdminHTTP.get(port: port, "/metrics").body
                samples.append((Self.metric(page, "sluice_events_in_total") - Self.metric(page, "sluice_events_out_total"),
                                Self.metric(page, "sluice_events_out_total"),
                                Self.metric(page, "sluice_output_errors_total") + Self.metric(page, "sluice_output_retries_total"),
                                try ProcessStatus.residentBytes(of: pid)))
            }
            try server.start()
            try writer.waitUntilDone(within: .seconds(60))
            try waitUntil("every row in the table", within: .seconds(90), while: sluice) { try Self.rows(server, table) >= count }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0), "\(sluice.standardErrorTail())")
            let tally = try Tally(server, table, expected: count)
            let summary = try sluice.summary()
            recordMeasurement("server stopped 10 s mid-stream: \(tally); during the outage events in − out \(samples.map { Int($0.inMinusOut) }), "
                + "failed attempts \(samples.map { Int($0.failures) }), RSS before \(rssBefore) B, during \(samples.map(\.rss).min() ?? 0)…\(samples.map(\.rss).max() ?? 0) B; \(summary)",
                named: "postgres-outage")
            #expect(tally.rows == count && tally.missing == 0 && tally.duplicates == 0 && tally.wrong == 0, "\(tally)")
            // Late samples: the batch in flight when the server stopped has failed by then.
            let late = samples.suffix(samples.count / 2)
            #expect(Set(late.map(\.out)).count == 1, "nothing acknowledged while the server is down: \(samples.map(\.out))")
            #expect((late.last?.failures ?? 0) > (late.first?.failures ?? 0), "/metrics counts the retries: \(samples.map(\.failures))")
            // Rows encoded into the output's two buffers gave their slots back (detached), so what
            // waits is the pool and at most two batches.
            let bound = Double(4_096 + 2 * OutputDefinition.detachedBatchSize)
            #expect(late.allSatisfy { $0.inMinusOut <= bound }, "the input pauses within the pool and two batches: \(samples.map(\.inMinusOut))")
            #expect(samples.allSatisfy { Double($0.rss) <= Double(rssBefore) * 1.10 }, "RSS before \(rssBefore) B, during \(samples.map(\.rss))")
            #expect(summary.count("output_retries") >= 1 && summary.count("events_out") == count, "\(summary)")
        }

        /// The node is SIGKILLed five times (300 ms to 2 s into each run) while 1,000,000 lines
        /// are appended to the followed file it reads with saved offsets: every line is in the
        /// table (at least once; the seed of the kill moments is printed, `SLUICE_E2E_SEED=N`
        /// repeats it).
        @Test func killedFiveTimesWhileAFollowedFileGrowsEveryLineIsInTheTable() throws {
            let server = try PostgresServer.shared()
            let table = PostgresServer.tableName("killed")
            try server.query("CREATE TABLE \(table) \(Self.numberedTable)")
            let directory = try TemporaryDirectory()
            let input = directory.path("app.ndjson"), offsets = directory.path("offsets"), count = 1_000_000
            #expect(FileManager.default.createFile(atPath: input, contents: nil))
            let arguments = ["run", "--admin", "off", "--input", "file:path=\(input),follow=true,offsets=\(offsets),offsets-interval=100ms",
                             "--output", "postgres:dsn=\(server.dsn),table=\(table),\(Self.numberedColumns)"]
            let writer = NumberedLineAppender(path: input, numbers: 0..<count, linesPerChunk: 5_000, chunkInterval: .milliseconds(50))
            writer.start()
            let kills = try killRepeatedly(arguments, in: directory, times: 5, at: .randomly(milliseconds: 300...2_000)) { _ in
                "\(writer.linesWritten) lines written, \(try Self.rows(server, table)) rows"
            }
            let last = try lastRunCatchingUp(arguments, in: directory, input: input, offsets: offsets, writer: writer, within: .seconds(90))
            let tally = try Tally(server, table, expected: count)
            recordMeasurement("\(kills); last run: \(try last.summary()); \(tally)", named: "postgres-kill-9")
            #expect(tally.missing == 0 && tally.wrong == 0, "\(tally)")
        }
    }
}
