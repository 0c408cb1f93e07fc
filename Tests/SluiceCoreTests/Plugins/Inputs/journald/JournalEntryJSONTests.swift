import Foundation
import Testing

@testable import SluiceCore

@Suite struct JournalEntryJSONTests {
    /// Renders `fields` (`NAME=value` byte strings) into `capacity` bytes.
    func render(_ fields: [[UInt8]], capacity: Int = 4096) -> (text: String, cut: Bool) {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 8)
        defer { buffer.deallocate() }
        var json = JournalEntryJSON(into: buffer, capacity: capacity)
        for f in fields { _ = f.withUnsafeBytes { json.add(field: $0) } }
        let n = json.finish()
        return (String(decoding: UnsafeRawBufferPointer(start: buffer, count: n), as: UTF8.self), json.cut)
    }

    func object(_ text: String) throws -> [String: String] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String])
    }

    @Test func escapesControlBytesQuotesAndBackslashesAndKeepsUTF8() throws {
        let r = render([Array("MESSAGE=a \"b\" \\ c\td\ne\u{1}f Grüße 🚀".utf8), Array("PRIORITY=3".utf8)])
        #expect(!r.cut)
        #expect(try object(r.text) == ["MESSAGE": "a \"b\" \\ c\td\ne\u{1}f Grüße 🚀", "PRIORITY": "3"])
    }

    @Test func bytesThatAreNotUTF8BecomeTheReplacementCharacter() throws {
        // A lone continuation byte, a truncated 3-byte sequence, an overlong 2-byte form, a surrogate.
        let value: [UInt8] = [0x80, 0x41, 0xE2, 0x82, 0x42, 0xC0, 0xAF, 0xED, 0xA0, 0x80, 0x43]
        let r = render([Array("BLOB=".utf8) + value])
        let text = try object(r.text)["BLOB"]
        #expect(text == "\u{FFFD}A\u{FFFD}\u{FFFD}B\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}C")
    }

    @Test func aValueThatDoesNotFitIsShortenedAndTheObjectStaysValid() throws {
        for capacity in [16, 40, 64, 100] {
            let r = render([Array("A=1".utf8), Array("MESSAGE=\(String(repeating: "ü", count: 100))".utf8), Array("B=2".utf8)], capacity: capacity)
            #expect(r.cut)
            #expect(r.text.utf8.count <= capacity)
            let o = try object(r.text)
            #expect(o["B"] == nil)
            #expect(o["MESSAGE"].map { $0.allSatisfy { $0 == "ü" } } ?? true)
        }
    }

    @Test func aFieldWithoutEqualsSignIsIgnored() throws {
        #expect(try object(render([Array("NOEQUALS".utf8), Array("X=1".utf8)]).text) == ["X": "1"])
    }
}
