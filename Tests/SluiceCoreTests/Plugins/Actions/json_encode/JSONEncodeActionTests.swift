import Foundation
import Testing

@testable import SluiceCore

@Suite struct JSONEncodeActionTests {
    @Test func anObjectBecomesItsTextAsAString() throws {
        let run = try EditActionRun("json_encode", ("field", "a.b"))
        defer { run.dispose() }
        let original = #"{"q":"say \"hi\"\\","n":[1, 2],"e":"é"}"#
        let line = try run.line(#"{"a":{"b":\#(original)},"z":1}"#)
        let object = try #require(encodedObjectOf(line))
        #expect((object["a"] as? [String: Any])?["b"] as? String == original, "the text byte for byte, spaces and escapes kept")
        #expect(line == #"{"a":{"b":"{\"q\":\"say \\\"hi\\\"\\\\\",\"n\":[1, 2],\"e\":\"é\"}"},"z":1}"#)
    }

    @Test func anArrayIsEncodedAndScalarsAreWrongType() throws {
        let run = try EditActionRun("json_encode", ("field", "v"))
        defer { run.dispose() }
        #expect(try run.line(#"{"v":[]}"#) == #"{"v":"[]"}"#)
        for scalar in ["1", #""s""#, #""""#, "null", "true"] {
            #expect(try run.line(#"{"v":\#(scalar)}"#) == #"{"v":\#(scalar)}"#)
        }
        #expect(try run.line(#"{"w":{}}"#) == #"{"w":{}}"#)
        #expect(run.count(.fieldWrongType) == 5 && run.count(.fieldMissing) == 1)
    }

    @Test func aFieldPastMaxFieldsIsEncoded() throws {
        let run = try EditActionRun("json_encode", ("field", "k9"), pool: try makePool(maxFields: 8))
        defer { run.dispose() }
        let members = (0..<9).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
        let (_, event) = run.run(try makeDecodedEvent("{\(members),\"k9\":{\"a\":1}}", in: run.pool))
        #expect(encodedObject(event)?["k9"] as? String == #"{"a":1}"#)
        #expect(encodedObject(event)?.count == 10)
    }

    @Test func anEncodingPastMaxEventSizeChangesNothing() throws {
        let pool = try makePool()
        let run = try EditActionRun("json_encode", ("field", "a"), pool: pool)
        defer { run.dispose() }
        let event = try nearlyFullEvent(in: pool, room: 2)
        #expect(run.run(event).0 == .pass)
        #expect(!event.has(EventFlags.modified) && run.count(.editTooLarge) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(editActionRejection("json_encode")?.key == "field")
    }
}

func encodedObjectOf(_ line: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
}
