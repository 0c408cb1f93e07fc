import Foundation
import Testing

extension EndToEndTests {
    /// decode, convert_log_level, convert_date, mask and parse_re in the built binary, file to
    /// file, on many generated lines; every output line is checked against the line computed
    /// here independently (Foundation's JSON and calendar), and the counters against the lines
    /// made to fail.
    @Suite struct ParsingActions {
        static let levels = [("WARN", "warning"), ("err", "error"), ("Info", "informational"), ("fatal", "critical"), ("trace", "debug")]

        /// One CRI line holding logfmt; every 10th line's logfmt is broken (unterminated quote).
        static func line(_ i: Int) -> String {
            let (level, _) = levels[i % levels.count]
            let seconds = 1_700_000_000 + i * 37
            let card = String(4_000_000_000_000_000 + i * 7919)
            let message = i % 10 == 9 ? #"msg=\"broken"# : #"msg=\"paid \\\"order\\\" \#(i)\""#
            let log = #"level=\#(level) at=\#(seconds) card=\#(card) \#(message)"#
            return #"{"n":\#(i),"line":"2024-01-02T03:04:05.\#(String(format: "%09d", i))Z stdout F \#(log)"}"#
        }

        static func rfc3339(_ seconds: Int) -> String {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(secondsFromGMT: 3 * 3600)
            return formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        }

        @Test func aChainOfParsingActionsGivesTheFieldsComputedIndependently() throws {
            let directory = try TemporaryDirectory()
            let input = directory.path("cri.ndjson"), output = directory.path("out.ndjson")
            let count = 20_000
            let lines = (0..<count).map(Self.line)
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: input))
            let sluice = try SluiceProcess([
                "run", "--input", "file:path=\(input)", "--action", "json_decode",
                "--action", "decode:field=line,format=cri", "--action", "decode:field=log,format=logfmt",
                "--action", "convert_log_level:style=lower",
                "--action", "convert_date:field=at,from=unix,to=rfc3339,timezone=+03:00",
                "--action", #"mask:field=card,pattern=^\\d{12},replace=XXXXXXXXXXXX"#,
                "--action", #"parse_re:field=msg,pattern="(?<order>\\w+)",prefix=q_"#,
                "--output", "file:path=\(output)",
            ], in: directory)
            #expect(try sluice.waitForExit(within: .seconds(60)) == .exited(0))
            let written = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n")
            try #require(written.count == count, "got \(written.count) lines for \(count)")
            var problems: [String] = []
            for i in 0..<count {
                guard let got = (try? JSONSerialization.jsonObject(with: Data(written[i].utf8))) as? NSDictionary else {
                    problems.append("line \(i + 1): not a JSON object: \(written[i])")
                    continue
                }
                let expected: NSMutableDictionary = ["n": i, "time": "2024-01-02T03:04:05.\(String(format: "%09d", i))Z", "stream": "stdout"]
                let seconds = 1_700_000_000 + i * 37
                let card = String(4_000_000_000_000_000 + i * 7919)
                if i % 10 == 9 {
                    // The logfmt did not decode: the CRI fields only, the log kept.
                    expected["log"] = #"level=\#(Self.levels[i % Self.levels.count].0) at=\#(seconds) card=\#(card) msg="broken"#
                } else {
                    expected["level"] = Self.levels[i % Self.levels.count].1
                    expected["at"] = Self.rfc3339(seconds)
                    expected["card"] = "XXXXXXXXXXXX" + card.suffix(4)
                    expected["msg"] = #"paid "order" \#(i)"#
                    expected["q_order"] = "order"
                }
                if got != expected { problems.append("line \(i + 1): \(got) != \(expected)") }
                if problems.count > 5 { break }
            }
            #expect(problems.isEmpty, "\(problems)")
            let summary = try sluice.summary()
            #expect(summary.count("decode_failed") == count / 10, "\(summary)")
            #expect(!summary.has("convert_date_failed") && !summary.has("parse_too_large") && !summary.has("mask_failed"), "\(summary)")
        }
    }
}
