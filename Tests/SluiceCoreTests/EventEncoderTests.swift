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

@Suite struct EventEncoderTests {
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
