import Testing

@testable import SluiceCore

private func httpInput(_ pairs: (String, String)...) throws(PluginArgumentError) -> HTTPInput {
    try HTTPInput(PluginArguments(plugin: "http", pairs: pairs.map { (key: $0.0, value: $0.1) }))
}

/// Parses `text` (the head without its final blank line) with `maxHeaders`.
private func parse(_ text: String, maxHeaders: Int = 100) -> Result<HTTPRequestHead, HTTPRequestHead.Problem> {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { head in
        do throws(HTTPRequestHead.Problem) { return .success(try HTTPRequestHead.parse(head, maxHeaders: maxHeaders)) } catch { return .failure(error) }
    }
}

private func reason(_ result: Result<HTTPRequestHead, HTTPRequestHead.Problem>) -> String? {
    guard case .failure(let problem) = result else { return nil }
    return "\(problem.reason)"
}

private func path(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    guard case .success(let head) = parse(text) else { return nil }
    return String(decoding: bytes[head.path], as: UTF8.self)
}

@Suite struct HTTPInputTests {
    @Test func defaultsFollowElasticsearch() throws {
        let input = try httpInput()
        #expect(input.host == "127.0.0.1")
        #expect(input.port == 9200)
        #expect(input.acknowledge == .output)
        #expect(input.maxBodyBytes == 100 * 1024 * 1024)
        #expect(input.maxHeaderBytes == 16 * 1024)
        #expect(input.maxHeaderCount == 100)
        #expect(input.requestTimeoutMicros == 60_000_000)
    }

    @Test func parametersAreParsedAndLocated() throws {
        let input = try httpInput(("ack", "receive"), ("max-body", "1MiB"), ("request-timeout", "2s"), ("listen", "0.0.0.0:9201"))
        #expect(input.acknowledge == .receive)
        #expect(input.maxBodyBytes == 1024 * 1024)
        #expect(input.requestTimeoutMicros == 2_000_000)
        #expect(input.port == 9201)
        let ack = rejection { () throws(PluginArgumentError) in try httpInput(("ack", "never")) }
        #expect(ack?.key == "ack")
        #expect(ack?.message.contains("output") == true)
        let body = rejection { () throws(PluginArgumentError) in try httpInput(("max-body", "12")) }
        #expect(body?.key == "max-body")
        let connections = rejection { () throws(PluginArgumentError) in try httpInput(("max-connections", "5000")) }
        #expect(connections?.key == "max-connections")
        let unknown = rejection { () throws(PluginArgumentError) in try httpInput(("max-bodies", "1")) }
        #expect(unknown?.key == "max-bodies")
    }

    // MARK: Request heads

    @Test func aBulkPostIsReadWithItsLengthEncodingAndConnection() throws {
        let result = parse("POST /logs/_bulk?refresh=false HTTP/1.1\r\nHost: x\r\ncontent-length: 42\r\nContent-Encoding: gzip\r\nConnection: keep-alive\r\n")
        let head = try result.get()
        #expect(head.method == .post)
        #expect(head.body == .length(42))
        #expect(head.encoding == .gzip)
        #expect(head.keepAlive)
        #expect(!head.expectContinue)
        #expect(path("POST /logs/_bulk?refresh=false HTTP/1.1\r\n") == "/logs/_bulk")
    }

    @Test func keepAliveFollowsTheVersionAndTheConnectionHeader() throws {
        #expect(try parse("GET / HTTP/1.1\r\n").get().keepAlive)
        #expect(try !parse("GET / HTTP/1.1\r\nConnection: Close\r\n").get().keepAlive)
        #expect(try !parse("GET / HTTP/1.0\r\n").get().keepAlive)
        #expect(try parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n").get().keepAlive)
        #expect(try parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n").get().expectContinue)
    }

    @Test func chunkedAndIdenticalLengthsAreAccepted() throws {
        #expect(try parse("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n").get().body == .chunked)
        #expect(try parse("POST / HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7\r\n").get().body == .length(7))
        #expect(try parse("POST / HTTP/1.1\r\nContent-Length: 0\r\n").get().body == HTTPRequestHead.Body.none)
    }

