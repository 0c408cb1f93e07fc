import Testing

@testable import SluiceCore

@Suite struct JoinActionTests {
    static let javaStart = #"^(Exception|Caused by)"#
    static let javaContinue = #"^\s+(at |\.\.\.)"#

    func join(_ extra: (String, String)..., maxEventBytes: Int = 8192) throws -> JoinAction {
        let pairs = [("start", Self.javaStart), ("continue", Self.javaContinue)] + extra
        return try JoinAction(PluginArguments(plugin: "join", pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: maxEventBytes).forWorker()
    }

    /// Hands on what is still open (as at stop) and frees the action.
    func finish(_ action: JoinAction) {
        while action.takeDue(now: 0, all: true) != nil {}
        action.dispose()
        action.disposeShared()
    }

    /// The line an output writes for `event`.
    func line(_ event: Event) -> String {
        let out = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 8)
        defer { out.deallocate() }
        let n = EventEncoder.encodeLine(event, into: out)
        return String(decoding: UnsafeRawBufferPointer(start: out, count: n - 1), as: UTF8.self)
    }

    /// What a worker sees: records handed on (`emit`) and the event's own verdict.
    struct Step {
        var records: [Event] = []
        var verdict: Action.Verdict = .pass
    }

    /// Feeds one decoded event of `stream` received at `nanos` to the action as a worker would.
    func feed(_ action: JoinAction, _ json: String, stream: UInt32 = 1, at nanos: UInt64 = 0, offset: UInt64 = 0,
              _ pool: EventPool, _ counters: CounterBlock) throws -> (Step, Event) {
        let event = try makeDecodedEvent(json, in: pool)
        event.mutableHeader.pointee.sourceID = stream
        event.mutableHeader.pointee.receivedNanos = nanos
        event.mutableHeader.pointee.offset = offset
        var step = Step()
        while true {
            var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
            step.verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
            guard step.verdict == .emit else { break }
            step.records.append(pool.event(context.emitted!))
        }
        return (step, event)
    }

    /// The slots of a record's chain, from the slot the record was framed in (following
    /// `origin` through `grown` and `chained`), with the offsets they commit.
    func chain(_ record: Event, _ pool: EventPool) -> [UInt64] {
        var e = record
        if e.has(EventFlags.grown) { e = pool.event(e.header.pointee.origin) }
        var offsets = [e.header.pointee.offset]
        while e.has(EventFlags.chained) {
            e = pool.event(e.header.pointee.origin)
            offsets.append(e.header.pointee.offset)
        }
        return offsets
    }

