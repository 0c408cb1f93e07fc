import ArgumentParser
import Foundation
import Glibc
import Histogram
import SluiceCore
import Synchronization

extension Bench {
    /// tcp → file at a fixed rate; latency = arrival in the output file − send time. The node runs
    /// as its own process (`sluice run` with a generated config), the sender and the reader of the
    /// output file in this one, as they would be in a deployment: the node's CPU time and peak
    /// RSS are its own, and the harness's threads are not the node's.
    func runLatency() throws -> Result {
        let settingsLines = try nodeSettingLines()
        let port = try BenchData.freePort()
        let out = "\(dataDir)/latency-out.ndjson", config = "\(dataDir)/latency.yaml", log = "\(dataDir)/latency-node.log"
        unlink(out)
        close(open(out, O_CREAT | O_WRONLY, 0o644))
        let yaml = (settingsLines.isEmpty ? "" : "settings:\n" + settingsLines.map { "  \($0)\n" }.joined()) + """
            pipelines:
              bench:
                input:
                  type: tcp
                  listen: 127.0.0.1:\(port)
                output:
                  type: file
                  path: \(out)

            """
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
        let node = try NodeProcess(arguments: ["run", "--config", config, "--admin", "off"], log: log)
        let total = events ?? Int(Double(rate) * seconds)
        let reader = LatencyReader(path: out, expected: total)
        let readerThread = Thread { reader.run() }
        readerThread.start()
        let sender = PacedSender(port: port, rate: rate, total: total)
        sender.run()
        reader.waitUntilDone(timeoutSeconds: 10)
        reader.stop()
        let code = node.stop()
        let summary = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard code == 0, let line = summary.split(separator: "\n").last(where: { $0.hasPrefix("sluice: events_in=") }) else {
            throw ValidationError("the node failed (exit code \(code)); its log \(log):\n\(summary)")
        }
        guard sender.sent == total else { throw ValidationError("the sender could not send all lines (sent \(sender.sent) of \(total)); node log \(log)") }
        guard reader.received == total else {
            throw ValidationError("sent \(total) lines, \(reader.received) arrived in the output: LOST \(total - reader.received)")
        }
        func value(_ key: String) -> Double {
            guard let field = line.split(separator: " ").first(where: { $0.hasPrefix("\(key)=") }) else { return 0 }
            return Double(field.dropFirst(key.count + 1)) ?? 0
        }
        let h = reader.histogram
        return Result(events: UInt64(total), bytes: UInt64(total) * 128, seconds: sender.elapsedSeconds, cpuSeconds: value("cpu_seconds"),
                      peakRSSBytes: Int(value("peak_rss_mb") * 1_048_576),
                      note: "offered \(rate) events/s over one connection, 128 B lines, \(total) lines all arrived; max \(Double(h.max) / 1000) us; node: its own process",
                      latencyMicros: (Double(h.valueAtPercentile(50)) / 1000, Double(h.valueAtPercentile(99)) / 1000, Double(h.valueAtPercentile(99.9)) / 1000))
    }

    /// `--workers` and `--run-flag`s as `settings:` lines, checked like the in-process scenarios do.
    func nodeSettingLines() throws -> [String] {
        _ = try settings()  // rejects an unknown flag or a bad value here, with the same message
        var lines: [String] = []
        if let workers { lines.append("workers: \(workers)") }
        for flag in runFlags {
            let parts = flag.split(separator: "=", maxSplits: 1).map(String.init)
            lines.append("\(parts[0]): \"\(parts[1])\"")
        }
        return lines
    }
}

/// `sluice run …` of this same executable as a child process, its standard error in a file.
final class NodeProcess {
    let pid: pid_t

    init(arguments: [String], log: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let executable = "/proc/self/exe"
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var child = pid_t()
        let rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        guard rc == 0 else { throw ValidationError("could not start the node: \(String(cString: strerror(rc)))") }
        pid = child
    }

    /// SIGTERM (the node drains and exits), then its exit code.
    func stop() -> Int32 {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}

@inline(__always) func monotonicNow() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Sends 128 B lines `{"t":SEND_NANOS,"seq":N,"pad":"xx…"}` at a fixed rate, in small bursts
/// (at most 64 lines) every few tens of microseconds. The lines are formatted in place into one
/// buffer allocated up front: the harness shares the two CPUs with the node, so it must cost as
/// little as `perf/latpath.c`'s C sender does (a sender that allocated per line added its own
/// scheduling delays to the measured tail).
final class PacedSender: @unchecked Sendable {
    let port: UInt16, rate: Int, total: Int
    private(set) var elapsedSeconds = 0.0
    private(set) var sent = 0
    static let lineBytes = 128
    static let burstLines = 64

