import Testing

@testable import SluiceCore

@Suite struct FlattenActionTests {
    @Test func everyLeafBecomesATopLevelFieldAndTheObjectGoes() throws {
        let run = try EditActionRun("flatten", ("field", "req"))
        defer { run.dispose() }
        #expect(try run.line(#"{"id":1,"req":{"a":{"b":1,"c":{}},"d":[1,{"e":2}],"f":""},"z":0}"#)
            == #"{"id":1,"z":0,"a.b":1,"a.c":{},"d":[1,{"e":2}],"f":""}"#)
    }

    @Test func prefixAndSeparatorAreEscapedAndKeysKeepTheirEscapes() throws {
        let run = try EditActionRun("flatten", ("field", "r"), ("prefix", "r\""), ("separator", "/"))
        defer { run.dispose() }
        #expect(try run.line(#"{"r":{"a\nb":{"c":1}}}"#) == #"{"r\"a\nb/c":1}"#)
    }

    @Test func aNestedFieldIsFlattenedToTheTopAndAnExistingKeyOverwritten() throws {
        let run = try EditActionRun("flatten", ("field", "x.y"), ("prefix", "y_"), ("separator", "_"))
        defer { run.dispose() }
        #expect(try run.line(#"{"y_a":"old","x":{"y":{"a":"new","b":{"c":true}},"k":1}}"#)
            == #"{"y_a":"new","x":{"k":1},"y_b_c":true}"#)
    }

    @Test func aMissingFieldAndANonObjectAreCounted() throws {
        let run = try EditActionRun("flatten", ("field", "req"))
        defer { run.dispose() }
        #expect(try run.line(#"{"a":1}"#) == #"{"a":1}"#)
        #expect(try run.line(#"{"req":[1]}"#) == #"{"req":[1]}"#)
        #expect(try run.line(#"{"req":"{\"a\":1}"}"#) == #"{"req":"{\"a\":1}"}"#)
        #expect(run.count(.fieldMissing) == 1 && run.count(.fieldWrongType) == 2)
    }

    @Test func anEmptyObjectLeavesNothing() throws {
        let run = try EditActionRun("flatten", ("field", "req"))
        defer { run.dispose() }
        #expect(try run.line(#"{"req":{ },"b":1}"#) == #"{"b":1}"#)
    }

    @Test func anObjectPastMaxFieldsIsFlattenedWithEveryMemberKept() throws {
        let run = try EditActionRun("flatten", ("field", "k9"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let members = (0..<9).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let (_, event) = run.run(try makeDecodedEvent("{\(members),\"k9\":{\"p\":1,\"q\":2}}", in: run.pool))
        let object = encodedObject(event)
        #expect(object?.count == 11 && object?["p"] as? Int == 1 && object?["q"] as? Int == 2 && object?["k9"] == nil)
    }

    @Test func manyLeavesGrowTheIndexAndMoveTheEventAtOnce() throws {
        let run = try EditActionRun("flatten", ("field", "o"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let members = (0..<40).map { #""m\#($0)":\#($0)"# }.joined(separator: ",")
        let (verdict, event) = run.run(try makeDecodedEvent(#"{"o":{\#(members)}}"#, in: run.pool))
        #expect(verdict == .pass)
        #expect(encodedObject(event)?.count == 40 && event.fieldCount == 40)
    }

    @Test func aFlattenPastMaxEventSizeChangesNothing() throws {
        let pool = try makePool()
        let run = try EditActionRun("flatten", ("field", "a"), pool: pool)
        defer { run.dispose() }
        let event = try nearlyFullEvent(in: pool, room: 2, json: #"{"a":{"bbbbbbbb":1},"#)
        #expect(run.run(event).0 == .pass)
        #expect(!event.has(EventFlags.modified) && run.count(.editTooLarge) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("flatten")?.key == "field")
        #expect(editActionRejection("flatten", ("field", "a."))?.key == "field")
        #expect(editActionRejection("flatten", ("field", "a"), ("sep", "_"))?.message.contains("sep") == true)
    }
}
