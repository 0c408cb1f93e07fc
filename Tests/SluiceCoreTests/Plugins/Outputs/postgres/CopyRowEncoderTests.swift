import Foundation
import Testing

@testable import SluiceCore

/// The encoder of `columns` (each `COL:PATH[:json]`) plus, with `json`, the whole event.
private func encoder(_ columns: [String], json: Bool = false) throws -> CopyRowEncoder {
    let parsed = try columns.map { (spec: String) throws -> PostgresOutput.Column in try PostgresOutput.column(spec) }
    return CopyRowEncoder(columns: parsed, wholeEvent: json)
}

/// The row for `event` (without its newline), written into exactly its worst case; nil when refused.
private func row(_ event: Event, _ encoder: CopyRowEncoder) -> String? {
    let capacity = encoder.worstCase(event)
    let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
    defer { out.deallocate() }
    guard let n = encoder.encodeRow(event, into: out) else { return nil }
    #expect(n <= capacity)
    let bytes = Array(UnsafeRawBufferPointer(start: out, count: n))
    #expect(bytes.last == 10)
    return String(decoding: bytes.dropLast(), as: UTF8.self)
}

/// The same row from the undecoded event (one pass over its raw text) and the decoded one
/// (its field index): both must agree.
private func rows(_ json: String, _ encoder: CopyRowEncoder) throws -> String? {
    let pool = try makePool()
    let raw = row(makeEvent(json, in: pool), encoder)
    let decoded = row(try makeDecodedEvent(json, in: pool), encoder)
    #expect(raw == decoded, "undecoded \(raw ?? "nil") / decoded \(decoded ?? "nil")")
    return raw
}

/// What PostgreSQL's COPY text format must receive for `text`, written independently of the
/// encoder: backslash, newline, CR and tab escaped, NUL as \000.
private func copyText(_ text: String) -> String {
    var out = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0}": out += "\\000"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}

@Suite struct CopyRowEncoderTests {
    @Test func stringsGoAsTheirTextWithJSONEscapesDecodedAndCOPYsApplied() throws {
        let e = try encoder(["m:m"])
        #expect(try rows(#"{"m":"a\tb\nc\\d\"e\/f\r"}"#, e) == #"a\tb\nc\\d"e/f\r"#)
        #expect(try rows(#"{"m":"caf\u00e9 \ud83d\ude00 Zürich 服务 ошибка"}"#, e) == "café 😀 Zürich 服务 ошибка")
        #expect(try rows(#"{"m":"\b\f\u0001\u005c\u0009"}"#, e) == "\\b\\f\u{1}\\\\\\t")
        #expect(try rows(#"{"m":"nul \u0000 here"}"#, e) == #"nul \000 here"#, "refused by the server with its own error")
        #expect(try rows(#"{"m":"lone \ud800 surrogate"}"#, e) == "lone \u{FFFD} surrogate")
        #expect(try rows(#"{"m":"\\."}"#, e) == #"\\."#, "never the end-of-data marker")
        #expect(try rows(#"{"m":""}"#, e) == "")
    }

