import Foundation
import Testing

@testable import SluiceCore

/// The line an output writes for `event` (without the newline).
func encodedText(_ event: Event) -> String {
    let line = UnsafeMutableRawPointer.allocate(byteCount: OutputBatcher.worstCase(event), alignment: 1)
    defer { line.deallocate() }
    let n = EventEncoder.encodeLine(event, into: line)
    return String(decoding: UnsafeRawBufferPointer(start: line, count: n - 1), as: UTF8.self)
}

/// The encoded line parsed back (nil when it is not a JSON object).
func encodedObject(_ event: Event) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(encodedText(event).utf8))) as? [String: Any]
}

/// Runs one edit on an event of `pool`'s slab 0; the context holds the event afterwards.
private func edit(_ event: Event, in pool: EventPool, maxEventBytes: Int = 8192,
                  _ body: (EventEditor, inout ActionContext) -> EventEditor.Outcome) -> (EventEditor.Outcome, Event) {
    let editor = EventEditor(maxEventBytes: maxEventBytes)
    defer { editor.dispose() }
    var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
    let outcome = body(editor, &context)
    return (outcome, context.event)
}

private func path(_ text: String) throws -> FieldPath { try FieldPath(text) }

private func json(_ value: String) -> [UInt8] { Array(value.utf8) }

private func set(_ text: String, _ value: String, kind: JSONValueKind = .number, on event: Event, in pool: EventPool)
    throws -> (EventEditor.Outcome, Event) {
    let p = try path(text)
    defer { p.dispose() }
    return json(value).withUnsafeBytes { bytes in
        edit(event, in: pool) { editor, context in editor.set(p, to: bytes, kind: kind, context: &context) }
    }
}

private func remove(_ text: String, on event: Event, in pool: EventPool) throws -> (EventEditor.Outcome, Event) {
    let p = try path(text)
    defer { p.dispose() }
    return edit(event, in: pool) { editor, context in editor.remove(p, context: &context) }
}

private func lookup(_ text: String, in event: Event) throws -> String? {
    let p = try path(text)
    defer { p.dispose() }
    return EventEditor.lookup(event, p).map { String(decoding: $0.value, as: UTF8.self) }
}

@Suite struct EventEditorTests {
    // MARK: Setting

