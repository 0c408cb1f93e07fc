import Testing

@testable import SluiceCore

@Suite struct JSONDecodeActionTests {
    @Test func aValidObjectIsFlaggedDecodedWithItsFieldsIndexed() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 1)
        let event = try makeDecodedEvent(#"{"type":"view","n":42,"tags":["a"],"ok":true}"#, in: pool, counters: counters)
        #expect(event.has(EventFlags.decoded))
        #expect(!event.has(EventFlags.invalidJSON))
        #expect(!event.has(EventFlags.fieldsTruncated))
        #expect(fieldTexts(event).map(\.key) == ["type", "n", "tags", "ok"])
        #expect(fieldTexts(event).map(\.value) == [#""view""#, "42", #"["a"]"#, "true"])
        #expect((0..<event.fieldCount).map { event.fields[$0].kind } == [.string, .number, .array, .trueLiteral])
        #expect(counters.read(.invalidJSON, pipeline: 0) == 0)
    }

    @Test func invalidJSONIsFlaggedAndCountedAndTheEventKept() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 1)
        let action = try JSONDecodeAction(arguments("json_decode"))
        let event = makeEvent(#"{"type":"view""#, in: pool)
        action.apply(event, counters: counters, pipeline: 0)
        #expect(event.has(EventFlags.invalidJSON))
        #expect(!event.has(EventFlags.decoded))
        #expect(event.fieldCount == 0)
        #expect(text(event.raw) == #"{"type":"view""#)
        #expect(counters.read(.invalidJSON, pipeline: 0) == 1)
        #expect(Action.jsonDecode(action).apply(makeEvent("not json", in: pool), counters: counters, pipeline: 0, in: pool) == .pass,
                "json_decode never drops an event")
        #expect(counters.read(.invalidJSON, pipeline: 0) == 2)
    }

    @Test func anObjectWithMoreMembersThanTheIndexIsFlaggedTruncated() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<10).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(event.has(EventFlags.decoded))
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(event.fieldCount == 8)
        #expect(fieldTexts(event).last?.key == "k7")
    }

    @Test func exactlyAsManyMembersAsTheIndexHoldsIsNotTruncated() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<8).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(!event.has(EventFlags.fieldsTruncated))
        #expect(event.fieldCount == 8)
    }

    @Test func documentsDeeperThanMaxDepthCountAsInvalid() throws {
        let pool = try makePool()
        let counters = CounterBlock(pipelines: 1)
        let shallow = try JSONDecodeAction(arguments("json_decode", ("max-depth", "2")))
        #expect(shallow.maxDepth == 2)
        let nested = makeEvent(#"{"a":{"b":{"c":1}}}"#, in: pool)
        shallow.apply(nested, counters: counters, pipeline: 0)
        #expect(nested.has(EventFlags.invalidJSON))
        let flat = makeEvent(#"{"a":{"b":1}}"#, in: pool)
        shallow.apply(flat, counters: counters, pipeline: 0)
        #expect(flat.has(EventFlags.decoded))
        #expect(try makeDecodedEvent(#"{"a":{"b":{"c":1}}}"#, in: pool).has(EventFlags.decoded))
    }

    @Test func maxDepthOutsideItsRangeIsRejected() {
        let error = rejection { () throws(PluginArgumentError) in try JSONDecodeAction(arguments("json_decode", ("max-depth", "0"))) }
        #expect(error?.key == "max-depth")
        #expect(error?.message == "expected an integer in 1...65536, got '0'")
    }

    @Test func unknownParametersAreRejected() {
        let error = rejection { () throws(PluginArgumentError) in try JSONDecodeAction(arguments("json_decode", ("depth", "3"))) }
        #expect(error?.description == "depth: json_decode has no parameter 'depth' (it takes: max-depth)")
    }
}
