import Foundation
import Glibc
import Testing

extension EndToEndTests.HTTPInput {
    /// Python for raw requests to the node at the port in the first argument: `exchange(raw)`
    /// sends `raw` on a new connection and returns the answer's status and whether the node
    /// closed the connection; `normal(tag)` sends a well-formed request of `{"after":tag}` and
    /// returns its status.
    static let rawClient = answerReader + """
        import json, sys
        port = int(sys.argv[1])
        def exchange(raw):
            s = socket.create_connection(("127.0.0.1", port))
            s.settimeout(15)
            try:
                s.sendall(raw)
            except OSError:
                pass
            answer = read_answer(s)
            s.close()
            return answer
        def normal(tag):
            body = b'{"after":%s}\\n' % json.dumps(tag).encode()
            status, _ = exchange(b"POST /n HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
            return status

        """

    /// Request smuggling: heads a lenient parser reads one way and a proxy another. Each sends a
    /// smuggled line that a parser taking the request would deliver; prints, per shape, the
    /// status, whether the connection was closed, and whether a normal request on a new
    /// connection right after was answered 200.
    static let smuggling = rawClient + """
        post = b"POST /h HTTP/1.1\\r\\nHost: x\\r\\n"
        line = b'{"smuggled":%d}\\n'
        def inner(n):
            body = line % n
            return b"POST /h HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body
        shapes = {
            "transfer_encoding_then_content_length": lambda n: post + b"Transfer-Encoding: chunked\\r\\nContent-Length: 5\\r\\n\\r\\n0\\r\\n\\r\\n" + inner(n),
            "two_transfer_encodings": lambda n: post + b"Transfer-Encoding: chunked\\r\\nTransfer-Encoding: identity\\r\\n\\r\\n0\\r\\n\\r\\n" + inner(n),
            "transfer_encoding_list": lambda n: post + b"Transfer-Encoding: identity, chunked\\r\\n\\r\\n0\\r\\n\\r\\n" + inner(n),
            "space_before_colon": lambda n: post + b"Transfer-Encoding : chunked\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "space_in_header_name": lambda n: post + b"Content Length: 0\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "negative_content_length": lambda n: post + b"Content-Length: -%d\\r\\n\\r\\n" % len(line % n) + line % n,
            "signed_content_length": lambda n: post + b"Content-Length: +%d\\r\\n\\r\\n" % len(line % n) + line % n,
            "hex_content_length": lambda n: post + b"Content-Length: 0x%x\\r\\n\\r\\n" % len(line % n) + line % n,
            "content_length_list": lambda n: post + b"Content-Length: %d, 0\\r\\n\\r\\n" % len(line % n) + line % n,
            "content_length_then_zero": lambda n: post + b"Content-Length: %d\\r\\nContent-Length: 0\\r\\n\\r\\n" % len(line % n) + line % n,
            "content_length_over_64_bits": lambda n: post + b"Content-Length: %d\\r\\n\\r\\n" % (2**64 + len(line % n)) + line % n,
            "obs_fold": lambda n: post + b"X-Note: a\\r\\n Transfer-Encoding: chunked\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "bare_lf_head": lambda n: b"POST /h HTTP/1.1\\nHost: x\\nContent-Length: %d\\n\\n" % len(line % n) + line % n,
            "bare_lf_after_a_header": lambda n: post + b"X-A: a\\nContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "bare_cr_in_a_header": lambda n: post + b"X-A: a\\rContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "nul_in_a_header": lambda n: post + b"X-A: a\\x00\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(line % n) + line % n,
            "negative_chunk_size": lambda n: post + b"Transfer-Encoding: chunked\\r\\n\\r\\n-%x\\r\\n" % len(line % n) + line % n + b"\\r\\n0\\r\\n\\r\\n",
            "chunk_size_over_64_bits": lambda n: post + b"Transfer-Encoding: chunked\\r\\n\\r\\n1%016x\\r\\n" % len(line % n) + line % n + b"\\r\\n0\\r\\n\\r\\n",
            "chunk_size_bare_lf": lambda n: post + b"Transfer-Encoding: chunked\\r\\n\\r\\n%x\\n" % len(line % n) + line % n + b"\\r\\n0\\r\\n\\r\\n",
        }
        out = {}
        for k, (name, shape) in enumerate(shapes.items()):
            status, closed = exchange(shape(k))
            out[name] = {"status": status, "closed": closed, "next": normal(k)}
        print(json.dumps(out))
        """

