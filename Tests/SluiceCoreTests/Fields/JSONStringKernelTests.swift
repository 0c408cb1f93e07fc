import CSupport
import Testing

@testable import SluiceCore

// `sl_json_string_scan` (the AVX2 kernel the scanner hands string bodies to) against a plain
// byte-by-byte model of what it may skip. The kernel may stop early (fewer than 32 bytes left,
// or a \u escape in its last window); wherever it stops, the model must stand at that same
// position, and it must report exactly whether it skipped an escape.

/// The model: from offset 0 of a string body, the positions a byte-by-byte walk stands on (never
/// inside an escape), whether an escape lies before each, and where the walk must stop (an
/// unescaped quote, a control byte, or a backslash that does not start a valid escape).
private func modelWalk(_ bytes: [UInt8]) -> (positions: [Int: Bool], stop: Int) {
    var positions: [Int: Bool] = [:]
    var i = 0
    var escaped = false
    func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c | 0x20 >= 0x61 && c | 0x20 <= 0x66) }
    while i < bytes.count {
        positions[i] = escaped
        let c = bytes[i]
        if c == 0x22 || c < 0x20 { return (positions, i) }
        if c != 0x5C {
            i += 1
            continue
        }
        guard i + 1 < bytes.count else { return (positions, i) }
        switch bytes[i + 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74:
            i += 2
        case 0x75 where i + 5 < bytes.count && bytes[(i + 2)...(i + 5)].allSatisfy(isHex):
            i += 6
        default:
            return (positions, i)
        }
        escaped = true
    }
    positions[i] = escaped
    return (positions, i)
}

/// The kernel on an exactly sized copy (a read past the end is out of bounds).
private func kernel(_ bytes: [UInt8]) -> (offset: Int, escape: Bool) {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
    defer { input.deallocate() }
    input.copyBytes(from: bytes)
    let result = sl_json_string_scan(input.baseAddress!.assumingMemoryBound(to: UInt8.self), bytes.count)
    return (Int(result & ~SL_JSON_SKIPPED_ESCAPE), result & SL_JSON_SKIPPED_ESCAPE != 0)
}

private func checkKernel(_ bytes: [UInt8], _ note: @autoclosure () -> String) {
    let (offset, escape) = kernel(bytes)
    let (positions, stop) = modelWalk(bytes)
    guard let escapedBefore = positions[offset] else {
        Issue.record("stopped at \(offset), inside an escape or past the stop \(stop): \(note())")
        return
    }
    #expect(offset <= stop, "stopped at \(offset) past the model's stop \(stop): \(note())")
    #expect(escape == escapedBefore, "escape flag \(escape) at \(offset): \(note())")
    if offset < stop && bytes.count - offset >= 32 {
        // Only a \u escape may end the skip early while 32 bytes remain, and only in the last
        // 32-byte window (fewer than 64 bytes left).
        #expect(bytes[offset] == 0x5C && bytes[offset + 1] == 0x75 && bytes.count - offset < 64,
                "stopped early at \(offset) (model stops at \(stop)): \(note())")
    }
}

