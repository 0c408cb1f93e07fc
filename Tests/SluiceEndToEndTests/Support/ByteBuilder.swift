import Foundation
import Glibc
import Testing

/// An append-only byte buffer for building inputs of a million lines quickly even in debug
/// builds: one growing allocation, pieces copied in with memcpy.
final class ByteBuilder {
    private var storage: UnsafeMutableRawPointer
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64)
        storage = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { storage.deallocate() }

    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: storage, byteCount: count)
        storage.deallocate()
        storage = grown
        capacity = newCapacity
    }

    func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (storage + count).copyMemory(from: base, byteCount: bytes.count)
        count += bytes.count
    }

    func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    func append(byte: UInt8) {
        reserve(1)
        storage.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// `value` in decimal, zero-padded to `width` digits.
    func append(decimal value: Int, width: Int = 1) {
        precondition(value >= 0)
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        let length = max(digits, width)
        reserve(length)
        var v = value
        for i in stride(from: length - 1, through: 0, by: -1) {
            storage.storeBytes(of: UInt8(48 + v % 10), toByteOffset: count + i, as: UInt8.self)
            v /= 10
        }
        count += length
    }

    /// `value` as 16 lowercase hex digits.
    func append(hex value: UInt64) {
        reserve(16)
        for i in 0..<16 {
            let nibble = UInt8((value >> UInt64(60 - 4 * i)) & 0xF)
            storage.storeBytes(of: nibble < 10 ? 48 + nibble : 87 + nibble, toByteOffset: count + i, as: UInt8.self)
        }
        count += 16
    }

    func removeAll() { count = 0 }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage, count: count))
    }

    var data: Data { Data(bytes: storage, count: count) }

    func write(to path: String) throws {
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// The same mixer as SplitMix64: a deterministic, well-spread value per input, so every test line
/// can be regenerated from its coordinates when checking the output.
func mix(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A small deterministic random source for chunk sizes and choices in test inputs.
struct SeededRandom: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return mix(state)
    }
}

extension UnsafeRawBufferPointer {
    /// Calls `body` with each newline-terminated line (without its newline) and returns the
    /// bytes after the last newline (empty when the buffer ends with one).
    @discardableResult
    func forEachLine(_ body: (UnsafeRawBufferPointer) -> Void) -> UnsafeRawBufferPointer {
        guard let base = baseAddress else { return self }
        var start = 0
        while start < count, let newline = memchr(base + start, 0x0A, count - start) {
            let end = base.distance(to: UnsafeRawPointer(newline))
            body(UnsafeRawBufferPointer(start: base + start, count: end - start))
            start = end + 1
        }
        return UnsafeRawBufferPointer(start: base + start, count: count - start)
    }

    func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        count == other.count && (count == 0 || memcmp(baseAddress!, other.baseAddress!, count) == 0)
    }
}

extension Data {
    /// Index (from 1) and text of the first line where `self` and `expected` differ, for messages.
    func firstDifferingLine(from expected: Data) -> String {
        withUnsafeBytes { got in
            expected.withUnsafeBytes { want in
                var gotRest = got, wantRest = want
                var index = 1
                while !gotRest.isEmpty || !wantRest.isEmpty {
                    let (gotLine, gotNext) = gotRest.splitFirstLine()
                    let (wantLine, wantNext) = wantRest.splitFirstLine()
                    if !gotLine.equals(wantLine) || gotRest.isEmpty != wantRest.isEmpty {
                        func show(_ line: UnsafeRawBufferPointer, _ rest: UnsafeRawBufferPointer) -> String {
                            rest.isEmpty ? "<missing>" : "\(String(decoding: line.prefix(200), as: UTF8.self)) (\(line.count) bytes)"
                        }
                        return "line \(index): got \(show(gotLine, gotRest)), expected \(show(wantLine, wantRest)); \(got.count) vs \(want.count) bytes"
                    }
                    gotRest = gotNext
                    wantRest = wantNext
                    index += 1
                }
                return "no differing line"
            }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The first line (without its newline) and what follows it.
    func splitFirstLine() -> (line: UnsafeRawBufferPointer, rest: UnsafeRawBufferPointer) {
        guard let base = baseAddress, let newline = memchr(base, 0x0A, count) else {
            return (self, UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let end = base.distance(to: UnsafeRawPointer(newline))
        return (UnsafeRawBufferPointer(start: base, count: end), UnsafeRawBufferPointer(start: base + end + 1, count: count - end - 1))
    }
}

/// `#expect(a == b)` on two large outputs would, on failure, diff them element by element for
/// minutes; this compares with memcmp and reports the first differing line instead.
func expectSameBytes(_ got: Data, _ expected: Data, sourceLocation: SourceLocation = #_sourceLocation) {
    let same = got == expected
    #expect(same, "\(got.firstDifferingLine(from: expected))", sourceLocation: sourceLocation)
}
