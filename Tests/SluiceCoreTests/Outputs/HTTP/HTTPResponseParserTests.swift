import Testing

@testable import SluiceCore

/// Feeds `text` to a parser in pieces of `piece` bytes, as receives would; returns the outcome
/// after the last piece (or the first that is not `.incomplete`) and the parser.
private func parse(_ text: String, piece: Int = .max, headLimit: Int = 1024, kept: Int = 64,
                   closeAtEnd: Bool = false) -> (HTTPResponseParser.Outcome, HTTPResponseParser) {
    var parser = HTTPResponseParser(headBytesLimit: headLimit, bodyKeptLimit: kept)
    let bytes = Array(text.utf8)
    var at = 0
    var outcome = HTTPResponseParser.Outcome.incomplete
    while at < bytes.count {
        let (space, room) = parser.space
        let n = min(piece, room, bytes.count - at)
        if n == 0 { return (.malformed("no room"), parser) }
        bytes[at..<(at + n)].withUnsafeBytes { space.copyMemory(from: $0.baseAddress!, byteCount: n) }
        at += n
        outcome = parser.received(n)
        if outcome != .incomplete { return (outcome, parser) }
    }
    if closeAtEnd { outcome = parser.closed() }
    return (outcome, parser)
}

@Suite struct HTTPResponseParserTests {
    @Test func aContentLengthResponseIsCompleteWhateverTheReceivesCutItInto() {
        let text = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nServer: x\r\n\r\nhello world"
        for piece in [1, 2, 3, 7, 1000] {
            let (outcome, parser) = parse(text, piece: piece)
            #expect(outcome == .complete, "piece \(piece)")
            #expect(parser.status == 200)
            #expect(parser.keptText == "hello world")
            #expect(!parser.closeAfter)
        }
    }

    @Test func aChunkedBodyWithExtensionsAndTrailersIsDecoded() {
        let text = "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
        for piece in [1, 4, 1000] {
            let (outcome, parser) = parse(text, piece: piece)
            #expect(outcome == .complete, "piece \(piece)")
            #expect(parser.status == 400)
            #expect(parser.keptText == "hello world")
        }
    }

    @Test func onlyTheFirstBytesOfALongBodyAreKeptAndTheRestIsStillRead() {
        let body = String(repeating: "e", count: 10_000)
        let (outcome, parser) = parse("HTTP/1.1 500 Oops\r\nContent-Length: 10000\r\n\r\n" + body, piece: 512, kept: 16)
        #expect(outcome == .complete)
        #expect(parser.keptText == String(repeating: "e", count: 16))
    }

    @Test func aResponseWithoutLengthEndsWhenTheServerCloses() {
        let (open, _) = parse("HTTP/1.1 200 OK\r\n\r\npartial body")
        #expect(open == .incomplete)
        let (closed, parser) = parse("HTTP/1.1 200 OK\r\n\r\npartial body", closeAtEnd: true)
        #expect(closed == .complete)
        #expect(parser.closeAfter)
        #expect(parser.keptText == "partial body")
    }

    @Test func aConnectionClosedBeforeTheBodyEndsIsAnError() {
        let (outcome, _) = parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", closeAtEnd: true)
        #expect(outcome == .malformed("connection closed in the middle of a response"))
    }

    @Test func interimResponsesAreSkipped() {
        let (outcome, parser) = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", piece: 5)
        #expect(outcome == .complete)
        #expect(parser.status == 204)
    }

    @Test func retryAfterSecondsAndConnectionCloseAreRead() {
        let (outcome, parser) = parse("HTTP/1.1 429 Too Many\r\nretry-after:  7 \r\nCONNECTION: Close\r\ncontent-length: 0\r\n\r\n")
        #expect(outcome == .complete)
        #expect(parser.retryAfterSeconds == 7)
        #expect(parser.closeAfter)
        let (_, dated) = parse("HTTP/1.1 503 Busy\r\nRetry-After: Fri, 31 Dec 1999 23:59:59 GMT\r\nContent-Length: 0\r\n\r\n")
        #expect(dated.retryAfterSeconds == nil)
    }

    @Test func http10ClosesUnlessItAsksForKeepAlive() {
        #expect(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").1.closeAfter)
        #expect(!parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").1.closeAfter)
    }

    @Test func aHeadOverTheLimitIsAnErrorNotAGrowingBuffer() {
        let text = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 5000) + "\r\n\r\n"
        let (outcome, _) = parse(text, piece: 100, headLimit: 1024)
        #expect(outcome == .malformed("response head over 1024 bytes"))
    }

    @Test func hostileHeadsAreRefused() {
        let cases: [(String, String)] = [
            ("SMTP ready\r\n\r\n", "not an HTTP/1.x status line"),
            ("HTTP/1.1 2x0 OK\r\n\r\n", "not an HTTP/1.x status line"),
            ("HTTP/1.1 999 What\r\n\r\n", "status 999 out of range"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length headers"),
            ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", "invalid Content-Length"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and chunked"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
            ("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "header line without a colon"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", "invalid chunk size"),
            ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", "chunk data not followed by CRLF"),
            ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", "bytes after the end of the response"),
        ]
        for (text, problem) in cases {
            #expect(parse(text).0 == .malformed(problem), "\(text.debugDescription)")
        }
    }

    @Test func anEndlessChunkSizeLineIsRefused() {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "0", count: 400)
        #expect(parse(text, piece: 50).0 == .malformed("chunk-size line over 256 bytes"))
    }

    @Test func theParserIsReusedForTheNextResponseAfterReset() {
        var (outcome, parser) = parse("HTTP/1.1 500 No\r\nContent-Length: 2\r\n\r\nno")
        #expect(outcome == .complete)
        parser.reset()
        let bytes = Array("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".utf8)
        bytes.withUnsafeBytes { parser.space.0.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        outcome = parser.received(bytes.count)
        #expect(outcome == .complete)
        #expect(parser.status == 200)
        #expect(parser.keptText == "")
    }
}
