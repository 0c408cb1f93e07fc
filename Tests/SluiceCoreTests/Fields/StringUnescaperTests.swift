import Testing

@testable import SluiceCore

/// JSON string bodies decoded to UTF-8: plain runs between escapes are copied whole, so the
/// runs, the escapes and the capacity cut are checked against a byte-by-byte reference.
@Suite struct StringUnescaperTests {
    func unescaped(_ raw: String, capacity: Int = 1024) -> [UInt8] {
        let bytes = Array(raw.utf8)
        let out = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
        defer { out.deallocate() }
        let n = bytes.withUnsafeBytes { StringUnescaper.unescape($0, into: out, capacity: capacity) }
        return Array(UnsafeRawBufferPointer(start: out, count: n))
    }

    @Test func plainRunsAndEscapesDecodeInOrder() {
        #expect(unescaped(#"пользователь\n\"cache\"\tok"#) == Array("пользователь\n\"cache\"\tok".utf8))
        #expect(unescaped(#"\\\/\b\f\r"#) == [92, 47, 8, 12, 13])
        #expect(unescaped(#"caf\u00e9 \u65e5 \ud83d\ude00!"#) == Array("café 日 😀!".utf8))
        #expect(unescaped(#"\n"#) == [10], "an escape alone")
        #expect(unescaped(#"a\u0000b"#) == [97, 0, 98])
    }

    @Test func aLoneSurrogateBecomesTheReplacementCharacter() {
        #expect(unescaped(#"x\ud800y"#) == Array("x\u{FFFD}y".utf8))
        #expect(unescaped(#"\udc00"#) == Array("\u{FFFD}".utf8))
    }

    @Test func aBackslashThatEndsTheTextIsKept() {
        #expect(unescaped("ab\\") == [97, 98, 92])
    }

    @Test func theOutputStopsAtTheCapacityInsideARunOrAnEscape() {
        let raw = #"Zürich\t数据库\u00e9 done"#
        let whole = unescaped(raw)
        #expect(whole == Array("Zürich\t数据库é done".utf8))
        for capacity in 0...whole.count {
            #expect(unescaped(raw, capacity: capacity) == Array(whole.prefix(capacity)), "capacity \(capacity)")
        }
    }
}
