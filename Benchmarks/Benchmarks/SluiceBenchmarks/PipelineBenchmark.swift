import Benchmark
import MallocInterposerSwift
import SluiceCore

/// The whole per-batch path in steady state, as a worker runs it: frame a buffer into batches
/// of 256 → json_decode → discard type=view → encode into an output buffer → release. One op is
/// one event; an iteration is one pass over a buffer of exactly 1000 lines, so 1000 measured
/// iterations are 1M events.
///
/// Besides the framework's metrics it reads the interposer's counters itself around each
/// iteration's work and reports the exact malloc count per 1000 events (the framework's
/// per-op malloc column rounds to whole mallocs per event), and prints the total at teardown.
func registerPipelineBenchmark() {
    let corpus = Corpus(lineCount: 1000)
    let pool = Fixtures.makePool()
    let slab = pool.slabs
    let counters = CounterBlock(pipelines: 1)
    let actionCount = 2
    let actions = UnsafeMutablePointer<Action>.allocate(capacity: actionCount)
    actions.initialize(to: .jsonDecode(Fixtures.jsonDecode()))
    (actions + 1).initialize(to: .discard(Fixtures.discardViews()))
    var framer = LineFramer(sourceID: 0, pipelineID: 0, maxEventBytes: Fixtures.maxEventBytes)
    var batch = EventBatch(capacity: Fixtures.batchSize)
    let outputBytes = Fixtures.oneMebibyte
    let output = Fixtures.outputBuffer(bytes: outputBytes)
    var outputUsed = 0
    let chunk = UnsafeRawBufferPointer(corpus.bytes)

    let mallocsPer1000Events = BenchmarkMetric.custom("Mallocs per 1000 events (exact)", polarity: .prefersSmaller, useScalingFactor: false)
    let warmupIterations = 50
    var measuredEvents = 0
    var measuredMallocs = 0

    /// Runs the actions and encodes the survivors; then releases the whole batch, dropped events
    /// included (the worker releases those with the batch too, after the "write").
    func processBatch() {
        for i in 0..<batch.count {
            let event = slab.pointee.event(batch[i])
            var verdict = Action.Verdict.pass
            var context = ActionContext(event: event, handle: batch[i], slab: slab)
            var a = 0
            while a < actionCount && verdict == .pass {
                verdict = actions[a].apply(event, counters: counters, pipeline: 0, context: &context)
                a += 1
            }
            if verdict != .pass {
                counters.add(.discarded, 1, pipeline: 0)
                continue
            }
            outputUsed += EventEncoder.encodeLine(event, into: output + outputUsed)
            if outputUsed > outputBytes { outputUsed = 0 }  // the buffer was "written"
        }
        for i in 0..<batch.count { slab.pointee.release(batch[i]) }
        batch.count = 0
    }

    Benchmark(
        "Pipeline frame → json_decode → discard → encode → release, per event",
        configuration: .init(
            metrics: SluiceMetrics.standard + [mallocsPer1000Events], warmupIterations: warmupIterations,
            scalingFactor: .kilo, maxDuration: .seconds(60), maxIterations: 1000,
            teardown: {
                let perEvent = measuredEvents == 0 ? 0 : Double(measuredMallocs) / Double(measuredEvents)
                let framed = counters.read(.eventsIn, pipeline: 0)
                let dropped = counters.read(.discarded, pipeline: 0)
                print("Pipeline steady state: \(measuredMallocs) mallocs in \(measuredEvents) events after \(warmupIterations) warm-up passes"
                    + " = \(perEvent) mallocs/event (\(framed) events framed in all, \(dropped * 100 / max(framed, 1))% dropped by discard)")
            })
    ) { benchmark in
        precondition(benchmark.scaledIterations.count == corpus.lineCount)
        let before = MallocInterposerSwift.getStatistics().mallocCount
        var position = 0
        while position < chunk.count {
            let rest = UnsafeRawBufferPointer(rebasing: chunk[position...])
            let (consumed, stop) = framer.frame(rest, chunkOffset: UInt64(position), nowNanos: 0, slab: slab, batch: &batch, counters: counters)
            position += consumed
            precondition(stop != .poolExhausted, "benchmark pool exhausted")
            if stop == .batchFull || position == chunk.count { processBatch() }
        }
        let mallocs = MallocInterposerSwift.getStatistics().mallocCount - before
        benchmark.stopMeasurement()
        precondition(slab.pointee.takenCount == 0, "events leaked")
        if benchmark.currentIteration >= warmupIterations {
            measuredEvents += corpus.lineCount
            measuredMallocs += mallocs
        }
        benchmark.measurement(mallocsPer1000Events, mallocs)
    }
}