    /// Request smuggling shapes and other heads two parsers could read two ways.
    @Test(arguments: [
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n", "both Content-Length and Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", "both Content-Length and Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n", "two different Content-Length headers"),
        ("POST / HTTP/1.1\r\nContent-Length: +5\r\n", "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n", "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n", "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n", "unsupported Transfer-Encoding (only chunked)"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", "two Transfer-Encoding headers"),
        ("POST / HTTP/1.1\r\nContent-Length : 5\r\n", "invalid header name"),
        ("POST / HTTP/1.1\r\nHost: x\r\n folded: y\r\n", "folded header line"),
        ("POST / HTTP/1.1\nHost: x\r\n", "bare LF in the head"),
        ("POST / HTTP/1.1\r\nHost: a\rb\r\n", "bare CR or NUL in the head"),
        ("POST /\r\n", "request line without a version"),
        ("POST / HTTP/2.0\r\n", "unsupported HTTP version"),
        ("POST / FTP/1.1\r\n", "invalid HTTP version"),
        ("POST x HTTP/1.1\r\n", "request target is not a path"),
        ("PO(ST / HTTP/1.1\r\n", "invalid method"),
        ("POST / HTTP/1.1\r\nContent-Encoding: br\r\n", "unsupported Content-Encoding (gzip and identity are accepted)"),
        ("POST / HTTP/1.1\r\n: empty name\r\n", "header line without a name"),
    ])
    func ambiguousOrMalformedHeadsAreRejected(head: String, expected: String) {
        #expect(reason(parse(head)) == expected)
    }

    @Test func headersOverTheLimitAreRejected() {
        let head = "POST / HTTP/1.1\r\n" + (0..<5).map { "X-\($0): v\r\n" }.joined()
        #expect(reason(parse(head, maxHeaders: 5)) == nil)
        #expect(reason(parse(head, maxHeaders: 4)) == "too many header fields")
    }

    // MARK: Chunked bodies

    /// Decodes `body` fed in pieces of `piece` bytes; nil when malformed.
    private func dechunk(_ body: String, piece: Int) -> (data: String, done: Bool)? {
        let bytes = Array(body.utf8)
        var decoder = ChunkedDecoder()
        var data: [UInt8] = []
        var done = false
        var position = 0
        while position < bytes.count && !done {
            let end = min(position + piece, bytes.count)
            var local = position
            while local < end && !done {
                let step = bytes.withUnsafeBytes { decoder.advance(UnsafeRawBufferPointer(rebasing: $0[local..<end])) }
                switch step {
                case .malformed: return nil
                case .done(let framing):
                    local += framing
                    done = true
                case .progress(let framing, let count):
                    local += framing
                    data += bytes[local..<local + count]
                    if count > 0 { decoder.consumed(data: count) }
                    local += count
                    if framing == 0 && count == 0 { break }
                }
            }
            position = local
        }
        return (String(decoding: data, as: UTF8.self), done)
    }

    @Test(arguments: [1, 2, 3, 7, 1000])
    func chunkedBodiesDecodeWhateverPiecesTheyArriveIn(piece: Int) {
        let body = "5\r\nhello\r\n1;name=value\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"
        let result = dechunk(body, piece: piece)
        #expect(result?.data == "hello 0123456789")
        #expect(result?.done == true)
    }

    @Test(arguments: [
        "fffffffffffffffff\r\n",  // 17 hex digits: the size would overflow
        "5\r\nhelloX\r\n",  // no CRLF after the data
        "\r\n",  // no size
        "g\r\n",
        "5\nhello\r\n",
    ])
    func malformedChunkFramingIsRejected(body: String) {
        #expect(dechunk(body, piece: 1000) == nil, "\(body.debugDescription) was accepted")
    }

    // MARK: Bulk API

    @Test func bulkPathsNameTheirIndex() {
        func index(_ path: String) -> String? {
            let bytes = Array(path.utf8)
            return bytes.withUnsafeBytes { HTTPBulk.bulkPath($0).map { String(decoding: bytes[$0], as: UTF8.self) } }
        }
        #expect(index("/_bulk") == "")
        #expect(index("/_bulk/") == "")
        #expect(index("/logs-2026/_bulk") == "logs-2026")
        #expect(index("/logs/_bulk/") == "logs")
        #expect(index("/a/b/_bulk") == nil)
        #expect(index("/logs") == nil)
        #expect(index("/x_bulk") == nil)
        #expect(index("/") == nil)
    }

    @Test func actionLinesGiveTheOperationAndTheIndex() {
        func action(_ line: String) -> (HTTPBulk.Operation, String?)? {
            let bytes = Array(line.utf8)
            return bytes.withUnsafeBytes { raw in
                HTTPBulk.parseAction(raw).map { ($0.operation, $0.index.map { String(decoding: bytes[$0], as: UTF8.self) }) }
            }
        }
        #expect(action(#"{"index":{"_index":"logs","_id":"1"}}"#)! == (.index, "logs"))
        #expect(action(#" { "create" : { "_id" : "1" , "_index" : "a-b" } }"#)! == (.create, "a-b"))
        #expect(action(#"{"update":{"_id":"\"_index\"x"}}"#)! == (.update, nil))
        #expect(action(#"{"delete":{}}"#)! == (.delete, nil))
        #expect(action(#"{"index":{}}"#)! == (.index, nil))
        #expect(action(#"{"search":{}}"#) == nil)
        #expect(action(#"{"a":1}"#) == nil)
        #expect(action(#"["index"]"#) == nil)
        #expect(action(#"{"index":{"_index":"a\"b"}}"#) == nil)
    }

    @Test func indexNamesThatNeedEscapingAreInvalid() {
        for name in ["logs", "logs-2026.01.01", "ä"] { #expect(Array(name.utf8).withUnsafeBytes { HTTPBulk.isValidIndexName($0) } == (name != "ä"), "\(name)") }
        for name in ["a\"b", "a\\b", "a b", "a\u{1}"] { #expect(!Array(name.utf8).withUnsafeBytes { HTTPBulk.isValidIndexName($0) }, "\(name)") }
    }
}