@Test func stringKernelStopsWhereTheModelDoesOnCraftedBodies() {
    guard sl_json_string_scan([UInt8](repeating: 0x61, count: 40), 40) != 0 else { return }  // no AVX2 here
    let plain = [UInt8](repeating: 0x61, count: 200)
    let pieces: [[UInt8]] = [
        Array(#"\""#.utf8), Array(#"\\"#.utf8), Array(#"\\\""#.utf8), Array(#"\\\\"#.utf8), Array(#"\n"#.utf8),
        Array(#"\u00e9"#.utf8), Array(#"\uD83D\uDE00"#.utf8), Array(#"\u00g9"#.utf8), Array(#"\x"#.utf8), Array(#"\u12"#.utf8),
        [0x22], [0x0A], [0x1F], [0x5C, 0x0A], Array("ошибка".utf8), [0x7F, 0x20],
    ]
    // Each piece at every offset across two 64-byte windows and the 32-byte tail, in bodies of
    // lengths that end in each kind of window.
    for piece in pieces {
        for offset in 0..<140 {
            for total in [offset + piece.count, offset + piece.count + 1, offset + piece.count + 33, 200] where total >= offset + piece.count {
                var body = Array(plain[0..<offset]) + piece
                body += Array(plain[0..<(total - body.count)])
                checkKernel(body, "\(String(decoding: piece, as: UTF8.self)) at \(offset) of \(total)")
                // Backslash runs that reach the end of the body.
                checkKernel(Array(body[0..<min(body.count, offset + 1)]) + [0x5C], "trailing backslash after \(offset)")
            }
        }
    }
    // Runs of backslashes of every length, ending at every offset: the run's parity decides
    // whether the quote after it ends the string.
    for run in 1..<70 {
        for offset in 0..<70 {
            let body = [UInt8](repeating: 0x61, count: offset) + [UInt8](repeating: 0x5C, count: run) + [0x22] + plain[0..<80]
            checkKernel(body, "\(run) backslashes at \(offset)")
        }
    }
}

@Test func stringKernelStopsWhereTheModelDoesOnRandomBodies() {
    guard sl_json_string_scan([UInt8](repeating: 0x61, count: 40), 40) != 0 else { return }
    var state: UInt64 = 0x5EED_1234
    func next() -> UInt64 {
        state ^= state &<< 13
        state ^= state &>> 7
        state ^= state &<< 17
        return state
    }
    // Mostly plain bytes, with the bytes that matter often enough to meet each other.
    let alphabet: [UInt8] = Array("abcdefnrtu/0189AF".utf8) + [0x5C, 0x5C, 0x5C, 0x22, 0x01, 0x1F, 0xD0, 0xB5, 0xF0, 0x9F]
    for _ in 0..<20_000 {
        let length = Int(next() % 300)
        let density = 1 + next() % 40
        var body: [UInt8] = []
        for _ in 0..<length {
            let r = next()
            body.append(r % density == 0 ? alphabet[Int(r / 64 % UInt64(alphabet.count))] : 0x61 + UInt8(r / 64 % 26))
        }
        checkKernel(body, "\(body)")
    }
}

@Test func lookupsInValidatedTextSkipLongEscapedValuesAsTheScanIndexesThem() {
    // member(named:) and memberCount walk validated text with the kernel too: against the
    // scanner's index, for long values with escapes (and \u) at every offset of the windows.
    let escapes = [#"\n"#, #"\""#, #"\\"#, #"\\\""#, #"\u00e9"#, #"\t\\n"#, "é", "😀"]
    for escape in escapes {
        for position in stride(from: 0, to: 150, by: 7) {
            let value = String(repeating: "a", count: position) + escape + String(repeating: "b", count: 90 - position % 50)
            let text = Array(#"{"first":"\#(value)","second":{"x":"\#(value)"},"third":3}"#.utf8)
            let input = UnsafeMutableRawBufferPointer.allocate(byteCount: text.count, alignment: 1)
            defer { input.deallocate() }
            input.copyBytes(from: text)
            let object = UnsafeRawBufferPointer(input)
            let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 8)
            defer { fields.deallocate() }
            guard case .valid(let count, _) = JSONScanner.scan(object, fields: fields, fieldCapacity: 8), count == 3 else {
                Issue.record("not valid: \(escape) at \(position)")
                continue
            }
            #expect(JSONScanner.memberCount(inObject: object) == 3, "\(escape) at \(position)")
            for (index, key) in ["first", "second", "third"].enumerated() {
                let found = Array(key.utf8).withUnsafeBytes { JSONScanner.member(named: $0, inObject: object) }
                #expect(found?.offset == Int(fields[index].valueOffset) && found?.length == Int(fields[index].valueLength),
                        "\(key) with \(escape) at \(position)")
            }
        }
    }
}
