import Foundation
import Testing

@testable import SluiceCore

/// The line the encoder writes for `event`, from a buffer of exactly the worst-case size.
private func encodedLine(_ event: Event) -> [UInt8] {
    let capacity = OutputBatcher.worstCase(event)
    let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
    defer { out.deallocate() }
    let length = EventEncoder.encodeLine(event, into: out)
    #expect(length <= capacity)
    return Array(UnsafeRawBufferPointer(start: out, count: length))
}

/// Parses a line (without its newline) as a JSON object.
private func object(_ line: [UInt8]) throws -> [String: Any] {
    #expect(line.last == 10)
    let body = Data(line.dropLast())
    return try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
}

private func isValidJSON(_ line: [UInt8]) -> Bool {
    let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 64)
    defer { fields.deallocate() }
    let outcome = line.dropLast().withUnsafeBytes { JSONScanner.scan($0, fields: fields, fieldCapacity: 64) }
    if case .valid = outcome { return true }
    return false
}

private func modify(_ event: Event, in pool: EventPool, _ pairs: (String, String)...) throws {
    let action = try ModifyAction(PluginArguments(plugin: "modify", pairs: pairs.map { (key: $0.0, value: $0.1) }))
    #expect(action.apply(event, in: pool))
}

/// The object written member by member from the index: `"key":value` joined by commas.
private func memberByMember(_ event: Event) -> [UInt8] {
    var out: [UInt8] = [123]
    for i in 0..<event.fieldCount {
        if i > 0 { out.append(44) }
        out += [34] + Array(event.key(i)) + [34, 58] + Array(event.value(i))
    }
    return out + [125, 10]
}

@Suite struct EventEncoderTests {
    /// Runs of members left where the record has them are copied in one piece: what comes out is
    /// what member-by-member encoding gives, whatever spacing, removals, repointed values and
    /// added members the index holds.
    @Test(arguments: [
        #"{"a":1,"b":"x","c":{"d":[1,2]},"e":null,"f":"\"q\""}"#,
        #"{ "a" : 1 , "b":"x","c" :{"d":[1,2]}, "e":null,"f":"\"q\"" }"#,
        #"{"a":1,"b":"x","c":{"d":[1,2]},"e":null,"f":"\"q\"","g":1,"h":2,"i":3,"j":4,"k":5}"#,
    ])
    func runsOfUntouchedMembersAreWrittenAsMemberByMember(raw: String) throws {
        let pool = try makePool(maxFields: 8)
        let edits: [[(String, String)]] = [
            [("field", "a"), ("value", "z")], [("field", "new"), ("value", "n")], [("field", "e"), ("value", "v")],
        ]
        for edit in [[], [edits[0]], [edits[1]], [edits[2]], edits] {
            let event = try makeDecodedEvent(raw, in: pool)
            for pairs in edit {
                let action = try ModifyAction(PluginArguments(plugin: "modify", pairs: pairs.map { (key: $0.0, value: $0.1) }))
                #expect(action.apply(event, in: pool))
            }
            if edit.isEmpty { try modify(event, in: pool, ("field", "b"), ("value", "x")) }
            let line = encodedLine(event)
            #expect(line == memberByMember(event), "\(String(decoding: line, as: UTF8.self))")
            #expect(isValidJSON(line))
        }
        // Members dropped from the index (the middle one, the first one) leave gaps.
        for removed in ["c", "a"] {
            let event = try makeDecodedEvent(raw, in: pool)
            let editor = EventEditor(maxEventBytes: 8192)
            defer { editor.dispose() }
            let path = try FieldPath(removed)
            defer { path.dispose() }
            var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
            #expect(editor.remove(path, context: &context) == .done)
            let line = encodedLine(context.event)
            #expect(line == memberByMember(context.event), "\(String(decoding: line, as: UTF8.self))")
            #expect(try object(line)[removed] == nil)
        }
    }

    @Test func anUnmodifiedEventIsWrittenAsReceivedWithANewline() throws {
        let pool = try makePool()
        let raw = #"{ "a" : 1 ,"b":"x" }"#
        #expect(encodedLine(makeEvent(raw, in: pool)) == Array(raw.utf8) + [10])
        #expect(encodedLine(try makeDecodedEvent(raw, in: pool)) == Array(raw.utf8) + [10], "decoding alone does not re-encode")
    }

    @Test func rawBytesThatAreNotJSONAreWrittenUnchanged() throws {
        let pool = try makePool()
        let binary: [UInt8] = [0, 1, 255, 13, 0, 34, 123]
        #expect(encodedLine(makeEvent(binary, in: pool)) == binary + [10])
        #expect(encodedLine(makeEvent("", in: pool)) == [10])
    }

    @Test func aModifiedEventIsReencodedAsValidJSONWithTheNewValue() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{ "level" : "debug", "n":[1, 2], "m":{"x":null} }"#, in: pool)
        try modify(event, in: pool, ("field", "level"), ("value", "info"))
        let line = encodedLine(event)
        #expect(isValidJSON(line))
        #expect(String(decoding: line, as: UTF8.self) == #"{"level":"info","n":[1, 2],"m":{"x":null}}"# + "\n")
        let parsed = try object(line)
        #expect(parsed["level"] as? String == "info")
        #expect(parsed["n"] as? [Int] == [1, 2])
    }

    @Test func anAddedFieldAppearsInTheReencodedObject() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"a":1}"#, in: pool)
        try modify(event, in: pool, ("field", "tag"), ("value", "new \"quoted\" value"))
        try modify(event, in: pool, ("field", "n"), ("json-value", "42"))
        let line = encodedLine(event)
        #expect(isValidJSON(line))
        let parsed = try object(line)
        #expect(parsed.count == 3)
        #expect(parsed["a"] as? Int == 1)
        #expect(parsed["tag"] as? String == "new \"quoted\" value")
        #expect(parsed["n"] as? Int == 42)
    }

    @Test func escapedKeysAndValuesSurviveReencoding() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"k\"ey":"caf\u00e9 \"x\"\n","other":1}"#, in: pool)
        try modify(event, in: pool, ("field", "other"), ("value", "2"))
        let parsed = try object(encodedLine(event))
        #expect(parsed["k\"ey"] as? String == "café \"x\"\n")
        #expect(parsed["other"] as? String == "2")
    }

    @Test func aModifiedEmptyObjectEncodesItsOnlyField() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent("{}", in: pool)
        try modify(event, in: pool, ("field", "x"), ("json-value", "true"))
        #expect(String(decoding: encodedLine(event), as: UTF8.self) == "{\"x\":true}\n")
    }

    @Test func theWorstCaseBoundHoldsForAFullIndexOfLongValues() throws {
        let pool = try makePool(maxFields: 8)
        let members = (0..<8).map { #""k\#($0)":"\#(String(repeating: "v", count: 60))""# }.joined(separator: ",")
        let event = try makeDecodedEvent("{\(members)}", in: pool)
        try modify(event, in: pool, ("field", "k0"), ("value", String(repeating: "w", count: 100)))
        let line = encodedLine(event)
        #expect(isValidJSON(line))
        #expect(try object(line).count == 8)
    }
}
