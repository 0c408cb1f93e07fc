import Testing

@testable import SluiceCore

@Suite struct MaskActionTests {
    // MARK: - One field

    @Test func everyMatchInTheFieldIsReplaced() throws {
        let run = try ActionRun("mask", ("field", "msg"), ("pattern", #"\d{4}"#))
        #expect(try run.line(#"{"msg":"card 1234 5678 and 9012","n":1}"#) == #"{"msg":"card ***** ***** and *****","n":1}"#)
        #expect(run.count(.maskFailed) == 0)
    }

    @Test func aNestedFieldIsMaskedInPlace() throws {
        let run = try ActionRun("mask", ("field", "req.user.email"), ("pattern", "@.*$"), ("replace", "@x"))
        #expect(try run.line(#"{"req":{"user":{"email":"a@b.c","id":7}},"z":0}"#) == #"{"req":{"user":{"email":"a@x","id":7}},"z":0}"#)
    }

    @Test func patternsApplyInOrderEachToWhatThePreviousLeft() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "b+"), ("pattern", "a#"), ("replace", "#"))
        #expect(try run.line(#"{"m":"aab ab"}"#) == #"{"m":"a# #"}"#)
    }

    @Test func escapedStringsAreMatchedUnescapedAndEscapedAgain() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", #"pass=\S+"#), ("replace", "pass=\"?\""))
        // The value holds a tab and a quote escaped; `\S+` stops at the tab.
        #expect(try run.line(#"{"m":"x pass=\"se\u0063ret\"\tend"}"#) == #"{"m":"x pass=\"?\"\tend"}"#)
    }

    @Test func hashReplacesEachMatchWithAStableHexHash() throws {
        let run = try ActionRun("mask", ("field", "ip"), ("pattern", #"\d+\.\d+"#), ("hash", "true"))
        let first = try run.line(#"{"ip":"10.1 and 10.1 and 10.2"}"#)
        let parts = first.dropFirst(7).dropLast(2).components(separatedBy: " and ")
        #expect(parts.count == 3 && parts[0] == parts[1] && parts[0] != parts[2])
        #expect(parts.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) })
        // XXH64 of "10.1" from `printf 10.1 | xxhsum -H1` (xxHash 0.8.1).
        #expect(parts[0] == "fba3aa6a6850ca3f")
    }

    @Test func emptyMatchesAdvanceOneCharacterAndInsertBetweenCharacters() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "x*"), ("replace", "-"))
        #expect(try run.line(#"{"m":"aé"}"#) == #"{"m":"-a-é-"}"#)
        #expect(try run.line(#"{"m":""}"#) == #"{"m":"-"}"#)
    }

    @Test func anAnchoredPatternMatchesOnlyAtTheStartOfTheValue() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "^ab"))
        #expect(try run.line(#"{"m":"ababab"}"#) == #"{"m":"*****abab"}"#)
    }

    @Test func manyMatchesGrowTheEventIntoALargeSlot() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "x"), ("replace", "0123456789"))
        let value = String(repeating: "x", count: 1200)
        let (event, verdict) = run.run(try makeDecodedEvent(#"{"m":"\#(value)"}"#, in: run.pool))
        #expect(verdict == .pass)
        #expect(event.has(EventFlags.grown))
        let whole = encoded(event) == #"{"m":"\#(String(repeating: "0123456789", count: 1200))"}"#
        #expect(whole)
    }

    @Test func aResultPastMaxEventSizeLeavesTheEventUnchangedAndIsCounted() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "x"), ("replace", String(repeating: "y", count: 20)))
        let event = try makeDecodedEvent(#"{"m":"\#(String(repeating: "x", count: 1000))"}"#, in: run.pool)
        let (after, verdict) = run.run(event)
        #expect(verdict == .pass)
        #expect(!after.has(EventFlags.modified))
        #expect(run.count(.parseTooLarge) == 1)
    }

    // MARK: - Every string

    @Test func withoutAFieldEveryStringValueIsMaskedButNoKey() throws {
        let run = try ActionRun("mask", ("pattern", "secret"))
        let line = try run.line(#"{"secret":"a secret","n":{"secret":["secret",1,{"k":"secret\n"}]},"t":true}"#)
        #expect(line == #"{"secret":"a *****","n":{"secret":["*****",1,{"k":"*****\n"}]},"t":true}"#)
    }

    @Test func withoutAFieldAnEventWithNoMatchIsNotModified() throws {
        let run = try ActionRun("mask", ("pattern", "zzz"))
        let (event, _) = run.run(try makeDecodedEvent(#"{"a":"b","c":[1]}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
    }

    @Test func fieldsPastMaxFieldsAreMaskedToo() throws {
        let pool = try makePool(eventSizeBytes: 2048, maxEventSizeBytes: 16384, maxFields: 4)
        let run = try ActionRun("mask", ("pattern", "v"), ("replace", "w"), pool: pool)
        let members = (0..<6).map { #""k\#($0)":"v\#($0)""# }.joined(separator: ",")
        #expect(try run.line("{\(members)}") == "{" + (0..<6).map { #""k\#($0)":"w\#($0)""# }.joined(separator: ",") + "}")
    }

    // MARK: - Events left alone

    @Test func aMissingFieldPassesUncounted() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "x"))
        let (event, verdict) = run.run(try makeDecodedEvent(#"{"a":"x"}"#, in: run.pool))
        #expect(verdict == .pass && !event.has(EventFlags.modified) && run.count(.maskFailed) == 0)
    }

    @Test func aFieldThatIsNotAStringOrAnEventThatIsNotAnObjectIsCounted() throws {
        let run = try ActionRun("mask", ("field", "m"), ("pattern", "1"))
        _ = run.run(try makeDecodedEvent(#"{"m":123}"#, in: run.pool))
        _ = run.run(makeEvent("m=1 not json", in: run.pool))
        _ = run.run(try makeDecodedEvent(#"["m"]"#, in: run.pool))
        #expect(run.count(.maskFailed) == 3)
    }

    // MARK: - Parameters

    @Test func aBadPatternIsAnErrorWithItsPosition() {
        let error = parsingRejection("mask", ("pattern", "ab(c"))
        #expect(error?.key == "pattern")
        #expect(error?.message == "'ab(c': bad pattern at offset 4: missing closing parenthesis")
    }

    @Test func aPatternIsRequiredAndHashExcludesReplace() {
        #expect(parsingRejection("mask", ("field", "m"))?.key == "pattern")
        #expect(parsingRejection("mask", ("pattern", "a"), ("hash", "true"), ("replace", "x"))?.key == "replace")
        #expect(parsingRejection("mask", ("pattern", "a"), ("field", "a..b"))?.key == "field")
    }
}
