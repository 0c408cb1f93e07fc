import Testing

@testable import SluiceCore

@Suite struct HashActionTests {
    /// Reference values from `xxhsum -H1` (xxHash 0.8.1, Debian's `xxhash`).
    @Test(arguments: [
        ("", "ef46db3751d8e999"), ("a", "d24ec4f1a98c6e5b"), ("abc", "44bc2cf5ad770999"), ("hello world", "45ab6734b21e6968"),
        ("0123456789abcdefghijklmnopqrstuvwxyz0123456789", "4ae5684cd402fbb4"), ("é", "17d757dfb8b46f78"),
        (String(repeating: "x", count: 100), "92f0de5a88a3c094"), ("hi", "ea8842e9ea2638fa"),
    ])
    func xxh64MatchesTheReference(input: String, expected: String) {
        let hash = Array(input.utf8).withUnsafeBytes { XXHash64.hash($0) }
        #expect(String(hash, radix: 16).leftPadded(16) == expected)
    }

    @Test func aStringIsHashedByItsUnescapedContentsIntoAHexString() throws {
        let run = try EditActionRun("hash", ("field", "m"), ("to", "h.x"))
        defer { run.dispose() }
        #expect(try run.line(#"{"m":"hi"}"#) == #"{"m":"hi","h":{"x":"ea8842e9ea2638fa"}}"#)
        #expect(try run.line(#"{"m":"\u00e9"}"#) == #"{"m":"\u00e9","h":{"x":"17d757dfb8b46f78"}}"#)
        #expect(try run.line(#"{"m":""}"#) == #"{"m":"","h":{"x":"ef46db3751d8e999"}}"#)
    }

    @Test func otherValuesAreHashedByTheirTextAndNumbersWrittenAsNumbers() throws {
        let run = try EditActionRun("hash", ("field", "v"), ("to", "v"), ("format", "number"))
        defer { run.dispose() }
        #expect(try run.line(#"{"v":{"a":1}}"#) == #"{"v":\#(UInt64(0xca0b885a32fc8b48))}"#)
        #expect(try run.line(#"{"v":42}"#) == #"{"v":\#(UInt64(0x6de6f5d076d742b9))}"#)
    }

    @Test func aMissingFieldIsCountedAndTheEventPassesUnchanged() throws {
        let run = try EditActionRun("hash", ("field", "a.b"), ("to", "h"))
        defer { run.dispose() }
        #expect(try run.line(#"{"a":{}}"#) == #"{"a":{}}"#)
        #expect(run.count(.fieldMissing) == 1)
    }

    @Test func aFieldPastMaxFieldsIsHashed() throws {
        let run = try EditActionRun("hash", ("field", "k9"), ("to", "h"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(10), in: run.pool))
        #expect(encodedObject(event)?.count == 11 && encodedObject(event)?["h"] as? String != nil)
    }

    @Test func aHashPastMaxEventSizeChangesNothing() throws {
        let pool = try makePool()
        let run = try EditActionRun("hash", ("field", "f"), ("to", "hash"), pool: pool)
        defer { run.dispose() }
        let event = try nearlyFullEvent(in: pool, room: 2)
        #expect(run.run(event).0 == .pass)
        #expect(!event.has(EventFlags.modified) && run.count(.editTooLarge) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("hash", ("to", "h"))?.key == "field")
        #expect(editActionRejection("hash", ("field", "a"))?.key == "to")
        #expect(editActionRejection("hash", ("field", "a"), ("to", "h"), ("format", "base64"))?.key == "format")
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
