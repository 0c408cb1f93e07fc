import Foundation
import Testing

@testable import SluiceCore

/// Converts `message` with room for `capacity` bytes; the JSON text, or nil when it needs more room.
private func convert(_ message: [UInt8], format: SyslogFormat = .auto, capacity: Int = 8192,
                     now: Int = 1_796_000_000) -> (json: String, parsed: Bool)? {
    let input = UnsafeMutableRawBufferPointer.allocate(byteCount: max(message.count, 1), alignment: 1)
    defer { input.deallocate() }
    input.copyBytes(from: message)
    let out = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
    defer { out.deallocate() }
    switch SyslogJSON.convert(UnsafeRawBufferPointer(rebasing: input[0..<message.count]), format: format, nowSeconds: now, into: out, capacity: capacity) {
    case .wrote(let n, let parsed): return (String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self), parsed)
    case .needsRoom: return nil
    }
}

private func fields(_ message: String, format: SyslogFormat = .auto) throws -> [String: Any] {
    let result = try #require(convert(Array(message.utf8), format: format))
    return try #require(try JSONSerialization.jsonObject(with: Data(result.json.utf8)) as? [String: Any], "\(result.json)")
}

@Suite struct SyslogTests {
    @Test func anRFC5424MessageWithStructuredDataBecomesEveryField() throws {
        let f = try fields(#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut="3" eventSource="Application"][meta seq="1" q="a\"b\]c\\d"] An application event"#)
        #expect(f["timestamp"] as? String == "2003-10-11T22:14:15.003Z")
        #expect(f["hostname"] as? String == "mymachine.example.com")
        #expect(f["app_name"] as? String == "evntslog")
        #expect(f["procid"] as? String == "1234")
        #expect(f["msgid"] as? String == "ID47")
        #expect(f["facility"] as? String == "local4")
        #expect(f["severity"] as? String == "notice")
        #expect(f["message"] as? String == "An application event")
        let sd = try #require(f["structured_data"] as? [String: [String: String]])
        #expect(sd["exampleSDID@32473"] == ["iut": "3", "eventSource": "Application"])
        #expect(sd["meta"] == ["seq": "1", "q": #"a"b]c\d"#])
        #expect(f["parse_error"] == nil)
    }

    @Test func nilValuesAreNullAndAMissingMessageIsNull() throws {
        let f = try fields("<0>1 - - - - - -")
        #expect(f["timestamp"] is NSNull)
        #expect(f["hostname"] is NSNull)
        #expect(f["message"] is NSNull)
        #expect((f["structured_data"] as? [String: Any])?.isEmpty == true)
        #expect(f["facility"] as? String == "kern")
        #expect(f["severity"] as? String == "emerg")
    }

    @Test func aBOMBeforeAnRFC5424MessageIsDropped() throws {
        var bytes = Array("<13>1 2026-01-02T03:04:05+01:00 h a p m - ".utf8)
        bytes += [0xEF, 0xBB, 0xBF] + Array("héllo".utf8)
        let result = try #require(convert(bytes))
        #expect(result.parsed)
        #expect(result.json.hasSuffix(#""message":"héllo"}"#), "\(result.json)")
        #expect(result.json.contains(#""timestamp":"2026-01-02T03:04:05+01:00""#))
    }

    @Test func anRFC3164MessageGetsTheYearAndItsTagAndPID() throws {
        // now: 2026-12-01 (1_796_000_000 is 2026-11-29); a message of Dec 4 is this year's.
        let f = try fields("<34>Dec  4 18:28:13 mymachine su[231]: 'su root' failed for lonvick on /dev/pts/8")
        #expect(f["timestamp"] as? String == "2026-12-04T18:28:13Z")
        #expect(f["hostname"] as? String == "mymachine")
        #expect(f["app_name"] as? String == "su")
        #expect(f["procid"] as? String == "231")
        #expect(f["msgid"] is NSNull)
        #expect(f["facility"] as? String == "auth")
        #expect(f["severity"] as? String == "crit")
        #expect(f["message"] as? String == "'su root' failed for lonvick on /dev/pts/8")
    }

    @Test func anRFC3164MessageWithoutHostnameOrWithAnRFC3339TimestampParses() throws {
        let local = try fields("<13>Jan 15 01:02:03 cron: job done")
        #expect(local["hostname"] is NSNull)
        #expect(local["app_name"] as? String == "cron")
        #expect(local["message"] as? String == "job done")
        // A January message read in late November is of this year; a December one read in
        // January would be of last year (the month more than one ahead).
        #expect(local["timestamp"] as? String == "2026-01-15T01:02:03Z")
        let forwarded = try fields("<13>2026-01-02T03:04:05.123456+00:00 web1 nginx: GET /")
        #expect(forwarded["timestamp"] as? String == "2026-01-02T03:04:05.123456+00:00")
        #expect(forwarded["hostname"] as? String == "web1")
        #expect(forwarded["app_name"] as? String == "nginx")
    }

    @Test func aDecemberMessageReadInJanuaryIsOfLastYear() throws {
        let january2027 = 1_799_000_000  // 2027-01-03
        let result = try #require(convert(Array("<13>Dec 31 23:59:59 h t: m".utf8), now: january2027))
        #expect(result.json.contains(#""timestamp":"2026-12-31T23:59:59Z""#), "\(result.json)")
    }

    @Test(arguments: [
        ("no pri", "hello", "no <PRI> at the start"),
        ("pri over 191", "<192>1 - - - - - -", "invalid <PRI>"),
        ("pri not closed", "<13", "invalid <PRI>"),
        ("pri letters", "<1a>1 - - - - - -", "invalid <PRI>"),
        ("pri leading zero", "<013>1 - - - - - -", "invalid <PRI>"),
        ("truncated 5424 header", "<13>1 2026-01-02T03:04:05Z host", "truncated header or HOSTNAME too long"),
        ("bad 5424 timestamp", "<13>1 yesterday h a p m -", "TIMESTAMP is not RFC 3339"),
        ("unterminated structured data", #"<13>1 - h a p m [id k="v"#, "invalid STRUCTURED-DATA"),
        ("structured data without its bracket", #"<13>1 - h a p m [id k="v" x"#, "invalid STRUCTURED-DATA"),
        ("no space after structured data", #"<13>1 - h a p m [id k="v"]x"#, "no space after STRUCTURED-DATA"),
        ("3164 without timestamp", "<13>hello there", "no RFC 3164 timestamp after <PRI>"),
    ])
    func aMessageThatDoesNotParseIsKeptWholeWithItsReason(_ name: String, _ message: String, _ reason: String) throws {
        let result = try #require(convert(Array(message.utf8)))
        #expect(!result.parsed, "\(name)")
        let f = try #require(try JSONSerialization.jsonObject(with: Data(result.json.utf8)) as? [String: Any])
        #expect(f["message"] as? String == message, "\(name)")
        #expect(f["parse_error"] as? String == reason, "\(name)")
    }

    @Test func rfc5424FormatRefusesAnRFC3164Message() throws {
        let f = try fields("<13>Jan 15 01:02:03 h t: m", format: .rfc5424)
        #expect(f["parse_error"] as? String == "not RFC 5424: no version 1 after <PRI>")
    }

    @Test func binaryGarbageAlwaysGivesValidJSON() throws {
        var random = SystemRandomNumberGenerator()
        for round in 0..<2000 {
            let count = Int.random(in: 0...200, using: &random)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
            if round % 3 == 0 { bytes = Array("<13>1 ".utf8) + bytes }
            if round % 3 == 1 { bytes = Array("<13>Dec  4 18:28:13 ".utf8) + bytes }
            let result = try #require(convert(bytes))
            #expect((try? JSONSerialization.jsonObject(with: Data(result.json.utf8))) != nil, "round \(round): \(result.json)")
        }
    }

    /// Strings are escaped 16 bytes at a time, with the lanes past a string's end ignored and the
    /// last bytes of the message looked at as one vector: a byte that needs escaping (or is not
    /// UTF-8) at every place around those vectors, in fields of every length up to 40, reads back
    /// as the bytes sent. Capacities that just fit or just miss check the room kept for vectors.
    @Test func escapingIsRightAtEveryPlaceAroundTheVectors() throws {
        let specials: [[UInt8]] = [[34], [92], [9], [1], [127], [0xC3, 0xA9], [0xFF]]
        for length in 0...40 {
            for place in -1..<length {
                for special in specials where place >= 0 || special == specials[0] {
                    var text = (0..<length).map { UInt8(97 + $0 % 26) }
                    if place >= 0 { text.replaceSubrange(place..<(place + 1), with: special) }
                    let expected = String(decoding: text, as: UTF8.self)  // a lone 0xFF: one U+FFFD, as written
                    let host = text.allSatisfy { $0 > 32 && $0 < 127 } ? text : []  // HOSTNAME is printable ASCII
                    let message = Array("<13>1 - \(host.isEmpty ? "h" : String(decoding: host, as: UTF8.self)) a - - [m v=\"".utf8)
                        + text.flatMap { $0 == 34 || $0 == 92 ? [92, $0] : [$0] } + Array("\"] ".utf8) + text
                    let json = try #require(convert(message)).json
                    let f = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(json)")
                    #expect(f["message"] as? String == expected, "length \(length) place \(place) \(special): \(json)")
                    #expect((f["structured_data"] as? [String: [String: String]])?["m"]?["v"] == expected, "\(json)")
                    if !host.isEmpty { #expect(f["hostname"] as? String == expected) }
                    let size = json.utf8.count
                    #expect(convert(message, capacity: size)?.json == json)
                    #expect(convert(message, capacity: size - 1) == nil)
                }
            }
        }
    }

    /// Structured data is validated while it is written: a message found malformed there, after
    /// its header was written (or ran out of room), is kept whole, in exactly the room that needs.
    @Test func malformedStructuredDataFoundWhileWritingKeepsTheMessageWhole() throws {
        for tail in [#"[id k="v""#, #"[id k="v"]x"#, #"[id k=v]"#] {
            let message = Array("<13>1 2026-01-02T03:04:05Z \(String(repeating: "h", count: 200)) app 1 m \(tail)".utf8)
            let whole = try #require(convert(message))
            #expect(!whole.parsed)
            let f = try #require(try JSONSerialization.jsonObject(with: Data(whole.json.utf8)) as? [String: Any])
            #expect(f["message"] as? String == String(decoding: message, as: UTF8.self))
            #expect(f.count == 2)
            let size = whole.json.utf8.count
            #expect(convert(message, capacity: size)?.json == whole.json)
            #expect(convert(message, capacity: size - 1) == nil)
        }
    }

    @Test func tooLittleRoomAsksForMoreAndTruncationAlwaysFits() throws {
        let message = Array("<13>1 - h a p m - ".utf8) + [UInt8](repeating: 1, count: 1000)
        #expect(convert(message, capacity: 600) == nil)
        #expect(SyslogJSON.bytesNeededAtMost(for: message.count) >= convert(message, capacity: 1 << 16)!.json.utf8.count)
        let out = UnsafeMutableRawPointer.allocate(byteCount: 300, alignment: 1)
        defer { out.deallocate() }
        let n = message.withUnsafeBytes { SyslogJSON.writeTruncated($0, reason: "too large", into: out, capacity: 300) }
        let text = String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self)
        let f = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(n <= 300)
        #expect(f["parse_error"] as? String == "too large")
    }
}
