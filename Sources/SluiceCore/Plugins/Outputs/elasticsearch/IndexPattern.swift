/// An index name pattern (`logs-%Y.%m.%d`, `app-${service}-%Y.%m`): literal text, date
/// directives (`%Y` `%y` `%m` `%d` `%H` `%j`, `%%`) filled in UTC from the event's time, and
/// `${PATH}` filled with the event's field at PATH. Checked once at configuration against
/// Elasticsearch's index name rules; compiled per worker into plain memory, so rendering an
/// event's name reads no Array and allocates nothing.
struct IndexPattern {
    enum Token: Equatable {
        /// `count` bytes at `start` of the literal text.
        case literal(start: Int, count: Int)
        case year4, year2, month, day, hour, dayOfYear
        /// The value of the i-th `${PATH}`.
        case field(Int)
    }

    /// Elasticsearch's longest index name, in bytes.
    static let nameBytesLimit = 255
    /// What a `${PATH}` the event does not have (or holds null, an object or an array) becomes.
    static let missingValue: StaticString = "not_set"

    let tokens: UnsafeMutablePointer<Token>
    let tokenCount: Int
    let literals: UnsafeMutableRawPointer
    let paths: UnsafeMutablePointer<FieldPath>
    let pathCount: Int
    /// Whether any date directive is used (else no time is looked up).
    let usesTime: Bool

    /// What the configuration check found: the tokens, the literal bytes, the `${…}` paths.
    struct Compiled {
        var tokens: [Token] = []
        var literals: [UInt8] = []
        var paths: [String] = []
    }

    /// Parses and checks `text`, naming the `index` key in errors.
    static func compile(_ text: String) throws(PluginArgumentError) -> Compiled {
        var out = Compiled()
        var bytes = Array(text.utf8)[...]
        func fail(_ why: String) -> PluginArgumentError { PluginArgumentError(key: "index", "'\(text)': \(why)") }
        func literal(_ b: UInt8) {
            if case .literal(let start, let count)? = out.tokens.last {
                out.tokens[out.tokens.count - 1] = .literal(start: start, count: count + 1)
            } else {
                out.tokens.append(.literal(start: out.literals.count, count: 1))
            }
            out.literals.append(b)
        }
        while let c = bytes.popFirst() {
            if c == 36, bytes.first == 123 {  // ${PATH}
                bytes.removeFirst()
                guard let close = bytes.firstIndex(of: 125) else { throw fail("${ without its closing }") }
                let path = String(decoding: bytes[bytes.startIndex..<close], as: UTF8.self)
                do { try FieldPath(path).dispose() } catch { throw fail("${\(path)}: \(error.message)") }
                out.tokens.append(.field(out.paths.count))
                out.paths.append(path)
                bytes = bytes[(close + 1)...]
                continue
            }
            guard c == 37 else {
                if c >= 65 && c <= 90 { throw fail("index names are lower case") }
                if c <= 32 || c == 127 || isForbidden(c) {
                    throw fail("'\(Character(Unicode.Scalar(c)))' is not allowed in an index name (nor \\ / * ? \" < > | , # : space)")
                }
                literal(c)
                continue
            }
            guard let d = bytes.popFirst() else { throw fail("ends with a lone %") }
            switch d {
            case UInt8(ascii: "Y"): out.tokens.append(.year4)
            case UInt8(ascii: "y"): out.tokens.append(.year2)
            case UInt8(ascii: "m"): out.tokens.append(.month)
            case UInt8(ascii: "d"): out.tokens.append(.day)
            case UInt8(ascii: "H"): out.tokens.append(.hour)
            case UInt8(ascii: "j"): out.tokens.append(.dayOfYear)
            case 37: throw fail("%% would put a % in the name, which Elasticsearch forbids")
            default: throw fail("unknown directive %\(Character(Unicode.Scalar(d))) (known: %Y %y %m %d %H %j, and ${PATH})")
            }
        }
        guard !out.tokens.isEmpty else { throw fail("empty") }
        if case .literal(let start, _) = out.tokens[0], [45, 95, 43, 46].contains(out.literals[start]) {
            throw fail("an index name may not start with - _ + or .")
        }
        return out
    }

