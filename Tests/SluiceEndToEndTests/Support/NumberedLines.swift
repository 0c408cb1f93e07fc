import Foundation
import Glibc

/// JSON lines that carry their own number and a checksum of it, for tests that must show every
/// line arrived however often the node was killed, stopped or cut off:
/// `{"n":N,"check":"<16 hex of mix(N)>","pad":"abcdefghijklmnopqrstuvwxyz"}`.
enum NumberedLines {
    static let prefix: StaticString = "{\"n\":"
    static let checkKey: StaticString = ",\"check\":\""
    static let suffix: StaticString = "\",\"pad\":\"abcdefghijklmnopqrstuvwxyz\"}"

    /// Line `n` with its newline.
    static func append(_ n: Int, to out: ByteBuilder) {
        out.append(prefix)
        out.append(decimal: n)
        out.append(checkKey)
        out.append(hex: mix(UInt64(n)))
        out.append(suffix)
        out.append(byte: 0x0A)
    }

    static func append(_ numbers: Range<Int>, to out: ByteBuilder) {
        for n in numbers { append(n, to: out) }
    }

    /// The bytes of lines `numbers`, newlines included.
    static func bytes(_ numbers: Range<Int>) -> ByteBuilder {
        let out = ByteBuilder(capacity: numbers.count * 80)
        append(numbers, to: out)
        return out
    }

    /// The number of `line` (without its newline) when it is exactly a numbered line; `scratch`
    /// holds the expected line while comparing.
    static func number(of line: UnsafeRawBufferPointer, scratch: ByteBuilder) -> Int? {
        let head = prefix.utf8CodeUnitCount
        guard line.count > head, memcmp(line.baseAddress!, prefix.utf8Start, head) == 0 else { return nil }
        var n = 0
        var i = head
        while i < line.count, i - head < 10, (48...57).contains(line[i]) {
            n = n * 10 + Int(line[i] - 48)
            i += 1
        }
        guard i > head, i - head == 1 || line[head] != 48 else { return nil }
        scratch.removeAll()
        append(n, to: scratch)
        let same = scratch.withBytes { line.equals(UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
        return same ? n : nil
    }
}

/// What arrived of lines 0..<expected: how often each number came, and every line that was
/// something else. A malformed line (a write cut off by a kill, then the next run's first line
/// appended to it) still counts the complete numbered line at its end.
struct NumberTally: CustomStringConvertible {
    let expected: Int
    private(set) var counts: [UInt32]
    private(set) var lines = 0
    private(set) var completeLines = 0
    private(set) var malformedLines = 0
    private(set) var firstMalformed: [String] = []
    /// Bytes after the last newline.
    private(set) var unterminatedBytes = 0
    private let scratch = ByteBuilder(capacity: 96)

    init(expected: Int) {
        self.expected = expected
        counts = [UInt32](repeating: 0, count: expected)
    }

    /// The tally of the file at `path` (nothing yet when it does not exist).
    init(file path: String, expected: Int) {
        self.init(expected: expected)
        (try? Data(contentsOf: URL(fileURLWithPath: path)))?.withUnsafeBytes { add($0) }
    }

    /// Tallies every newline-terminated line of `bytes` (one stream: a file or one connection).
    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        let rest = bytes.forEachLine { line in add(line: line) }
        unterminatedBytes += rest.count
    }

    mutating func add(_ builder: ByteBuilder) {
        builder.withBytes { add($0) }
    }

    mutating func add(line: UnsafeRawBufferPointer) {
        lines += 1
        if let n = NumberedLines.number(of: line, scratch: scratch), n < expected {
            counts[n] += 1
            completeLines += 1
            return
        }
        malformedLines += 1
        if firstMalformed.count < 5 { firstMalformed.append(String(decoding: line.prefix(160), as: UTF8.self)) }
        // A cut-off line followed by a whole one: count the whole one.
        let head = NumberedLines.prefix.utf8CodeUnitCount
        var start = 1
        while start + head < line.count, let found = memchr(line.baseAddress! + start, 0x7B, line.count - start) {
            let offset = line.baseAddress!.distance(to: UnsafeRawPointer(found))
            let candidate = UnsafeRawBufferPointer(rebasing: line[offset...])
            if let n = NumberedLines.number(of: candidate, scratch: scratch), n < expected {
                counts[n] += 1
                completeLines += 1
                return
            }
            start = offset + 1
        }
    }

    var distinct: Int { counts.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
    var missingCount: Int { expected - distinct }
    /// Complete lines beyond the first of each number.
    var duplicates: Int { completeLines - distinct }

    /// The first few missing numbers, for messages.
    var firstMissing: [Int] {
        var result: [Int] = []
        for n in 0..<expected where counts[n] == 0 {
            result.append(n)
            if result.count == 10 { break }
        }
        return result
    }

    var description: String {
        var text = "\(expected) numbered lines: \(distinct) arrived, \(missingCount) missing, \(duplicates) duplicates, "
            + "\(malformedLines) malformed line(s), \(unterminatedBytes) unterminated byte(s)"
        if missingCount > 0 { text += "; first missing: \(firstMissing)" }
        if !firstMalformed.isEmpty { text += "; first malformed: \(firstMalformed)" }
        return text
    }
}
