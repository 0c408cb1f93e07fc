import Foundation

/// One production-shaped JSON log line after another, from a fixed seed (`sluice bench`'s
/// realistic corpus, see `BenchData.ensureRealisticFile`).
struct RealisticLogLine {
    static let minLineBytes = 500
    static let maxLineBytes = 12_000
    static let maxTopLevelFields = 140
    static let maxDepth = 5

    private var state: UInt64
    private var line: [UInt8] = []
    private var field: [UInt8] = []

    init(seed: UInt64) {
        state = seed | 1
        line.reserveCapacity(Self.maxLineBytes + 1)
        field.reserveCapacity(Self.maxLineBytes)
    }

    // Words as they appear in logs: ASCII, Latin accents, Cyrillic, CJK, emoji.
    private static let words: [[UInt8]] = [
        "request", "user", "timeout", "GET", "POST", "/api/v1/orders", "payment", "ошибка", "пользователь", "запрос",
        "服务", "请求", "超时", "ユーザー", "😀", "🚀", "café", "naïve", "Zürich", "ok", "failed", "retry", "db", "cache",
        "connection", "refused", "status=503", "latency_ms", "trace", "span", "Überweisung", "réseau", "数据库", "🔥",
    ].map { Array($0.utf8) }
    private static let levels = ["debug", "info", "warn", "error"].map { Array($0.utf8) }
    private static let services = ["checkout", "auth", "search", "billing", "gateway", "inventory"].map { Array($0.utf8) }

    private mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    private mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    private mutating func within(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
    private mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    /// Appends one line and its newline.
    mutating func append(to out: inout [UInt8]) {
        // Sizes spread like real logs: many short lines, a long tail (exponential, mean ~3 KB).
        let uniform = Double(next() >> 11 | 1) / Double(1 << 53)
        let extra = min(Double(Self.maxLineBytes - 1_000 - Self.minLineBytes), -log(uniform) * 2_600)
        let target = Self.minLineBytes + Int(extra)
        line.removeAll(keepingCapacity: true)
        put("{\"ts\":\"2026-12-04T10:")
        putNumber(below(60), width: 2)
        put(":")
        putNumber(below(60), width: 2)
        put(".")
        putNumber(below(1_000_000), width: 6)
        put("Z\",\"level\":\"")
        line += Self.levels[below(Self.levels.count)]
        put("\",\"service\":\"")
        line += Self.services[below(Self.services.count)]
        put("\",\"user\":\"u")
        putNumber(below(100_000), width: 1)
        put("\",\"message\":")
        var message = [UInt8]()
        putText(words: within(3...30), into: &message)
        line += message
        let fields = within(5...max(5, min(Self.maxTopLevelFields, target / 60)))
        var count = 5
        // Each further member is built apart and kept only if the line stays within the limit.
        while count < fields || (line.count < target && count < Self.maxTopLevelFields) {
            field.removeAll(keepingCapacity: true)
            let filler = count >= fields
            field += Array((filler ? ",\"extra\(count)\":" : ",\"f\(count)_").utf8)
            if !filler {
                field += Self.words[below(10)]
                field += Array("\":".utf8)
            }
            var value = [UInt8]()
            if filler { putText(words: within(10...60), into: &value) } else { putValue(depth: 1, into: &value) }
            field += value
            guard line.count + field.count + 2 <= Self.maxLineBytes else { break }
            line += field
            count += 1
        }
        put("}\n")
        out += line
    }

    private mutating func put(_ text: StaticString) {
        text.withUTF8Buffer { line += $0 }
    }

    private mutating func putNumber(_ value: Int, width: Int) {
        let digits = Array(String(value).utf8)
        if digits.count < width { line += [UInt8](repeating: 0x30, count: width - digits.count) }
        line += digits
    }

    /// A JSON string of `words` words, some with escapes.
    private mutating func putText(words: Int, into out: inout [UInt8]) {
        out.append(0x22)
        for index in 0..<words {
            if index > 0 { out.append(0x20) }
            let word = Self.words[below(Self.words.count)]
            switch below(100) {
            case 0..<5: out += word; out += [0x5C, 0x6E]  // \n
            case 5..<8: out += word; out += [0x5C, 0x74]  // \t
            case 8..<11: out += [0x5C, 0x22]; out += word; out += [0x5C, 0x22]  // \"word\"
            case 11..<13: out += word; out += [0x5C, 0x5C]  // \\
            case 13: out += [0x5C, 0x75, 0x30, 0x30, 0x65, 0x39]; out += word  // \u00e9
            default: out += word
            }
        }
        out.append(0x22)
    }

    private mutating func putValue(depth: Int, into out: inout [UInt8]) {
        let r = below(100)
        if depth < Self.maxDepth && r < 12 {
            out.append(0x7B)
            for index in 0..<within(1...4) {
                if index > 0 { out.append(0x2C) }
                out += Array("\"k\(index)_".utf8) + Self.words[below(6)] + Array("\":".utf8)
                putValue(depth: depth + 1, into: &out)
            }
            out.append(0x7D)
        } else if depth < Self.maxDepth && r < 20 {
            out.append(0x5B)
            for index in 0..<below(5) {
                if index > 0 { out.append(0x2C) }
                putValue(depth: depth + 1, into: &out)
            }
            out.append(0x5D)
        } else if r < 35 {
            out += Array(String(Int(next() % 1_000_000_000) - 1_000_000).utf8)
        } else if r < 42 {
            out += Array(String(format: "%.3f", Double(Int(next() % 20_000_000)) / 1000 - 10_000).utf8)
        } else if r < 44 {
            out += Array("\(within(1...9)).\(below(1000))e\(chance(50) ? "-" : "+")\(within(1...30))".utf8)
        } else if r < 49 {
            out += Array(["true", "false", "null"][below(3)].utf8)
        } else {
            putText(words: within(1...12), into: &out)
        }
    }
}
