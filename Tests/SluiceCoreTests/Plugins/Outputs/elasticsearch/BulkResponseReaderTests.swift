import Testing

@testable import SluiceCore

/// Reads `body` in pieces of `piece` bytes; the outcome summarised as text so tests compare it
/// (the reader's memory is freed before returning).
private func read(_ body: String, piece: Int = .max, capacity: Int = 16) -> String {
    var reader = BulkResponseReader(capacity: capacity)
    defer { reader.deallocate() }
    let bytes = Array(body.utf8)
    var at = 0
    while at < bytes.count {
        let n = min(piece, bytes.count - at)
        bytes[at..<(at + n)].withUnsafeBytes { reader.feed($0.baseAddress!, n) }
        at += n
    }
    switch reader.outcome() {
    case .allAccepted: return "all accepted"
    case .malformed(let why): return "malformed: \(why)"
    case .items(let items):
        return (0..<items.count).map { i in
            switch items.verdict(i) {
            case .accepted: "accepted"
            case .retry: "retry (\(items.reason(i)))"
            case .rejected: "rejected (\(items.reason(i)))"
            }
        }.joined(separator: "; ")
    }
}

@Suite struct BulkResponseReaderTests {
    /// The shape Elasticsearch's bulk API documents: per item, the action name, `status`, and
    /// for a failure `error` with `type`, `reason` and a nested `caused_by`.
    static let mixed = """
        {"took":486,"errors":true,"items":[
          {"index":{"_index":"logs","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"status":201,"_seq_no":0,"_primary_term":1}},
          {"index":{"_index":"logs","_id":"2","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n] of type [long] in document with id '2'. Preview of field's value: 'x'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \\"x\\""}}}},
          {"index":{"_index":"logs","_id":"3","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}}},
          {"create":{"_index":"logs","status":503,"error":{"type":"unavailable_shards_exception","reason":"[logs][0] primary shard is not active"}}},
          {"index":{"status":200,"result":"updated"}}
        ]}
        """

    @Test func eachItemIsJudgedByItsStatusWhateverPiecesTheBodyArrivesIn() {
        let expected = "accepted; rejected (item status 400: mapper_parsing_exception: failed to parse field [n] of type [long] in document with id '2'. Preview of field's value: 'x'); "
            + "retry (item status 429: es_rejected_execution_exception: rejected execution of coordinating operation); "
            + "retry (item status 503: unavailable_shards_exception: [logs][0] primary shard is not active); accepted"
        for piece in [1, 2, 3, 7, 64, .max] {
            #expect(read(Self.mixed, piece: piece) == expected, "piece \(piece)")
        }
    }

    @Test func errorsFalseAcceptsEverythingWithoutReadingTheItems() {
        #expect(read(#"{"took":3,"errors":false,"items":[{"index":{"status":201}},{"index":{"status":201}}]}"#) == "all accepted")
        #expect(read(#"{"errors":false,"items":[{"index":{"status":201}}]}"#, capacity: 1) == "all accepted")
    }

    @Test func itemsAreReadWhereverErrorsStandsAndAnErrorMayBeAString() {
        let body = #"{"items":[{"index":{"error":"MapperParsingException[failed to parse [n]]","status":400}},{"index":{"status":201}}],"errors":true}"#
        #expect(read(body) == "rejected (item status 400: MapperParsingException[failed to parse [n]]); accepted")
    }

    @Test func escapesInAReasonAreDecodedAndAnItemWithoutAStatusIsRetried() {
        let body = #"{"errors":true,"items":[{"index":{"status":400,"error":{"reason":"caf\u00e9 \"quoted\" \\ back","type":"x"}}},{"index":{"_index":"a"}}]}"#
        #expect(read(body) == #"rejected (item status 400: x: café "quoted" \ back); retry (item status 0)"#)
    }

    @Test func aLongReasonIsCutToItsBound() throws {
        let long = String(repeating: "r", count: 5000)
        let body = #"{"errors":true,"items":[{"index":{"status":400,"error":{"type":"t","reason":""# + long + #""}}}]}"#
        let text = read(body)
        #expect(text == "rejected (item status 400: t: " + String(repeating: "r", count: BulkResponseReader.messageBytesLimit) + ")")
    }

    @Test func keysNamedLikeTheOnesReadElsewhereInTheBodyDoNotConfuseIt() {
        let body = #"{"errors":true,"meta":{"items":[1,2],"status":500},"items":[{"index":{"status":201,"get":{"status":404,"error":{"type":"no"}},"x":[{"status":1}]}}]}"#
        #expect(read(body) == "accepted")
    }

    @Test func bodiesThatAreNotABulkAnswerAreReportedNotTrusted() {
        let cases: [(String, String)] = [
            ("", "malformed: the body ended before its JSON object did"),
            (#"{"errors":true,"items":[{"index":{"status":201}}"#, "malformed: the body ended before its JSON object did"),
            ("[1,2]", "malformed: not a JSON object"),
            ("42", "malformed: not a JSON object"),
            (#"{"errors":true} x"#, "malformed: bytes after the answer's JSON object"),
            (#"{"errors" true}"#, "malformed: expected a colon"),
            (#"{"a":1 "b":2}"#, "malformed: expected a comma or the end of a container"),
            (#"{"a":]}"#, "malformed: unexpected byte where a value goes"),
            (String(repeating: "[", count: 100), "malformed: not a JSON object"),
            (#"{"a":"# + String(repeating: "[", count: 100), "malformed: nested deeper than the reader follows"),
        ]
        for (body, expected) in cases { #expect(read(body) == expected, "\(body.prefix(40))") }
        let three = #"{"errors":true,"items":[{"index":{"status":201}},{"index":{"status":201}},{"index":{"status":400}}]}"#
        #expect(read(three, capacity: 2) == "malformed: more items than the request had events")
    }

    @Test func aReaderIsReusedAfterReset() {
        var reader = BulkResponseReader(capacity: 4)
        defer { reader.deallocate() }
        for body in [Self.mixed, #"{"errors":true,"items":[{"index":{"status":429}}]}"#] {
            reader.reset()
            Array(body.utf8).withUnsafeBytes { reader.feed($0.baseAddress!, $0.count) }
        }
        guard case .items(let items) = reader.outcome() else {
            Issue.record("expected items")
            return
        }
        #expect(items.count == 1 && items.verdict(0) == .retry && items.reason(0) == "item status 429")
    }
}
