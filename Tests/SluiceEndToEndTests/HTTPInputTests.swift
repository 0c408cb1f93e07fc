import Foundation
import Glibc
import Testing

/// The http input against real senders: the Python Elasticsearch client (`helpers.bulk`,
/// `helpers.parallel_bulk`, with and without `http_compress`), curl, and raw Python sockets for
/// keep-alive, pipelining and hostile requests.
extension EndToEndTests {
    @Suite struct HTTPInput {
        /// Runs a Python script with arguments; its standard output, or a failure with its errors.
        static func python(_ script: String, _ arguments: [String], within timeout: Duration = .seconds(120)) throws -> String {
            let process = try PythonProcess(script, arguments)
            return try process.finish(within: timeout)
        }

        /// Python: `read_answer(s)` reads a raw HTTP answer until the node closes the socket (or
        /// the socket's timeout passes) and returns its status (0: none) and whether it was closed.
        static let answerReader = """
            import socket
            def read_answer(s):
                data, closed = b"", False
                try:
                    while True:
                        chunk = s.recv(65536)
                        if not chunk: break
                        data += chunk
                    closed = True
                except ConnectionResetError:
                    closed = True
                except socket.timeout:
                    pass
                status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
                return status, closed

            """

        /// Every line of `path` parsed as a JSON object.
        static func documents(_ path: String) throws -> [[String: Any]] {
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            return try text.split(separator: "\n").map { line in
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw LoopbackTCP.Failure(description: "not a JSON object: \(line.prefix(200))")
                }
                return object
            }
        }

        static let shipWithElasticsearchClient = """
            import json, sys
            from elasticsearch import Elasticsearch, helpers
            port, n = int(sys.argv[1]), int(sys.argv[2])
            url = f"http://127.0.0.1:{port}"
            es = Elasticsearch(url, request_timeout=60)
            out = {"version": es.info()["version"]["number"]}
            def docs(client, count):
                for i in range(count):
                    yield {"_index": "logs-" + client, "_source": {"client": client, "seq": i, "msg": "é\\"x" * (i % 7)}}
            ok, errors = helpers.bulk(es, docs("bulk", n), chunk_size=500)
            out["bulk"], out["bulk_errors"] = ok, len(errors)
            out["parallel"] = sum(1 for success, _ in helpers.parallel_bulk(es, docs("parallel", n), thread_count=4, chunk_size=700) if success)
            compressed = Elasticsearch(url, http_compress=True, request_timeout=60)
            out["gzip"], _ = helpers.bulk(compressed, docs("gzip", n), chunk_size=1000)
            print(json.dumps(out))
            """

