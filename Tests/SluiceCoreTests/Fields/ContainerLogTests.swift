import Foundation
import Testing

@testable import SluiceCore

/// Parses `text` as a container log line.
private func parse(_ text: String) -> ContainerLogLine.Parsed {
    let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: ContainerLogLine.dockerFieldCapacity)
    defer { fields.deallocate() }
    return Array(text.utf8).withUnsafeBytes { ContainerLogLine.parse($0, fields: fields) }
}

/// The parts of a parsed line as text (time and log as written in the line).
private func parts(_ text: String) -> (time: String, stream: ContainerLogLine.Stream, partial: Bool, log: String, format: ContainerLogLine.Format)? {
    guard case .line(let l) = parse(text) else { return nil }
    let b = Array(text.utf8)
    return (String(decoding: b[l.time], as: UTF8.self), l.stream, l.partial, String(decoding: b[l.log], as: UTF8.self), l.format)
}

private func reason(_ text: String) -> String? {
    guard case .malformed(let r) = parse(text) else { return nil }
    return r.description
}

/// Escapes `bytes` into room for `capacity` bytes.
private func escape(_ bytes: [UInt8], capacity: Int) -> (text: [UInt8], consumed: Int) {
    let out = UnsafeMutableRawPointer.allocate(byteCount: max(capacity, 1), alignment: 1)
    defer { out.deallocate() }
    let r = bytes.withUnsafeBytes { JSONEscaper.escapeAnyBytes($0, into: out, capacity: capacity) }
    return (Array(UnsafeRawBufferPointer(start: out, count: r.written)), r.consumed)
}

/// The JSON text of a record written with room for `capacity` bytes.
private func write(_ record: (time: String, stream: ContainerLogLine.Stream, log: [UInt8], escaped: Bool), members: String = "",
                   capacity: Int = 4096) -> (json: String, cut: Bool)? {
    let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
    defer { out.deallocate() }
    let time = Array(record.time.utf8), m = Array(members.utf8)
    let written = time.withUnsafeBytes { t in
        record.log.withUnsafeBytes { l in
            m.withUnsafeBytes { m in
                ContainerLogJSON.write(.init(time: t, stream: record.stream, log: l, escaped: record.escaped), members: m, into: out, capacity: capacity)
            }
        }
    }
    guard case .wrote(let n, let cut) = written else { return nil }
    return (String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self), cut)
}

private func object(_ json: String) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
}

@Suite struct ContainerLogLineTests {
    @Test func aCRILineGivesItsTimeStreamTagAndMessage() throws {
        let full = try #require(parts("2024-05-01T10:00:00.123456789Z stdout F hello world"))
        #expect(full.time == "2024-05-01T10:00:00.123456789Z" && full.stream == .stdout && !full.partial && full.log == "hello world" && full.format == .cri)
        let split = try #require(parts("2024-05-01T10:00:00Z stderr P first half "))
        #expect(split.stream == .stderr && split.partial && split.log == "first half ")
        // Tags may carry more than F or P (the CRI format allows `:`-separated tags).
        #expect(parts("2024-05-01T10:00:00Z stdout P:X x")?.partial == true)
    }

    @Test func aCRILineWithAnEmptyMessageParsesWithOrWithoutTheSpaceAfterTheTag() throws {
        #expect(parts("2024-05-01T10:00:00Z stdout F ")?.log == "")
        #expect(parts("2024-05-01T10:00:00Z stdout F")?.log == "")
        #expect(parts("2024-05-01T10:00:00Z stdout F  two spaces")?.log == " two spaces")
    }

    @Test(arguments: [
        ("hello world foo bar", "not a CRI log line (TIME STREAM TAGS LOG)"),
        ("2024-05-01T10:00:00Z", "not a CRI log line (TIME STREAM TAGS LOG)"),
        ("2024-05-01T10:00:00Z stdin F x", "CRI stream is neither stdout nor stderr"),
        ("2024-05-01T10:00:00Z stdout", "not a CRI log line (TIME STREAM TAGS LOG)"),
        ("2024-05-01T10:00:00Z stdout f x", "CRI tags are not F or P"),
        ("", "not a CRI log line (TIME STREAM TAGS LOG)"),
        (String(repeating: "1", count: 65) + " stdout F x", "time longer than 64 bytes"),
        ("2024-05-01T10:00:00\"Z stdout F x", "CRI time is not printable ASCII"),
        ("2024-05-01T10:00:00\u{01}Z stdout F x", "CRI time is not printable ASCII"),
    ])
    func aLineInNeitherFormatSaysWhy(_ line: String, _ why: String) {
        #expect(reason(line) == why)
    }

