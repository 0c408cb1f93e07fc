import Foundation
import Testing

extension EndToEndTests {
    /// Several outputs per pipeline, each with a route, and conditions on actions.
    @Suite struct Routes {
        static func objects(_ path: String) throws -> [NSDictionary] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                try #require((try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? NSDictionary, "not a JSON object: \(line)")
            }
        }

        @Test func everyEventGoesToEveryOutputWhoseRouteMatchesAndTheConditionalModifyOnlyTouchesItsEvents() throws {
            let directory = try TemporaryDirectory()
            let a = directory.path("a.ndjson"), b = directory.path("b.ndjson")
            let count = 200_000
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "generator:count=\(count)", "--action", "json_decode",
                                            "--action", "modify:field=x,value=1,if-field=user,if-prefix=u1",
                                            "--output", "file:path=\(a)", "--output", "file:path=\(b),if-field=user,if-prefix=u2"], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(120)) == .exited(0))
            let all = try Self.objects(a), routed = try Self.objects(b)
            #expect(all.count == count)
            let wrongX = all.filter { (($0["user"] as! String).hasPrefix("u1")) != (($0["x"] as? String) == "1") }
            #expect(wrongX.isEmpty, "x set wrongly on \(wrongX.count) events, e.g. \(wrongX.prefix(2))")
            // Each worker generates its own share, numbered from 0: the same seq may come twice.
            let key = { (o: NSDictionary) in "\(o["ts"]!)/\(o["seq"]!)/\(o["user"]!)/\(o["msg"]!)" }
            let expected = all.filter { ($0["user"] as! String).hasPrefix("u2") }.map(key).sorted()
            #expect(!expected.isEmpty)
            #expect(routed.count == expected.count, "b has \(routed.count) events, a has \(expected.count) with u2")
            #expect(routed.map(key).sorted() == expected)
            let summary = try sluice.summary()
            #expect(summary.count("events_out") == count + expected.count, "an event written by two outputs counts twice: \(summary)")
            #expect(!summary.has("unrouted"))
        }

        @Test func yamlOutputsSplitAStreamAndWhatNoRouteTakesIsCountedNotWritten() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("in.ndjson"), clicks = directory.path("clicks.ndjson"), rest = directory.path("rest.ndjson")
            let types = ["click", "view", "purchase", "login"]
            let lines = (0..<4_000).map { #"{"n":\#($0),"type":"\#(types[$0 % 4])","user":"u\#($0 % 10)"}"# }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
            let config = directory.path("routes.yaml")
            try """
            pipelines:
              split:
                input: {type: file, path: \(input)}
                actions:
                  - type: json_decode
                  - {type: discard, if-field: [type, user], if-equals: [view, u1]}
                outputs:
                  - {type: file, path: \(clicks), if-field: type, if-equals: click}
                  - {type: file, path: \(rest), if-field: [type, type], if-equals: [click, login], if-mode: or, if-not: true}
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let sluice = try SluiceProcess(["run", "--admin", "off", "--config", config], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let n = { (o: NSDictionary) in o["n"] as! Int }
            // Dropped: views of user u1 (n % 4 == 1 and n % 10 == 1).
            let dropped = Set((0..<4_000).filter { $0 % 4 == 1 && $0 % 10 == 1 })
            #expect(try Self.objects(clicks).map(n) == (0..<4_000).filter { $0 % 4 == 0 })
            #expect(try Self.objects(rest).map(n) == (0..<4_000).filter { ($0 % 4 == 1 || $0 % 4 == 2) && !dropped.contains($0) })
            let summary = try sluice.summary()
            #expect(summary.count("unrouted") == 1_000, "the logins go nowhere: \(summary)")
            #expect(summary.count("discarded") == dropped.count, "\(summary)")
        }

        @Test func whileOneOutputIsDownNothingIsLostOnEitherAndBothGetEverythingOnceItReturns() throws {
            let directory = try TemporaryDirectory()
            let receiver = try LineReceiver()
            receiver.goAway()
            let file = directory.path("out.ndjson")
            let count = 20_000
            let sluice = try SluiceProcess(["run", "--admin", "off", "--pool-capacity", "512", "--input", "generator:count=\(count),size=100",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port),reconnect-max=200ms",
                                            "--output", "file:path=\(file)"], in: directory)
            try sluice.waitForStandardError(containing: "reconnecting", within: .seconds(10))
            usleep(1_000_000)
            // Every event holds its place in every output's queue (acknowledgements stay in stream
            // order), so the down output holds the pipeline back once the pool is full.
            let meanwhile = lineCount(file)
            #expect(meanwhile < count, "the file output got \(meanwhile) of \(count) while the tcp output was down")
            try receiver.comeBack()
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            receiver.stop()
            let tally = receiver.tally(expected: 0)
            #expect(tally.lines == count && tally.unterminatedBytes == 0, "\(tally)")
            #expect(try Self.objects(file).count == count)
        }

        @Test func routesAndOutputListsAreCheckedAtStartUp() throws {
            let directory = try TemporaryDirectory()
            let bad = try SluiceProcess(["check", "--input", "stdin", "--output", "stdout:if-equals=x"], in: directory)
            #expect(try bad.waitForExit(within: .seconds(10)) == .exited(2))
            #expect(bad.standardError().contains("a condition needs if-field=PATH before its test"), "\(bad.standardError())")
            let unknown = try SluiceProcess(["check", "--input", "stdin", "--action", "json_decode:if-feild=a", "--output", "stdout"], in: directory)
            #expect(try unknown.waitForExit(within: .seconds(10)) == .exited(2))
            #expect(unknown.standardError().contains("json_decode has no parameter 'if-feild'"), "\(unknown.standardError())")
        }
    }
}