    /// Every shape is answered 400 and its connection closed; no smuggled line reaches the
    /// output, and the normal request after each is answered 200 and delivered.
    @Test func requestSmugglingShapesAreAnswered400AndClosedAndNothingOfThemIsDelivered() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.ndjson")
        let port = try LoopbackTCP.freePort()
        let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port),request-timeout=5s",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        let result = try Self.answer(try Self.python(Self.smuggling, ["\(port)"], within: .seconds(120)))
        #expect(result.count == 19, "\(result)")
        for (name, value) in result {
            let o = value as? [String: Any] ?? [:]
            #expect(o["status"] as? Int == 400, "\(name): \(o)")
            #expect(o["closed"] as? Bool == true, "\(name) was left open: \(o)")
            #expect(o["next"] as? Int == 200, "\(name): the next client got \(o)")
        }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n")
        #expect(lines.filter { $0.contains("smuggled") }.isEmpty, "\(lines.filter { $0.contains("smuggled") })")
        #expect(lines.filter { $0.hasPrefix("{\"after\":") }.sorted() == (0..<result.count).map { "{\"after\":\($0)}" }.sorted())
        let summary = try sluice.summary()
        #expect(summary.count("http_errors") == result.count, "\(summary)")
    }
}

extension EndToEndTests.HTTPInput {
    /// A chunked body that breaks after valid data: each shape sends 50 whole lines and half of
    /// line 50 in good chunks, then framing that is not a chunk (or the client vanishes). Prints,
    /// per shape, the status, whether the connection was closed, and whether a normal request on
    /// a new connection right after was answered 200.
    static let brokenChunks = rawClient + """
        def good(name):
            lines = b"".join(b'{"shape":"%s","n":%d}\\n' % (name.encode(), i) for i in range(50))
            half = b'{"shape":"%s","n":50,"cut":' % name.encode()
            head = b"POST /%s HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n" % name.encode()
            return head + b"%x\\r\\n" % len(lines) + lines + b"\\r\\n" + b"%x\\r\\n" % len(half) + half + b"\\r\\n"
        after = b'"x"}\\n{"shape":"%s","n":51}\\n'
        shapes = {
            "size_not_hex": lambda n: good(n) + b"zz\\r\\n" + after % n.encode() + b"\\r\\n0\\r\\n\\r\\n",
            "data_longer_than_its_size": lambda n: good(n) + b"2\\r\\n" + after % n.encode() + b"\\r\\n0\\r\\n\\r\\n",
            "size_over_64_bits": lambda n: good(n) + b"1%016x\\r\\n" % len(after % n.encode()) + after % n.encode() + b"\\r\\n0\\r\\n\\r\\n",
        }
        out = {}
        for name, shape in shapes.items():
            status, closed = exchange(shape(name))
            out[name] = {"status": status, "closed": closed, "next": normal(name)}
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(good("vanished"))
        s.close()
        out["vanished"] = {"next": normal("vanished")}
        print(json.dumps(out))
        """

    /// What was framed before the break is delivered (each of the 50 whole lines once, with
    /// `ack=output`), the cut line and everything after it are not; the request is answered 400
    /// and closed; a client that vanishes mid-body loses only its unfinished line; the next
    /// client is served.
    @Test func aChunkedBodyThatBreaksAfterValidDataDeliversItsWholeLinesOnlyAndIsAnswered400() throws {
        let directory = try TemporaryDirectory()
        let output = directory.path("out.ndjson")
        let port = try LoopbackTCP.freePort()
        let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port),request-timeout=5s",
                                        "--output", "file:path=\(output)"], in: directory)
        try sluice.waitForStandardError(containing: "started", within: .seconds(10))
        let result = try Self.answer(try Self.python(Self.brokenChunks, ["\(port)"], within: .seconds(120)))
        #expect(result.count == 4, "\(result)")
        for (name, value) in result {
            let o = value as? [String: Any] ?? [:]
            #expect(o["next"] as? Int == 200, "\(name): the next client got \(o)")
            if name == "vanished" { continue }  // it hung up: there is no answer to read
            #expect(o["status"] as? Int == 400, "\(name): \(o)")
            #expect(o["closed"] as? Bool == true, "\(name) was left open: \(o)")
        }
        sluice.send(signal: SIGTERM)
        #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        let documents = try Self.documents(output)
        for shape in result.keys {
            let numbers = documents.filter { $0["shape"] as? String == shape }.compactMap { $0["n"] as? Int }
            #expect(numbers.sorted() == Array(0..<50), "\(shape): \(numbers.count) lines, past the break: \(numbers.filter { $0 >= 50 })")
            #expect(documents.filter { $0["after"] as? String == shape }.count == 1, "\(shape): the next client's line")
        }
        #expect(documents.count == result.count * 51, "\(documents.count) lines")
        let summary = try sluice.summary()
        #expect(summary.count("http_errors") == 3, "\(summary)")
    }
}
