import Testing

@testable import SluiceCore

@Suite struct RenameActionTests {
    @Test func aNestedValueMovesToTheTopLevel() throws {
        let run = try EditActionRun("rename", ("from", "user.id"), ("to", "uid"))
        defer { run.dispose() }
        #expect(try run.line(#"{"user":{"id":7,"n":"a"},"m":1}"#) == #"{"user":{"n":"a"},"m":1,"uid":7}"#)
    }

    @Test func aTopLevelValueMovesIntoObjectsCreatedOnTheWay() throws {
        let run = try EditActionRun("rename", ("from", "a"), ("to", "b.c.d"))
        defer { run.dispose() }
        #expect(try run.line(#"{"a":[1,{"x":"y"}],"b":{"z":0}}"#) == #"{"b":{"z":0,"c":{"d":[1,{"x":"y"}]}}}"#)
    }

    @Test func anExistingTargetIsOverwritten() throws {
        let run = try EditActionRun("rename", ("from", "new"), ("to", "old.v"))
        defer { run.dispose() }
        #expect(try run.line(#"{"old":{"v":"gone","w":1},"new":"",  "z":null}"#) == #"{"old":{"v":"","w":1},"z":null}"#)
    }

    @Test func aMissingSourceIsCountedAndTheEventPassesUnchanged() throws {
        let run = try EditActionRun("rename", ("from", "a.b"), ("to", "c"))
        defer { run.dispose() }
        let (verdict, event) = run.run(try makeDecodedEvent(#"{"a":{"x":1}}"#, in: run.pool))
        #expect(verdict == .pass && !event.has(EventFlags.modified))
        #expect(run.count(.fieldMissing) == 1)
    }

    @Test func aNonObjectOnTheTargetPathIsCountedAsWrongType() throws {
        let run = try EditActionRun("rename", ("from", "a"), ("to", "b.c"))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(#"{"a":1,"b":"text"}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
        #expect(run.count(.fieldWrongType) == 1)
    }

    @Test func eventsThatAreNotObjectsIncludingNonUTF8BytesAreCounted() throws {
        let run = try EditActionRun("rename", ("from", "a"), ("to", "b"))
        defer { run.dispose() }
        let invalidUTF8 = makeEvent([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D], in: run.pool)  // {"a":"\xFF"}
        try JSONDecodeAction(arguments("json_decode")).apply(invalidUTF8, counters: run.counters, pipeline: 0)
        for event in [invalidUTF8, try makeDecodedEvent("[1]", in: run.pool), makeEvent(#"{"a":1}"#, in: run.pool)] {
            #expect(run.run(event).0 == .pass)
            #expect(!event.has(EventFlags.modified))
        }
        #expect(run.count(.editNotObject) == 3)
    }

    @Test func aFieldPastMaxFieldsIsRenamedAndEveryMemberKept() throws {
        let run = try EditActionRun("rename", ("from", "k9"), ("to", "nine.v"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(10), in: run.pool))
        let object = encodedObject(event)
        #expect(object?.count == 10 && object?["k9"] == nil && (object?["nine"] as? [String: Int]) == ["v": 9])
    }

    @Test func aRenameThatWouldPassMaxEventSizeIsCountedAndChangesNothing() throws {
        let pool = try makePool()
        let run = try EditActionRun("rename", ("from", "f"), ("to", "a.g"), pool: pool)
        defer { run.dispose() }
        let event = try nearlyFullEvent(in: pool, room: 100)
        let (verdict, after) = run.run(event)
        #expect(verdict == .pass && !after.has(EventFlags.modified))
        #expect(run.count(.editTooLarge) == 1)
    }

    @Test func withNoLargeSlotFreeItWaitsThenRenames() throws {
        let pool = try makePool(largeSlots: 1)
        let run = try EditActionRun("rename", ("from", "a.s"), ("to", "b.s"), pool: pool)
        defer { run.dispose() }
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity / 2)
        let event = try makeDecodedEvent(#"{"a":{"s":"\#(filler)"}}"#, in: pool)
        let held = try #require(pool.takeLarge())
        #expect(run.run(event).0 == .wait)
        pool.slabs.pointee.release(held.header.pointee.handle)
        let (verdict, moved) = run.run(event)
        #expect(verdict == .pass)
        #expect((encodedObject(moved)?["b"] as? [String: String])?["s"] == filler)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("rename", ("to", "b"))?.key == "from")
        #expect(editActionRejection("rename", ("from", "a"))?.key == "to")
        #expect(editActionRejection("rename", ("from", "a..b"), ("to", "c"))?.key == "from")
        #expect(editActionRejection("rename", ("from", "a"), ("to", "c."))?.key == "to")
        let overlap = editActionRejection("rename", ("from", "a"), ("to", "a.b"))
        #expect(overlap?.key == "to" && overlap?.message.contains("inside each other") == true)
        #expect(editActionRejection("rename", ("from", "a"), ("to", "b"), ("too", "c")) != nil)
    }
}
