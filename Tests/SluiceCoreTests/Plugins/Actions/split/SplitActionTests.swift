import Testing

@testable import SluiceCore

@Suite struct SplitActionTests {
    func split(_ field: String = "items", maxEventBytes: Int = 8192) throws -> SplitAction {
        try SplitAction(arguments("split", ("field", field)), maxEventBytes: maxEventBytes).forWorker()
    }

    /// Runs the action over `event` as a worker does: again after each `.emit`, with the cursor
    /// it left. Returns the emitted events' texts (then the original's, when it passed) and
    /// every verdict; `takeAway` slots are taken from the pool before each call (then given back).
    func run(_ action: SplitAction, _ event: Event, _ pool: EventPool, counters: CounterBlock = CounterBlock(pipelines: 1),
             starveOnce: Bool = false) -> (texts: [String], verdicts: [Action.Verdict], emitted: [Event]) {
        var texts: [String] = [], verdicts: [Action.Verdict] = [], emitted: [Event] = []
        var cursor: UInt32 = 0
        var starve = starveOnce
        while true {
            var held: [Event] = []
            if starve {
                while let e = pool.slabs.pointee.take() { held.append(e) }
                while let e = pool.slabs.pointee.takeLarge() { held.append(e) }
            }
            var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
            context.cursor = cursor
            let verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
            for e in held { pool.slabs.pointee.release(e.header.pointee.handle) }
            verdicts.append(verdict)
            cursor = context.cursor
            if verdict == .wait {
                starve = false
                continue
            }
            guard verdict == .emit, let h = context.emitted else { break }
            let made = pool.event(h)
            texts.append(text(made.raw))
            emitted.append(made)
        }
        texts.append(text(event.raw))
        return (texts, verdicts, emitted)
    }

