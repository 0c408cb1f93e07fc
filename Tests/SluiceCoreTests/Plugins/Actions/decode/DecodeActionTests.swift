import Testing

@testable import SluiceCore

@Suite struct DecodeActionTests {
    // MARK: - json

    @Test func aJSONObjectInAStringBecomesFieldsAndTheOriginGoes() throws {
        let run = try ActionRun("decode", ("field", "log"), ("prefix", "p_"))
        #expect(try run.line(#"{"level":"error","log":"{\"message\":\"oops \\\"x\\\"\",\"n\":[1,{\"a\":null}]}","s":1}"#)
            == #"{"level":"error","s":1,"p_message":"oops \"x\"","p_n":[1,{"a":null}]}"#)
    }

    @Test func keepOriginKeepsTheDecodedField() throws {
        let run = try ActionRun("decode", ("field", "log"), ("keep-origin", "true"))
        #expect(try run.line(#"{"log":"{\"a\":1}"}"#) == #"{"log":"{\"a\":1}","a":1}"#)
    }

    @Test func aDecodedFieldNamedAsTheOriginReplacesIt() throws {
        let run = try ActionRun("decode", ("field", "log"))
        #expect(try run.line(#"{"log":"{\"log\":\"inner\",\"b\":2}"}"#) == #"{"log":"inner","b":2}"#)
    }

    @Test func aNestedOriginIsDecodedAndRemoved() throws {
        let run = try ActionRun("decode", ("field", "k.raw"))
        #expect(try run.line(#"{"k":{"raw":"{\"a\":true}","z":0}}"#) == #"{"k":{"z":0},"a":true}"#)
    }

    @Test func textThatIsNotAJSONObjectIsLeftAndCounted() throws {
        let run = try ActionRun("decode", ("field", "log"))
        for json in [#"{"log":"[1,2]"}"#, #"{"log":"{\"a\":"}"#, #"{"log":""}"#, #"{"log":{"a":1}}"#] {
            let (event, verdict) = run.run(try makeDecodedEvent(json, in: run.pool))
            #expect(verdict == .pass && !event.has(EventFlags.modified))
        }
        #expect(run.count(.decodeFailed) == 4)
    }

