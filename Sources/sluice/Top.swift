import ArgumentParser
import Foundation
import Glibc
import SluiceCore

/// `sluice top`: a live view of a running node, read from its admin API's /metrics once a
/// second: per pipeline the event and byte rates, commit lag and latency percentiles; pool use,
/// worker busy ratios and stalls.
struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a running node's pipelines live (rates, pool use, commit lag, latency p50/p99) from its admin API.",
        discussion: "Refreshes every second until Ctrl-C; --once prints one frame (measured over one second) and exits. Exit code 1 when the admin API cannot be reached."
    )
    static let intervalMicros: UInt32 = 1_000_000

    @Option(name: .customLong("admin"), help: "the node's admin HOST:PORT")
    var admin = AdminAddress.defaultAddress.description
    @Flag(name: .customLong("once"), help: "print one frame and exit")
    var once = false

    func run() throws {
        guard let address = AdminAddress(parsing: admin) else { fail("--admin expects an IPv4 HOST:PORT such as 127.0.0.1:9090, got '\(admin)'") }
        let clear = !once && isatty(1) != 0
        var previous: (MetricsSnapshot, ContinuousClock.Instant)?
        while true {
            do {
                let text = try AdminClient.get(address, path: "/metrics")
                let now = ContinuousClock.now
                let current = MetricsSnapshot(parsing: text)
                if let (before, at) = previous {
                    let frame = TopFrame(address: address, before: before, after: current, seconds: Double((now - at).components.attoseconds) / 1e18 + Double((now - at).components.seconds)).render()
                    print((clear ? "\u{1B}[H\u{1B}[2J" : "") + frame)
                    if once { return }
                }
                previous = (current, now)
            } catch {
                if once || previous == nil && !clear {
                    printError("sluice top: \(error) (is a node running with --admin \(address)?)")
                    throw ExitCode(1)
                }
                print((clear ? "\u{1B}[H\u{1B}[2J" : "") + "sluice top: \(error); retrying")
                previous = nil
            }
            usleep(Top.intervalMicros)
        }
    }

    func printError(_ message: String) {
        var bytes = Array("\(message)\n".utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// A blocking HTTP/1.1 GET over one short-lived connection, with timeouts: all `top` needs.
enum AdminClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let timeoutSeconds = 2
    static let maxResponseBytes = 64 << 20

    static func get(_ address: AdminAddress, path: String) throws -> String {
        guard var target = SocketAddress.ipv4(address.host, port: address.port) else { throw Failure(description: "bad address \(address)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to http://\(address): \(String(cString: strerror(errno)))") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\n\r\n".utf8)
        let sent = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == request.count else { throw Failure(description: "sending the request to \(address) failed") }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while response.count < maxResponseBytes {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw Failure(description: "reading from \(address): \(String(cString: strerror(errno)))") }
            response.append(contentsOf: chunk[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "\(address) sent no complete HTTP response") }
        let statusLine = text[..<split.lowerBound].prefix { $0 != "\r" }
        guard statusLine.split(separator: " ").dropFirst().first == "200" else { throw Failure(description: "GET \(path): \(statusLine)") }
        return String(text[split.upperBound...])
    }
}

/// The samples of one /metrics scrape, by name and labels.
struct MetricsSnapshot {
    struct Sample {
        var name: Substring
        var labels: [Substring: String]
        var value: Double
    }

    var samples: [Sample] = []

    init(parsing text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            if let s = MetricsSnapshot.parse(line) { samples.append(s) }
        }
    }

    /// `name{a="x",b="y"} value` (label values unescaped); nil for anything else.
    static func parse(_ line: Substring) -> Sample? {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let head = line[..<space]
        guard let brace = head.firstIndex(of: "{") else { return Sample(name: head, labels: [:], value: value) }
        var labels: [Substring: String] = [:]
        var i = head.index(after: brace)
        while i < head.endIndex, head[i] != "}" {
            guard let eq = head[i...].firstIndex(of: "="), head.index(after: eq) < head.endIndex, head[head.index(after: eq)] == "\"" else { return nil }
            let key = head[i..<eq]
            var j = head.index(eq, offsetBy: 2)
            var v = ""
            while j < head.endIndex, head[j] != "\"" {
                if head[j] == "\\", head.index(after: j) < head.endIndex {
                    j = head.index(after: j)
                    v.append(head[j] == "n" ? "\n" : head[j])
                } else {
                    v.append(head[j])
                }
                j = head.index(after: j)
            }
            guard j < head.endIndex else { return nil }
            labels[key] = v
            i = head.index(after: j)
            if i < head.endIndex, head[i] == "," { i = head.index(after: i) }
        }
        return Sample(name: head[..<brace], labels: labels, value: value)
    }

    func all(_ name: String) -> [Sample] { samples.filter { $0.name == name } }

    /// Sum of `name` over the samples whose `label` is `value` (every sample when `label` is nil).
    func sum(_ name: String, _ label: Substring? = nil, _ value: String? = nil) -> Double {
        all(name).filter { label == nil || $0.labels[label!] == value }.reduce(0) { $0 + $1.value }
    }

    var pipelines: [String] {
        var names: [String] = []
        for s in all("sluice_events_in_total") { if let p = s.labels["pipeline"], !names.contains(p) { names.append(p) } }
        return names
    }

    /// Cumulative (upper bound, count) pairs of a pipeline's latency histogram, +Inf last.
    func latencyBuckets(_ pipeline: String) -> [(Double, Double)] {
        all("sluice_event_latency_seconds_bucket").filter { $0.labels["pipeline"] == pipeline }
            .compactMap { s in s.labels["le"].flatMap { $0 == "+Inf" ? Double.infinity : Double($0) }.map { ($0, s.value) } }
            .sorted { $0.0 < $1.0 }
    }
}

/// One screen of `top`: the difference between two snapshots `seconds` apart.
struct TopFrame {
    let address: AdminAddress
    let before: MetricsSnapshot
    let after: MetricsSnapshot
    let seconds: Double

    func rate(_ name: String, _ pipeline: String) -> Double {
        max(0, after.sum(name, "pipeline", pipeline) - before.sum(name, "pipeline", pipeline)) / max(seconds, 1e-9)
    }

    /// The `q` quantile of the latencies recorded between the snapshots, interpolated within
    /// its bucket as Prometheus' histogram_quantile does; nil when no event was acked.
    func latencyQuantile(_ q: Double, _ pipeline: String) -> Double? {
        let old = Dictionary(before.latencyBuckets(pipeline).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        let buckets = after.latencyBuckets(pipeline).map { ($0.0, $0.1 - (old[$0.0] ?? 0)) }
        guard let total = buckets.last?.1, total > 0 else { return nil }
        let rank = q * total
        var lower = 0.0, below = 0.0
        for (upper, count) in buckets {
            if count >= rank {
                if upper.isInfinite { return lower }
                return lower + (upper - lower) * (count - below > 0 ? (rank - below) / (count - below) : 1)
            }
            lower = upper
            below = count
        }
        return lower
    }

    func render() -> String {
        let ready = after.sum("sluice_ready") == 1
        let workers = after.all("sluice_pool_slots").count
        var lines = ["sluice top  http://\(address)  \(ready ? "ready" : "NOT READY")  \(workers) worker(s)  over \(fixed(seconds, 1)) s"]
        lines.append(columns(["PIPELINE", "IN ev/s", "OUT ev/s", "DROP ev/s", "IN MB/s", "OUT MB/s", "LAG MB", "p50 ms", "p99 ms"]))
        for p in after.pipelines {
            let p50 = latencyQuantile(0.5, p), p99 = latencyQuantile(0.99, p)
            lines.append(columns([p, fixed(rate("sluice_events_in_total", p), 0), fixed(rate("sluice_events_out_total", p), 0),
                                  fixed(rate("sluice_discarded_total", p), 0),
                                  fixed(rate("sluice_bytes_in_total", p) / 1e6, 2), fixed(rate("sluice_bytes_out_total", p) / 1e6, 2),
                                  fixed(after.sum("sluice_commit_lag_bytes", "pipeline", p) / 1e6, 2),
                                  p50.map { fixed($0 * 1000, 3) } ?? "-", p99.map { fixed($0 * 1000, 3) } ?? "-"]))
        }
        let slots = after.sum("sluice_pool_slots"), free = after.sum("sluice_pool_free_slots")
        let used = slots - free
        lines.append("pool: \(fixed(slots > 0 ? used / slots * 100 : 0, 1))% used (\(fixed(used, 0)) of \(fixed(slots, 0)) slots)")
        let busy = after.all("sluice_worker_busy_ratio").map { "\($0.labels["worker"] ?? "?"):\(fixed($0.value * 100, 0))%" }
        lines.append("workers busy: \(busy.joined(separator: " "))")
        let stalled = after.all("sluice_worker_stalled").filter { $0.value != 0 }.compactMap { $0.labels["worker"] }
        lines.append("stalled workers: \(stalled.isEmpty ? "none" : stalled.joined(separator: ", "))  stalls so far: \(fixed(after.sum("sluice_worker_stalls_total"), 0))")
        return lines.joined(separator: "\n")
    }

    func columns(_ cells: [String]) -> String {
        var line = cells[0].padding(toLength: max(cells[0].count, 16), withPad: " ", startingAt: 0)
        for cell in cells.dropFirst() { line += String(repeating: " ", count: max(1, 11 - cell.count)) + cell }
        return line
    }

    func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
}
