import Benchmark
import SluiceCore

/// Each action and the output encoder, per event: one op is one event, over 1000 prepared events
/// holding the first 1000 corpus lines (the iteration runs through all of them once).
func registerActionBenchmarks() {
    let corpus = Corpus(lineCount: 1000)
    let pool = Fixtures.makePool()
    let raw = Fixtures.events(holding: corpus, in: pool, decoded: false)
    let decoded = Fixtures.events(holding: corpus, in: pool, decoded: true)
    let toModify = Fixtures.events(holding: corpus, in: pool, decoded: true)
    let modified = Fixtures.events(holding: corpus, in: pool, decoded: true)
    let counters = CounterBlock(pipelines: 1)

    let decode = Fixtures.jsonDecode()
    Benchmark("JSONDecodeAction per event") { benchmark in
        precondition(benchmark.scaledIterations.count == raw.count)
        for event in raw { decode.apply(event, counters: counters, pipeline: 0) }
    }

    let discard = Fixtures.discardViews()
    Benchmark("DiscardAction equals (type=view) per event") { benchmark in
        precondition(benchmark.scaledIterations.count == decoded.count)
        var dropped = 0
        for event in decoded where discard.shouldDiscard(event) { dropped += 1 }
        blackHole(dropped)
    }

    // Every op restores the event as json_decode left it (three header stores), so each apply
    // appends the value and a new index entry, as it would once per event in the node.
    let modify = Fixtures.modifyAddField()
    let fieldCounts = UnsafeMutablePointer<UInt16>.allocate(capacity: toModify.count)
    for (i, event) in toModify.enumerated() { fieldCounts[i] = event.header.pointee.fieldCount }
    Benchmark("ModifyAction add field per event") { benchmark in
        precondition(benchmark.scaledIterations.count == toModify.count)
        for (i, event) in toModify.enumerated() {
            let h = event.header
            event.setRecord(length: Int(h.pointee.rawLength))
            event.setFieldCount(Int(fieldCounts[i]))
            event.clear(.modified)
            // A context per event, as the worker makes one (the change fits: nothing moves).
            var context = ActionContext(event: event, handle: h.pointee.handle, slab: pool.slabs)
            precondition(modify.apply(event, context: &context) == .changed && context.handle == h.pointee.handle, "modify skipped or moved an event")
        }
    }

    // Lines go one after another into a 1 MiB output buffer that starts over when full, like a
    // write buffer being flushed.
    let bufferBytes = Fixtures.oneMebibyte
    let output = Fixtures.outputBuffer(bytes: bufferBytes)
    for event in modified {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        precondition(modify.apply(event, context: &context) == .changed)
    }
    for (name, events) in [("raw", decoded), ("modified (re-encoded from the index)", modified)] {
        Benchmark("EventEncoder.encodeLine \(name) per event") { benchmark in
            precondition(benchmark.scaledIterations.count == events.count)
            var used = 0
            for event in events {
                used += EventEncoder.encodeLine(event, into: output + used)
                if used > bufferBytes { used = 0 }
            }
            blackHole(used)
        }
    }
}