    @Test func moreMembersThanMaxFieldsAreLeftAndCounted() throws {
        let run = try ActionRun("decode", ("field", "log"), ("max-fields", "2"))
        let (event, _) = run.run(try makeDecodedEvent(#"{"log":"{\"a\":1,\"b\":2,\"c\":3}"}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified) && run.count(.decodeFailed) == 1)
    }

    // MARK: - rfc5424, rfc3164

    @Test func anRFC5424MessageInAFieldBecomesTheSyslogFields() throws {
        let run = try ActionRun("decode", ("field", "raw"), ("format", "rfc5424"), ("prefix", "sys_"))
        let message = #"<165>1 2003-10-11T22:14:15.003Z host.example.com evntslog 1234 ID47 [meta seq=\"1\" q=\"a\\\"b\"] Grüße \"x\"\t日本"#
        #expect(try run.line(#"{"n":1,"raw":"\#(message)"}"#)
            == #"{"n":1,"sys_timestamp":"2003-10-11T22:14:15.003Z","sys_hostname":"host.example.com","sys_app_name":"evntslog","sys_procid":"1234","sys_msgid":"ID47","sys_facility":"local4","sys_severity":"notice","sys_structured_data":{"meta":{"seq":"1","q":"a\"b"}},"sys_message":"Grüße \"x\"\t日本"}"#)
    }

    @Test func anRFC3164MessageInAFieldBecomesTheSyslogFields() throws {
        let run = try ActionRun("decode", ("field", "raw"), ("format", "rfc3164"), ("keep-origin", "true"))
        let line = try run.line(#"{"raw":"<34>Oct 11 22:14:15 mymachine su[231]: 'su root' failed"}"#)
        #expect(line.hasPrefix(#"{"raw":"<34>Oct 11 22:14:15 mymachine su[231]: 'su root' failed","timestamp":""#), "\(line)")
        #expect(line.hasSuffix(#"-10-11T22:14:15Z","hostname":"mymachine","app_name":"su","procid":"231","msgid":null,"facility":"auth","severity":"crit","structured_data":{},"message":"'su root' failed"}"#), "\(line)")
    }

    @Test(arguments: [("rfc5424", "<34>Oct 11 22:14:15 mymachine su: x"), ("rfc5424", "plain text"), ("rfc3164", "no priority here"),
                      ("rfc5424", "<999>1 - - - - - -"), ("rfc3164", "")])
    func textThatIsNotSyslogIsLeftAndCounted(format: String, text: String) throws {
        let run = try ActionRun("decode", ("field", "raw"), ("format", format))
        let escaped = String(decoding: JSONText.quoted(text), as: UTF8.self)
        let (event, _) = run.run(try makeDecodedEvent(#"{"raw":\#(escaped)}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
        #expect(run.count(.decodeFailed) == 1)
    }

    // MARK: - logfmt

    @Test func logfmtPairsQuotedValuesAndBareKeys() throws {
        let run = try ActionRun("decode", ("field", "msg"), ("format", "logfmt"))
        #expect(try run.line(#"{"msg":"level=info msg=\"hello \\\"you\\\"\" dur=1.5s debug empty= t=\"\""}"#)
            == #"{"msg":"hello \"you\"","level":"info","dur":"1.5s","debug":true,"empty":"","t":""}"#, "msg took the origin's place")
    }

    @Test(arguments: ["just words", #"a="unterminated"#, "=x", #"a="x"b"#, ""])
    func textThatIsNotLogfmtIsLeftAndCounted(text: String) throws {
        let run = try ActionRun("decode", ("field", "msg"), ("format", "logfmt"))
        let escaped = String(decoding: JSONText.quoted(text), as: UTF8.self)
        let (event, _) = run.run(try makeDecodedEvent(#"{"msg":\#(escaped)}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified))
        #expect(run.count(.decodeFailed) == 1)
    }

    // MARK: - cri

    @Test func criLinesGiveTimeStreamLogAndPartial() throws {
        let run = try ActionRun("decode", ("field", "line"), ("format", "cri"))
        #expect(try run.line(#"{"line":"2016-10-06T00:17:09.669794202Z stdout F hello world"}"#)
            == #"{"time":"2016-10-06T00:17:09.669794202Z","stream":"stdout","log":"hello world"}"#)
        #expect(try run.line(#"{"line":"2016-10-06T00:17:09Z stderr P  part "}"#)
            == #"{"time":"2016-10-06T00:17:09Z","stream":"stderr","log":" part ","partial":true}"#)
        #expect(try run.line(#"{"line":"2016-10-06T00:17:09Z stdout F "}"#) == #"{"time":"2016-10-06T00:17:09Z","stream":"stdout","log":""}"#)
    }

    @Test(arguments: ["2016-10-06T00:17:09Z stdin F x", "2016-10-06T00:17:09Z stdout", "no", "2016-10-06T00:17:09Z stdout x1 y"])
    func linesThatAreNotCRIAreCounted(line: String) throws {
        let run = try ActionRun("decode", ("field", "line"), ("format", "cri"))
        let (event, _) = run.run(try makeDecodedEvent(#"{"line":"\#(line)"}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified) && run.count(.decodeFailed) == 1)
    }

    // MARK: - nginx_error

    @Test func nginxErrorLinesAsFileDDecodesThem() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "nginx_error"))
        #expect(try run.line(#"{"log":"2022/08/17 10:49:27 [error] 2725122#2725122: *792412315 lua udp socket read timed out, context: ngx.timer"}"#)
            == #"{"time":"2022/08/17 10:49:27","level":"error","pid":"2725122","tid":"2725122","cid":"792412315","message":"lua udp socket read timed out, context: ngx.timer"}"#)
        #expect(try run.line(#"{"log":"2024/01/02 03:04:05 [notice] 1#1: signal process started"}"#)
            == #"{"time":"2024/01/02 03:04:05","level":"notice","pid":"1","tid":"1","message":"signal process started"}"#)
    }

    @Test func nginxCustomFieldsAreDecodedWhenAsked() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "nginx_error"), ("nginx-with-custom-fields", "true"))
        let log = #"2022/08/18 09:29:37 [error] 844935#844935: *44934601 upstream timed out (110: Operation timed out), while connecting to upstream, client: 10.125.172.251, server: , request: \"POST /download HTTP/1.1\", upstream: \"http://10.117.246.15:84/download\", host: \"mpm:84\""#
        #expect(try run.line(#"{"log":"\#(log)"}"#)
            == #"{"time":"2022/08/18 09:29:37","level":"error","pid":"844935","tid":"844935","cid":"44934601","message":"upstream timed out (110: Operation timed out), while connecting to upstream","client":"10.125.172.251","server":"","request":"POST /download HTTP/1.1","upstream":"http://10.117.246.15:84/download","host":"mpm:84"}"#)
    }

    @Test func linesThatAreNotNginxErrorsAreCounted() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "nginx_error"))
        for log in ["2022-08-17 10:49:27 [error] 1#1: x", "2022/08/17 10:49:27 error 1#1: x", "2022/08/17 10:49:27 [error] x#1: y"] {
            _ = run.run(try makeDecodedEvent(#"{"log":"\#(log)"}"#, in: run.pool))
        }
        #expect(run.count(.decodeFailed) == 3)
    }

    // MARK: - Room and parameters

    @Test func decodedFieldsPastTheSlotMoveTheEventToALargeSlot() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "logfmt"), ("keep-origin", "true"))
        let pairs = (0..<100).map { "key\($0)=value\($0)" }.joined(separator: " ")
        let (event, verdict) = run.run(try makeDecodedEvent(#"{"log":"\#(pairs)"}"#, in: run.pool))
        #expect(verdict == .pass && event.has(EventFlags.grown) && event.fieldCount == 101)
        #expect(text(event.key(100)) == "key99" && text(event.value(100)) == #""value99""#)
    }

    @Test func decodedFieldsPastMaxEventSizeAreCountedAndTheEventLeftWhole() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "logfmt"), ("max-fields", "5000"))
        let pairs = (0..<1400).map { "k\($0)=v" }.joined(separator: " ")
        let (event, _) = run.run(try makeDecodedLargeEvent(#"{"log":"\#(pairs)","z":1}"#, in: run.pool))
        #expect(!event.has(EventFlags.modified) && event.fieldCount == 2)
        #expect(run.count(.parseTooLarge) == 1)
    }

    @Test func parameterErrorsNameTheKey() {
        #expect(parsingRejection("decode", ("format", "json"))?.key == "field")
        #expect(parsingRejection("decode", ("field", "a"), ("format", "xml"))?.message == "expected json, logfmt, cri, nginx_error, rfc5424 or rfc3164, got 'xml'")
        #expect(parsingRejection("decode", ("field", "a"), ("nginx-with-custom-fields", "true"))?.key == "nginx-with-custom-fields")
        #expect(parsingRejection("decode", ("field", "a"), ("max-fields", "0"))?.key == "max-fields")
    }
}

@Suite struct DecodeRoomTests {
    @Test func withNoLargeSlotFreeDecodeWaitsAndLaterSetsTheWholeBatch() throws {
        let pool = try makePool(eventSizeBytes: 2048, maxEventSizeBytes: 16384, largeSlots: 1)
        let run = try ActionRun("decode", ("field", "log"), ("format", "logfmt"), pool: pool)
        let pairs = (0..<100).map { "key\($0)=value\($0)" }.joined(separator: " ")
        let event = try makeDecodedEvent(#"{"log":"\#(pairs)"}"#, in: pool)
        guard let held = pool.slabs.pointee.takeLarge() else { Issue.record("no large slot"); return }
        let (waiting, verdict) = run.run(event)
        #expect(verdict == .wait)
        #expect(!waiting.has(EventFlags.modified) && waiting.fieldCount == 1, "nothing of the batch was set")
        pool.slabs.pointee.release(held.header.pointee.handle)
        let (done, again) = run.run(event)
        #expect(again == .pass && done.fieldCount == 100 && text(done.key(0)) == "key0")
    }

    @Test func anEventThatIsNotValidUTF8JSONIsCountedNotDecoded() throws {
        let run = try ActionRun("decode", ("field", "log"), ("format", "logfmt"))
        let bytes: [UInt8] = Array(#"{"log":"a="#.utf8) + [0xFF] + Array(#""}"#.utf8)
        let event = makeEvent(bytes, in: run.pool)
        try JSONDecodeAction(arguments("json_decode")).apply(event, counters: run.counters, pipeline: 0)
        #expect(event.has(EventFlags.invalidJSON))
        let (after, verdict) = run.run(event)
        #expect(verdict == .pass && !after.has(EventFlags.modified) && run.count(.decodeFailed) == 1)
    }
}