    @Test func objectsAndArraysGoAsJSONTextNumbersAndBooleansAsWrittenNullAndMissingAsNULL() throws {
        let e = try encoder(["o:o", "a:a", "n:n", "f:f", "t:t", "z:z", "missing:nope", "deep:o.k", "deeper:o.no.x"])
        let json = #"{"o":{"k":"x\ty","l":[1,"\\"]},"a":[1,2.5,null],"n":-1.5e3,"f":false,"t":true,"z":null}"#
        #expect(try rows(json, e) == [#"{"k":"x\\ty","l":[1,"\\\\"]}"#, #"[1,2.5,null]"#, "-1.5e3", "false", "true", #"\N"#, #"\N"#, "x\\ty", #"\N"#]
            .joined(separator: "\t"))
    }

    @Test func aJSONColumnTakesStringsAsJSONText() throws {
        let e = try encoder(["s:s:json", "o:o:json"])
        #expect(try rows(#"{"s":"a\"b\\c","o":{"x":1}}"#, e) == #""a\\"b\\\\c""# + "\t" + #"{"x":1}"#)
    }

    @Test func theWholeEventGoesAsItsJSONTextAfterTheColumns() throws {
        let e = try encoder(["lvl:level"], json: true)
        let json = "{\"level\":\"info\",\t\"msg\":\"tab\\there \\\\ é\"}"
        #expect(try rows(json, e) == "info\t" + copyText(json))
        let only = try encoder([], json: true)
        let pool = try makePool()
        #expect(row(makeEvent("not json\tat all\\", in: pool), only) == #"not json\tat all\\"#, "the server judges it")
    }

    @Test func aChangedEventGoesAsItsFieldsWrittenAgain() throws {
        let pool = try makePool()
        let event = try makeDecodedEvent(#"{"level":"debug","msg":"a\tb"}"#, in: pool)
        let action = try ModifyAction(arguments("modify", ("field", "level"), ("value", "in\\fo")))
        #expect(action.apply(event, in: pool))
        #expect(row(event, try encoder(["level:level"], json: true)) == #"in\\fo"# + "\t" + #"{"level":"in\\\\fo","msg":"a\\tb"}"#)
    }

    @Test func theFirstOfDuplicateKeysWinsAndEscapedKeysMatch() throws {
        let e = try encoder(["m:m", "n:a.b"])
        #expect(try rows(#"{"m":"first","\u006d":"second","a":{"b":1},"a":{"b":2}}"#, e) == "first\t1")
        #expect(try rows(#"{"\u006d":"escaped key"}"#, e) == "escaped key\t\\N")
        #expect(try rows(#"{"mm":1,"":2}"#, e) == "\\N\t\\N")
    }

    @Test func anEventThatIsNotAJSONObjectIsRefusedWhenColumnsNeedFields() throws {
        let e = try encoder(["m:m"])
        let pool = try makePool()
        for text in ["[1,2]", "\"text\"", "plain words", #"{"m":"#, "", #"{"m" 1}"#] {
            #expect(row(makeEvent(text, in: pool), e) == nil, "\(text)")
        }
        #expect(row(try makeDecodedEvent("[1,2]", in: pool), e) == nil)
        #expect(row(makeEvent("{}", in: pool), e) == "\\N")
    }

    @Test func longValuesEscapeAtEveryPositionAsAnIndependentEncodingSays() throws {
        // Escapes before, inside and after 8-byte stretches, multi-byte UTF-8 across them.
        var random = SystemRandomNumberGenerator()
        let pieces = ["a", "bcdefghij", "\t", "\n", "\\", "\"", "é", "服务", "😀", "\r", "\u{1}", "\u{0}", "/", "klmnopqrstuvwxyz0123"]
        let e = try encoder(["m:m", "o:o"], json: true)
        for _ in 0..<300 {
            var text = ""
            for _ in 0..<Int.random(in: 0...40, using: &random) { text += pieces.randomElement(using: &random)! }
            let object: [String: Any] = ["m": text, "o": ["k": text]]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            let nested = String(decoding: try JSONSerialization.data(withJSONObject: ["k": text]), as: UTF8.self)
            let expected = copyText(text) + "\t" + copyText(nested) + "\t" + copyText(json)
            #expect(try rows(json, e) == expected, "\(json)")
        }
    }

    @Test func aRowNeverPassesItsWorstCase() throws {
        let pool = try makePool()
        // Every byte doubled by COPY's escapes, or NUL bytes (four each) in text that is not JSON.
        let escapes = "{\"m\":\"" + String(repeating: "\\\\", count: 300) + "\"}"
        let nul = [UInt8](repeating: 0, count: 600)
        for (columns, json) in [(["m:m"], true), (["m:m", "n:m"], true), (["m:m", "o:m.x"], false)] {
            let e = try encoder(columns, json: json)
            _ = row(makeEvent(escapes, in: pool), e)
            _ = row(try makeDecodedEvent(escapes, in: pool), e)
            #expect(e.overlap == (json ? 1 : 0) + (columns.count > 1 ? columns.count : 1))
        }
        _ = row(makeEvent(nul, in: pool), try encoder([], json: true))
    }
}