    @Test func oneEventPerElementInOrderEachWithTheRestOfTheObject() throws {
        let pool = try makePool()
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(#"{"a":1,"items":[1, {"x":"y,]"} ,"th\"ree",[2,3]],"z":true}"#, in: pool)
        event.mutableHeader.pointee.sourceID = 77
        event.mutableHeader.pointee.offset = 1234
        let (texts, verdicts, emitted) = run(action, event, pool)
        #expect(texts == [#"{"a":1,"items":1,"z":true}"#, #"{"a":1,"items":{"x":"y,]"},"z":true}"#,
                          #"{"a":1,"items":"th\"ree","z":true}"#, #"{"a":1,"items":[2,3],"z":true}"#])
        #expect(verdicts == [.emit, .emit, .emit, .pass])
        for e in emitted {
            #expect(e.has(EventFlags.derived) && e.has(EventFlags.decoded) && e.has(EventFlags.object))
            #expect(e.header.pointee.sourceID == 77 && e.header.pointee.offset == 1234)
            #expect(fieldTexts(e).map(\.key) == ["a", "items", "z"])
        }
        #expect(!event.has(EventFlags.derived), "the original keeps its commit")
        #expect(fieldTexts(event).map(\.value) == ["1", "[2,3]", "true"])
    }

    @Test func aNestedArrayIsSplitInPlace() throws {
        let pool = try makePool()
        let action = try split("req.tags")
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(#"{"req":{"id":5,"tags":["a","b"]},"n":0}"#, in: pool)
        #expect(run(action, event, pool).texts == [#"{"req":{"id":5,"tags":"a"},"n":0}"#, #"{"req":{"id":5,"tags":"b"},"n":0}"#])
    }

    @Test func anEventAnEarlierActionChangedIsSplitAsTheOutputsWouldWriteIt() throws {
        let pool = try makePool()
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(#"{"items":[1,2],"level":"debug"}"#, in: pool)
        #expect(try ModifyAction(arguments("modify", ("field", "level"), ("value", "info"))).apply(event, in: pool))
        let (texts, _, _) = run(action, event, pool)
        #expect(texts == [#"{"items":1,"level":"info"}"#, #"{"items":2,"level":"info"}"#])
        #expect(!event.has(EventFlags.modified), "the original now holds the document it is written as")
    }

    @Test(arguments: [#"{"other":[1]}"#, #"{"items":"not an array"}"#, #"{"items":[]}"#, #"{"items":[ ]}"#, #"[1,2]"#, "not json", "bad utf8 \u{FF}"])
    func eventsWithoutANonEmptyArrayPassUnchangedAndAreCounted(json: String) throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(json, in: pool)
        let (texts, verdicts, _) = run(action, event, pool, counters: counters)
        #expect(verdicts == [.pass])
        #expect(texts == [json])
        #expect(counters.read(.splitSkipped, pipeline: 0) == 1)
        #expect(pool.slabs.pointee.takenCount == 1)
    }

    @Test func nonUTF8BytesAreNeverSplit() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        var bytes = Array(#"{"items":["a","#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#""]}"#.utf8)
        let event = makeEvent(bytes, in: pool)
        try JSONDecodeAction(arguments("json_decode")).apply(event, counters: counters, pipeline: 0)
        #expect(run(action, event, pool, counters: counters).verdicts == [.pass])
        #expect(counters.read(.splitSkipped, pipeline: 0) == 1)
    }

    /// An array past a `--max-fields` index is found (the members past the cut are indexed
    /// first) and every member is in each element's document.
    @Test func anArrayPastTheMaxFieldsIndexIsSplit() throws {
        let pool = try makePool(maxFields: 3), counters = CounterBlock(pipelines: 1)
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(#"{"a":1,"b":"caf\u00e9 ☃","c":{"d":[0]},"e":null,"items":["x",{"y":2}],"z":true}"#, in: pool)
        #expect(event.has(EventFlags.fieldsTruncated) && event.fieldCount == 3)
        let (texts, verdicts, _) = run(action, event, pool, counters: counters)
        #expect(verdicts == [.emit, .pass])
        #expect(texts == [#"{"a":1,"b":"caf\u00e9 ☃","c":{"d":[0]},"e":null,"items":"x","z":true}"#,
                          #"{"a":1,"b":"caf\u00e9 ☃","c":{"d":[0]},"e":null,"items":{"y":2},"z":true}"#])
        #expect(counters.read(.splitSkipped, pipeline: 0) == 0)
    }

    @Test func withNoFreeSlotTheActionWaitsAndResumesAtTheSameElement() throws {
        let pool = try makePool()
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let event = try makeDecodedEvent(#"{"items":["a","b","c"]}"#, in: pool)
        let (texts, verdicts, _) = run(action, event, pool, starveOnce: true)
        #expect(verdicts == [.wait, .emit, .emit, .pass])
        #expect(texts == [#"{"items":"a"}"#, #"{"items":"b"}"#, #"{"items":"c"}"#])
    }

    @Test func anEventAtMaxEventSizeSplitsIntoLargeAndOrdinarySlots() throws {
        let pool = try makePool()
        let action = try split()
        defer { action.dispose(); action.disposeShared() }
        let big = String(repeating: "x", count: 8192 - 40)
        let json = #"{"items":["\#(big)","s"],"k":1}"#
        #expect(json.utf8.count <= 8192)
        let event = try makeDecodedLargeEvent(json, in: pool)
        let (texts, _, emitted) = run(action, event, pool)
        #expect(texts == [#"{"items":"\#(big)","k":1}"#, #"{"items":"s","k":1}"#])
        #expect(EventHandles.slot(emitted[0].header.pointee.handle) >= pool.slabs.pointee.smallCount, "the long element went to a large slot")
    }

    @Test func theFieldIsRequired() {
        #expect(rejection { () throws(PluginArgumentError) in try SplitAction(arguments("split"), maxEventBytes: 100) }?.key == "field")
        #expect(rejection { () throws(PluginArgumentError) in try SplitAction(arguments("split", ("field", "")), maxEventBytes: 100) }?.key == "field")
    }
}
