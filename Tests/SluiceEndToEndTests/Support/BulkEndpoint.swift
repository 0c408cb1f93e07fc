import Foundation
import Glibc

/// An Elasticsearch-compatible bulk endpoint (no Elasticsearch server installs here): a Python
/// `http.server` written into the test's directory and started on 127.0.0.1, answering
/// `POST …/_bulk` with the body Elasticsearch's bulk API documents — `took`, `errors`, and per
/// action an item with `_index`, `status` and, on failure, `error` {`type`, `reason`,
/// `caused_by`, …} — and `GET /` with the version object, every answer with the
/// `X-Elastic-Product: Elasticsearch` header the official clients check.
///
/// Each document is judged by its `n`: a string is a mapping error (400
/// `mapper_parsing_exception`, as a `long` field given text); with `flaky`, `n % 7 == 3` is
/// refused 429 (`es_rejected_execution_exception`) and `n % 11 == 5` 503
/// (`unavailable_shards_exception`) the first time each is seen, and taken the next. Taken
/// documents that are numbered lines go to `accepted.ndjson` as sent; others to
/// `others.ndjson` as `{"_index":…,"doc":…}`. `requests.log` has a line per bulk request:
/// `number path content-encoding authorization n,n,…` (the n of each action, `-` for none).
final class BulkEndpoint {
    let port: Int
    let acceptedPath: String
    let othersPath: String
    let logPath: String
    private let directory: TemporaryDirectory
    private let flaky: Bool
    private var process = Process()

    /// `port` 0: a free one; `stop()` and `start()` take the endpoint down and up again on it.
    init(flaky: Bool, port: Int = 0, in directory: TemporaryDirectory) throws {
        self.directory = directory
        self.flaky = flaky
        acceptedPath = directory.path("accepted.ndjson")
        othersPath = directory.path("others.ndjson")
        logPath = directory.path("requests.log")
        try Self.source.write(toFile: directory.path("bulk_endpoint.py"), atomically: true, encoding: .utf8)
        self.port = try Self.launch(process, flaky: flaky, port: port, in: directory)
    }

    private static func launch(_ process: Process, flaky: Bool, port: Int, in directory: TemporaryDirectory) throws -> Int {
        let portFile = directory.path("bulk_port")
        try? FileManager.default.removeItem(atPath: portFile)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", directory.path("bulk_endpoint.py"), directory.url.path, flaky ? "flaky" : "plain", "\(port)"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        try waitUntil("the bulk endpoint's port file", within: .seconds(10)) { FileManager.default.fileExists(atPath: portFile) }
        return Int(try String(contentsOfFile: portFile, encoding: .utf8))!
    }

    deinit { stop() }

    /// Kills the endpoint (SIGKILL, as a crash: a request in flight gets no answer).
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Starts it again on the same port, appending to the same files.
    func start() throws {
        process = Process()
        _ = try Self.launch(process, flaky: flaky, port: port, in: directory)
    }

    /// One entry per bulk request, in order.
    func requests() -> [(path: String, encoding: String, authorization: String, numbers: [String])] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let f = line.split(separator: " ").map(String.init)
            return (f[1], f[2], f[3].removingPercentEncoding ?? f[3], f[4] == "-" ? [] : f[4].split(separator: ",").map(String.init))
        }
    }

    static let source = #"""
# An Elasticsearch-compatible bulk endpoint for tests: answers as the bulk API documents.
import gzip, http.server, json, os, socketserver, sys, threading, time, urllib.parse, uuid
directory, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
lock = threading.Lock()
state = {"requests": 0, "seen": {}, "seq": 0}
accepted = open(os.path.join(directory, "accepted.ndjson"), "ab")
others = open(os.path.join(directory, "others.ndjson"), "ab")
log = open(os.path.join(directory, "requests.log"), "a")
INFO = {"name": "bulk-endpoint", "cluster_name": "test", "cluster_uuid": "x",
        "version": {"number": "8.11.0", "build_flavor": "default", "build_type": "deb", "lucene_version": "9.8.0",
                    "minimum_wire_compatibility_version": "7.17.0", "minimum_index_compatibility_version": "7.0.0"},
        "tagline": "You Know, for Search"}