        @Test func elasticsearchHelpersBulkParallelBulkAndCompressedBulkShipEveryDocumentOnce() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port)", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let n = 20_000
            let result = try Self.python(Self.shipWithElasticsearchClient, ["\(port)", "\(n)"])
            let answer = try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any] ?? [:]
            #expect((answer["version"] as? String)?.hasPrefix("8.") == true, "\(answer)")
            #expect(answer["bulk"] as? Int == n, "\(answer)")
            #expect(answer["bulk_errors"] as? Int == 0, "\(answer)")
            #expect(answer["parallel"] as? Int == n, "\(answer)")
            #expect(answer["gzip"] as? Int == n, "\(answer)")

            // ack=output: every answer came after the file had its events, so they are all there now.
            let documents = try Self.documents(output)
            var seen: [String: Set<Int>] = [:]
            var problems: [String] = []
            for d in documents {
                guard let client = d["client"] as? String, let seq = d["seq"] as? Int, d["_index"] as? String == "logs-\(client)",
                      d["msg"] as? String == String(repeating: "é\"x", count: seq % 7) else {
                    if problems.count < 5 { problems.append("\(d)") }
                    continue
                }
                if !seen[client, default: []].insert(seq).inserted, problems.count < 5 { problems.append("twice: \(client) \(seq)") }
            }
            #expect(problems.isEmpty, "\(problems)")
            #expect(documents.count == 3 * n)
            for client in ["bulk", "parallel", "gzip"] { #expect(seen[client]?.count == n, "\(client): \(seen[client]?.count ?? 0)") }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 3 * n, "\(summary)")
            #expect(summary.count("http_errors") == 0, "\(summary)")
        }

        @Test func curlSendsAGzipBodyAndAChunkedBody() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port)", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            // 200,000 lines (about 8 MB inflated): many inflate rounds and receive buffers.
            let lines = (0..<200_000).map { "{\"seq\":\($0),\"msg\":\"line \($0) of the gzip body\"}\n" }.joined()
            let plain = directory.path("body.ndjson")
            try Data(lines.utf8).write(to: URL(fileURLWithPath: plain))
            try runProgram("/usr/bin/gzip", ["-k", plain])
            let gzipAnswer = try runProgram("/usr/bin/curl", ["-sS", "--fail-with-body", "-H", "Content-Encoding: gzip", "-H", "Content-Type: application/x-ndjson",
                                                        "--data-binary", "@\(plain).gz", "http://127.0.0.1:\(port)/ingest"])
            #expect(gzipAnswer.contains("\"events\":200000"), "\(gzipAnswer)")
            let chunkedAnswer = try runProgram("/usr/bin/curl", ["-sS", "--fail-with-body", "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(plain)",
                                                           "http://127.0.0.1:\(port)/ingest"])
            #expect(chunkedAnswer.contains("\"events\":200000"), "\(chunkedAnswer)")
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let written = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self)
            #expect(written == lines + lines)
        }

        static let pipelined = """
            import json, socket, sys
            port = int(sys.argv[1])
            s = socket.create_connection(("127.0.0.1", port))
            f = s.makefile("rb")
            def read(head=False):
                status = f.readline().split(b" ", 2)
                headers = {}
                while True:
                    line = f.readline()
                    if line in (b"\\r\\n", b""): break
                    k, v = line.decode().split(":", 1)
                    headers[k.strip().lower()] = v.strip()
                n = 0 if head else int(headers["content-length"])
                return {"status": int(status[1]), "headers": headers, "body": f.read(n).decode()}
            def chunked(data, size=3):
                return b"".join(b"%x\\r\\n%s\\r\\n" % (len(data[i:i+size]), data[i:i+size]) for i in range(0, len(data), size)) + b"0\\r\\n\\r\\n"
            bulk = b'{"index":{"_index":"p"}}\\n{"n":1}\\n{"create":{}}\\n{"n":2}\\n'
            nd = b'{"n":3}\\n{"n":4}'
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
                      + b"POST /q/_bulk HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(bulk) + bulk
                      + b"POST /nd HTTP/1.1\\r\\nHost: x\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n" + chunked(nd)
                      + b"HEAD / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
            out = [read(), read(), read(), read(head=True)]
            s.sendall(b"POST /nd HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 8\\r\\nConnection: close\\r\\n\\r\\n{\\"n\\":5}\\n")
            out.append(read())
            out.append({"closed": s.recv(1) == b""})
            print(json.dumps(out))
            """

        @Test func pipelinedRequestsOnOneKeepAliveConnectionAreAnsweredInOrder() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port)", "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let result = try Self.python(Self.pipelined, ["\(port)"], within: .seconds(30))
            let answers = try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [[String: Any]] ?? []
            try #require(answers.count == 6, "\(result)")
            func headers(_ i: Int) -> [String: String] { answers[i]["headers"] as? [String: String] ?? [:] }
            func body(_ i: Int) -> String { answers[i]["body"] as? String ?? "" }
            for i in 0..<5 {
                #expect(answers[i]["status"] as? Int == 200, "\(answers[i])")
                #expect(headers(i)["x-elastic-product"] == "Elasticsearch")
            }
            let info = try JSONSerialization.jsonObject(with: Data(body(0).utf8)) as? [String: Any] ?? [:]
            let version = info["version"] as? [String: Any] ?? [:]
            #expect((version["number"] as? String)?.hasPrefix("8.") == true)
            #expect(version["build_flavor"] as? String == "default")
            #expect(info["tagline"] as? String == "You Know, for Search")
            let bulk = try JSONSerialization.jsonObject(with: Data(body(1).utf8)) as? [String: Any] ?? [:]
            #expect(bulk["errors"] as? Bool == false)
            #expect(bulk["took"] is Int)
            let items = bulk["items"] as? [[String: [String: Any]]] ?? []
            #expect(items.count == 2)
            #expect(items.first?["index"]?["_index"] as? String == "p")
            #expect(items.first?["index"]?["status"] as? Int == 201)
            #expect(items.last?["create"]?["_index"] as? String == "q")
            #expect(body(2).contains("\"events\":2"))
            #expect(headers(3)["content-length"] == headers(0)["content-length"])  // HEAD: the GET's headers, no body
            #expect(headers(4)["connection"] == "close")
            #expect(answers[5]["closed"] as? Bool == true)
            let written = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self)
            #expect(written == "{\"_index\":\"p\",\"n\":1}\n{\"_index\":\"q\",\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n")
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        }

        /// Sends one bulk request of `n` documents (index `tag`) on its own connection and prints
        /// the status and the number of items of the answer.
        static let oneBulk = """
            import http.client, json, sys
            port, n, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
            body = "".join('{"index":{"_index":"%s"}}\\n{"seq":%d}\\n' % (tag, i) for i in range(n)).encode()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            c.request("POST", "/_bulk", body=body, headers={"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            answer = r.read()
            items = len(json.loads(answer).get("items", [])) if r.status == 200 else 0
            print(json.dumps({"status": r.status, "items": items, "body": answer.decode()[:300]}))
            """

        static func answer(_ text: String) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] ?? [:]
        }

        /// ack=output: with the tcp output's receiver away, a request is not answered (the
        /// events are not delivered); once it comes back the answer arrives, and the receiver has
        /// every event. A second request meanwhile, with every pool event taken, is told 429.
        @Test func ackOutputAnswersOnlyAfterTheOutputHasTheEventsAndAFullPoolAnswers429() throws {
            let directory = try TemporaryDirectory()
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.goAway()
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--workers", "1", "--pool-capacity", "512",
                                            "--input", "http:listen=127.0.0.1:\(port)",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port),reconnect-max=100ms"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            // 100 documents fit in the pool: they are all framed, only the output's
            // acknowledgement is missing (ackReceiveAnswersWhileTheOutputIsDown: the same request
            // is answered at once with ack=receive).
            let held = try PythonProcess(Self.oneBulk, ["\(port)", "100", "held"])
            usleep(1_500_000)
            #expect(held.isRunning, "answered while the output had nothing")
            // 2,000 documents: more than the pool holds, so this one waits for events too.
            let filling = try PythonProcess(Self.oneBulk, ["\(port)", "2000", "filling"])
            usleep(2_000_000)  // python starts and fills the pool; full for longer than refuse-after (100 ms)
            #expect(held.isRunning && filling.isRunning, "answered while the output had nothing")
            #expect(receiver.receivedBytes == 0)
            let refused = try Self.answer(try Self.python(Self.oneBulk, ["\(port)", "10", "refused"], within: .seconds(30)))
            #expect(refused["status"] as? Int == 429, "\(refused)")
            #expect((refused["body"] as? String)?.contains("es_rejected_execution_exception") == true, "\(refused)")
            #expect(held.isRunning && filling.isRunning)

            try receiver.comeBack()
            let heldAnswer = try Self.answer(try held.finish(within: .seconds(60)))
            #expect(heldAnswer["status"] as? Int == 200, "\(heldAnswer)")
            #expect(heldAnswer["items"] as? Int == 100, "\(heldAnswer)")
            let fillingAnswer = try Self.answer(try filling.finish(within: .seconds(60)))
            #expect(fillingAnswer["status"] as? Int == 200, "\(fillingAnswer)")
            #expect(fillingAnswer["items"] as? Int == 2000, "\(fillingAnswer)")
            // Answered after the receiver's kernel acknowledged every event; it reads them soon.
            let bytes = 100 * "{\"_index\":\"held\",\"seq\":0}\n".utf8.count + 2000 * "{\"_index\":\"filling\",\"seq\":0}\n".utf8.count
            try waitUntil("2,100 events at the receiver", within: .seconds(10), while: sluice) { receiver.receivedBytes >= bytes }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let summary = try sluice.summary()
            #expect(summary.count("events_in") == 2100, "\(summary)")
            #expect(summary.count("http_errors") == 1, "\(summary)")
        }

        /// ack=receive answers once the events are in the pool, whatever the output does.
        @Test func ackReceiveAnswersWhileTheOutputIsDown() throws {
            let directory = try TemporaryDirectory()
            let receiver = try LineReceiver()
            defer { receiver.stop() }
            receiver.goAway()
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off", "--input", "http:listen=127.0.0.1:\(port),ack=receive",
                                            "--output", "tcp:address=127.0.0.1:\(receiver.port),reconnect-max=100ms"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let answer = try Self.answer(try Self.python(Self.oneBulk, ["\(port)", "100", "early"], within: .seconds(30)))
            #expect(answer["status"] as? Int == 200, "\(answer)")
            #expect(answer["items"] as? Int == 100, "\(answer)")
            #expect(receiver.receivedBytes == 0)
            try receiver.comeBack()
            try waitUntil("100 events at the receiver", within: .seconds(10), while: sluice) {
                receiver.receivedBytes >= 100 * "{\"_index\":\"early\",\"seq\":0}\n".utf8.count
            }
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
        }

        /// Hostile requests, each on its own connection, while a normal client ships 10,000
        /// events over one keep-alive connection; prints what each hostile request got.
        static let hostile = answerReader + """
            import gzip, http.client, json, socket, sys, threading, time
            port = int(sys.argv[1])
            normal = {"ok": 0, "retried": 0, "other": []}
            def ship():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                for r in range(100):
                    body = "".join('{"normal":%d}\\n' % (r * 100 + i) for i in range(100)).encode()
                    while True:
                        c.request("POST", "/normal", body=body)
                        resp = c.getresponse()
                        resp.read()
                        # 429 while the pool is full (the bomb's megabyte of lines fills it):
                        # sent again after a pause, as Beats and the clients do.
                        if resp.status != 429: break
                        normal["retried"] += 1
                        time.sleep(0.05)
                    if resp.status == 200: normal["ok"] += 1
                    else: normal["other"].append(resp.status)
                    time.sleep(0.02)
            shipper = threading.Thread(target=ship)
            shipper.start()
            def exchange(raw, trickle=b"", pause=0.2):
                s = socket.create_connection(("127.0.0.1", port))
                s.settimeout(15)
                started = time.monotonic()
                try:
                    s.sendall(raw)
                    for b in trickle:
                        s.sendall(bytes([b]))
                        time.sleep(pause)
                except OSError:
                    pass
                status, closed = read_answer(s)
                s.close()
                return {"status": status, "closed": closed, "seconds": round(time.monotonic() - started, 1)}
            post = b"POST /h HTTP/1.1\\r\\nHost: x\\r\\n"
            bomb = gzip.compress(b'{"a":0}\\n' * (4 * 1024 * 1024))
            out = {
                "content_length_and_chunked": exchange(post + b"Content-Length: 5\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n0\\r\\n\\r\\n"),
                "two_content_lengths": exchange(post + b"Content-Length: 5\\r\\nContent-Length: 6\\r\\n\\r\\nabcdef"),
                "chunk_size_overflow": exchange(post + b"Transfer-Encoding: chunked\\r\\n\\r\\n10000000000000000000001\\r\\nx\\r\\n"),
                "header_over_limit": exchange(post + b"X-Big: " + b"a" * 5000 + b"\\r\\n\\r\\n"),
                "too_many_headers": exchange(post + b"".join(b"X-%d: v\\r\\n" % i for i in range(60)) + b"\\r\\n"),
                "body_over_max_body": exchange(post + b"Content-Length: 2000000\\r\\n\\r\\n"),
                "chunked_over_max_body": exchange(post + b"Transfer-Encoding: chunked\\r\\n\\r\\n" + (b"10000\\r\\n" + b"x" * 65536 + b"\\r\\n") * 20),
                "gzip_bomb": exchange(post + b"Content-Encoding: gzip\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(bomb) + bomb),
                "not_gzip": exchange(post + b"Content-Encoding: gzip\\r\\nContent-Length: 10\\r\\n\\r\\nnot gzip!!"),
                "slow_body": exchange(post + b"Content-Length: 100000\\r\\n\\r\\nabc", trickle=b"d" * 40),
                "slow_headers": exchange(b"POST /h HTTP/1.1\\r\\nX-Slow: ", trickle=b"e" * 40),
                "bad_version": exchange(b"POST /h HTTP/9.9\\r\\n\\r\\n"),
            }
            shipper.join()
            out["normal_ok"] = normal["ok"]
            out["normal_other"] = normal["other"]
            out["normal_retried"] = normal["retried"]
            print(json.dumps(out))
            """

        @Test func hostileRequestsAreRefusedAndClosedWhileANormalClientShipsEverything() throws {
            let directory = try TemporaryDirectory()
            let output = directory.path("out.ndjson")
            let port = try LoopbackTCP.freePort()
            let sluice = try SluiceProcess(["run", "--admin", "off",
                                            "--input", "http:listen=127.0.0.1:\(port),max-header-size=4KiB,max-headers=50,max-body=1MiB,request-timeout=1s",
                                            "--output", "file:path=\(output)"], in: directory)
            try sluice.waitForStandardError(containing: "started", within: .seconds(10))
            let result = try Self.answer(try Self.python(Self.hostile, ["\(port)"], within: .seconds(150)))
            func outcome(_ name: String) -> (status: Int, closed: Bool, seconds: Double) {
                let o = result[name] as? [String: Any] ?? [:]
                return (o["status"] as? Int ?? -1, o["closed"] as? Bool ?? false, o["seconds"] as? Double ?? -1)
            }
            for (name, status) in [("content_length_and_chunked", 400), ("two_content_lengths", 400), ("chunk_size_overflow", 400),
                                   ("header_over_limit", 400), ("too_many_headers", 400), ("body_over_max_body", 413),
                                   ("chunked_over_max_body", 413), ("gzip_bomb", 413), ("not_gzip", 400), ("bad_version", 505)] {
                #expect(outcome(name).status == status, "\(name): \(result[name] ?? "missing")")
                #expect(outcome(name).closed, "\(name) was left open: \(result[name] ?? "missing")")
            }
            // Slowloris: closed after request-timeout (1 s, checked about once a second), long
            // before the 8 s the trickle would take; no answer is owed.
            for name in ["slow_body", "slow_headers"] {
                #expect(outcome(name).closed && outcome(name).seconds < 6, "\(name): \(result[name] ?? "missing")")
            }
            #expect(result["normal_ok"] as? Int == 100, "\(result)")
            sluice.send(signal: SIGTERM)
            #expect(try sluice.waitForExit(within: .seconds(15)) == .exited(0))
            let lines = String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self).split(separator: "\n")
            let normal = Set(lines.filter { $0.hasPrefix("{\"normal\":") })
            #expect(normal.count == 10_000)
            #expect(lines.filter { $0.hasPrefix("{\"normal\":") }.count == 10_000)
            let summary = try sluice.summary()
            let retried = result["normal_retried"] as? Int ?? 0
            #expect(summary.count("http_errors") == 10 + retried, "\(summary)")
            #expect(summary.count("connections_timed_out") == 2, "\(summary)")
        }
    }
}

