import Testing

@testable import SluiceCore

/// A syslog output's encoder with `pairs` (besides the address), the node's host name fixed.
private func encoder(_ pairs: (String, String)...) throws -> SyslogEncoder {
    let all = [("address", "127.0.0.1:514")] + pairs
    return SyslogEncoder(try SyslogOutput(PluginArguments(plugin: "syslog", pairs: all.map { (key: $0.0, value: $0.1) })), hostName: "node-1")
}

/// What the encoder writes for `event`.
private func render(_ encoder: inout SyslogEncoder, _ event: Event) -> String {
    let out = UnsafeMutableRawPointer.allocate(byteCount: encoder.bound(lineBytes: OutputBatcher.worstCase(event)), alignment: 1)
    defer { out.deallocate() }
    switch encoder.encode(event, into: out) {
    case .wrote(let n): return String(decoding: UnsafeRawBufferPointer(start: out, count: n), as: UTF8.self)
    case .refused(let why): return "refused: \(why)"
    }
}

@Suite struct SyslogOutputTests {
    static let full = #"{"timestamp":"2024-01-02T03:04:05.123+02:00","hostname":"web-1","app_name":"shop","procid":"4242","msgid":"ID47","#
        + #""facility":"local3","severity":"warning","structured_data":{"exampleSDID@32473":{"iut":"3","eventSource":"Application"}},"message":"hello ünïcode"}"#

    @Test func theSyslogInputsFieldsBecomeAnRFC5424MessageWithOctetCounting() throws {
        let pool = try makePool()
        var e = try encoder()
        defer { e.dispose() }
        let message = #"<156>1 2024-01-02T03:04:05.123+02:00 web-1 shop 4242 ID47 [exampleSDID@32473 iut="3" eventSource="Application"] hello ünïcode"#
        #expect(render(&e, try makeDecodedEvent(Self.full, in: pool)) == "\(message.utf8.count) \(message)")
        // Not decoded: the same fields read from the raw object.
        #expect(render(&e, makeEvent(Self.full, in: pool)) == "\(message.utf8.count) \(message)")
    }

