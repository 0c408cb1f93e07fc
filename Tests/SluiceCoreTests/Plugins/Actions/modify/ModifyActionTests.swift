import Foundation
import Testing

@testable import SluiceCore

private func modify(_ pairs: (String, String)...) throws -> ModifyAction {
    try ModifyAction(PluginArguments(plugin: "modify", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

private func modifyRejection(_ pairs: (String, String)...) -> PluginArgumentError? {
    rejection { () throws(PluginArgumentError) in try ModifyAction(PluginArguments(plugin: "modify", pairs: pairs.map { (key: $0.0, value: $0.1) })) }
}

@Suite struct ModifyActionTests {
    // MARK: - Setting fields

    @Test func anExistingFieldGetsTheNewValue() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1,"level":"debug","b":true}"#, in: pool)
        let rawLength = event.header.pointee.rawLength
        #expect(try modify(("field", "level"), ("value", "info")).apply(event, in: pool))
        #expect(event.has(EventFlags.modified))
        #expect(fieldTexts(event).map(\.key) == ["a", "level", "b"])
        #expect(fieldTexts(event).map(\.value) == ["1", #""info""#, "true"])
        #expect(event.fields[1].kind == .string)
        #expect(text(event.raw) == #"{"a":1,"level":"debug","b":true}"#, "the raw bytes stay as received")
        #expect(event.header.pointee.rawLength == rawLength)
        #expect(event.header.pointee.usedLength > rawLength)
    }

    @Test func aMissingFieldIsAddedAtTheEnd() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "meta"), ("json-value", #"{"k":[1,2]}"#)).apply(event, in: pool))
        #expect(fieldTexts(event).map(\.key) == ["a", "meta"])
        #expect(fieldTexts(event).map(\.value) == ["1", #"{"k":[1,2]}"#])
        #expect(event.fields[1].kind == .object)
        #expect(event.has(EventFlags.modified))
    }

    @Test func aFieldIsAddedToAnEmptyObject() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent("{}", in: pool)
        #expect(try modify(("field", "x"), ("value", "y")).apply(event, in: pool))
        #expect(fieldTexts(event).map(\.key) == ["x"])
    }

    @Test func aReplacedEscapedStringLosesItsEscapeFlag() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"msg":"a\nb"}"#, in: pool)
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes != 0)
        #expect(try modify(("field", "msg"), ("json-value", "7")).apply(event, in: pool))
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes == 0)
        #expect(event.fields[0].kind == .number)
    }

    @Test func stringValuesAreQuotedAndEscaped() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "note"), ("value", "say \"hi\"\\\n\t\u{1}")).apply(event, in: pool))
        #expect(fieldTexts(event)[1].value == #""say \"hi\"\\\n\t\u0001""#)
    }

    @Test(arguments: [("42", JSONValueKind.number), ("-1.5e3", .number), ("true", .trueLiteral), ("false", .falseLiteral),
                      (" null", .null), (#""s""#, .string), ("[1]", .array), (#"{"a":{}}"#, .object)])
    func jsonValuesKeepTheirKind(json: String, kind: JSONValueKind) throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "a"), ("json-value", json)).apply(event, in: pool))
        #expect(event.fields[0].kind == kind)
        #expect(text(event.value(0)) == json)
    }

    // MARK: - Events left alone

    @Test func anEventThatIsNotDecodedIsLeftAlone() throws {
        let pool = try makePool()
        let action = try modify(("field", "a"), ("value", "b"))
        let plain = makeEvent(#"{"a":1}"#, in: pool)
        #expect(!action.apply(plain, in: pool))
        #expect(plain.header.pointee.flags == [])
        let invalid = try makeDecodedEvent(#"{"a":"#, in: pool)
        #expect(!action.apply(invalid, in: pool))
        #expect(!invalid.has(EventFlags.modified))
    }

    @Test func anEventWithATruncatedIndexGetsTheFieldAndKeepsEveryMember() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<9).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(try modify(("field", "k8"), ("value", "x")).apply(event, in: pool))
        #expect(try modify(("field", "new"), ("value", "y")).apply(event, in: pool))
        #expect(!event.has(EventFlags.fieldsTruncated))
        #expect(fieldTexts(event).map(\.key) == (0..<9).map { "k\($0)" } + ["new"])
        #expect(fieldTexts(event)[8].value == #""x""#)
    }

    @Test func aFullIndexGrowsIntoTheDataAreaForANewField() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<8).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(try modify(("field", "new"), ("value", "x")).apply(event, in: pool))
        #expect(event.fieldCount == 9)
        #expect(Int(event.header.pointee.fieldCapacity) >= 9)
        #expect(text(event.raw) == "{\(members)}", "the data moved with the index")
        #expect(fieldTexts(event)[3].value == "3")
    }

    @Test func anEventWhoseSlotHasNoRoomMovesToALargeSlotOfTheSameSlab() throws {
        let pool = try makePool()
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity - 12)
        let event = try makeDecodedEvent(#"{"a":"\#(filler)"}"#, in: pool)
        let handle = event.header.pointee.handle
        let counters = CounterBlock(pipelines: 1)
        let action = Action.modify(try modify(("field", "a"), ("value", "a value that does not fit")))
        var context = ActionContext(event: event, handle: handle, slab: pool.slabs)
        #expect(action.apply(event, counters: counters, pipeline: 0, context: &context) == .pass)
        let moved = context.event
        #expect(context.handle != handle && EventHandles.slot(context.handle) >= pool.slabs.pointee.smallCount)
        #expect(moved.has(EventFlags.grown) && moved.header.pointee.origin == handle)
        #expect(text(moved.value(0)) == #""a value that does not fit""#)
        #expect(text(moved.raw) == #"{"a":"\#(filler)"}"#)
        #expect(counters.read(.modifySkipped, pipeline: 0) == 0)
    }

    @Test func anEventGrownIntoAMediumSlotMovesOnToALargeOneLinkedToTheSlotItWasFramedIn() throws {
        let pool = try makePool(eventSizeBytes: 1024, maxEventSizeBytes: 8192, mediumSlots: 4, mediumEventSizeBytes: 2048)
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity - 12)
        let event = try makeDecodedEvent(#"{"a":"\#(filler)"}"#, in: pool)
        let framed = event.header.pointee.handle
        let counters = CounterBlock(pipelines: 1)
        var context = ActionContext(event: event, handle: framed, slab: pool.slabs)
        let slab = pool.slabs.pointee
        let first = Action.modify(try modify(("field", "b"), ("value", String(repeating: "m", count: 500))))
        #expect(first.apply(event, counters: counters, pipeline: 0, context: &context) == .pass)
        #expect((slab.smallCount..<slab.largeFirst).contains(EventHandles.slot(context.handle)), "first into a medium slot")
        #expect(context.event.header.pointee.origin == framed)
        let second = Action.modify(try modify(("field", "c"), ("value", String(repeating: "l", count: 3000))))
        #expect(second.apply(context.event, counters: counters, pipeline: 0, context: &context) == .pass)
        let moved = context.event
        #expect(EventHandles.slot(context.handle) >= slab.largeFirst, "then into a large one")
        #expect(moved.has(EventFlags.grown) && moved.header.pointee.origin == framed, "linked to the framed slot, not the medium one")
        #expect(pool.slabs.pointee.freeMediumCount == 4, "the medium slot went back when the event left it")
        #expect(pool.slabs.pointee.takenCount == 2)
        #expect(fieldTexts(moved).map(\.key) == ["a", "b", "c"])
        #expect(counters.read(.modifySkipped, pipeline: 0) == 0)
    }

    @Test func withNoLargeSlotFreeTheActionWaitsAndRunsAgainLater() throws {
        let pool = try makePool(largeSlots: 1)
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity - 12)
        let event = try makeDecodedEvent(#"{"a":"\#(filler)"}"#, in: pool)
        guard let held = pool.slabs.pointee.takeLarge() else { Issue.record("no large slot"); return }
        let counters = CounterBlock(pipelines: 1)
        let action = Action.modify(try modify(("field", "b"), ("value", "more than fits")))
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        #expect(action.apply(event, counters: counters, pipeline: 0, context: &context) == .wait)
        #expect(!event.has(EventFlags.modified) && context.handle == event.header.pointee.handle)
        pool.slabs.pointee.release(held.header.pointee.handle)
        #expect(action.apply(event, counters: counters, pipeline: 0, context: &context) == .pass)
        #expect(fieldTexts(context.event).map(\.key) == ["a", "b"])
    }

    @Test func aChangeBeyondMaxEventSizeIsCountedAsTooLargeAndLeftUnchanged() throws {
        let pool = try makePool()
        let maxBytes = pool.configuration.maxEventSizeBytes
        let counters = CounterBlock(pipelines: 1)
        let action = Action.modify(try modify(("field", "b"), ("value", "v")))
        // `"b"` appended as key (1 byte) and value (3 bytes): one byte over the large slot.
        let event = try makeDecodedLargeEvent(#"{"a":"\#(String(repeating: "x", count: maxBytes - 8 - 3))"}"#, in: pool)
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        #expect(action.apply(event, counters: counters, pipeline: 0, context: &context) == .pass)
        #expect(!event.has(EventFlags.modified))
        #expect(counters.read(.modifyTooLarge, pipeline: 0) == 1)
        #expect(counters.read(.modifySkipped, pipeline: 0) == 0)
    }

    /// Objects from 2 bytes to the largest that can take the field within --max-event-size, with
    /// 0 to 1,000 top-level members: every one gets the field (replaced or added), re-encodes as
    /// valid JSON with every other member, and nothing is counted as skipped or too large.
    @Test func everyObjectGetsTheFieldFromTwoBytesToMaxEventSizeAndZeroToAThousandFields() throws {
        let maxBytes = 64 << 10
        let pool = try makePool(capacity: 16, eventSizeBytes: 4096, maxEventSizeBytes: maxBytes, largeSlots: 2, maxFields: 32)
        let slab = pool.slabs
        let counters = CounterBlock(pipelines: 1)
        let smallData = pool.configuration.smallDataCapacity
        var problems: [String] = []
        var checked = 0
        for fieldCount in [0, 1, 7, 31, 32, 33, 140, 500, 1000] {
            for (replacing, name) in [(false, "env"), (true, "k0")] where !(replacing && fieldCount == 0) {
                let action = Action.modify(try modify(("field", name), ("value", "prod")))
                // The room the change needs in a large slot: the value, the key when added,
                // and the index grown past --max-fields.
                let entries = fieldCount + 1
                let extraIndex = max(0, Event.dataOffset(forFieldEntries: entries) - pool.configuration.headerAndIndexBytes)
                let largest = maxBytes - extraIndex - 6 - (replacing ? 0 : 3)
                for size in [2, 40, 1000, smallData - 9, smallData, smallData + 1, 12_000, 40_000, largest] {
                    guard let json = objectText(fieldCount: fieldCount, bytes: size) else { continue }
                    let event = size <= smallData ? try makeDecodedEvent(json, in: pool, counters: counters)
                                                  : try makeDecodedLargeEvent(json, in: pool, counters: counters)
                    var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: slab)
                    let verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
                    let out = context.event
                    let capacity = OutputBatcher.worstCase(out)
                    let line = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
                    let length = EventEncoder.encodeLine(out, into: line)
                    let object = (try? JSONSerialization.jsonObject(with: Data(bytes: line, count: length - 1))) as? [String: Any]
                    line.deallocate()
                    let expectedKeys = Set((0..<fieldCount).map { "k\($0)" } + [name])
                    if verdict != .pass || object?[name] as? String != "prod" || object.map({ Set($0.keys) }) != expectedKeys {
                        problems.append("\(fieldCount) fields, \(size) bytes, \(name): \(verdict), keys \(object?.count ?? -1)")
                    }
                    if out.has(EventFlags.grown) { slab.pointee.release(out.header.pointee.origin) }
                    slab.pointee.release(context.handle)
                    checked += 1
                }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(10))")
        #expect(checked > 80)
        #expect(counters.read(.modifySkipped, pipeline: 0) == 0)
        #expect(counters.read(.modifyTooLarge, pipeline: 0) == 0)
        #expect(slab.pointee.takenCount == 0, "every slot went back")
    }

    // MARK: - Configuration

    @Test func jsonValueIsValidatedAtStartUp() {
        let error = modifyRejection(("field", "a"), ("json-value", "{bad"))
        #expect(error?.key == "json-value")
        #expect(error?.message == "'{bad' is not valid JSON")
        #expect(modifyRejection(("field", "a"), ("json-value", "1 2"))?.key == "json-value")
        #expect(modifyRejection(("field", "a"), ("json-value", ""))?.key == "json-value")
    }

    @Test func exactlyOneOfValueAndJSONValueIsNeeded() {
        #expect(modifyRejection(("field", "a"))?.message == "modify needs exactly one of value= or json-value=")
        #expect(modifyRejection(("field", "a"), ("value", "x"), ("json-value", "1"))?.message == "modify needs exactly one of value= or json-value=")
    }

    @Test func aNestedFieldIsSetCreatingObjectsOnTheWay() throws {
        let run = try EditActionRun("modify", ("field", "a.b.c"), ("value", "x"))
        defer { run.dispose() }
        #expect(try run.line(#"{"a":{"z":1}}"#) == #"{"a":{"z":1,"b":{"c":"x"}}}"#)
        #expect(try run.line(#"{"a":{"b":{"c":0}}}"#) == #"{"a":{"b":{"c":"x"}}}"#)
        #expect(try run.line(#"{"q":1}"#) == #"{"q":1,"a":{"b":{"c":"x"}}}"#)
        #expect(try run.line(#"{"a":[]}"#) == #"{"a":[]}"#)
        #expect(run.count(.modifySkipped) == 1, "a non-object on the path")
    }

    @Test func substitutionsInsertOtherFieldsValues() throws {
        let run = try EditActionRun("modify", ("field", "who"), ("value", "${user.name}@${host} (${n}, ${o}, ${gone})$"))
        defer { run.dispose() }
        #expect(try run.line(#"{"user":{"name":"a\"b"},"host":"h\u00e9","n":-1.5,"o":{"k":"v"}}"#)
            == #"{"user":{"name":"a\"b"},"host":"h\u00e9","n":-1.5,"o":{"k":"v"},"who":"a\"b@h\u00e9 (-1.5, {\"k\":\"v\"}, )$"}"#)
        #expect(run.count(.fieldMissing) == 1)
        #expect(try run.line(#"{"user":{"name":""}}"#) == #"{"user":{"name":""},"who":"@ (, , )$"}"#)
        #expect(run.count(.fieldMissing) == 5)
    }

    @Test func aSubstitutionOfAFieldPastMaxFieldsIsFound() throws {
        let run = try EditActionRun("modify", ("field", "copy"), ("value", "<${k9}>"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let (_, event) = run.run(try makeDecodedEvent(manyMembers(10), in: run.pool))
        #expect(encodedObject(event)?["copy"] as? String == "<9>")
        #expect(encodedObject(event)?.count == 11)
    }

    @Test func aSubstitutedValueTooLargeForMaxEventSizeIsCounted() throws {
        let pool = try makePool()
        let run = try EditActionRun("modify", ("field", "twice"), ("value", "${f}${f}"), pool: pool)
        defer { run.dispose() }
        let event = try nearlyFullEvent(in: pool, room: 100)
        #expect(run.run(event).0 == .pass)
        #expect(!event.has(EventFlags.modified) && run.count(.modifyTooLarge) == 1)
    }

    @Test func substitutionErrorsAreLocated() {
        #expect(modifyRejection(("field", "a"), ("value", "x${y"))?.key == "value")
        #expect(modifyRejection(("field", "a"), ("value", "${}"))?.key == "value")
        #expect(modifyRejection(("field", "a"), ("value", "${a..b}"))?.key == "value")
        #expect(modifyRejection(("field", "a..b"), ("value", "x"))?.key == "field")
    }

    @Test func anEmptyStringValueIsAllowed() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "a"), ("value", "")).apply(event, in: pool))
        #expect(text(event.value(0)) == #""""#)
    }

    @Test(arguments: ["[1,2]", "42", #""text""#, "null"])
    func modifyLeavesADecodedNonObjectAlone(raw: String) throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(raw, in: pool)
        #expect(!(try modify(("field", "a"), ("value", "b")).apply(event, in: pool)))
        #expect(!event.has(EventFlags.modified))
        #expect(text(event.raw) == raw)
    }

    @Test func modifyReplacesAFieldWhoseNameNeedsEscaping() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a\"b":1}"#, in: pool)
        #expect(try modify(("field", "a\"b"), ("value", "x")).apply(event, in: pool))
        #expect(event.fieldCount == 1)
        #expect(text(event.value(0)) == #""x""#)
    }
}

/// A JSON object of exactly `bytes` bytes with members "k0"… "k<n-1>" (string values padded to
/// the size, or whitespace for an empty object); nil when `bytes` is too small for them.
private func objectText(fieldCount: Int, bytes: Int) -> String? {
    if fieldCount == 0 { return bytes >= 2 ? "{" + String(repeating: " ", count: bytes - 2) + "}" : nil }
    var members = (0..<fieldCount).map { #""k\#($0)":"""# }
    let minimum = members.reduce(0) { $0 + $1.utf8.count } + fieldCount - 1 + 2
    guard bytes >= minimum else { return nil }
    var rest = bytes - minimum
    for i in members.indices {
        let share = i == members.count - 1 ? rest : min(rest, bytes / fieldCount)
        members[i] = #""k\#(i)":"\#(String(repeating: "v", count: share))""#
        rest -= share
    }
    let text = "{" + members.joined(separator: ",") + "}"
    precondition(text.utf8.count == bytes)
    return text
}
