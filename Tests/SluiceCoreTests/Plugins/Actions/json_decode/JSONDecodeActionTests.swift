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

    // MARK: Every member indexed when an action after the decode edits fields

    /// A worker's copy of a json_decode that an editing action follows.
    private func completingDecode() throws -> JSONDecodeAction {
        var decode = try JSONDecodeAction(arguments("json_decode"))
        decode.completesIndex = true
        return decode.forWorker()
    }

    private func run(_ decode: JSONDecodeAction, on event: Event, in pool: EventPool,
                     counters: CounterBlock = CounterBlock(pipelines: 1)) -> (Action.Verdict, Event) {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        let verdict = Action.jsonDecode(decode).apply(event, counters: counters, pipeline: 0, context: &context)
        return (verdict, context.event)
    }

    @Test func aDecodeIsToldToIndexEveryMemberOnlyWhenAnActionAfterItEditsFields() throws {
        func decodes(_ types: [String]) throws -> [Bool] {
            let actions = try types.map { type in
                let pairs: [(String, String)] = switch type {
                case "rename": [("from", "a"), ("to", "b")]
                case "throttle": [("key", "a"), ("limit", "5")]
                case "discard": [("if-field", "a"), ("if-equals", "b")]
                case "split": [("field", "a")]
                case "join": [("start", "^E"), ("continue", "^ ")]
                default: []
                }
                return try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
            }
            defer { actions.forEach { $0.disposeShared() } }
            return Action.linked(actions).compactMap { action in
                if case .jsonDecode(let d) = action.kind { return d.completesIndex } else { return nil }
            }
        }
        #expect(try decodes(["json_decode"]) == [false])
        #expect(try decodes(["json_decode", "discard", "throttle"]) == [false], "reading actions do not need the whole index")
        #expect(try decodes(["json_decode", "rename"]) == [true])
        #expect(try decodes(["json_decode", "throttle", "rename", "json_decode", "discard"]) == [true, false])
        #expect(try decodes(["rename", "json_decode"]) == [false], "an editor before the decode does not count")
        #expect(try decodes(["json_decode", "split"]) == [true], "split rewrites the object")
        #expect(try decodes(["json_decode", "join"]) == [false], "join reads its field in the text; it indexes a record's first event itself")
    }

    /// One scan gives the entries a scan with room for every member gives, and the event is not
    /// cut: no editor after it walks the text past `--max-fields` again.
    @Test(arguments: [8, 3, 1])
    func beforeAnEditorEveryMemberIsIndexedInTheOneScan(maxFields: Int) throws {
        let pool = try makePool(maxFields: maxFields)
        let decode = try completingDecode()
        defer { decode.dispose() }
        let (verdict, event) = run(decode, on: makeEvent(LongObject.text, in: pool), in: pool)
        #expect(verdict == .pass)
        #expect(event.has(EventFlags.decoded) && event.has(EventFlags.object))
        #expect(Int(event.header.pointee.fieldCapacity) > LongObject.members.count, "room for the member an editor may add")
        #expect(text(event.raw) == LongObject.text)
        expectTheIndexOfAFullScanOfLongObject(event)
    }

    @Test func aCompletingDecodeOfAShortObjectOrOfInvalidTextIsAsTheOrdinaryOne() throws {
        let pool = try makePool(maxFields: 8)
        let counters = CounterBlock(pipelines: 1)
        let decode = try completingDecode()
        defer { decode.dispose() }
        let (_, short) = run(decode, on: makeEvent(#"{"type":"view","n":42}"#, in: pool), in: pool, counters: counters)
        #expect(short.has(EventFlags.decoded) && !short.has(EventFlags.fieldsTruncated))
        #expect(fieldTexts(short).map(\.key) == ["type", "n"])
        #expect(Int(short.header.pointee.fieldCapacity) == 8, "an index with room is left as it is")
        let (verdict, invalid) = run(decode, on: makeEvent(#"{"type":"view""#, in: pool), in: pool, counters: counters)
        #expect(verdict == .pass)
        #expect(invalid.has(EventFlags.invalidJSON) && !invalid.has(EventFlags.decoded) && invalid.fieldCount == 0)
        #expect(counters.read(.invalidJSON, pipeline: 0) == 1)
        let (_, array) = run(decode, on: makeEvent("[1,2,3]", in: pool), in: pool, counters: counters)
        #expect(array.has(EventFlags.decoded) && !array.has(EventFlags.object) && array.fieldCount == 0)
    }

    @Test func withNoLongerSlotFreeTheDecodeWaitsThenMovesTheEvent() throws {
        let pool = try makePool(largeSlots: 1, maxFields: 8)
        // Twelve members whose text nearly fills an ordinary slot: the index cannot grow in it.
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity - 140)
        let members = [#""s":"\#(filler)""#] + (1..<12).map { #""k\#($0)":\#($0)"# }
        let json = "{" + members.joined(separator: ",") + "}"
        let decode = try completingDecode()
        defer { decode.dispose() }
        let event = makeEvent(json, in: pool)
        let handle = event.header.pointee.handle
        guard let held = pool.slabs.pointee.takeLarge() else { Issue.record("no large slot"); return }
        let (waited, same) = run(decode, on: event, in: pool)
        #expect(waited == .wait)
        #expect(same.header.pointee.handle == handle && !same.has(EventFlags.decoded), "nothing changed while it waits")
        pool.slabs.pointee.release(held.header.pointee.handle)
        let (verdict, moved) = run(decode, on: event, in: pool)
        #expect(verdict == .pass)
        #expect(moved.header.pointee.handle != handle && moved.has(EventFlags.grown))
        #expect(!moved.has(EventFlags.fieldsTruncated) && moved.fieldCount == 12)
        #expect(fieldTexts(moved).last?.key == "k11" && text(moved.raw) == json)
    }

    @Test func whenNoSlotHoldsEveryMemberTheIndexIsCutAsTheOrdinaryDecodeCutsIt() throws {
        let pool = try makePool(maxFields: 8)
        // A large slot's text that leaves no room for a longer index.
        let filler = String(repeating: "x", count: pool.configuration.maxEventSizeBytes - 100)
        let members = [#""s":"\#(filler)""#] + (1..<12).map { #""k\#($0)":\#($0)"# }
        let json = "{" + members.joined(separator: ",") + "}"
        guard let event = pool.slabs.pointee.takeLarge() else { Issue.record("no large slot"); return }
        let bytes = Array(json.utf8)
        bytes.withUnsafeBytes { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        event.mutableHeader.pointee.rawLength = UInt32(bytes.count)
        event.mutableHeader.pointee.usedLength = UInt32(bytes.count)
        let decode = try completingDecode()
        defer { decode.dispose() }
        let (verdict, same) = run(decode, on: event, in: pool)
        #expect(verdict == .pass)
        #expect(same.header.pointee.handle == event.header.pointee.handle)
        #expect(same.has(EventFlags.decoded) && same.has(EventFlags.fieldsTruncated) && same.fieldCount == 8)
        #expect(fieldTexts(same).last?.key == "k7")
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
