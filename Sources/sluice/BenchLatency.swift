import ArgumentParser
import Foundation
import Glibc
import Histogram
import SluiceCore

extension Bench {
    /// tcp → file at a fixed rate; latency = arrival in the output file − send time.
    func runLatency() throws -> Result {
        let port = try BenchData.freePort()
        let out = "\(dataDir)/latency-out.ndjson"
        unlink(out)
        close(open(out, O_CREAT | O_WRONLY, 0o644))
        let input = try InputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [("listen", "127.0.0.1:\(port)")]))
        let output = try OutputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", out)]))
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: [], output: output)])
        node.summaryFD = -1
        let total = events ?? Int(Double(rate) * seconds)
        let reader = LatencyReader(path: out, expected: total)
        let readerThread = Thread { reader.run() }
        readerThread.start()
        let sender = PacedSender(port: port, rate: rate, total: total)
        Thread {
            sender.run()
            reader.waitUntilDone(timeoutSeconds: 10)
            kill(getpid(), SIGTERM)
        }.start()
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        reader.stop()
        guard reader.received == total else {
            throw ValidationError("sent \(total) lines, \(reader.received) arrived in the output: LOST \(total - reader.received)")
        }
        let h = reader.histogram
        return Result(events: UInt64(total), bytes: UInt64(total) * 128, seconds: sender.elapsedSeconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "offered \(rate) events/s over one connection, 128 B lines, \(total) lines all arrived; max \(Double(h.max) / 1000) us",
                      latencyMicros: (Double(h.valueAtPercentile(50)) / 1000, Double(h.valueAtPercentile(99)) / 1000, Double(h.valueAtPercentile(99.9)) / 1000))
    }
}

@inline(__always) func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Sends 128 B lines `{"t":SEND_NANOS,"seq":N,...}` at a fixed rate, in small bursts every 100 µs.
final class PacedSender: @unchecked Sendable {
    let port: UInt16, rate: Int, total: Int
    private(set) var elapsedSeconds = 0.0

    init(port: UInt16, rate: Int, total: Int) {
        self.port = port
        self.rate = rate
        self.total = total
    }

    func run() {
        let senders = TCPSenders(port: port, connections: 1, seconds: 0, linesPerConnection: 0)
        var fd: Int32 = -1
        for _ in 0..<500 {
            if let f = senders.connect() { fd = f; break }
            usleep(10_000)
        }
        guard fd >= 0 else { return }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let start = monotonicNow()
        let tickNanos: UInt64 = 100_000
        var sent = 0
        var line = [UInt8](repeating: 0, count: 0)
        line.reserveCapacity(64 * 128)
        while sent < total {
            let now = monotonicNow()
            let due = min(total, Int(Double(now - start) / 1e9 * Double(rate)) + 1)
            if due > sent {
                line.removeAll(keepingCapacity: true)
                for _ in sent..<due {
                    var text = Array("{\"t\":\(monotonicNow()),\"seq\":\(sent),\"pad\":\"".utf8)
                    while text.count < 125 { text.append(120) }
                    text += Array("\"}\n".utf8)
                    line += text
                    sent += 1
                }
                var offset = 0
                while offset < line.count {
                    let n = line.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                    if n <= 0 { return }
                    offset += n
                }
            }
            let next = start + UInt64(Double(sent) / Double(rate) * 1e9)
            let now2 = monotonicNow()
            if next > now2 { usleep(UInt32(min(tickNanos, next - now2) / 1000)) }
        }
        elapsedSeconds = Double(monotonicNow() - start) / 1e9
    }
}

/// Follows the output file (woken by inotify on every write) and records, per line, arrival
/// time − the send time the line carries.
final class LatencyReader: @unchecked Sendable {
    let path: String
    let expected: Int
    private let lock = NSLock()
    private var _histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private var _received = 0
    private var stopped = false

    init(path: String, expected: Int) {
        self.path = path
        self.expected = expected
    }

    var received: Int { lock.lock(); defer { lock.unlock() }; return _received }
    var histogram: Histogram<UInt64> { lock.lock(); defer { lock.unlock() }; return _histogram }

    func stop() { lock.lock(); stopped = true; lock.unlock() }

    func waitUntilDone(timeoutSeconds: Double) {
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while received < expected && Date() < deadline { usleep(1000) }
    }

    func run() {
        let fd = open(path, O_RDONLY)
        let notify = inotify_init1(Int32(IN_CLOEXEC))
        inotify_add_watch(notify, path, UInt32(IN_MODIFY))
        var events = [UInt8](repeating: 0, count: 4096)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 8)
        var pending: [UInt8] = []
        var pfd = pollfd(fd: notify, events: Int16(POLLIN), revents: 0)
        while true {
            lock.lock()
            let done = stopped || _received >= expected
            lock.unlock()
            if done { break }
            if poll(&pfd, 1, 50) > 0 { _ = events.withUnsafeMutableBytes { read(notify, $0.baseAddress, $0.count) } }
            while true {
                let n = read(fd, buffer, 1 << 20)
                if n <= 0 { break }
                let arrival = monotonicNow()
                pending += UnsafeRawBufferPointer(start: buffer, count: n)
                var start = 0
                var latencies: [UInt64] = []
                while let nl = pending[start...].firstIndex(of: 10) {
                    // {"t":NANOS,...
                    var i = start + 5
                    var t: UInt64 = 0
                    while i < nl, pending[i] >= 48, pending[i] <= 57 { t = t * 10 + UInt64(pending[i] - 48); i += 1 }
                    latencies.append(arrival > t ? arrival - t : 0)
                    start = nl + 1
                }
                pending.removeFirst(start)
                lock.lock()
                for l in latencies { _ = _histogram.record(l) }
                _received += latencies.count
                lock.unlock()
            }
        }
        buffer.deallocate()
        close(notify)
        close(fd)
    }
}
