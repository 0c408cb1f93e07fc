import Testing

@testable import SluiceCore

@Suite struct ParseRegexActionTests {
    @Test func namedGroupsBecomeFieldsWithThePrefixInGroupOrder() throws {
        let run = try ActionRun("parse_re", ("field", "log"), ("pattern", #"(?<zmethod>[A-Z]+) (?<path>\S+) (?<status>\d+)"#), ("prefix", "http_"))
        #expect(try run.line(#"{"log":"GET /a?b=1 200","n":1}"#)
            == #"{"log":"GET /a?b=1 200","n":1,"http_zmethod":"GET","http_path":"/a?b=1","http_status":"200"}"#)
    }

    @Test func anExistingFieldOfAGroupsNameIsReplaced() throws {
        let run = try ActionRun("parse_re", ("field", "msg"), ("pattern", #"user=(?<user>\w+)"#))
        #expect(try run.line(#"{"user":"old","msg":"login user=bob"}"#) == #"{"user":"bob","msg":"login user=bob"}"#)
    }

    @Test func aGroupThatTookNoPartSetsNothing() throws {
        let run = try ActionRun("parse_re", ("field", "m"), ("pattern", #"(?<a>x)|(?<b>y)"#))
        #expect(try run.line(#"{"m":"y"}"#) == #"{"m":"y","b":"y"}"#)
    }

    @Test func escapesAreMatchedUnescapedAndCapturesEscapedAgain() throws {
        let run = try ActionRun("parse_re", ("field", "req.line"), ("pattern", #"q="(?<q>[^"]*)""#))
        #expect(try run.line(#"{"req":{"line":"q=\"a\\b\u00e9\""}}"#) == #"{"req":{"line":"q=\"a\\b\u00e9\""},"q":"a\\bé"}"#)
    }

    @Test func noMatchAWrongTypeOrAnUndecodedEventIsCountedAndAMissingFieldIsNot() throws {
        let run = try ActionRun("parse_re", ("field", "m"), ("pattern", #"(?<d>\d+)"#))
        for json in [#"{"m":"none"}"#, #"{"m":5}"#, "not json"] {
            let event = json.hasPrefix("{") ? try makeDecodedEvent(json, in: run.pool) : makeEvent(json, in: run.pool)
            let (after, verdict) = run.run(event)
            #expect(verdict == .pass && !after.has(EventFlags.modified))
        }
        _ = run.run(try makeDecodedEvent(#"{"other":"1"}"#, in: run.pool))
        #expect(run.count(.parseREFailed) == 3)
    }

    @Test func aFieldPastMaxFieldsIsFoundAndTheNewFieldsKeepEveryMember() throws {
        let pool = try makePool(eventSizeBytes: 2048, maxEventSizeBytes: 16384, maxFields: 4)
        let run = try ActionRun("parse_re", ("field", "k5"), ("pattern", #"(?<d>\d)"#), pool: pool)
        let members = (0..<6).map { #""k\#($0)":"v\#($0)""# }.joined(separator: ",")
        #expect(try run.line("{\(members)}") == "{\(members),\"d\":\"5\"}")
    }

    @Test func capturesPastMaxEventSizeAreCountedAndTheEventLeftAlone() throws {
        let run = try ActionRun("parse_re", ("field", "m"), ("pattern", #"(?<a>.*)(?<b>.*)$(?<c>)"#))
        let big = String(repeating: "x", count: 9000)
        let (event, verdict) = run.run(try makeDecodedLargeEvent(#"{"m":"\#(big)"}"#, in: run.pool))
        #expect(verdict == .pass && !event.has(EventFlags.modified))
        #expect(run.count(.parseTooLarge) == 1)
    }

    @Test func aPatternWithoutNamedGroupsOrThatDoesNotCompileIsRefused() {
        #expect(parsingRejection("parse_re", ("pattern", #"(\d+)"#))?.message.contains("has no named group") == true)
        let bad = parsingRejection("parse_re", ("pattern", "(?<x>a"))
        #expect(bad?.key == "pattern")
        #expect(bad?.message == "'(?<x>a': bad pattern at offset 6: missing closing parenthesis")
    }
}