    init(port: UInt16, rate: Int, total: Int) {
        self.port = port
        self.rate = rate
        self.total = total
    }

    /// Writes `{"t":T,"seq":N,"pad":"` + x… + `"}\n` (exactly `lineBytes`) at `line`.
    static func format(_ line: UnsafeMutablePointer<UInt8>, sendNanos: UInt64, seq: Int) {
        var w = ByteWriter(UnsafeMutableRawPointer(line))
        w.put("{\"t\":")
        w.put(sendNanos)
        w.put(",\"seq\":")
        w.put(UInt64(seq))
        w.put(",\"pad\":\"")
        while w.count < lineBytes - 3 { w.put(byte: 120) }
        w.put("\"}\n")
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
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: Self.burstLines * Self.lineBytes)
        defer { buffer.deallocate() }
        let start = monotonicNow()
        let tickNanos: UInt64 = 100_000
        while sent < total {
            let due = min(total, sent + Self.burstLines, Int(Double(monotonicNow() - start) / 1e9 * Double(rate)) + 1)
            if due > sent {
                var length = 0
                while sent < due {
                    Self.format(buffer + length, sendNanos: monotonicNow(), seq: sent)
                    length += Self.lineBytes
                    sent += 1
                }
                var offset = 0
                while offset < length {
                    let n = Glibc.send(fd, buffer + offset, length - offset, Int32(MSG_NOSIGNAL))
                    if n <= 0 { return }
                    offset += n
                }
            }
            let next = start + UInt64(Double(sent) / Double(rate) * 1e9)
            let now = monotonicNow()
            if next > now { usleep(UInt32(min(tickNanos, next - now) / 1000)) }
        }
        elapsedSeconds = Double(monotonicNow() - start) / 1e9
    }
}

/// Follows the output file (woken by inotify on every write) and records, per line, arrival
/// time − the send time the line carries. Reads into one buffer allocated up front and keeps
/// its histogram to itself until it is done (no lock, no allocation per read).
final class LatencyReader: @unchecked Sendable {
    let path: String
    let expected: Int
    private var histogramStore = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    /// Lines seen so far (written by the reader thread, read by others).
    private let receivedCount = Atomic<Int>(0)
    /// 0 running, 1 asked to stop, 2 left its loop.
    private let state = Atomic<Int>(0)

    init(path: String, expected: Int) {
        self.path = path
        self.expected = expected
    }

    var received: Int { receivedCount.load(ordering: .acquiring) }
    /// Valid once `stop()` returned.
    var histogram: Histogram<UInt64> { histogramStore }

    /// Ends the reader and waits until it has left its loop.
    func stop() {
        _ = state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing)
        while state.load(ordering: .acquiring) != 2 { usleep(1000) }
    }

    func waitUntilDone(timeoutSeconds: Double) {
        let deadline = monotonicNow() + UInt64(timeoutSeconds * 1e9)
        while received < expected && monotonicNow() < deadline { usleep(1000) }
    }

    func run() {
        let fd = open(path, O_RDONLY)
        let notify = inotify_init1(Int32(IN_CLOEXEC))
        inotify_add_watch(notify, path, UInt32(IN_MODIFY))
        let eventBytes = 4096, capacity = 1 << 20
        let events = UnsafeMutableRawPointer.allocate(byteCount: eventBytes, alignment: 8)
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        var pfd = pollfd(fd: notify, events: Int16(POLLIN), revents: 0)
        var held = 0  // bytes of an unfinished line at the start of `buffer`
        var count = 0
        while state.load(ordering: .acquiring) == 0 && count < expected {
            if poll(&pfd, 1, 50) > 0 { _ = read(notify, events, eventBytes) }
            while true {
                let n = read(fd, buffer + held, capacity - held)
                if n <= 0 { break }
                let arrival = monotonicNow()
                let end = held + n
                var start = 0
                while let nl = memchr(buffer + start, 10, end - start) {
                    let lineEnd = buffer.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    // {"t":NANOS,...
                    var i = start + 5
                    var t: UInt64 = 0
                    while i < lineEnd, buffer[i] >= 48, buffer[i] <= 57 { t = t &* 10 &+ UInt64(buffer[i] - 48); i += 1 }
                    _ = histogramStore.record(arrival > t ? arrival - t : 0)
                    count += 1
                    start = lineEnd + 1
                }
                held = end - start
                if held > 0 { memmove(buffer, buffer + start, held) }
                if held == capacity { held = 0 }  // a line longer than the buffer is not ours
                receivedCount.store(count, ordering: .releasing)
            }
        }
        events.deallocate()
        buffer.deallocate()
        close(notify)
        close(fd)
        state.store(2, ordering: .releasing)
    }
}
