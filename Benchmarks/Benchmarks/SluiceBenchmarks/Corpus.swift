import Glibc

/// Deterministic NDJSON log lines of 100 B–2 KiB (log-uniform lengths, mean ≈ 640 B), shaped
/// like application logs: timestamp, level, type, optional service/host/trace/user/request
/// members, and a message padded to the drawn length. About one line in eight has escapes in
/// its message; a quarter of the lines have `"type":"view"` (what the pipeline benchmark drops).
struct Corpus {
    /// The lines back to back, each followed by a newline.
    let bytes: UnsafeMutableRawBufferPointer
    /// (offset, length without the newline) of every line.
    let lines: UnsafeMutableBufferPointer<(offset: Int, length: Int)>

    static let minLineBytes = 100
    static let maxLineBytes = 2048

    /// Whole lines until the next one would pass `maxBytes`, or exactly `lineCount` lines.
    init(maxBytes: Int = .max, lineCount: Int = .max, seed: UInt64 = 42) {
        precondition(maxBytes != .max || lineCount != .max)
        var random = SplitMix64(seed: seed)
        var text: [UInt8] = []
        var ranges: [(offset: Int, length: Int)] = []
        while ranges.count < lineCount {
            let line = Corpus.line(&random)
            if text.count + line.count + 1 > maxBytes { break }
            ranges.append((text.count, line.count))
            text += line
            text.append(10)
        }
        bytes = .allocate(byteCount: text.count, alignment: 64)
        bytes.copyBytes(from: text)
        lines = .allocate(capacity: ranges.count)
        _ = lines.initialize(from: ranges)
    }

    var lineCount: Int { lines.count }

    func line(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[lines[i].offset..<lines[i].offset + lines[i].length])
    }

    static let levels = ["debug", "info", "info", "info", "warn", "error"]
    static let types = ["view", "click", "purchase", "login", "search", "view", "api", "logout"]
    static let services = ["checkout", "catalog", "auth", "search", "gateway"]
    static let words = ["request", "handled", "user", "session", "cache", "miss", "upstream", "timeout",
                        "retry", "payload", "accepted", "order", "item", "latency", "slow", "query"]

    static func line(_ random: inout SplitMix64) -> [UInt8] {
        // Log-uniform between the bounds: many short lines, a tail of long ones.
        let ratio = Double(maxLineBytes) / Double(minLineBytes)
        let target = Int(Double(minLineBytes) * pow(ratio, random.unit()))
        let ms = random.next() % 1000
        let second = random.next() % 60
        var s = #"{"ts":"2025-03-14T09:26:\#(pad(second, 2)).\#(pad(ms, 3))Z","level":"\#(random.pick(levels))","type":"\#(random.pick(types))""#
        let optional = [
            #","service":"\#(random.pick(services))""#,
            #","host":"node-\#(pad(random.next() % 64, 2))""#,
            #","status":\#([200, 200, 201, 304, 404, 500][Int(random.next() % 6)]),"latency_ms":\#(random.next() % 900).\#(pad(random.next() % 100, 2))"#,
            #","trace_id":"\#(hex(random.next()))\#(hex(random.next()))""#,
            #","user":{"id":\#(random.next() % 100_000),"country":"DE","plan":"pro","beta":false}"#,
            #","request":{"method":"GET","path":"/api/v2/items/\#(random.next() % 10_000)","headers":{"accept":"application/json","x-retry":0}}"#,
            #","tags":["web","\#(random.pick(services))",null,3.25e2]"#,
        ]
        for member in optional where s.utf8.count + member.utf8.count + 20 <= target { s += member }
        s += #","msg":""#
        if random.next() % 8 == 0 { s += #"said \"hello\"\n\tcaf\u00e9 "# }
        while s.utf8.count + 2 < target { s += random.pick(words) + " " }
        s += "\"}"
        return Array(s.utf8)
    }

    static func pad(_ n: UInt64, _ width: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func hex(_ n: UInt64) -> String {
        let digits = String(n, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// A small fixed-seed generator, so every run frames and parses the same bytes.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    mutating func pick(_ from: [String]) -> String { from[Int(next() % UInt64(from.count))] }
}