    @Test func aDockerLineGivesItsEscapedMessageWithoutTheFinalNewline() throws {
        let l = try #require(parts(#"{"log":"say \"hi\"\n","stream":"stdout","time":"2024-05-01T10:00:00.1Z"}"#))
        #expect(l.format == .docker && !l.partial && l.log == #"say \"hi\""# && l.time == "2024-05-01T10:00:00.1Z")
        // Docker splits lines over 16 KiB: a log without its final \n is continued by the next one.
        let split = try #require(parts(#"{"log":"part","stream":"stderr","time":"t","attrs":{"k":"v"}}"#))
        #expect(split.partial && split.stream == .stderr && split.log == "part")
        // An escaped backslash followed by n is not a newline.
        #expect(parts(#"{"log":"a\\n","stream":"stdout","time":"t"}"#)?.partial == true)
        #expect(parts(#"{"log":"a\\\n","stream":"stdout","time":"t"}"#)?.log == #"a\\"#)
        // Members in any order.
        #expect(parts(#"{"time":"t","stream":"stdout","log":"x\n"}"#)?.log == "x")
    }

    @Test(arguments: [
        (#"{"log":"x\n","stream":"stdout""#, "not valid JSON"),
        (#"{"log":"x\q","stream":"stdout","time":"t"}"#, "not valid JSON"),
        (#"{"log":"x\n","stream":"stdin","time":"t"}"#, "Docker stream is neither stdout nor stderr"),
        (#"{"log":"x\n","time":"t"}"#, "Docker JSON line without log, stream and time strings"),
        (#"{"log":1,"stream":"stdout","time":"t"}"#, "Docker JSON line without log, stream and time strings"),
    ])
    func aDockerLineThatIsNotOneSaysWhy(_ line: String, _ why: String) {
        #expect(reason(line) == why)
    }
}

@Suite struct ContainerLogJSONTests {
    @Test func aRecordIsWrittenWithItsMembersAndParsesBack() throws {
        let written = try #require(write(("2024-05-01T10:00:00Z", .stderr, Array("tab\there \"q\" back\\slash ü €".utf8), false),
                                         members: #","pod":"p""#))
        #expect(!written.cut)
        let f = try object(written.json)
        #expect(f["time"] as? String == "2024-05-01T10:00:00Z")
        #expect(f["stream"] as? String == "stderr")
        #expect(f["log"] as? String == "tab\there \"q\" back\\slash ü €")
        #expect(f["pod"] as? String == "p")
        #expect(written.json.hasPrefix(#"{"time":"2024-05-01T10:00:00Z","stream":"stderr","log":"tab\there \"q\" back\\slash ü €","pod":"p"}"#))
    }

    @Test func controlBytesAndBytesThatAreNotUTF8AreEscapedOrReplaced() throws {
        let log: [UInt8] = [0x01, 0x1F, 0x7F, 0x0D, 0x0A, 0x08, 0x0C, 0xC3, 0x28, 0xFF, 0xE2, 0x82, 0x41]
        let written = try #require(write(("t", .stdout, log, false)))
        #expect(written.json.contains(#""log":"\u0001\u001f"# + "\u{7F}" + #"\r\n\b\f"# + "\u{FFFD}(\u{FFFD}\u{FFFD}\u{FFFD}A\""), "\(written.json)")
        let f = try object(written.json)
        #expect(f["log"] as? String == "\u{01}\u{1F}\u{7F}\r\n\u{08}\u{0C}\u{FFFD}(\u{FFFD}\u{FFFD}\u{FFFD}A")
    }

    @Test func anEscapedMessageIsCopiedAsItIs() throws {
        let written = try #require(write(("2024", .stdout, Array(#"say \"hi\" \u00e9 \\"#.utf8), true)))
        #expect(try object(written.json)["log"] as? String == #"say "hi" é \"#)
    }

    @Test func aMessageTooLongIsCutBetweenCharactersAndFlagged() throws {
        let log = Array(String(repeating: "é\"", count: 200).utf8)
        for capacity in 120..<200 {
            let raw = try #require(write(("t", .stdout, log, false), members: #","pod":"p""#, capacity: capacity), "capacity \(capacity)")
            #expect(raw.cut && raw.json.utf8.count <= capacity)
            let f = try object(raw.json)
            #expect(f["cut"] as? Bool == true && f["pod"] as? String == "p")
            let escaped = Array(String(repeating: #"é\"\u00e9"#, count: 50).utf8)
            let docker = try #require(write(("t", .stdout, escaped, true), capacity: capacity), "capacity \(capacity)")
            #expect(docker.cut && docker.json.utf8.count <= capacity)
            _ = try object(docker.json)
        }
        #expect(write(("t", .stdout, log, false), capacity: 40) == nil, "no room for the record without its message")
    }

    @Test func anUnparsedLineIsKeptWholeWithItsReason() throws {
        let out = UnsafeMutableRawPointer.allocate(byteCount: 512, alignment: 1)
        defer { out.deallocate() }
        let line = Array("garbage \"line\"\u{01}".utf8), members = Array(#","pod":"p""#.utf8)
        let written = line.withUnsafeBytes { l in
            members.withUnsafeBytes { m in ContainerLogJSON.writeUnparsed(l, reason: "not valid JSON", members: m, into: out, capacity: 512) }
        }
        guard case .wrote(let n, false) = written else { Issue.record("\(written)"); return }
        let f = try object(String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self))
        #expect(f["log"] as? String == "garbage \"line\"\u{01}" && f["parse_error"] as? String == "not valid JSON" && f["pod"] as? String == "p")
    }
}

@Suite struct JSONEscaperCuttingTests {
    @Test func everyCapacityCutsBetweenCharacters() throws {
        let text = Array("aé€😀\"\n\u{01}z".utf8) + [0xFF, 0x41]
        let whole = escape(text, capacity: 1000)
        #expect(whole.consumed == text.count)
        #expect(String(decoding: whole.text, as: UTF8.self) == "aé€😀\\\"\\n\\u0001z\u{FFFD}A")
        for capacity in 0..<whole.text.count {
            let cut = escape(text, capacity: capacity)
            #expect(cut.consumed < text.count && cut.text.count <= capacity)
            #expect(Array(whole.text.prefix(cut.text.count)) == cut.text, "capacity \(capacity)")
            #expect(String(validating: cut.text, as: UTF8.self) != nil, "capacity \(capacity)")
        }
    }

    @Test func anEscapedTextIsCutOnlyBetweenEscapesAndSequences() {
        let escaped = Array(#"a\n\u00e9é\\"#.utf8)
        let boundaries = escaped.withUnsafeBytes { e in (0...escaped.count).map { JSONEscaper.escapedPrefixLength(e, atMost: $0) } }
        // a | \n | \u00e9 | é (2 bytes) | \\
        #expect(boundaries == [0, 1, 1, 3, 3, 3, 3, 3, 3, 9, 9, 11, 11, 13])
    }

    /// Random texts of plain bytes, specials, UTF-8 sequences and bytes that are not UTF-8,
    /// against a byte-by-byte reference, whole and cut at every capacity.
    @Test func randomTextsMatchAByteByByteReferenceWholeAndCut() {
        var random = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = [Array("abcdefgh".utf8), [34], [92], [10], [1], [0x7F], Array("é".utf8), Array("€".utf8), Array("😀".utf8),
                                 [0xFF], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], Array(String(repeating: "x", count: 20).utf8)]
        for _ in 0..<3000 {
            var text: [UInt8] = []
            for _ in 0..<Int.random(in: 0...30, using: &random) { text += pieces.randomElement(using: &random)! }
            let expected = referenceEscape(text)
            let whole = escape(text, capacity: expected.count + 64)
            #expect(whole.text == expected && whole.consumed == text.count, "\(text)")
            let capacity = Int.random(in: 0...max(0, expected.count), using: &random)
            let cut = escape(text, capacity: capacity)
            #expect(cut.text.count <= capacity && Array(expected.prefix(cut.text.count)) == cut.text, "\(text) at \(capacity)")
            #expect(String(validating: cut.text, as: UTF8.self) != nil)
            #expect(cut.consumed == text.count || cut.text.count > capacity - 6, "cut only when the next character does not fit")
        }
    }

    /// One character at a time: what `escapeAnyBytes` must write.
    private func referenceEscape(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < text.count {
            let b = text[i]
            switch b {
            case 34: out += Array(#"\""#.utf8)
            case 92: out += Array(#"\\"#.utf8)
            case 10: out += Array(#"\n"#.utf8)
            case 13: out += Array(#"\r"#.utf8)
            case 9: out += Array(#"\t"#.utf8)
            case 8: out += Array(#"\b"#.utf8)
            case 12: out += Array(#"\f"#.utf8)
            case 0..<32: out += Array(String(format: "\\u%04x", b).utf8)
            case 0..<128: out.append(b)
            default:
                let length = text.withUnsafeBytes { UTF8Validation.sequenceLength($0.baseAddress! + i, available: text.count - i) }
                if length == 0 {
                    out += [0xEF, 0xBF, 0xBD]
                } else {
                    out += text[i..<i + length]
                    i += length
                    continue
                }
            }
            i += 1
        }
        return out
    }

    @Test func longPlainStretchesAroundSpecialsAreCopiedWhole() {
        let text = Array(String(repeating: "abcdefghij", count: 20).utf8) + [34] + Array(String(repeating: "ü", count: 40).utf8)
        let r = escape(text, capacity: 1000)
        #expect(r.consumed == text.count)
        #expect(r.text == Array(String(repeating: "abcdefghij", count: 20).utf8) + [92, 34] + Array(String(repeating: "ü", count: 40).utf8))
    }
}
