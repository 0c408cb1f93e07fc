import Foundation
import Glibc

/// A Python `http.server` receiver (HTTP/1.1, keep-alive, a thread per connection) written into
/// the test's directory and started on 127.0.0.1, port chosen by the kernel. It answers each
/// POST by a plan (`Mode`), decodes gzip and zstd bodies and JSON arrays, appends the lines of
/// every request it acknowledged (2xx) to `accepted.ndjson`, and logs each request to
/// `requests.log` (`number time path content-encoding lines x-test`).
final class HTTPReceiver {
    enum Mode: String {
        /// 200 to everything, alternately with a Content-Length and a chunked body.
        case ok
        /// The first request gets 429 with `Retry-After: 1`.
        case retryAfter = "retry-after"
        /// The first request gets 500.
        case failOnce = "fail-once"
        /// The first request is read and never answered (its handler sleeps 30 s).
        case silentOnce = "silent-once"
        /// The first request gets half a response, then the connection is closed.
        case closeMid = "close-mid"
        /// A request holding a line with `REFUSE` in it gets 400 with a two-line reason.
        case reject
    }

    let port: Int
    let acceptedPath: String
    let logPath: String
    private let process = Process()

    init(_ mode: Mode, in directory: TemporaryDirectory) throws {
        let script = directory.path("receiver.py")
        try Self.source.write(toFile: script, atomically: true, encoding: .utf8)
        acceptedPath = directory.path("accepted.ndjson")
        logPath = directory.path("requests.log")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, directory.url.path, mode.rawValue]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let portFile = directory.path("port")
        try waitUntil("the HTTP receiver's port file", within: .seconds(10)) { FileManager.default.fileExists(atPath: portFile) }
        port = Int(try String(contentsOfFile: portFile, encoding: .utf8))!
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            // SIGKILL: the test runner's blocked signals are inherited, so SIGTERM may never land.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// One line per request: (number, seconds since the epoch, path, encoding, lines, X-Test).
    func requests() -> [(number: Int, time: Double, path: String, encoding: String, lines: Int, header: String)] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { line in
            let f = line.split(separator: " ").map(String.init)
            return (Int(f[0])!, Double(f[1])!, f[2], f[3], Int(f[4])!, f[5])
        }
    }

    static let source = #"""
# A test HTTP receiver: answers POSTs by a plan, records the bodies it acknowledged.
import gzip, http.server, socketserver, sys, threading, time, os, json
directory, mode = sys.argv[1], sys.argv[2]
lock = threading.Lock()
state = {"requests": 0}
accepted = open(os.path.join(directory, "accepted.ndjson"), "ab")
log = open(os.path.join(directory, "requests.log"), "a")

def decode(body, encoding):
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "zstd":
        import subprocess
        return subprocess.run(["zstd", "-dc"], input=body, capture_output=True, check=True).stdout
    return body

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def answer(self, status, text=b"", headers=(), chunked=False):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(text), 7):
                part = text[i:i + 7]
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: t\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
    def do_POST(self):
        length = int(self.headers["Content-Length"])
        raw = self.rfile.read(length)
        body = decode(raw, self.headers.get("Content-Encoding", ""))
        with lock:
            state["requests"] += 1
            n = state["requests"]
        if self.headers.get("Content-Type") == "application/json":
            items = json.loads(body)
            lines = [json.dumps(i, separators=(",", ":")).encode() for i in items]
        else:
            lines = body.splitlines()
        log.write("%d %.3f %s %s %d %s\n" % (n, time.time(), self.path, self.headers.get("Content-Encoding", "-"), len(lines), self.headers.get("X-Test", "-")))
        log.flush()
        if mode == "retry-after" and n == 1:
            return self.answer(429, b"slow down", [("Retry-After", "1")])
        if mode == "fail-once" and n == 1:
            return self.answer(500, b"internal trouble")
        if mode == "silent-once" and n == 1:
            time.sleep(30)
            return
        if mode == "close-mid" and n == 1:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.wfile.flush()
            self.close_connection = True
            return
        if mode == "reject" and any(b"REFUSE" in l for l in lines):
            return self.answer(400, b"field n: cannot parse 'bad'\nsecond line")
        with lock:
            for l in lines:
                accepted.write(l + b"\n")
            accepted.flush()
        self.answer(200, b'{"ok":true}', chunked=(n % 2 == 0))

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
server = Server(("127.0.0.1", 0), Handler)
with open(os.path.join(directory, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(directory, "port.tmp"), os.path.join(directory, "port"))
server.serve_forever()
"""#
}