    init(_ text: String) {
        let compiled = try! IndexPattern.compile(text)
        tokenCount = compiled.tokens.count
        tokens = .allocate(capacity: tokenCount)
        tokens.initialize(from: compiled.tokens, count: tokenCount)
        literals = .allocate(byteCount: max(compiled.literals.count, 1), alignment: 1)
        literals.copyMemory(from: compiled.literals, byteCount: compiled.literals.count)
        pathCount = compiled.paths.count
        paths = .allocate(capacity: max(pathCount, 1))
        for (i, p) in compiled.paths.enumerated() { (paths + i).initialize(to: try! FieldPath(p)) }
        usesTime = compiled.tokens.contains { if case .literal = $0 { false } else if case .field = $0 { false } else { true } }
    }

    func dispose() {
        tokens.deallocate()
        literals.deallocate()
        for i in 0..<pathCount { paths[i].dispose() }
        paths.deallocate()
    }

    /// The civil date and hour the directives read.
    struct DateParts: Equatable {
        var year = 1970, month = 1, day = 1, hour = 0, dayOfYear = 1

        init() {}

        init(seconds: Int64) {
            let (days, secondOfDay) = Civil.split(seconds)
            let date = Civil.date(days: days)
            year = Int(date.year)
            month = date.month
            day = date.day
            hour = Int(secondOfDay / 3600)
            dayOfYear = Int(days - Civil.days(year: date.year, month: 1, day: 1)) + 1
        }
    }

    /// Writes the event's index name at `out` (room for `nameBytesLimit`); nil when it would be
    /// longer (Elasticsearch would refuse it).
    func render(_ event: Event, date: DateParts, into out: UnsafeMutableRawPointer) -> Int? {
        var w = NameWriter(out: out)
        for t in 0..<tokenCount {
            switch tokens[t] {
            case .literal(let start, let count): w.put(UnsafeRawBufferPointer(start: literals + start, count: count))
            case .year4: w.put(digits: date.year, width: 4)
            case .year2: w.put(digits: date.year % 100, width: 2)
            case .month: w.put(digits: date.month, width: 2)
            case .day: w.put(digits: date.day, width: 2)
            case .hour: w.put(digits: date.hour, width: 2)
            case .dayOfYear: w.put(digits: date.dayOfYear, width: 3)
            case .field(let i): putField(event, paths[i], into: &w)
            }
            if w.over { return nil }
        }
        return w.count
    }

    /// Writes a name within `nameBytesLimit`, noting when it would pass it.
    struct NameWriter {
        let out: UnsafeMutableRawPointer
        var count = 0
        var over = false

        @inline(__always) mutating func put(_ b: UInt8) {
            guard count < IndexPattern.nameBytesLimit else { over = true; return }
            out.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
            count += 1
        }

        mutating func put(_ bytes: UnsafeRawBufferPointer) {
            guard count + bytes.count <= IndexPattern.nameBytesLimit else { over = true; return }
            if bytes.count > 0 { (out + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            count += bytes.count
        }

        mutating func put(digits value: Int, width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                put(UInt8(48 + value / divisor % 10))
                divisor /= 10
            }
        }
    }

    /// A field's value as index name bytes: a string's bytes (escapes as they are), a number or
    /// a boolean as written; upper case lowered, forbidden bytes as `_`. Missing, null, an
    /// object or an array: `not_set`.
    private func putField(_ event: Event, _ path: FieldPath, into w: inout NameWriter) {
        var value = UnsafeRawBufferPointer(start: Self.missingValue.utf8Start, count: Self.missingValue.utf8CodeUnitCount)
        if let (raw, kind) = EventEditor.read(event, path) {
            switch kind {
            case .string where raw.count >= 2: value = UnsafeRawBufferPointer(rebasing: raw.dropFirst().dropLast())
            case .number, .trueLiteral, .falseLiteral: value = raw
            default: break
            }
        }
        for var b in value {
            if b >= 65 && b <= 90 { b += 32 } else if b <= 32 || b == 127 || Self.isForbidden(b) { b = 95 }
            w.put(b)
        }
    }

    /// Bytes Elasticsearch forbids in index names besides upper case, controls and space:
    /// `\ / * ? " < > | , #` and `:` (deprecated).
    @inline(__always) static func isForbidden(_ b: UInt8) -> Bool {
        switch b {
        case 92, 47, 42, 63, 34, 60, 62, 124, 44, 35, 58: true
        default: false
        }
    }
}
