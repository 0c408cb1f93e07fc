import Foundation
import Testing

@testable import SluiceCore

// The scanner's fast paths work on 16- and 32-byte blocks of a string and on 16-byte chunks of
// UTF-8 with the three bytes before them. These tests put every byte that ends a fast step at every
// position of those blocks, and check the result (reason and offset) against what follows from
// the grammar byte by byte.

/// Scans from an exactly sized allocation, so any read past the end is out of bounds.
private func scan(_ bytes: [UInt8], fieldCapacity: Int = 8) -> (outcome: JSONScanOutcome, fields: [FieldEntry]) {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { input.deallocate() }
    input.copyBytes(from: bytes)
    let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: fieldCapacity)
    defer { fields.deallocate() }
    let outcome = JSONScanner.scan(UnsafeRawBufferPointer(input), fields: fields, fieldCapacity: fieldCapacity)
    var entries: [FieldEntry] = []
    if case .valid(let count, _) = outcome { entries = Array(UnsafeBufferPointer(start: fields, count: count)) }
    return (outcome, entries)
}

private func filler(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(0x61 + $0 % 26) } }
private let quote: UInt8 = 0x22
/// Positions 0..<100 cross the first 16-byte probe, two 32-byte steps and the tails.
private let positions = 0..<100

@Test func findsTheClosingQuoteAtEveryPositionOfTheBlocks() {
    for position in positions {
        for lead in 0..<3 {
            // {"k":"…"} with `lead` spaces shifting the string against the blocks.
            let document = Array("{\"k\":".utf8) + [UInt8](repeating: 0x20, count: lead) + [quote] + filler(position) + [quote, 0x7D]
            let (outcome, fields) = scan(document)
            #expect(outcome == .valid(fieldCount: 1, fieldsTruncated: false), "at \(position)")
            #expect(fields.first?.valueLength == UInt32(position + 2) && fields.first?.flags == 0, "at \(position)")
            // And as a key: the key's length and the value after it.
            let asKey = [0x7B, quote] + filler(position) + Array("\":1}".utf8)
            let key = scan(asKey)
            #expect(key.fields.first?.keyLength == UInt32(position) && key.fields.first?.kind == .number, "key at \(position)")
        }
    }
}

/// The lookups in validated text (the members past an index cut) skip strings 16 bytes at a
/// time: a closing quote or an escaped quote or backslash at every position of the blocks.
@Test func membersPastACutAreFoundWithQuotesAndEscapesAtEveryPositionOfTheBlocks() {
    for position in positions {
        for escape in ["", #"\""#, #"\\"#, #"\n"#] {
            let value = filler(position) + Array(escape.utf8) + filler(position % 17)
            let document = Array(#"{"a":1,"k":""#.utf8) + value + Array(#"","z":2}"#.utf8)
            let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 4)
            defer { fields.deallocate() }
            let input = UnsafeMutableRawBufferPointer.allocate(byteCount: document.count, alignment: 1)
            defer { input.deallocate() }
            input.copyBytes(from: document)
            let count = JSONScanner.membersAfter(6, inObject: UnsafeRawBufferPointer(input), into: fields, capacity: 4)
            #expect(count == 2, "\(escape) at \(position)")
            guard count == 2 else { continue }
            #expect(fields[0].valueOffset == 11 && fields[0].valueLength == UInt32(value.count + 2), "\(escape) at \(position)")
            #expect(fields[0].flags == (escape.isEmpty ? 0 : FieldEntry.valueHasEscapes), "\(escape) at \(position)")
            #expect(fields[1].keyOffset == UInt32(11 + value.count + 4) && fields[1].kind == .number, "\(escape) at \(position)")
        }
    }
}

