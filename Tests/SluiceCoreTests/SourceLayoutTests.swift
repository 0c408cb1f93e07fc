import Foundation
import Testing

/// Rules of the source tree that the compiler cannot keep.
@Suite struct SourceLayout {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every Swift file under `Sources/`, by its path relative to `Sources/`, with its text.
    static func swiftFiles() throws -> [(path: String, text: String)] {
        let root = sources.standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        var files: [(String, String)] = []
        while let relative = walker.nextObject() as? String {
            guard relative.hasSuffix(".swift") else { continue }
            files.append((relative, try String(contentsOfFile: root + "/" + relative, encoding: .utf8)))
        }
        return files
    }

    /// `Event.header` is read-only; the writable pointer to it is `Memory/`'s alone, so every
    /// other write goes through the event's narrow API (seal, flags, links, routes).
    @Test func onlyMemoryWritesEventHeaders() throws {
        let files = try Self.swiftFiles()
        #expect(files.count > 100, "the walk found the sources")
        let writers = files.filter { $0.text.contains("mutableHeader") }.map(\.path).sorted()
        #expect(writers == ["SluiceCore/Memory/Event.swift", "SluiceCore/Memory/EventPool.swift"])
    }

    /// Code comments say why, not which issue asked for it.
    @Test func noCommentNamesAnIssueNumber() throws {
        let tag = try Regex(#"[Ii]ssue #?[0-9]+"#)
        let tagged = try Self.swiftFiles().filter { $0.text.contains(tag) }.map(\.path)
        #expect(tagged.isEmpty, "\(tagged)")
    }
}
