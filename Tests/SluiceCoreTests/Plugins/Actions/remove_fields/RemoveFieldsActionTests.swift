import Testing

@testable import SluiceCore

@Suite struct RemoveFieldsActionTests {
    @Test func namedTopLevelAndNestedFieldsAreRemovedAndMissingOnesIgnored() throws {
        let run = try EditActionRun("remove_fields", ("field", "password"), ("field", "user.token"), ("field", "absent.x"))
        defer { run.dispose() }
        #expect(try run.line(#"{"user":{"token":"t","id":1},"password":"p","msg":""}"#) == #"{"user":{"id":1},"msg":""}"#)
        #expect(try run.line(#"{"msg":"x"}"#) == #"{"msg":"x"}"#)
        #expect(run.count(.fieldMissing) == 0, "a field not there is nothing to report")
    }

    @Test func aFieldPastMaxFieldsIsRemovedAndTheOthersKept() throws {
        let run = try EditActionRun("remove_fields", ("field", "k9"), ("field", "k0"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(10), in: run.pool))
        #expect(encodedObject(event).map { Set($0.keys) } == Set((1..<9).map { "k\($0)" }))
    }

    @Test func removingAnIndexedFieldOfAnEventCutAtMaxFieldsKeepsEveryOtherMember() throws {
        let run = try EditActionRun("remove_fields", ("field", "k2"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(40), in: run.pool))
        #expect(encodedObject(event).map { Set($0.keys) } == Set((0..<40).filter { $0 != 2 }.map { "k\($0)" }))
    }

    @Test func aNestedRemovalInAnEventCutAtMaxFieldsKeepsEveryOtherMember() throws {
        let run = try EditActionRun("remove_fields", ("field", "a.b"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let json = #"{"a":{"b":1,"c":2},"# + manyMembers(40).dropFirst()
        let (_, event) = run.run(try makeDecodedEvent(json, in: run.pool))
        let object = encodedObject(event)
        #expect(object.map { Set($0.keys) } == Set(["a"] + (0..<40).map { "k\($0)" }))
        #expect((object?["a"] as? [String: Any]).map { Set($0.keys) } == ["c"])
    }

    @Test func nonObjectsAreCounted() throws {
        let run = try EditActionRun("remove_fields", ("field", "a"))
        defer { run.dispose() }
        #expect(run.run(try makeDecodedEvent(#""text""#, in: run.pool)).0 == .pass)
        #expect(run.count(.editNotObject) == 1)
    }

    @Test func aNestedRemovalInAFullLargeSlotIsTooLarge() throws {
        let pool = try makePool()
        let run = try EditActionRun("remove_fields", ("field", "a.b"), pool: pool)
        defer { run.dispose() }
        // Removing a.b writes {} again: 2 bytes, one more than is left.
        let event = try nearlyFullEvent(in: pool, room: 0)
        let free = Int(event.header.pointee.dataCapacity) - Int(event.header.pointee.usedLength)
        #expect(free < 2)
        #expect(run.run(event).0 == .pass)
        #expect(!event.has(EventFlags.modified) && run.count(.editTooLarge) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("remove_fields")?.key == "field")
        #expect(editActionRejection("remove_fields", ("field", ""))?.key == "field")
        #expect(editActionRejection("remove_fields", ("field", "a"), ("field", ".b"))?.key == "field")
    }
}
