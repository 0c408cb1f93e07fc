import Testing

@testable import SluiceCore

@Suite struct KeepFieldsActionTests {
    @Test func onlyTheNamedFieldsStayInTheirOrder() throws {
        let run = try EditActionRun("keep_fields", ("field", "msg"), ("field", "a\"b"), ("field", "é"))
        defer { run.dispose() }
        #expect(try run.line(#"{"x":1,"a\"b":{"c":2},"msg":"","\u00e9":3,"y":[]}"#) == #"{"a\"b":{"c":2},"msg":"","\u00e9":3}"#)
        #expect(try run.line(#"{"x":1}"#) == "{}")
    }

    @Test func anEventWithOnlyKeptFieldsIsNotMarkedModified() throws {
        let run = try EditActionRun("keep_fields", ("field", "msg"))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(#"{"msg":1}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
    }

    @Test func fieldsPastMaxFieldsAreKeptWhenNamed() throws {
        let run = try EditActionRun("keep_fields", ("field", "k9"), ("field", "k1"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(10), in: run.pool))
        #expect(encodedText(event) == #"{"k1":1,"k9":9}"#)
    }

    @Test func nonObjectsAreCounted() throws {
        let run = try EditActionRun("keep_fields", ("field", "a"))
        defer { run.dispose() }
        _ = run.run(try makeDecodedEvent("[]", in: run.pool))
        #expect(run.count(.editNotObject) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("keep_fields")?.key == "field")
        let nested = editActionRejection("keep_fields", ("field", "a.b"))
        #expect(nested?.key == "field" && nested?.message.contains("top-level") == true)
    }
}