/// Escapes are stepped over inside the 16-byte loop of those lookups: runs of them, one that
/// ends a block, and an escaped backslash just before the closing quote, against the scan's index.
@Test func membersPastACutMatchTheScanWithRunsOfEscapesAnywhere() {
    for position in positions {
        for escapes in [#"\n\t\""#, #"\\\"\\"#, #"\"\"\"\"\"\"\"\""#, #"\\"#, #"\u00e9\n"#] {
            for value in [filler(position) + Array(escapes.utf8) + filler(position % 17), filler(position) + Array(escapes.utf8)] {
                let document = Array(#"{"a":1,"k":""#.utf8) + value + Array(#"","z":"\#(escapes)"}"#.utf8)
                let input = UnsafeMutableRawBufferPointer.allocate(byteCount: document.count, alignment: 1)
                defer { input.deallocate() }
                input.copyBytes(from: document)
                let scanned = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 4)
                let after = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 4)
                defer { scanned.deallocate(); after.deallocate() }
                guard case .valid(3, false) = JSONScanner.scan(UnsafeRawBufferPointer(input), fields: scanned, fieldCapacity: 4) else {
                    Issue.record("not valid: \(escapes) at \(position)")
                    continue
                }
                let count = JSONScanner.membersAfter(6, inObject: UnsafeRawBufferPointer(input), into: after, capacity: 4)
                #expect(count == 2, "\(escapes) at \(position)")
                guard count == 2 else { continue }
                for i in 0..<2 {
                    let a = after[i], b = scanned[i + 1]
                    #expect(a.keyOffset == b.keyOffset && a.keyLength == b.keyLength && a.valueOffset == b.valueOffset
                             && a.valueLength == b.valueLength && a.kind == b.kind && a.flags == b.flags,
                             "member \(i + 1): \(escapes) at \(position)")
                }
            }
        }
    }
}

@Test func handlesEveryEscapeAtEveryPositionOfTheBlocks() {
    let escapes = [#"\n"#, #"\t"#, #"\""#, #"\\"#, #"\/"#, #"\b"#, #"\f"#, #"\r"#, #"\u00e9"#, #"\uD83D\uDE00"#]
    for escape in escapes {
        for position in positions {
            let body = filler(position) + Array(escape.utf8) + filler(40)
            let (outcome, fields) = scan(Array("{\"k\":\"".utf8) + body + [quote, 0x7D])
            #expect(outcome == .valid(fieldCount: 1, fieldsTruncated: false), "\(escape) at \(position)")
            #expect(fields.first?.valueLength == UInt32(body.count + 2), "\(escape) at \(position)")
            #expect(fields.first?.flags == FieldEntry.valueHasEscapes, "\(escape) at \(position)")
        }
    }
}

@Test func reportsBadBytesInStringsAtEveryPositionOfTheBlocks() {
    for position in positions {
        let start = Array("[\"".utf8) + filler(position)
        let offset = start.count
        // A raw control byte, an unknown escape, a bad \u escape, an escape cut by the end.
        #expect(scan(start + [0x0A] + filler(30) + Array("\"]".utf8)).outcome == .invalid(offset: offset, reason: .controlCharacterInString))
        #expect(scan(start + [0x1F] + Array("\"]".utf8)).outcome == .invalid(offset: offset, reason: .controlCharacterInString))
        #expect(scan(start + Array(#"\q"#.utf8) + filler(30) + Array("\"]".utf8)).outcome == .invalid(offset: offset, reason: .invalidEscape))
        #expect(scan(start + Array(#"\u12x4"#.utf8) + Array("\"]".utf8)).outcome == .invalid(offset: offset, reason: .invalidUnicodeEscape))
        #expect(scan(start + [0x5C]).outcome == .invalid(offset: 1, reason: .unterminatedString))
        // No closing quote at all.
        #expect(scan(start).outcome == .invalid(offset: 1, reason: .unterminatedString))
        #expect(scan(start + Array("é请😀".utf8)).outcome == .invalid(offset: 1, reason: .unterminatedString))
    }
}

@Test func acceptsMultiByteCharactersSplitAcrossEveryBlockEdge() {
    for character in ["é", "ж", "请", "\u{D7FF}", "\u{E000}", "😀", "\u{10FFFF}"] {
        for position in 0..<140 {
            let body = filler(position) + Array(character.utf8) + filler(position % 7)
            let (outcome, fields) = scan(Array("{\"k\":\"".utf8) + body + [quote, 0x7D])
            #expect(outcome == .valid(fieldCount: 1, fieldsTruncated: false), "\(character) at \(position)")
            #expect(fields.first?.valueLength == UInt32(body.count + 2))
            // The character ending the string, right before its closing quote.
            let key = [0x7B, quote] + filler(position) + Array(character.utf8) + Array("\":1}".utf8)
            #expect(scan(key).fields.first?.keyLength == UInt32(position + character.utf8.count))
        }
    }
}

@Test func reportsInvalidUTF8AtItsOwnOffsetAtEveryBlockEdge() {
    let invalid: [[UInt8]] = [
        [0x80], [0xC0, 0xAF], [0xC3], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xE4, 0xB8], [0xF0, 0x8F, 0xBF, 0xBF],
        [0xF0, 0x9F, 0x98], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF],
    ]
    for sequence in invalid {
        for position in 0..<140 {
            let start = Array("[\"".utf8) + filler(position)
            // In the middle of a string, and cut off by the closing quote.
            #expect(scan(start + sequence + filler(20) + Array("\"]".utf8)).outcome == .invalid(offset: start.count, reason: .invalidUTF8), "\(sequence) at \(position)")
            #expect(scan(start + sequence + Array("\"]".utf8)).outcome == .invalid(offset: start.count, reason: .invalidUTF8), "\(sequence) at \(position)")
        }
    }
}

