import CSupport
import Testing

@testable import SluiceCore

// The block validators (the Swift one and, with AVX2, `sl_utf8_check` in C) against two
// independent references: the standard library's UTF-8 validation (is it valid?) and the
// sequence-by-sequence walk (where is the first error?).

/// From an exactly sized allocation, so a read past the end is out of bounds.
private func firstInvalid(_ bytes: [UInt8]) -> Int? {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { input.deallocate() }
    input.copyBytes(from: bytes)
    let offset = UTF8Validation.firstInvalidOffset(UnsafeRawBufferPointer(input))
    #expect(offset == UTF8Validation.firstInvalidOffsetByteByByte(UnsafeRawBufferPointer(input)), "for \(bytes)")
    #expect((offset == nil) == (String(validating: bytes, as: UTF8.self) != nil), "stdlib disagrees on \(bytes)")
    let vector = sl_utf8_check(input.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
    #expect(vector == -1 || (vector == 1) == (offset == nil), "sl_utf8_check says \(vector) for \(bytes)")
    return offset
}

/// One sequence of each length and each edge of RFC 3629 table 3.7.
private let validSequences: [[UInt8]] = [
    [0x7F], [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xE1, 0x80, 0x80], [0xEC, 0xBF, 0xBF],
    [0xED, 0x80, 0x80], [0xED, 0x9F, 0xBF], [0xEE, 0x80, 0x80], [0xEF, 0xBF, 0xBF],
    [0xF0, 0x90, 0x80, 0x80], [0xF1, 0x80, 0x80, 0x80], [0xF3, 0xBF, 0xBF, 0xBF], [0xF4, 0x80, 0x80, 0x80],
    [0xF4, 0x8F, 0xBF, 0xBF],
]

/// Each is invalid at its first byte.
private let invalidSequences: [[UInt8]] = [
    [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC2], [0xC2, 0x41], [0xC2, 0xC2, 0x80], [0xE0, 0x80, 0x80],
    [0xE0, 0x9F, 0xBF], [0xE1, 0x80], [0xE1, 0x41, 0x80], [0xE1, 0x80, 0x41], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF],
    [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF4, 0xBF, 0xBF, 0xBF],
    [0xF1, 0x80, 0x80], [0xF1, 0x80, 0x80, 0x41], [0xF5, 0x80, 0x80, 0x80], [0xF8], [0xFE], [0xFF],
]

@Test func acceptsEverySequenceKindAtEveryPositionOfTwoBlocks() {
    // Positions 0..<130 put each sequence across the 16-byte lanes and the 64-byte block edges,
    // and into the zero-padded tail.
    for sequence in validSequences {
        for position in 0..<130 {
            let text = [UInt8](repeating: 0x61, count: position) + sequence + [UInt8](repeating: 0x62, count: 130 - position)
            #expect(firstInvalid(text) == nil, "\(sequence) at \(position)")
            #expect(firstInvalid([UInt8](repeating: 0x61, count: position) + sequence) == nil, "\(sequence) ending the text at \(position)")
        }
    }
}

@Test func findsEveryInvalidSequenceAtEveryPositionOfTwoBlocks() {
    for sequence in invalidSequences {
        for position in 0..<130 {
            let text = [UInt8](repeating: 0x61, count: position) + sequence + [UInt8](repeating: 0x62, count: 70)
            #expect(firstInvalid(text) == position, "\(sequence) at \(position)")
        }
    }
}

@Test func findsASequenceCutByTheEndOfTheTextAtEveryLength() {
    for sequence in validSequences where sequence.count > 1 {
        for length in 1..<sequence.count {
            for position in [0, 1, 15, 16, 62, 63, 64, 65, 127, 128] {
                let text = [UInt8](repeating: 0x61, count: position) + sequence[..<length]
                #expect(firstInvalid(text) == position, "\(sequence) cut to \(length) at \(position)")
            }
        }
    }
}

@Test func agreesWithTheStandardLibraryOnRandomMixedText() {
    var state: UInt64 = 0x5EED
    func next() -> UInt64 {
        state ^= state &<< 13
        state ^= state &>> 7
        state ^= state &<< 17
        return state
    }
    let pieces: [[UInt8]] = validSequences + [Array("Zürich".utf8), Array("ошибка".utf8), Array("请求".utf8), Array("🚀".utf8)]
    for round in 0..<2000 {
        var text: [UInt8] = []
        let length = Int(next() % 300)
        while text.count < length {
            let r = next()
            text += r % 3 == 0 ? pieces[Int(r / 3 % UInt64(pieces.count))] : [UInt8(0x20 + r / 3 % 90)]
        }
        if round % 2 == 1 && !text.isEmpty {
            // One random byte replaced: often invalid, sometimes still valid.
            text[Int(next() % UInt64(text.count))] = UInt8(truncatingIfNeeded: next())
        }
        _ = firstInvalid(text)
    }
}

@Test func acceptsLongValidRunsAndFindsAnErrorDeepInside() {
    let cyrillic = [UInt8](String(repeating: "пользователь 请求 😀 ", count: 400).utf8)
    #expect(firstInvalid(cyrillic) == nil)
    var broken = cyrillic
    broken[10_001] = 0xFF
    let offset = firstInvalid(broken)
    #expect(offset != nil && offset! <= 10_001 && offset! >= 10_001 - 3)
}
