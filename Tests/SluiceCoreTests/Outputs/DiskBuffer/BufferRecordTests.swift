import CSupport
import Testing
@testable import SluiceCore

/// Builds segment bytes the way the stage-1 batcher does: records back to back.
struct SegmentBytes {
    var bytes: [UInt8] = []
    /// Where each record starts.
    var starts: [Int] = []

    mutating func append(_ payload: String, sequence: UInt64, wallNanos: UInt64 = 1_700_000_000_000_000_000) {
        let p = Array(payload.utf8)
        var record = [UInt8](repeating: 0, count: BufferRecord.headerBytes + p.count)
        record.withUnsafeMutableBytes { raw in
            raw.baseAddress!.advanced(by: BufferRecord.headerBytes).copyMemory(from: p, byteCount: p.count)
            BufferRecord.seal(raw.baseAddress!, payloadBytes: p.count, sequence: sequence, wallNanos: wallNanos)
        }
        starts.append(bytes.count)
        bytes += record
    }

    static func records(_ range: ClosedRange<UInt64>, payload: (UInt64) -> String = { "{\"n\":\($0),\"pad\":\"abcdefghijklmnop\"}" }) -> SegmentBytes {
        var s = SegmentBytes()
        for n in range { s.append(payload(n), sequence: n) }
        return s
    }
}

@Suite struct BufferRecordTests {
    let anyWindow = BufferRecord.Window(after: nil, atLeast: 0, before: .max)

    func check(_ bytes: [UInt8], at offset: Int = 0, window: BufferRecord.Window? = nil, max: Int = 1 << 20) -> BufferRecord.Check {
        bytes.withUnsafeBytes { BufferRecord.check($0.baseAddress! + offset, available: $0.count - offset, window: window ?? anyWindow, maxPayloadBytes: max) }
    }

    @Test func crc32cMatchesTheCastagnoliCheckValueInBothImplementations() {
        let text = Array("123456789".utf8)
        #expect(sl_crc32c(0, text, text.count) == 0xE306_9283)
        #expect(sl_crc32c_table(0, text, text.count) == 0xE306_9283)
        if sl_crc32c_has_hardware() != 0 { #expect(sl_crc32c_hardware(0, text, text.count) == 0xE306_9283) }
    }

    @Test func crc32cTableAndHardwareAgreeOnEveryLengthAndChainAcrossCalls() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<4099).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for length in [0, 1, 7, 8, 9, 15, 16, 63, 64, 65, 1000, 4099] {
            let whole = sl_crc32c_table(0, data, length)
            let split = length / 3
            let chained = data.withUnsafeBytes { sl_crc32c_table(sl_crc32c_table(0, $0.baseAddress!, split), $0.baseAddress! + split, length - split) }
            #expect(chained == whole, "length \(length)")
            if sl_crc32c_has_hardware() != 0 { #expect(sl_crc32c_hardware(0, data, length) == whole, "length \(length)") }
        }
    }

    @Test func aSealedRecordChecksWithItsLengthSequenceAndTime() {
        var s = SegmentBytes()
        s.append("hello", sequence: 42, wallNanos: 123)
        #expect(check(s.bytes) == .valid(BufferRecord.Header(payloadBytes: 5, sequence: 42, wallNanos: 123)))
    }

    @Test func everyFlippedBitOfARecordMakesItInvalid() {
        var s = SegmentBytes()
        s.append("{\"a\":1}", sequence: 7)
        for i in 0..<s.bytes.count {
            for bit in 0..<8 {
                var bytes = s.bytes
                bytes[i] ^= UInt8(1 << bit)
                let result = check(bytes)
                // A flipped length may ask for more bytes than there are: never valid.
                if case .valid = result { Issue.record("byte \(i) bit \(bit) still checks") }
            }
        }
    }

    @Test func aRecordCutShortIsIncompleteNotInvalid() {
        var s = SegmentBytes()
        s.append("abcdefgh", sequence: 1)
        #expect(check(Array(s.bytes.prefix(10))) == .incomplete(needed: BufferRecord.headerBytes))
        #expect(check(Array(s.bytes.dropLast(3))) == .incomplete(needed: BufferRecord.headerBytes + 8))
    }

    @Test func aSequenceNumberOutsideTheWindowOrALengthOverTheLimitIsInvalid() {
        var s = SegmentBytes()
        s.append("abcdefgh", sequence: 10)
        #expect(check(s.bytes, window: .init(after: 10, atLeast: 0, before: .max)) == .invalid)
        #expect(check(s.bytes, window: .init(after: nil, atLeast: 11, before: .max)) == .invalid)
        #expect(check(s.bytes, window: .init(after: nil, atLeast: 0, before: 10)) == .invalid)
        #expect(check(s.bytes, max: 7) == .invalid)
        #expect(check(s.bytes, window: .init(after: 9, atLeast: 10, before: 11)) != .invalid)
    }

    @Test func resynchronizingAfterGarbageFindsTheNextValidRecord() {
        var s = SegmentBytes.records(1...3)
        // Overwrite the middle record's header and first payload bytes.
        for i in s.starts[1]..<(s.starts[1] + 30) { s.bytes[i] = 0x5A }
        let window = BufferRecord.Window(after: 1, atLeast: 1, before: 100)
        #expect(check(s.bytes, at: s.starts[1], window: window) == .invalid)
        let next = s.bytes.withUnsafeBytes {
            BufferRecord.resynchronize($0.baseAddress!, available: $0.count, from: s.starts[1] + 1, window: window, maxPayloadBytes: 1 << 20)
        }
        #expect(next == s.starts[2])
    }

    @Test func encodingAnEventWritesItsLineWithoutTheNewlineAsThePayload() throws {
        let pool = try makePool()
        let event = makeEvent("{\"msg\":\"hi\"}", in: pool)
        let out = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { out.deallocate() }
        let n = BufferRecord.encode(event, sequence: 5, wallNanos: 9, into: out)
        #expect(n == BufferRecord.headerBytes + 12)
        #expect(BufferRecord.check(out, available: n, window: anyWindow, maxPayloadBytes: 4096) == .valid(.init(payloadBytes: 12, sequence: 5, wallNanos: 9)))
        #expect(String(decoding: UnsafeRawBufferPointer(start: out + BufferRecord.headerBytes, count: 12), as: UTF8.self) == "{\"msg\":\"hi\"}")
    }
}