@Test func reportsTheFirstErrorWhenInvalidUTF8ComesLater() {
    // A syntax error before a string with bad UTF-8 wins; so does a bad byte earlier in the same string.
    #expect(scan([0x5B, 0x31, 0x2C, 0x2C, quote, 0xFF, quote, 0x5D]).outcome == .invalid(offset: 3, reason: .unexpectedByte))
    #expect(scan([0x5B, quote, 0x61, 0x0A, 0xFF, quote, 0x5D]).outcome == .invalid(offset: 3, reason: .controlCharacterInString))
    #expect(scan([0x5B, quote, 0x5C, 0x71, 0xFF, quote, 0x5D]).outcome == .invalid(offset: 2, reason: .invalidEscape))
    #expect(scan([0x5B, quote, 0x61, quote, 0x2C, quote, 0xC3, quote, 0x5D]).outcome == .invalid(offset: 6, reason: .invalidUTF8))
    // Bytes >= 0x80 outside strings, valid UTF-8 or not, are unexpected there.
    #expect(scan(Array("[1,".utf8) + Array("é".utf8) + [0x5D]).outcome == .invalid(offset: 3, reason: .unexpectedByte))
    #expect(scan(Array("[1,".utf8) + [0xFF, 0x5D]).outcome == .invalid(offset: 3, reason: .unexpectedByte))
    #expect(scan(Array("{\"a\":1}".utf8) + [0xE9]).outcome == .invalid(offset: 7, reason: .trailingData))
    // Invalid UTF-8 after an unterminated string's opening quote is inside that string.
    #expect(scan([0x5B, quote, 0x61, 0xFF]).outcome == .invalid(offset: 3, reason: .invalidUTF8))
}

@Test func scansVeryLongStringsOfEveryKind() {
    let ascii = filler(1 << 20)
    let mixed = Array(String(repeating: #"ошибка 请求 😀 café \n\t\"x\" \\ "#, count: 30_000).utf8)
    for body in [ascii, mixed] {
        let (outcome, fields) = scan(Array("{\"k\":\"".utf8) + body + Array("\",\"n\":1}".utf8))
        #expect(outcome == .valid(fieldCount: 2, fieldsTruncated: false))
        #expect(fields.first?.valueLength == UInt32(body.count + 2) && fields.last?.valueOffset == UInt32(body.count + 12))
    }
    var broken = mixed
    broken[mixed.count - 3] = 0xC3
    #expect(scan(Array("[\"".utf8) + broken + Array("\"]".utf8)).outcome == .invalid(offset: mixed.count - 1, reason: .invalidUTF8))
}

@Test func indexesDeeplyNestedLinesWithStringsAtEveryLevel() throws {
    // Objects and arrays alternating 5 deep around escaped, non-ASCII strings, as log lines nest.
    var value = #""leaf \"ж\" 请\n""#
    for level in 0..<5 {
        value = level % 2 == 0 ? "{\"k\(level)\":\(value),\"s\":\"é😀\"}" : "[\(value),\"\\t\",1.5e3,null]"
    }
    let line = "{\"a\":\(value),\"b\":\"x\",\"c\":[\(value),\(value)]}"
    let (outcome, fields) = scan(Array(line.utf8))
    #expect(outcome == .valid(fieldCount: 3, fieldsTruncated: false))
    let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    #expect(parsed?.count == 3)
    #expect(fields.map(\.kind) == [.object, .string, .array])
    #expect(fields.first.map { Int($0.valueLength) } == value.utf8.count)
}
