import Testing

@testable import SluiceCore

@Suite struct AdminServerTests {
    func parse(_ text: String) -> AdminServer.HeadParse { AdminServer.parseHead(Array(text.utf8)) }

    @Test func aCompleteGetHeadYieldsItsMethodAndPathWithoutTheQuery() {
        guard case .complete(let request, let bytes) = parse("GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\nleftover") else {
            Issue.record("not parsed as complete")
            return
        }
        #expect(request.method == "GET")
        #expect(request.path == "/metrics")
        #expect(bytes == "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n".utf8.count)
    }

    @Test func bareLineFeedsAndHTTP10AreAccepted() {
        guard case .complete(let request, _) = parse("HEAD /live HTTP/1.0\nHost: a\n\n") else {
            Issue.record("not parsed as complete")
            return
        }
        #expect(request.method == "HEAD")
    }

    @Test func aHeadWithoutItsBlankLineIsIncomplete() {
        guard case .incomplete = parse("GET /live HTTP/1.1\r\nHost: a\r\n") else {
            Issue.record("expected incomplete")
            return
        }
    }

    @Test(arguments: ["GET /live\r\n\r\n", "GET live HTTP/1.1\r\n\r\n", "GET /live HTTP/2.0\r\n\r\n", "G(T /live HTTP/1.1\r\n\r\n",
                      "GET  /live HTTP/1.1\r\n\r\n", "GET /live HTTP/1.1\r\nno colon\r\n\r\n", "GET /live HTTP/1.1\r\n: empty name\r\n\r\n",
                      "HELLO\r\n"])
    func malformedHeadsAreRejected(text: String) {
        guard case .malformed = parse(text) else {
            Issue.record("accepted \(text.debugDescription)")
            return
        }
    }
}