def failure(status, kind, reason, index, cause=None):
    error = {"type": kind, "reason": reason, "index_uuid": "aAsFqTI0Tc2W0LCWgPNrOA", "shard": "0", "index": index}
    if cause:
        error["caused_by"] = cause
    return status, error

def judge(doc, index):
    n = doc.get("n")
    if isinstance(n, str):
        return failure(400, "mapper_parsing_exception",
                       "failed to parse field [n] of type [long] in document with id '%s'. Preview of field's value: '%s'" % (uuid.uuid4().hex[:20], n),
                       index, {"type": "illegal_argument_exception", "reason": "For input string: \"%s\"" % n})
    if mode == "flaky" and isinstance(n, int):
        with lock:
            attempt = state["seen"].get(n, 0) + 1
            state["seen"][n] = attempt
        if attempt == 1 and n % 7 == 3:
            return failure(429, "es_rejected_execution_exception",
                           "rejected execution of coordinating operation [coordinating_and_primary_bytes=104759862, max_coordinating_and_primary_bytes=107374182]", index)
        if attempt == 1 and n % 11 == 5:
            return failure(503, "unavailable_shards_exception", "[%s][0] primary shard is not active Timeout: [1m]" % index, index)
    return 201, None

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The answer's head and body are two writes: without TCP_NODELAY the body waits for the
    # client's delayed ACK (40 ms a request).
    disable_nagle_algorithm = True
    def log_message(self, *args):
        pass
    def answer(self, status, obj, head=False):
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)
    def do_GET(self):
        self.answer(200, INFO)
    def do_HEAD(self):
        self.answer(200, INFO, head=True)
    def do_PUT(self):
        self.do_POST()
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        path = self.path.split("?")[0]
        if not path.endswith("/_bulk"):
            return self.answer(404, {"error": {"type": "resource_not_found_exception", "reason": "no handler"}, "status": 404})
        default_index = path[1:-len("/_bulk")] or None
        lines = [l for l in body.split(b"\n") if l.strip()]
        items, numbers, errors, i = [], [], False, 0
        taken, taken_others = [], []
        started = time.time()
        while i + 1 < len(lines):
            action = json.loads(lines[i])
            op = next(iter(action))
            index = action[op].get("_index", default_index)
            raw = lines[i + 1]
            doc = json.loads(raw)
            i += 2
            numbers.append(str(doc.get("n", "-")))
            status, error = judge(doc, index)
            with lock:
                state["seq"] += 1
                seq = state["seq"]
            if error:
                errors = True
                items.append({op: {"_index": index, "_id": uuid.uuid4().hex[:20], "status": status, "error": error}})
                continue
            if isinstance(doc.get("n"), int) and set(doc) == {"n", "check", "pad"}:
                taken.append(raw + b"\n")
            else:
                taken_others.append(json.dumps({"_index": index, "doc": doc}, separators=(",", ":")).encode() + b"\n")
            items.append({op: {"_index": index, "_id": uuid.uuid4().hex[:20], "_version": 1, "result": "created",
                               "_shards": {"total": 2, "successful": 1, "failed": 0}, "_seq_no": seq, "_primary_term": 1, "status": status}})
        # Taken documents are in the files (one write each) before the answer goes.
        with lock:
            if taken:
                accepted.write(b"".join(taken))
                accepted.flush()
            if taken_others:
                others.write(b"".join(taken_others))
                others.flush()
            state["requests"] += 1
            number = state["requests"]
            log.write("%d %s %s %s %s\n" % (number, self.path, self.headers.get("Content-Encoding", "-"),
                                            urllib.parse.quote(self.headers.get("Authorization", "-"), safe=""), ",".join(numbers) or "-"))
            log.flush()
        self.answer(200, {"took": int((time.time() - started) * 1000), "errors": errors, "items": items})

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
server = Server(("127.0.0.1", port), Handler)
with open(os.path.join(directory, "bulk_port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(directory, "bulk_port.tmp"), os.path.join(directory, "bulk_port"))
server.serve_forever()
"""#
}
