import ArgumentParser
import Foundation
import SluiceConfig
import SluiceCore

/// `sluice bench SCENARIO`: built-in scenarios that make their own data (fixed seed), run the
/// real pipeline in this process, and report what they measured.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a built-in benchmark scenario on the real pipeline.",
        discussion: """
        Scenarios:
          file-devnull       NDJSON file (lines 100 B–2 KB, ~1 GB) → devnull
          file-json-devnull  the same file → json_decode → devnull
          file-json-realistic  production-shaped NDJSON (lines 0.5–12 KB, mean ~3 KB, 5–140 fields,
                             nesting to 5, escapes, Cyrillic/CJK/emoji; ~1 GB) → json_decode → devnull
          file-chain-realistic  the same file → json_decode and the usual chain of actions → file
          tcp-file           N connections sending 256 B lines over loopback → file; every line counted
          syslog-file        N connections sending 256 B octet-counted RFC 5424 messages → syslog
                             input (parsed into JSON events) → file; every message counted
          http-bulk          N keep-alive connections sending Elasticsearch bulk requests of 1,000
                             documents to the http input (ack=output) → file; every answered
                             document counted; MB/s of request bodies
          latency            tcp → file at a fixed offered rate (--rate, default 100k events/s); each
                             line carries its send time; a reader woken by inotify on the output
                             file stamps arrival: p50/p99/p99.9 from an HDR histogram
          disk-buffer        the disk buffer against the disk and the memory buffer, in one run: dd's
                             sequential write speed of --data-dir; tcp-file with buffer=memory, then
                             buffer=disk with buffer-sync=none and batch (ingest rate, and the rate until
                             the output file has every line); writes into a buffer whose output is down
                             and the drain of it into devnull (records/s, MB/s of records)
          ndjson-aggregate   {ts,type,user,value} lines → json_decode → discard type=view → aggregate
                             count/sum/avg of value per type → file; checked against totals the
                             data generator computed (fails loudly on any mismatch)
        The data file is made once per size and seed under --data-dir and read into the page cache
        before the run. With --runs N the scenario runs N times and the median run is reported (by
        bytes/s; for latency, whose rate is fixed, each percentile is the median over the runs).
        """
    )

    enum Scenario: String, ExpressibleByArgument, CaseIterable {
        case fileDevnull = "file-devnull", fileJSONDevnull = "file-json-devnull"
        case fileJSONRealistic = "file-json-realistic", fileChainRealistic = "file-chain-realistic", tcpFile = "tcp-file", syslogFile = "syslog-file", httpBulk = "http-bulk", ndjsonAggregate = "ndjson-aggregate", latency
        case diskBuffer = "disk-buffer"
    }

    @Argument(help: "file-devnull, file-json-devnull, file-json-realistic, file-chain-realistic, tcp-file, syslog-file, http-bulk, ndjson-aggregate, latency or disk-buffer")
    var scenario: Scenario
    @Option(help: "latency: offered events per second") var rate = 100_000
    @Option(name: .customLong("run-flag"), help: "latency: a tuning flag for the node, e.g. --run-flag busy-poll=true (repeatable)") var runFlags: [String] = []
    @Option(help: "workers (default: one per CPU)") var workers: Int?
    @Option(help: "tcp-file, syslog-file, http-bulk: seconds the senders send") var seconds: Double = 5
    @Option(help: "events: lines in the data file (file scenarios; default: ~1 GB of lines), lines per run (tcp-file; default: as many as the senders manage in --seconds)")
    var events: Int?
    @Option(help: "tcp-file, syslog-file, http-bulk: concurrent connections") var connections = 8
    @Option(help: "directory for data files") var dataDir = "/tmp/sluice-bench"
    @Option(help: "run the scenario this many times and report the median run") var runs = 1
    @Flag(help: "end with one line holding a JSON object of the results") var json = false
    @Flag(inversion: .prefixedNo, help: "file scenarios: the workers read the file in parallel, claiming 16 MiB ranges one after another (file input parallel=true)")
    var parallel = true

    struct Result {
        var events: UInt64
        var bytes: UInt64
        var seconds: Double
        var cpuSeconds: Double
        var peakRSSBytes: Int
        var note: String
        var latencyMicros: (p50: Double, p99: Double, p999: Double)? = nil
    }

    func run() throws {
        // The scenario's own threads must not take the SIGTERM that stops the node.
        ControlSignals.block()
        Log.setUp(level: .warn)
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        var results: [Result] = []
        for i in 0..<max(runs, 1) {
            let r = try runOnce()
            if runs > 1 { print("run \(i + 1): \(format(r))") }
            results.append(r)
        }
        let sorted = results.sorted { $0.seconds > 0 && $1.seconds > 0 ? Double($0.bytes) / $0.seconds < Double($1.bytes) / $1.seconds : false }
        var median = sorted[sorted.count / 2]
        if results.allSatisfy({ $0.latencyMicros != nil }) {
            // The offered rate is fixed, so the runs differ in their percentiles only.
            func middle(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let l = results.compactMap(\.latencyMicros)
            median.latencyMicros = (middle(l.map(\.p50)), middle(l.map(\.p99)), middle(l.map(\.p999)))
        }
        printTable(median)
        if json {
            let object: [String: Any] = [
                "scenario": scenario.rawValue, "workers": workers ?? ProcessInfo.processInfo.activeProcessorCount,
                "events": median.events, "bytes": median.bytes, "seconds": median.seconds,
                "events_per_s": median.seconds > 0 ? Double(median.events) / median.seconds : 0,
                "bytes_per_s": median.seconds > 0 ? Double(median.bytes) / median.seconds : 0,
                "cpu_seconds": median.cpuSeconds, "peak_rss_bytes": median.peakRSSBytes, "runs": results.count,
            ].merging(median.latencyMicros.map { ["latency_p50_us": $0.p50, "latency_p99_us": $0.p99, "latency_p999_us": $0.p999] } ?? [:]) { a, _ in a }
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }

    func format(_ r: Result) -> String {
        let rate = r.seconds > 0 ? Double(r.bytes) / r.seconds / 1e6 : 0
        let eps = r.seconds > 0 ? Double(r.events) / r.seconds : 0
        let latency = r.latencyMicros.map { String(format: ", latency p50 %.1f us, p99 %.1f us, p99.9 %.1f us", $0.p50, $0.p99, $0.p999) } ?? ""
        return String(format: "%.0f events/s, %.1f MB/s, %.3f s, cpu %.2f s, peak RSS %.1f MB", eps, rate, r.seconds, r.cpuSeconds, Double(r.peakRSSBytes) / 1048576) + latency
    }

    func printTable(_ r: Result) {
        let rate = r.seconds > 0 ? Double(r.bytes) / r.seconds / 1e6 : 0
        let eps = r.seconds > 0 ? Double(r.events) / r.seconds : 0
        print("scenario      \(scenario.rawValue)")
        print("workers       \(workers.map(String.init) ?? "all CPUs")")
        print("events        \(r.events)")
        print("bytes         \(r.bytes)")
        print(String(format: "seconds       %.3f", r.seconds))
        print(String(format: "events/s      %.0f", eps))
        print(String(format: "MB/s          %.1f", rate))
        print(String(format: "cpu seconds   %.2f", r.cpuSeconds))
        print(String(format: "peak RSS MB   %.1f", Double(r.peakRSSBytes) / 1048576))
        if let l = r.latencyMicros {
            print(String(format: "latency p50   %.1f us", l.p50))
            print(String(format: "latency p99   %.1f us", l.p99))
            print(String(format: "latency p99.9 %.1f us", l.p999))
        }
        if !r.note.isEmpty { print("note          \(r.note)") }
    }

    func settings() throws -> NodeSettings {
        var s = NodeSettings()
        s.admin = nil  // a benchmark needs no admin API (and must not collide with a running node's port)
        if let workers { s.workers = workers }
        for flag in runFlags {
            let parts = flag.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let setting = Settings.named(parts[0]) else { throw ValidationError("--run-flag expects NAME=VALUE with a run flag name, got '\(flag)'") }
            do { try setting.apply(&s, parts[1]) } catch { throw ValidationError(error.message) }
        }
        return s
    }

    func runOnce() throws -> Result {
        switch scenario {
        case .fileDevnull, .fileJSONDevnull: return try runFile(json: scenario == .fileJSONDevnull)
        case .fileJSONRealistic: return try runRealistic(actions: ["json_decode"], output: nil)
        case .fileChainRealistic: return try runRealistic(actions: Self.realisticChain, output: "\(dataDir)/chain-realistic-out.ndjson")
        case .tcpFile: return try runTCPFile()
        case .syslogFile: return try runSyslogFile()
        case .httpBulk: return try runHTTPBulk()
        case .ndjsonAggregate: return try runAggregate()
        case .latency: return try runLatency()
        case .diskBuffer: return try runDiskBuffer()
        }
    }

    // MARK: file scenarios

    func runFile(json: Bool) throws -> Result {
        let lines = events ?? 1_700_000
        let path = "\(dataDir)/ndjson-\(lines)-seed42.ndjson"
        let bytes = try BenchData.ensureNDJSONFile(path: path, lines: lines, seed: 42)
        BenchData.warmPageCache(path: path)
        let input = try InputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", path), ("parallel", parallel ? "true" : "false")]))
        let actions = json ? [try Action.make(type: "json_decode", PluginArguments(plugin: "json_decode", pairs: []), maxEventBytes: 1 << 20)] : []
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: actions, output: .devnull(DevNullOutput()))])
        node.summaryFD = -1
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        guard s.value(.eventsOut) == UInt64(lines) else {
            throw ValidationError("expected \(lines) events out, counted \(s.value(.eventsOut))")
        }
        return Result(events: s.value(.eventsIn), bytes: bytes, seconds: s.seconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "file input parallel=\(parallel)" + (parallel ? " (16 MiB ranges claimed by the workers in turn)" : " (one reader, streams handed to the least loaded worker)"))
    }

    // MARK: realistic corpus

    /// file-chain-realistic's actions, as a user would write them: json_decode →
    /// rename → remove_fields → mask on `message` → convert_date → throttle with a limit never
    /// reached → modify, into a file. None drops an event, so every line comes out.
    static let realisticChain = [
        "json_decode",
        "rename:from=user,to=user_id",
        "remove_fields:field=f5_payment,field=f6_ошибка",
        "mask:field=message,pattern=[0-9]{4\\,}",
        "convert_date:field=ts,from=rfc3339,to=unixms",
        "throttle:key=service,limit=1000000000,interval=1s",
        "discard:if-field=level,if-equals=fatal",
        "modify:field=pipeline,value=bench,if-field=service,if-equals=checkout",
    ]

    /// The realistic corpus (made once per line count under --data-dir) through `actions` (spec
    /// strings) to devnull, or to a file at `output`; every line must come out.
    func runRealistic(actions specs: [String], output: String?) throws -> Result {
        let lines = events ?? 330_000
        let path = "\(dataDir)/realistic-\(lines)-seed11.ndjson"
        let bytes = try BenchData.ensureRealisticFile(path: path, lines: lines, seed: 11)
        BenchData.warmPageCache(path: path)
        func spec(_ text: String) throws -> (String, PluginArguments) {
            let s = try SpecParser.parse(text)
            return (s.type, PluginArguments(plugin: s.type, pairs: s.params.map { ($0.key, $0.value) }))
        }
        let (it, ia) = try spec("file:path=\(path),parallel=\(parallel)")
        let actions = try specs.map { text in
            let (t, a) = try spec(text)
            return try Action.make(type: t, a, maxEventBytes: 1 << 20)
        }
        var out = OutputDefinition.devnull(DevNullOutput())
        if let output {
            unlink(output)
            let (ot, oa) = try spec("file:path=\(output)")
            out = try OutputDefinition.make(type: ot, oa)
        }
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [try InputDefinition.make(type: it, ia)], actions: actions, output: out)])
        node.summaryFD = -1
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        guard s.value(.eventsOut) == UInt64(lines), s.value(.invalidJSON) == 0 else {
            throw ValidationError("expected \(lines) valid events out, counted \(s.value(.eventsOut)) out, \(s.value(.invalidJSON)) invalid")
        }
        return Result(events: s.value(.eventsIn), bytes: bytes, seconds: s.seconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "file input parallel=\(parallel); actions: \(specs.joined(separator: " | ")); output: \(output ?? "devnull")")
    }

    // MARK: ndjson-aggregate

    func runAggregate() throws -> Result {
        let lines = events ?? 10_000_000
        let path = "\(dataDir)/events-\(lines)-seed7.ndjson"
        let (bytes, expected) = try BenchData.ensureEventsFile(path: path, lines: lines, seed: 7)
        BenchData.warmPageCache(path: path)
        let out = "\(dataDir)/aggregate-out.ndjson"
        unlink(out)
        func spec(_ text: String) throws -> (String, PluginArguments) {
            let s = try SpecParser.parse(text)
            return (s.type, PluginArguments(plugin: s.type, pairs: s.params.map { ($0.key, $0.value) }))
        }
        let (it, ia) = try spec("file:path=\(path),parallel=\(parallel)")
        var actions: [Action] = []
        for text in ["json_decode", "discard:field=type,equals=view", "aggregate:key=type,value=value"] {
            let (t, a) = try spec(text)
            actions.append(try Action.make(type: t, a, maxEventBytes: 1 << 20))
        }
        let (ot, oa) = try spec("file:path=\(out)")
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [try InputDefinition.make(type: it, ia)],
                                                                                  actions: actions, output: try OutputDefinition.make(type: ot, oa))])
        node.summaryFD = -1
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        // Rows may come one per worker and key: add them up, then compare exactly.
        var got: [String: (count: Int, sum: Int)] = [:]
        let text = try String(contentsOfFile: out, encoding: .utf8)
        for line in text.split(separator: "\n") {
            guard let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let type = row["type"] as? String, let count = row["count"] as? Int, let sum = row["sum"] as? Int else {
                throw ValidationError("MISMATCH: unexpected output row \(line)")
            }
            got[type, default: (0, 0)].count += count
            got[type, default: (0, 0)].sum += sum
        }
        for (type, e) in expected where type != "view" {
            guard let g = got[type], g.count == e.count, g.sum == e.sum else {
                throw ValidationError("MISMATCH for type \(type): expected count \(e.count) sum \(e.sum), got \(got[type].map { "count \($0.count) sum \($0.sum)" } ?? "no row")")
            }
        }
        if got["view"] != nil { throw ValidationError("MISMATCH: view events were not discarded") }
        let avgs = expected.filter { $0.key != "view" }.sorted { $0.key < $1.key }
            .map { "\($0.key) count=\($0.value.count) sum=\($0.value.sum) avg=\(String(format: "%.3f", Double($0.value.sum) / Double($0.value.count)))" }
        return Result(events: s.value(.eventsIn), bytes: bytes, seconds: s.seconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "result exact: " + avgs.joined(separator: "; "))
    }

    // MARK: tcp-file

    /// `buffer`: extra output keys (the disk-buffer scenario's buffer=disk runs); the lines the
    /// node did not deliver before the senders' SIGTERM are then delivered by `drainBuffer`.
    func runTCPFile(buffer: [(String, String)] = []) throws -> Result {
        let port = try BenchData.freePort()
        let out = "\(dataDir)/tcp-file-out.ndjson"
        unlink(out)
        let input = try InputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [("listen", "127.0.0.1:\(port)")]))
        let output = try OutputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", out)] + buffer))
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: [], output: output)])
        node.summaryFD = -1
        let senders = TCPSenders(port: port, connections: connections, seconds: seconds, linesPerConnection: events.map { max(1, $0 / connections) })
        let thread = Thread { senders.run() }
        thread.start()
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        let sent = senders.linesSent
        var drainSeconds = 0.0
        if !buffer.isEmpty { drainSeconds = try drainBuffer(output: output).seconds }
        let (lines, bytes) = try BenchData.countLines(path: out)
        guard lines == sent else {
            throw ValidationError("sent \(sent) lines, the output file has \(lines): LOST \(Int(sent) - Int(lines))")
        }
        let untilDelivered = buffer.isEmpty ? "" : String(format: "; every line in the output file %.3f s after the senders stopped", drainSeconds + s.seconds - senders.elapsedSeconds)
        return Result(events: lines, bytes: bytes, seconds: senders.elapsedSeconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "\(connections) connections, 256 B lines, \(lines) lines sent and counted in the output" + untilDelivered)
    }

    // MARK: syslog-file

    func runSyslogFile() throws -> Result {
        let port = try BenchData.freePort()
        let out = "\(dataDir)/syslog-file-out.ndjson"
        unlink(out)
        let input = try InputDefinition.make(type: "syslog", PluginArguments(plugin: "syslog", pairs: [("listen", "127.0.0.1:\(port)")]))
        let output = try OutputDefinition.make(type: "file", PluginArguments(plugin: "file", pairs: [("path", out)]))
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: [], output: output)])
        node.summaryFD = -1
        let senders = TCPSenders(port: port, connections: connections, seconds: seconds, linesPerConnection: events.map { max(1, $0 / connections) })
        senders.syslog = true
        let thread = Thread { senders.run() }
        thread.start()
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        let sent = senders.linesSent
        let (lines, bytes) = try BenchData.countLines(path: out)
        guard lines == sent else {
            throw ValidationError("sent \(sent) messages, the output file has \(lines): LOST \(Int(sent) - Int(lines))")
        }
        guard s.value(.syslogParseErrors) == 0 else { throw ValidationError("\(s.value(.syslogParseErrors)) messages did not parse") }
        return Result(events: lines, bytes: UInt64(lines) * 256, seconds: senders.elapsedSeconds, cpuSeconds: s.cpuSeconds, peakRSSBytes: s.peakRSSBytes,
                      note: "\(connections) connections, 256 B octet-counted RFC 5424 messages (bytes: received), \(lines) parsed and counted in the output (\(bytes) B of JSON)")
    }
}
