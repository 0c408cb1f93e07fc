import Foundation
import Testing

extension EndToEndTests {
    /// The README's plugin and flag tables are generated from the declarations; whoever adds a
    /// plugin, a parameter or a flag regenerates them (the failure says how).
    @Suite struct ReferenceTables {
        static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")

        /// The README text between `<!-- NAME:begin -->` and `<!-- NAME:end -->`, without the marker lines.
        static func section(_ name: String) throws -> String? {
            let text = try String(contentsOf: readme, encoding: .utf8)
            guard let begin = text.range(of: "<!-- \(name):begin -->\n"),
                  let end = text.range(of: "<!-- \(name):end -->", range: begin.upperBound..<text.endIndex) else { return nil }
            return String(text[begin.upperBound..<end.lowerBound])
        }

        static func printed(_ arguments: [String]) throws -> String {
            let directory = try TemporaryDirectory()
            let sluice = try SluiceProcess(arguments, in: directory)
            #expect(try sluice.waitForExit(within: .seconds(10)) == .exited(0))
            return String(decoding: sluice.standardOutput(), as: UTF8.self)
        }

        @Test(arguments: [("plugins", ["plugins", "--markdown"]), ("flags", ["run", "--help-markdown"])])
        func theReadmeTableIsWhatSluicePrints(section name: String, command: [String]) throws {
            let generated = try Self.printed(command)
            #expect(generated.hasPrefix("| "), "\(generated)")
            let inReadme = try #require(try Self.section(name), "README.md has no <!-- \(name):begin --> ... <!-- \(name):end --> section")
            #expect(inReadme == generated, """
                README.md between the \(name) markers differs from `sluice \(command.joined(separator: " "))`: \
                replace it with that command's output
                """)
        }
    }
}