    @Test func structuredDataValuesEscapeQuoteBackslashAndBracketAndNamesStayValid() throws {
        let pool = try makePool()
        var e = try encoder(("framing", "lf"))
        defer { e.dispose() }
        let event = try makeDecodedEvent(#"{"structured_data":{"a b=c":{"k\"]":"q\" b\\ r] é","n":5,"o":{"x":"y]"},"z":null},"empty":{}},"message":""}"#, in: pool)
        let text = render(&e, event)
        #expect(text.hasSuffix(#" node-1 - - - [a_b_c k__="q\" b\\ r\] é" n="5" o="{\"x\":\"y\]\"}" z="null"][empty]"# + "\n"), "\(text)")
        // An empty message leaves out the space before it; an empty or missing object is `-`.
        let none = try makeDecodedEvent(#"{"structured_data":{},"message":"m"}"#, in: pool)
        #expect(render(&e, none).hasSuffix(" node-1 - - - - m\n"))
    }

    @Test func thePriorityIsFacilityTimesEightPlusSeverityFromNamesOrNumbersWithDefaults() throws {
        let pool = try makePool()
        var e = try encoder(("transport", "udp"), ("default-facility", "local0"), ("default-severity", "info"))
        defer { e.dispose() }
        let cases: [(String, String)] = [
            (#"{"facility":"kern","severity":"emerg"}"#, "<0>"),
            (#"{"facility":"LOCAL7","severity":"debug"}"#, "<191>"),
            (#"{"facility":4,"severity":"WARN"}"#, "<36>"),
            (#"{"facility":"10","severity":3}"#, "<83>"),
            (#"{"facility":"nope","severity":"nope"}"#, "<134>"),
            (#"{"facility":99,"severity":8}"#, "<134>"),
            (#"{}"#, "<134>"),
        ]
        for (json, pri) in cases {
            #expect(render(&e, try makeDecodedEvent(json, in: pool)).hasPrefix(pri + "1 "), "\(json)")
        }
    }

    @Test func missingPartsFallBackToTheHostNameNowNilValuesAndTheWholeEvent() throws {
        let pool = try makePool()
        var e = try encoder(("transport", "udp"))
        defer { e.dispose() }
        let text = render(&e, try makeDecodedEvent(#"{"level":"x","n":1}"#, in: pool))
        // <13>1 YYYY-MM-DDThh:mm:ss.uuuuuuZ node-1 - - - - {"level":"x","n":1}
        let parts = text.split(separator: " ", maxSplits: 7).map(String.init)
        #expect(parts.count == 8)
        #expect(parts[0] == "<13>1")
        #expect(parts[1].count == 27 && parts[1].hasSuffix("Z") && parts[1].dropFirst(10).hasPrefix("T"), "\(parts[1])")
        #expect(parts[2...6] == ["node-1", "-", "-", "-", "-"])
        #expect(parts[7] == #"{"level":"x","n":1}"#)
        // Not JSON at all: the raw line is the message.
        #expect(render(&e, makeEvent("plain text line", in: pool)).hasSuffix(" node-1 - - - - plain text line"))
    }

    @Test func headerFieldsAreCutToTheirLengthsAndHoldOnlyPrintableASCII() throws {
        let pool = try makePool()
        var e = try encoder(("transport", "udp"), ("hostname", "host.name"), ("app-name", "app"), ("procid", "pid"), ("msgid", "id"))
        defer { e.dispose() }
        let long = String(repeating: "a", count: 60)
        let event = try makeDecodedEvent(#"{"host":{"name":"my host\u00e9"},"app":"\#(long)","pid":12345,"id":"","message":"m"}"#, in: pool)
        let text = render(&e, event)
        #expect(text.hasSuffix(" my_host__ \(String(repeating: "a", count: 48)) 12345 - - m"), "\(text)")
        // Turned off: the node's host name even when the event has one.
        var off = try encoder(("transport", "udp"), ("hostname", ""))
        defer { off.dispose() }
        #expect(render(&off, try makeDecodedEvent(#"{"hostname":"h","message":"m"}"#, in: pool)).contains(" node-1 - - - - m"))
    }

    @Test func timestampsAreKeptWhenRFC5424AllowsThemAndRewrittenInUTCOtherwise() throws {
        let pool = try makePool()
        var e = try encoder(("transport", "udp"))
        defer { e.dispose() }
        let cases: [(String, String)] = [
            (#""2024-01-02T03:04:05Z""#, "2024-01-02T03:04:05Z"),
            (#""2024-01-02t03:04:05.123456789z""#, "2024-01-02T03:04:05.123456Z"),
            (#""2024-01-02T03:04:05.5-07:30""#, "2024-01-02T03:04:05.5-07:30"),
            (#""2024-01-02 03:04:05""#, "2024-01-02T03:04:05.000000Z"),
            (#""2024-01-02T03:04:05+0200""#, "2024-01-02T01:04:05.000000Z"),
            ("1700000000.25", "2023-11-14T22:13:20.250000Z"),
            ("1700000000123", "2023-11-14T22:13:20.123000Z"),
        ]
        for (value, expected) in cases {
            let text = render(&e, try makeDecodedEvent(#"{"timestamp":\#(value),"message":"m"}"#, in: pool))
            #expect(text.hasPrefix("<13>1 \(expected) node-1 "), "\(value): \(text)")
        }
    }

    @Test func rfc3164HasABSDTimestampInUTCATagAndNoStructuredData() throws {
        let pool = try makePool()
        var e = try encoder(("format", "rfc3164"), ("framing", "lf"))
        defer { e.dispose() }
        #expect(render(&e, try makeDecodedEvent(Self.full, in: pool)) == "<156>Jan  2 01:04:05 web-1 shop[4242]: hello ünïcode\n")
        let bare = try makeDecodedEvent(#"{"timestamp":"2024-11-25T13:04:05Z","app_name":"a:b[c]","message":"two\nlines"}"#, in: pool)
        #expect(render(&e, bare) == "<13>Nov 25 13:04:05 node-1 a_b_c_: two lines\n")
        #expect(render(&e, try makeDecodedEvent(#"{"timestamp":"2024-11-05T13:04:05Z"}"#, in: pool)).hasPrefix("<13>Nov  5 13:04:05 node-1 -: {"))
    }

    @Test func aMessageOverMaxSizeIsRefusedAndAnOctetCountCountsBytesNotCharacters() throws {
        let pool = try makePool()
        var e = try encoder(("max-size", "480"))
        defer { e.dispose() }
        let big = String(repeating: "é", count: 300)
        #expect(render(&e, try makeDecodedEvent(#"{"message":"\#(big)"}"#, in: pool)) == "refused: the syslog message is longer than max-size")
        let small = try makeDecodedEvent(#"{"timestamp":"2024-01-02T03:04:05Z","message":"ééé"}"#, in: pool)
        let message = "<13>1 2024-01-02T03:04:05Z node-1 - - - - ééé"
        #expect(render(&e, small) == "\(message.utf8.count) \(message)")
    }

    @Test func badParametersAreRefusedNamingTheKey() {
        let cases: [([(String, String)], String, String)] = [
            ([], "address", "syslog needs address=..."),
            ([("address", "127.0.0.1:0")], "address", "expected ADDRESS:PORT such as 127.0.0.1:514, got '127.0.0.1:0'"),
            ([("address", "127.0.0.1:514"), ("transport", "tls")], "transport", "expected tcp or udp, got 'tls'"),
            ([("address", "127.0.0.1:514"), ("framing", "nul")], "framing", "expected octet or lf, got 'nul'"),
            ([("address", "127.0.0.1:514"), ("transport", "udp"), ("max-size", "64KiB")], "max-size", "a UDP datagram carries at most 65507 bytes"),
            ([("address", "127.0.0.1:514"), ("default-facility", "local8")], "default-facility",
             "'local8' is not a facility (kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security, console, solaris-cron, local0-local7, or 0-23)"),
            ([("address", "127.0.0.1:514"), ("default-severity", "9")], "default-severity",
             "'9' is not a severity (emerg, alert, crit, err, warning, notice, info, debug, or 0-7)"),
            ([("address", "127.0.0.1:514"), ("message", "a..b")], "message", "'a..b' has an empty path component"),
        ]
        for (pairs, key, message) in cases {
            let error = rejection { () throws(PluginArgumentError) in
                try SyslogOutput(PluginArguments(plugin: "syslog", pairs: pairs.map { (key: $0.0, value: $0.1) }))
            }
            #expect(error?.key == key, "\(pairs)")
            #expect(error?.message == message, "\(pairs)")
        }
    }
}
