import Benchmark
import SluiceCore

/// The protocol encoders of the `elasticsearch` and `syslog` outputs, per event: one op is one
/// event, over the first 1000 corpus lines, decoded (as after `json_decode`) and raw (the
/// encoders then find the fields in the raw object). Output goes into a buffer that starts over
/// past 1 MiB, like a write buffer being flushed.
func registerOutputEncoderBenchmarks() {
    let corpus = Corpus(lineCount: 1000)
    let pool = Fixtures.makePool()
    let raw = Fixtures.events(holding: corpus, in: pool, decoded: false)
    let decoded = Fixtures.events(holding: corpus, in: pool, decoded: true)
    let restartBytes = Fixtures.oneMebibyte
    // Room past the restart point for the largest encoding of one event (3 × a 64 KiB line).
    let output = Fixtures.outputBuffer(bytes: restartBytes + 4 * Fixtures.oneMebibyte)

    let elasticsearch = try! ElasticsearchOutput(Fixtures.arguments("elasticsearch", ("index", "logs-${service}-%Y.%m.%d"), ("time-field", "ts")))
    let syslog = try! SyslogOutput(Fixtures.arguments("syslog", ("address", "127.0.0.1:514"), ("timestamp", "ts"), ("severity", "level"),
                                                      ("hostname", "host"), ("app-name", "service"), ("message", "msg")))
    for (name, events) in [("decoded", decoded), ("raw", raw)] {
        Benchmark("ElasticsearchBulkEncoder \(name) per event") { benchmark in
            precondition(benchmark.scaledIterations.count == events.count)
            var encoder = ElasticsearchBulkEncoder(elasticsearch)
            defer { encoder.dispose() }
            benchmark.startMeasurement()
            var used = 0
            for event in events {
                guard case .wrote(let n) = encoder.encode(event, into: output + used) else { preconditionFailure("refused") }
                used += n
                if used > restartBytes { used = 0 }
            }
            benchmark.stopMeasurement()
            blackHole(used)
        }
        Benchmark("SyslogEncoder RFC 5424 octet-counted \(name) per event") { benchmark in
            precondition(benchmark.scaledIterations.count == events.count)
            var encoder = SyslogEncoder(syslog)
            defer { encoder.dispose() }
            benchmark.startMeasurement()
            var used = 0
            for event in events {
                guard case .wrote(let n) = encoder.encode(event, into: output + used) else { preconditionFailure("refused") }
                used += n
                if used > restartBytes { used = 0 }
            }
            benchmark.stopMeasurement()
            blackHole(used)
        }
    }
}
