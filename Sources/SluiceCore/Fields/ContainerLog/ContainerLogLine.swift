import Glibc

/// One line of a container log file as a runtime writes it, located (not copied): the CRI
/// format of containerd and CRI-O (`TIME STREAM TAGS LOG`, tags `F` or `P` for a line the
/// runtime split) or Docker's json-file (`{"log":"text\n","stream":"stdout","time":"…"}`, a
/// `log` without the final `\n` for a line Docker split). The `k8s` input and `decode
/// format=cri` read lines through it.
public struct ContainerLogLine: Equatable {
    public enum Format: UInt8 { case cri, docker }
    public enum Stream: Int { case stdout = 0, stderr = 1 }

    public var format: Format
    public var stream: Stream
    /// The runtime split the line: the rest follows in the next line of the same stream.
    public var partial: Bool
    /// The time as written (Docker: the JSON string's contents, still escaped).
    public var time: Range<Int>
    /// The message (CRI: the bytes as written; Docker: the JSON string's contents, still
    /// escaped, without the final `\n`).
    public var log: Range<Int>

    /// A line neither format reads, and why (the reason goes into `parse_error`).
    public enum Parsed: Equatable {
        case line(ContainerLogLine)
        case malformed(reason: StaticString)

        public static func == (a: Parsed, b: Parsed) -> Bool {
            switch (a, b) {
            case (.line(let x), .line(let y)): x == y
            case (.malformed(let x), .malformed(let y)): x.description == y.description
            default: false
            }
        }
    }

    /// Index entries a Docker line is scanned into: its members are `log`, `stream`, `time`
    /// and sometimes `attrs`; more are allowed, only these are looked at.
    public static let dockerFieldCapacity = 8
    /// The longest time a line may carry (RFC 3339 with nanoseconds and an offset takes 35).
    public static let maxTimeBytes = 64

    /// Reads `line` (without its newline) in the format its first byte names: `{` Docker,
    /// anything else CRI. `fields`: `dockerFieldCapacity` entries of scratch.
    public static func parse(_ line: UnsafeRawBufferPointer, fields: UnsafeMutablePointer<FieldEntry>) -> Parsed {
        if line.first == UInt8(ascii: "{") { return parseDocker(line, fields: fields) }
        return parseCRI(line)
    }

    /// `TIME STREAM TAGS LOG`: TIME starts with a digit and is printable ASCII without `"` or
    /// `\`, STREAM is stdout or stderr, TAGS are
    /// capital letters and `:` (the line is partial when one is `P`); LOG is everything after
    /// the space that ends TAGS (empty when the line ends with TAGS).
    public static func parseCRI(_ line: UnsafeRawBufferPointer) -> Parsed {
        let n = line.count
        var i = 0
        @inline(__always) func word() -> Range<Int>? {
            let start = i
            while i < n && line[i] != 32 { i += 1 }
            return i > start ? start..<i : nil
        }
        guard let time = word(), i < n, line[time.lowerBound] &- 48 < 10 else { return .malformed(reason: "not a CRI log line (TIME STREAM TAGS LOG)") }
        guard time.count <= maxTimeBytes else { return .malformed(reason: "time longer than 64 bytes") }
        // RFC 3339 is digits, `-`, `:`, `T`, `Z`, `.`, `+`: nothing a JSON string escapes.
        for k in time where line[k] < 0x21 || line[k] > 0x7E || line[k] == 0x22 || line[k] == 0x5C {
            return .malformed(reason: "CRI time is not printable ASCII")
        }
        i += 1
        guard let streamRange = word(), i < n else { return .malformed(reason: "not a CRI log line (TIME STREAM TAGS LOG)") }
        guard let stream = Self.stream(UnsafeRawBufferPointer(rebasing: line[streamRange])) else {
            return .malformed(reason: "CRI stream is neither stdout nor stderr")
        }
        i += 1
        guard let tags = word() else { return .malformed(reason: "CRI line without tags (F or P)") }
        var partial = false
        for k in tags {
            let c = line[k]
            if c == UInt8(ascii: "P") { partial = true } else if c != UInt8(ascii: ":") && !(c >= 65 && c <= 90) {
                return .malformed(reason: "CRI tags are not F or P")
            }
        }
        let logStart = min(i + 1, n)
        return .line(ContainerLogLine(format: .cri, stream: stream, partial: partial, time: time, log: logStart..<n))
    }

    /// A JSON object with string members `log`, `stream` (stdout or stderr) and `time`; the
    /// whole line is validated (RFC 8259 and UTF-8), so its strings can be copied as they are.
    public static func parseDocker(_ line: UnsafeRawBufferPointer, fields: UnsafeMutablePointer<FieldEntry>) -> Parsed {
        guard case .valid(let count, _) = JSONScanner.scan(line, fields: fields, fieldCapacity: dockerFieldCapacity, maxDepth: 64) else {
            return .malformed(reason: "not valid JSON")
        }
        var log: Range<Int>?, time: Range<Int>?, stream: Stream?
        for k in 0..<count {
            let f = fields[k]
            guard f.kind == .string else { continue }
            let key = UnsafeRawBufferPointer(rebasing: line[Int(f.keyOffset)..<Int(f.keyOffset + f.keyLength)])
            // The contents between the quotes.
            let value = Int(f.valueOffset) + 1..<Int(f.valueOffset + f.valueLength) - 1
            if key.equals(Self.logKey) {
                log = value
            } else if key.equals(Self.timeKey) {
                time = value
            } else if key.equals(Self.streamKey) {
                stream = Self.stream(UnsafeRawBufferPointer(rebasing: line[value]))
                if stream == nil { return .malformed(reason: "Docker stream is neither stdout nor stderr") }
            }
        }
        guard let log, let time, let stream else { return .malformed(reason: "Docker JSON line without log, stream and time strings") }
        guard time.count <= maxTimeBytes else { return .malformed(reason: "time longer than 64 bytes") }
        let complete = endsWithNewlineEscape(UnsafeRawBufferPointer(rebasing: line[log]))
        return .line(ContainerLogLine(format: .docker, stream: stream, partial: !complete, time: time,
                                      log: log.lowerBound..<(complete ? log.upperBound - 2 : log.upperBound)))
    }

    /// Whether escaped JSON string contents end with the escape `\n` (and not with an escaped
    /// backslash followed by `n`): the backslashes before the `n` are odd in number.
    static func endsWithNewlineEscape(_ escaped: UnsafeRawBufferPointer) -> Bool {
        let n = escaped.count
        guard n >= 2, escaped[n - 1] == UInt8(ascii: "n") else { return false }
        var backslashes = 0
        var k = n - 2
        while k >= 0 && escaped[k] == UInt8(ascii: "\\") {
            backslashes += 1
            k -= 1
        }
        return backslashes & 1 == 1
    }

    static func stream(_ name: UnsafeRawBufferPointer) -> Stream? {
        if name.equals(Self.stdoutName) { return .stdout }
        if name.equals(Self.stderrName) { return .stderr }
        return nil
    }

    static let logKey: StaticString = "log"
    static let timeKey: StaticString = "time"
    static let streamKey: StaticString = "stream"
    static let stdoutName: StaticString = "stdout"
    static let stderrName: StaticString = "stderr"
}