    @Test func aStackTraceBecomesOneEventAndTheNextLineClosesIt() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join()
        defer { finish(action) }
        let (s1, _) = try feed(action, #"{"log":"Exception in thread \"main\" boom","n":1}"#, offset: 10, pool, counters)
        #expect(s1.verdict == .held && s1.records.isEmpty)
        let (s2, _) = try feed(action, #"{"log":"\tat A.run(A.java:1)","n":2}"#, offset: 20, pool, counters)
        let (s3, _) = try feed(action, #"{"log":"    ... 3 more","n":3}"#, offset: 30, pool, counters)
        #expect(s2.verdict == .held && s3.verdict == .held)
        let (s4, plain) = try feed(action, #"{"log":"next","n":4}"#, offset: 40, pool, counters)
        #expect(s4.verdict == .pass && s4.records.count == 1)
        #expect(line(s4.records[0]) == #"{"log":"Exception in thread \"main\" boom\n\tat A.run(A.java:1)\n    ... 3 more","n":1}"#)
        #expect(chain(s4.records[0], pool) == [10, 20, 30], "folded events are released after the record, in stream order")
        #expect(line(plain) == #"{"log":"next","n":4}"#)
        #expect(counters.read(.joined, pipeline: 0) == 2)
        #expect(action.openRecords == 0)
    }

    /// Events with more members than `--max-fields` are joined, and the record written with
    /// every member (the members past the cut are indexed first).
    @Test func eventsPastTheMaxFieldsIndexAreJoinedWhole() throws {
        let pool = try makePool(maxFields: 2), counters = CounterBlock(pipelines: 1)
        let action = try join()
        defer { finish(action) }
        let (s1, head) = try feed(action, #"{"n":1,"host":"a","svc":"b","log":"Exception boom","tail":[1,{"k":"ü"}]}"#, offset: 10, pool, counters)
        #expect(s1.verdict == .held && !head.has(EventFlags.fieldsTruncated))
        let (s2, _) = try feed(action, #"{"n":2,"host":"a","svc":"b","log":"\tat A.run(A.java:1)"}"#, offset: 20, pool, counters)
        #expect(s2.verdict == .held)
        let (s3, _) = try feed(action, #"{"n":3,"log":"next"}"#, offset: 30, pool, counters)
        #expect(s3.records.map(line) == [#"{"n":1,"host":"a","svc":"b","log":"Exception boom\n\tat A.run(A.java:1)","tail":[1,{"k":"ü"}]}"#])
        #expect(chain(s3.records[0], pool) == [10, 20])
        #expect(counters.read(.joined, pipeline: 0) == 1)
    }

    @Test func streamsAreJoinedSeparately() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join()
        defer { finish(action) }
        _ = try feed(action, #"{"log":"Exception one"}"#, stream: 1, pool, counters)
        _ = try feed(action, #"{"log":"Exception two"}"#, stream: 2, pool, counters)
        _ = try feed(action, #"{"log":" at 2"}"#, stream: 2, pool, counters)
        _ = try feed(action, #"{"log":" at 1"}"#, stream: 1, pool, counters)
        let (a, _) = try feed(action, #"{"log":"x"}"#, stream: 1, pool, counters)
        let (b, _) = try feed(action, #"{"log":"y"}"#, stream: 2, pool, counters)
        #expect(a.records.map(line) == [#"{"log":"Exception one\n at 1"}"#])
        #expect(b.records.map(line) == [#"{"log":"Exception two\n at 2"}"#])
    }

    @Test func anIdleRecordIsDueAfterTheTimeoutAndAllAreDueAtStop() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join(("timeout", "100ms"))
        defer { finish(action) }
        let ms: UInt64 = 1_000_000
        _ = try feed(action, #"{"log":"Exception a"}"#, stream: 1, at: 1000 * ms, pool, counters)
        _ = try feed(action, #"{"log":"Exception b"}"#, stream: 2, at: 1050 * ms, pool, counters)
        _ = try feed(action, #"{"log":" at b"}"#, stream: 2, at: 1080 * ms, pool, counters)
        #expect(action.takeDue(now: 1099 * ms, all: false) == nil)
        #expect(try line(#require(action.takeDue(now: 1100 * ms, all: false))) == #"{"log":"Exception a"}"#)
        #expect(action.takeDue(now: 1179 * ms, all: false) == nil, "idle time counts from the last line")
        #expect(try line(#require(action.takeDue(now: 1100 * ms, all: true))) == #"{"log":"Exception b\n at b"}"#)
        #expect(action.openRecords == 0)
    }

    @Test func aRecordAtMaxEventsIsClosedAndTheNextContinuationPassesAlone() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join(("max-events", "3"))
        defer { finish(action) }
        _ = try feed(action, #"{"log":"Exception"}"#, pool, counters)
        _ = try feed(action, #"{"log":" at 1"}"#, pool, counters)
        _ = try feed(action, #"{"log":" at 2"}"#, pool, counters)
        let (s, _) = try feed(action, #"{"log":" at 3"}"#, pool, counters)
        #expect(s.records.map(line) == [#"{"log":"Exception\n at 1\n at 2"}"#])
        #expect(s.verdict == .pass)
    }

    @Test func aLineThatWouldPassMaxBytesClosesTheRecord() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join(("max-bytes", "20"))
        defer { finish(action) }
        _ = try feed(action, #"{"log":"Exception"}"#, pool, counters)  // 9 bytes
        _ = try feed(action, #"{"log":" at 12345"}"#, pool, counters)  // + 2 + 9 = 20
        let (s, _) = try feed(action, #"{"log":" at"}"#, pool, counters)
        #expect(s.records.map(line) == [#"{"log":"Exception\n at 12345"}"#])
        #expect(s.verdict == .pass)
    }

    @Test(arguments: [#"{"other":"  at x"}"#, #"{"log":42}"#, #"{"log":null}"#, "  at not json", "bad utf8 \u{FF}"])
    func anEventWithoutAStringFieldClosesTheRecordAndPasses(json: String) throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join()
        defer { finish(action) }
        _ = try feed(action, #"{"log":"Exception"}"#, pool, counters)
        let (s, e) = try feed(action, json, pool, counters)
        #expect(s.records.map(line) == [#"{"log":"Exception"}"#])
        #expect(s.verdict == .pass)
        #expect(text(e.raw) == json)
    }

    @Test func aNestedFieldIsJoined() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join(("field", "k8s.msg"))
        defer { finish(action) }
        _ = try feed(action, #"{"k8s":{"msg":"Exception","pod":"p"},"n":1}"#, pool, counters)
        _ = try feed(action, #"{"k8s":{"msg":"\tat x"},"n":2}"#, pool, counters)
        _ = try feed(action, #"{"k8s":{"msg":"\tat y"},"n":3}"#, pool, counters)
        let (s, _) = try feed(action, #"{"n":4}"#, pool, counters)
        #expect(s.records.map(line) == [#"{"k8s":{"msg":"Exception\n\tat x\n\tat y","pod":"p"},"n":1}"#])
    }

    @Test func aRecordOutgrowingItsSlotMovesToALargeOneAndKeepsItsChain() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join()
        defer { finish(action) }
        let long = String(repeating: "z", count: 600)
        _ = try feed(action, #"{"log":"Exception"}"#, offset: 1, pool, counters)
        _ = try feed(action, #"{"log":" at \#(long)"}"#, offset: 2, pool, counters)
        _ = try feed(action, #"{"log":" at \#(long)"}"#, offset: 3, pool, counters)
        let (s, _) = try feed(action, "{}", offset: 4, pool, counters)
        let record = try #require(s.records.first)
        #expect(record.has(EventFlags.grown))
        #expect(line(record) == #"{"log":"Exception\n at \#(long)\n at \#(long)"}"#)
        #expect(chain(record, pool) == [1, 2, 3])
    }

    @Test func whenEveryStreamHasARecordTheIdlestIsClosedForANewOne() throws {
        let pool = try makePool(), counters = CounterBlock(pipelines: 1)
        let action = try join(("max-streams", "2"))
        defer { finish(action) }
        _ = try feed(action, #"{"log":"Exception 1"}"#, stream: 1, at: 5, pool, counters)
        _ = try feed(action, #"{"log":"Exception 2"}"#, stream: 2, at: 1, pool, counters)
        let (s, _) = try feed(action, #"{"log":"Exception 3"}"#, stream: 3, at: 9, pool, counters)
        #expect(s.records.map(line) == [#"{"log":"Exception 2"}"#])
        #expect(s.verdict == .held)
        #expect(action.openRecords == 2)
    }

    @Test func badPatternsAreRefusedWithTheirKey() {
        func refusal(_ pairs: (String, String)...) -> PluginArgumentError? {
            rejection { () throws(PluginArgumentError) in try JoinAction(PluginArguments(plugin: "join", pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 100) }
        }
        #expect(refusal(("start", "("), ("continue", "x"))?.key == "start")
        #expect(refusal(("start", "x"), ("continue", "[a"))?.key == "continue")
        #expect(refusal(("start", "x"))?.key == "continue")
        #expect(refusal(("start", "x"), ("continue", "y"), ("max-events", "1"))?.key == "max-events")
        #expect(refusal(("start", "x"), ("continue", "y"), ("timeout", "0"))?.key == "timeout")
    }
}