/// A Python process whose output is read while it runs (no pipe fills up).
final class PythonProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe(), errors = Pipe()
    private var outputData = Data(), errorData = Data()
    private let group = DispatchGroup()

    init(_ script: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        group.enter()
        Thread { self.outputData = self.output.fileHandleForReading.readDataToEndOfFile(); self.group.leave() }.start()
        group.enter()
        Thread { self.errorData = self.errors.fileHandleForReading.readDataToEndOfFile(); self.group.leave() }.start()
    }

    var isRunning: Bool { process.isRunning }

    /// Waits for the exit; its standard output, or a failure with the errors.
    func finish(within timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            group.wait()
            throw LoopbackTCP.Failure(description: "python did not finish within \(timeout): \(String(decoding: errorData, as: UTF8.self).suffix(3000))")
        }
        process.waitUntilExit()
        group.wait()
        let problems = String(decoding: errorData, as: UTF8.self)
        if problems.contains("No module named 'elasticsearch'") {
            throw LoopbackTCP.Failure(description: "the Python module elasticsearch is missing: install it with `pip install elasticsearch` (make test-deps)")
        }
        guard process.terminationStatus == 0 else {
            throw LoopbackTCP.Failure(description: "python exited \(process.terminationStatus): \(problems.suffix(3000))")
        }
        return String(decoding: outputData, as: UTF8.self)
    }
}

/// Runs a program to its end; its standard output, or a failure with its errors.
@discardableResult
func runProgram(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe(), errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    nonisolated(unsafe) var outputData = Data()
    let done = DispatchSemaphore(value: 0)
    Thread { outputData = output.fileHandleForReading.readDataToEndOfFile(); done.signal() }.start()
    let problems = errors.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw LoopbackTCP.Failure(description: "\(executable) exited \(process.terminationStatus): \(String(decoding: problems, as: UTF8.self)) \(String(decoding: outputData, as: UTF8.self).prefix(2000))")
    }
    return String(decoding: outputData, as: UTF8.self)
}
