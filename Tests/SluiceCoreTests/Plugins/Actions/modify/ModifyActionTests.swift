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
        #expect(try modify(("field", "level"), ("value", "info")).apply(event))
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
        #expect(try modify(("field", "meta"), ("json-value", #"{"k":[1,2]}"#)).apply(event))
        #expect(fieldTexts(event).map(\.key) == ["a", "meta"])
        #expect(fieldTexts(event).map(\.value) == ["1", #"{"k":[1,2]}"#])
        #expect(event.fields[1].kind == .object)
        #expect(event.has(EventFlags.modified))
    }

    @Test func aFieldIsAddedToAnEmptyObject() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent("{}", in: pool)
        #expect(try modify(("field", "x"), ("value", "y")).apply(event))
        #expect(fieldTexts(event).map(\.key) == ["x"])
    }

    @Test func aReplacedEscapedStringLosesItsEscapeFlag() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"msg":"a\nb"}"#, in: pool)
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes != 0)
        #expect(try modify(("field", "msg"), ("json-value", "7")).apply(event))
        #expect(event.fields[0].flags & FieldEntry.valueHasEscapes == 0)
        #expect(event.fields[0].kind == .number)
    }

    @Test func stringValuesAreQuotedAndEscaped() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "note"), ("value", "say \"hi\"\\\n\t\u{1}")).apply(event))
        #expect(fieldTexts(event)[1].value == #""say \"hi\"\\\n\t\u0001""#)
    }

    @Test(arguments: [("42", JSONValueKind.number), ("-1.5e3", .number), ("true", .trueLiteral), ("false", .falseLiteral),
                      (" null", .null), (#""s""#, .string), ("[1]", .array), (#"{"a":{}}"#, .object)])
    func jsonValuesKeepTheirKind(json: String, kind: JSONValueKind) throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "a"), ("json-value", json)).apply(event))
        #expect(event.fields[0].kind == kind)
        #expect(text(event.value(0)) == json)
    }

    // MARK: - Events left alone

    @Test func anEventThatIsNotDecodedIsLeftAlone() throws {
        let pool = try makePool()
        let action = try modify(("field", "a"), ("value", "b"))
        let plain = makeEvent(#"{"a":1}"#, in: pool)
        #expect(!action.apply(plain))
        #expect(plain.header.pointee.flags == 0)
        let invalid = try makeDecodedEvent(#"{"a":"#, in: pool)
        #expect(!action.apply(invalid))
        #expect(!invalid.has(EventFlags.modified))
    }

    @Test func anEventWithATruncatedIndexIsLeftAlone() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<9).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(event.has(EventFlags.fieldsTruncated))
        #expect(try !modify(("field", "k0"), ("value", "x")).apply(event))
        #expect(!event.has(EventFlags.modified))
    }

    @Test func aFullIndexRefusesANewFieldButAllowsReplacingOne() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<8).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        #expect(try !modify(("field", "new"), ("value", "x")).apply(event))
        #expect(event.fieldCount == 8)
        #expect(!event.has(EventFlags.modified))
        #expect(try modify(("field", "k3"), ("value", "x")).apply(event))
        #expect(fieldTexts(event)[3].value == #""x""#)
    }

    @Test func aSlotWithNoRoomForTheValueIsLeftAlone() throws {
        let pool = try makePool()
        let capacity = pool.configuration.smallDataCapacity
        let filler = String(repeating: "x", count: capacity - 12)
        let event = try makeDecodedEvent(#"{"a":"\#(filler)"}"#, in: pool)
        #expect(event.has(EventFlags.decoded))
        let counters = CounterBlock(pipelines: 1)
        let action = Action.modify(try modify(("field", "a"), ("value", "a value that does not fit")))
        #expect(action.apply(event, counters: counters, pipeline: 0) == .pass, "modify never drops an event")
        #expect(!event.has(EventFlags.modified))
        #expect(text(event.value(0)) == "\"\(filler)\"")
        #expect(counters.read(.modifySkipped, pipeline: 0) == 1)
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

    @Test func onlyTopLevelFieldsCanBeSet() {
        let error = modifyRejection(("field", "a.b"), ("value", "x"))
        #expect(error?.key == "field")
        #expect(error?.message == "modify sets top-level fields only; 'a.b' is a path")
    }

    @Test func anEmptyStringValueIsAllowed() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        #expect(try modify(("field", "a"), ("value", "")).apply(event))
        #expect(text(event.value(0)) == #""""#)
    }

    @Test(arguments: ["[1,2]", "42", #""text""#, "null"])
    func modifyLeavesADecodedNonObjectAlone(raw: String) throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(raw, in: pool)
        #expect(!(try modify(("field", "a"), ("value", "b")).apply(event)))
        #expect(!event.has(EventFlags.modified))
        #expect(text(event.raw) == raw)
    }

    @Test func modifyReplacesAFieldWhoseNameNeedsEscaping() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a\"b":1}"#, in: pool)
        #expect(try modify(("field", "a\"b"), ("value", "x")).apply(event))
        #expect(event.fieldCount == 1)
        #expect(text(event.value(0)) == #""x""#)
    }
}