    @Test func aNestedValueIsReplacedInsideItsObject() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"x":0,"a":{"b":1,"c":{"d":2}},"z":3}"#, in: pool)
        let (outcome, edited) = try set("a.c.d", #""new""#, kind: .string, on: event, in: pool)
        #expect(outcome == .done)
        #expect(encodedText(edited) == #"{"x":0,"a":{"b":1,"c":{"d":"new"}},"z":3}"#)
        #expect(edited.has(EventFlags.modified))
        #expect(text(edited.raw) == #"{"x":0,"a":{"b":1,"c":{"d":2}},"z":3}"#, "the raw bytes stay as received")
        #expect(try lookup("a.c.d", in: edited) == #""new""#)
    }

    @Test func missingObjectsOnTheWayAreCreated() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"b":1}}"#, in: pool)
        #expect(try set("a.c.d.e", "5", on: event, in: pool).0 == .done)
        #expect(encodedText(event) == #"{"a":{"b":1,"c":{"d":{"e":5}}}}"#)
        #expect(try set("n.m", "true", kind: .trueLiteral, on: event, in: pool).0 == .done)
        #expect(encodedText(event) == #"{"a":{"b":1,"c":{"d":{"e":5}}},"n":{"m":true}}"#)
        #expect(event.fields[1].kind == .object)
        #expect(try set("e", "[]", kind: .array, on: event, in: pool).0 == .done)
        #expect(event.fields[2].kind == .array)
    }

    @Test func aMemberIsAddedToAnEmptyOrSpacedObject() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{ },"b": { "c" : 1 } }"#, in: pool)
        #expect(try set("a.x", "1", on: event, in: pool).0 == .done)
        #expect(try set("b.y", "2", on: event, in: pool).0 == .done)
        #expect(try set("b.c", "3", on: event, in: pool).0 == .done)
        #expect(encodedObject(event)?["a"] as? [String: Int] == ["x": 1])
        #expect(encodedObject(event)?["b"] as? [String: Int] == ["c": 3, "y": 2])
    }

    @Test func aNonObjectOnTheWayBlocksTheEditAndLeavesTheEventUnchanged() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":5,"s":{"t":"text"},"l":[{"b":1}]}"#, in: pool)
        #expect(try set("a.b", "1", on: event, in: pool).0 == .pathBlocked)
        #expect(try set("s.t.u", "1", on: event, in: pool).0 == .pathBlocked)
        #expect(try set("l.b", "1", on: event, in: pool).0 == .pathBlocked)
        #expect(!event.has(EventFlags.modified))
        #expect(try remove("a.b", on: event, in: pool).0 == .missing)
    }

    @Test func eventsThatAreNotDecodedObjectsAreRefused() throws {
        let pool = try makePool()
        for raw in ["[1]", "42", #"{"a":"#] {
            let event = try makeDecodedEvent(raw, in: pool)
            #expect(try set("a", "1", on: event, in: pool).0 == .notAnObject)
            #expect(try remove("a", on: event, in: pool).0 == .notAnObject)
        }
        #expect(try set("a", "1", on: makeEvent(#"{"a":1}"#, in: pool), in: pool).0 == .notAnObject)
    }

    @Test func keysWithEscapesAreFoundAndNewKeysAreEscaped() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a\"b":{"c\\d":1,"\u00e9":2}}"#, in: pool)
        #expect(try lookup("a\"b.c\\d", in: event) == "1")
        #expect(try lookup("a\"b.é", in: event) == "2")
        #expect(try set("a\"b.é", "7", on: event, in: pool).0 == .done)
        #expect(try set("q\"x.ta\tb", "8", on: event, in: pool).0 == .done)
        #expect(encodedText(event) == #"{"a\"b":{"c\\d":1,"\u00e9":7},"q\"x":{"ta\tb":8}}"#)
        #expect(event.fields[1].flags & FieldEntry.keyHasEscapes != 0)
        #expect(try lookup("q\"x.ta\tb", in: event) == "8")
    }

    @Test func aStringWithEscapesKeepsTheFlagAtTopLevel() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try set("a", #""x\ny""#, kind: .string, on: event, in: pool).0 == .done)
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes != 0)
        #expect(try set("a", #""plain""#, kind: .string, on: event, in: pool).0 == .done)
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes == 0)
    }

    @Test func aValueTakenFromTheEventItselfCanBeSet() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"b":{"c":[1,2]}},"d":1}"#, in: pool)
        let from = try path("a.b"), to = try path("d.e")
        defer { from.dispose(); to.dispose() }
        let (outcome, edited) = edit(event, in: pool) { editor, context in
            let value = EventEditor.lookup(context.event, from)!
            return editor.set(to, to: value.value, kind: value.kind, context: &context)
        }
        #expect(outcome == .pathBlocked, "d is a number")
        #expect(!edited.has(EventFlags.modified))
        let (second, again) = edit(event, in: pool) { editor, context in
            let value = EventEditor.lookup(context.event, from)!
            return editor.set(try! path("n.e"), to: value.value, kind: value.kind, context: &context)
        }
        #expect(second == .done)
        #expect(encodedText(again) == #"{"a":{"b":{"c":[1,2]}},"d":1,"n":{"e":{"c":[1,2]}}}"#)
    }

    // MARK: Removing

    @Test(arguments: [
        ("a.x", #"{"a":{"y":2,"z":3},"k":0}"#),
        ("a.y", #"{"a":{"x":1,"z":3},"k":0}"#),
        ("a.z", #"{"a":{"x":1,"y":2},"k":0}"#),
        ("a", #"{"k":0}"#),
        ("k", #"{"a":{"x":1,"y":2,"z":3}}"#),
    ])
    func theFirstMiddleAndLastMembersAreRemoved(field: String, expected: String) throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"x":1,"y":2,"z":3},"k":0}"#, in: pool)
        #expect(try remove(field, on: event, in: pool).0 == .done)
        #expect(encodedText(event) == expected)
    }

    @Test func removingTheOnlyMemberLeavesAnEmptyObjectAndSpacesAreKept() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a": { "only" : [1, {"n":2}] } , "b":{ "p" : 1 , "q":2 }}"#, in: pool)
        #expect(try remove("a.only", on: event, in: pool).0 == .done)
        #expect(try remove("b.q", on: event, in: pool).0 == .done)
        #expect(encodedObject(event)?["a"] as? [String: Int] == [:])
        #expect(encodedObject(event)?["b"] as? [String: Int] == ["p": 1])
        #expect(try remove("b.p", on: event, in: pool).0 == .done)
        #expect(try remove("b.p", on: event, in: pool).0 == .missing)
        #expect(try remove("zz.p", on: event, in: pool).0 == .missing)
        #expect(try remove("zz", on: event, in: pool).0 == .missing)
    }

    @Test func removingAMissingFieldLeavesTheEventUntouched() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"b":1}}"#, in: pool)
        let used = event.header.pointee.usedLength
        #expect(try remove("a.c", on: event, in: pool).0 == .missing)
        #expect(try remove("a.b.c", on: event, in: pool).0 == .missing)
        #expect(!event.has(EventFlags.modified) && event.header.pointee.usedLength == used)
    }

    // MARK: --max-fields and --max-event-size

    @Test func aFieldPastTheTruncatedIndexIsFoundEditedAndEveryMemberKept() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<10).map { #""k\#($0)":{"v":\#($0)}"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(try lookup("k9.v", in: event) == "9")
        #expect(try lookup("k10", in: event) == nil)
        #expect(try remove("k10.v", on: event, in: pool).0 == .missing)
        #expect(event.has(EventFlags.fieldsTruncated), "nothing to remove: the index is left as it is")
        let (outcome, edited) = try set("k9.w", "1", on: event, in: pool)
        #expect(outcome == .done)
        #expect(!edited.has(EventFlags.fieldsTruncated))
        #expect(encodedObject(edited)?.count == 10)
        #expect(encodedObject(edited)?["k9"] as? [String: Int] == ["v": 9, "w": 1])
    }

    @Test func removingAFieldPastTheTruncatedIndexKeepsTheOthers() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<10).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        let (outcome, edited) = try remove("k9", on: event, in: pool)
        #expect(outcome == .done)
        #expect(encodedObject(edited).map { Set($0.keys) } == Set((0..<9).map { "k\($0)" }))
    }

    /// The entries indexed past the cut (only the text after it walked) are those a scan of
    /// the whole text with room for every member gives: offsets, kinds and escape flags.
    @Test(arguments: [8, 3, 1])
    func theMembersPastACutIndexAreIndexedAsAFullScanIndexesThem(maxFields: Int) throws {
        let pool = try makePool(maxFields: maxFields)
        let event = try makeDecodedEvent(LongObject.text, in: pool)
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(JSONScanner.membersAfter(event.indexCutOffset, inObject: event.raw, into: nil) == LongObject.members.count - maxFields)
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        let editor = EventEditor(maxEventBytes: 8192)
        defer { editor.dispose() }
        #expect(editor.indexEveryMember(&context) == .done)
        expectTheIndexOfAFullScanOfLongObject(context.event)
    }

    @Test func aValueFromPastTheTruncatedIndexIsStillReadAfterTheIndexGrows() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<10).map { #""k\#($0)":"v\#($0)""# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        let from = try path("k9"), to = try path("copy")
        defer { from.dispose(); to.dispose() }
        let (outcome, edited) = edit(event, in: pool) { editor, context in
            let value = EventEditor.lookup(context.event, from)!
            return editor.set(to, to: value.value, kind: value.kind, context: &context)
        }
        #expect(outcome == .done)
        #expect(encodedObject(edited)?["copy"] as? String == "v9")
        #expect(encodedObject(edited)?.count == 11)
    }

    @Test func aChangePastMaxEventSizeIsRefusedAndTheEventIsUnchanged() throws {
        let pool = try makePool()
        let maxBytes = pool.configuration.maxEventSizeBytes
        let filler = String(repeating: "x", count: maxBytes - 40)
        let event = try makeDecodedLargeEvent(#"{"a":{"s":"\#(filler)"}}"#, in: pool)
        // The nested edit writes the whole top-level member again: twice the filler.
        #expect(try set("a.t", "1", on: event, in: pool).0 == .tooLarge)
        #expect(!event.has(EventFlags.modified))
        // A top-level edit needs only its own bytes.
        #expect(try set("t", "1", on: event, in: pool).0 == .done)
    }

    @Test func aNestedEditThatDoesNotFitTheSlotMovesTheEventToALargeSlot() throws {
        let pool = try makePool()
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity / 2)
        let event = try makeDecodedEvent(#"{"a":{"s":"\#(filler)"}}"#, in: pool)
        let handle = event.header.pointee.handle
        let (outcome, moved) = try set("a.t", "1", on: event, in: pool)
        #expect(outcome == .done)
        #expect(moved.header.pointee.handle != handle && moved.has(EventFlags.grown))
        let a = encodedObject(moved)?["a"] as? [String: Any]
        #expect(a?["s"] as? String == filler && a?["t"] as? Int == 1)
    }

    @Test func withNoLargeSlotFreeTheEditWaitsAndChangesNothing() throws {
        let pool = try makePool(largeSlots: 1)
        let filler = String(repeating: "x", count: pool.configuration.smallDataCapacity / 2)
        let event = try makeDecodedEvent(#"{"a":{"s":"\#(filler)"}}"#, in: pool)
        guard let held = pool.slabs.pointee.takeLarge() else { Issue.record("no large slot"); return }
        #expect(try set("a.t", "1", on: event, in: pool).0 == .wait)
        #expect(!event.has(EventFlags.modified))
        pool.slabs.pointee.release(held.header.pointee.handle)
    }

    @Test func theScratchBufferBoundsTheNewValue() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":{"s":"\#(String(repeating: "x", count: 70))"}}"#, in: pool)
        let p = try path("a.t")
        defer { p.dispose() }
        let (outcome, _) = json("1").withUnsafeBytes { bytes in
            edit(event, in: pool, maxEventBytes: 64) { editor, context in editor.set(p, to: bytes, kind: .number, context: &context) }
        }
        #expect(outcome == .tooLarge)
        #expect(!event.has(EventFlags.modified))
    }

    // MARK: Helpers

    @Test func escapingCoversQuotesBackslashesAndControlBytes() {
        let input: [UInt8] = Array("a\"b\\c\n\t\u{1}\u{1f}é".utf8)
        var out = [UInt8](repeating: 0, count: 64)
        let n = input.withUnsafeBytes { i in out.withUnsafeMutableBytes { JSONEscaper.escape(i, into: $0.baseAddress!, capacity: 64) } }
        #expect(n.map { String(decoding: out[0..<$0], as: UTF8.self) } == #"a\"b\\c\n\t\u0001\u001fé"#)
        #expect(input.withUnsafeBytes { JSONEscaper.escapedCount($0) } == n)
        #expect(input.withUnsafeBytes { i in out.withUnsafeMutableBytes { JSONEscaper.escape(i, into: $0.baseAddress!, capacity: 10) } } == nil)
    }

    @Test func utf8ValidationRejectsMalformedSequences() {
        let valid: [[UInt8]] = [Array("héllo €𝄞".utf8), []]
        let invalid: [[UInt8]] = [[0xFF], [0xC0, 0x80], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x80]]
        for v in valid { #expect(v.withUnsafeBytes { JSONEscaper.isValidUTF8($0) }) }
        for v in invalid { #expect(!v.withUnsafeBytes { JSONEscaper.isValidUTF8($0) }, "\(v)") }
    }
}
