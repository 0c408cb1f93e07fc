import Testing

@testable import SluiceCore

@Suite struct AddHostActionTests {
    @Test func theHostNameIsSetAtTheField() throws {
        let run = try EditActionRun("add_host", ("field", "meta.host"))
        defer { run.dispose() }
        let expected = String(decoding: JSONText.quoted(AddHostAction.hostName()), as: UTF8.self)
        #expect(try run.line(#"{"a":1}"#) == #"{"a":1,"meta":{"host":\#(expected)}}"#)
        #expect(!AddHostAction.hostName().isEmpty)
    }

    @Test func aHostNameIsQuotedAndEscaped() throws {
        let pool = try makePool()
        let action = try AddHostAction(arguments("add_host"), maxEventBytes: 8192, hostName: "we\"ird\\host")
        defer { action.dispose(); action.disposeShared() }
        var context = ActionContext(event: try makeDecodedEvent(#"{"host":0}"#, in: pool), handle: 0, slab: pool.slabs)
        #expect(action.apply(context: &context, counters: CounterBlock(pipelines: 1), pipeline: 0) == .pass)
        #expect(encodedText(context.event) == #"{"host":"we\"ird\\host"}"#)
    }

    @Test func nonObjectsAndFullEventsAreCounted() throws {
        let pool = try makePool()
        let run = try EditActionRun("add_host", pool: pool)
        defer { run.dispose() }
        _ = run.run(try makeDecodedEvent("1", in: pool))
        #expect(run.count(.editNotObject) == 1)
        let full = try nearlyFullEvent(in: pool, room: 2)
        _ = run.run(full)
        #expect(run.count(.editTooLarge) == 1 && !full.has(EventFlags.modified))
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("add_host", ("field", "a..b"))?.key == "field")
    }
}
