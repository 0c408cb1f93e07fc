import Benchmark
import SluiceCore

/// LineFramer and JSONScanner over a 1 MiB buffer of NDJSON lines: one op is the whole buffer,
/// so ns/op is the time per MiB; the custom metric gives MB/s (10^6 B/s).
func registerParsingBenchmarks() {
    let corpus = Corpus(maxBytes: Fixtures.oneMebibyte)
    let megabytesPerSecond = BenchmarkMetric.custom("MB/s", polarity: .prefersLarger, useScalingFactor: false)
    let configuration = Benchmark.Configuration(
        metrics: SluiceMetrics.standard + [megabytesPerSecond], units: [megabytesPerSecond: .count],
        scalingFactor: .one, maxIterations: 300)

    // Frame the buffer into events in batches of 256; each batch is released once full, as an
    // output would after its write.
    let pool = Fixtures.makePool()
    let counters = CounterBlock(pipelines: 1)
    var framer = LineFramer(sourceID: 0, pipelineID: 0, maxEventBytes: Fixtures.maxEventBytes)
    var batch = EventBatch(capacity: Fixtures.batchSize)
    let chunk = UnsafeRawBufferPointer(corpus.bytes)
    Benchmark("LineFramer 1 MiB NDJSON buffer (\(corpus.lineCount) lines)", configuration: configuration) { benchmark in
        let start = Fixtures.nowNanos()
        var position = 0
        while position < chunk.count {
            let rest = UnsafeRawBufferPointer(rebasing: chunk[position...])
            let (consumed, stop) = framer.frame(rest, chunkOffset: UInt64(position), nowNanos: 0, slab: pool.slabs, batch: &batch, counters: counters)
            position += consumed
            precondition(stop != .poolExhausted, "benchmark pool exhausted")
            if stop == .batchFull || position == chunk.count {
                for i in 0..<batch.count { pool.slabs.pointee.release(batch[i]) }
                batch.count = 0
            }
        }
        let elapsed = Fixtures.nowNanos() - start
        benchmark.stopMeasurement()
        benchmark.measurement(megabytesPerSecond, Fixtures.megabytesPerSecond(bytes: chunk.count, nanos: elapsed))
    }

    // Validate and index every line of the buffer (the work json_decode does per event).
    let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: PoolConfiguration.defaultMaxFields)
    for i in 0..<corpus.lineCount {
        guard case .valid = JSONScanner.scan(corpus.line(i), fields: fields, fieldCapacity: PoolConfiguration.defaultMaxFields) else {
            fatalError("corpus line \(i) is not valid JSON")
        }
    }
    let scannedBytes = corpus.bytes.count - corpus.lineCount  // without the newlines
    Benchmark("JSONScanner.scan 1 MiB of log lines (\(corpus.lineCount) lines)", configuration: configuration) { benchmark in
        let start = Fixtures.nowNanos()
        var count = 0
        for i in 0..<corpus.lineCount {
            if case .valid(let n, _) = JSONScanner.scan(corpus.line(i), fields: fields, fieldCapacity: PoolConfiguration.defaultMaxFields) { count += n }
        }
        let elapsed = Fixtures.nowNanos() - start
        benchmark.stopMeasurement()
        blackHole(count)
        benchmark.measurement(megabytesPerSecond, Fixtures.megabytesPerSecond(bytes: scannedBytes, nanos: elapsed))
    }
}
