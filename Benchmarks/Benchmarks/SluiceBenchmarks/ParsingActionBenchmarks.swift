import Benchmark
import SluiceCore

/// The actions that parse or rewrite string values (mask, parse_re, decode, convert_date,
/// convert_log_level), per event over the first 1000 corpus lines, each run as a worker runs
/// it (`Action.apply` on the worker copy). Every op first restores the event as json_decode
/// left it, so each apply does its whole work (appends and index changes) once per event. The
/// slots are 8 KiB so that no rewritten line needs a large slot (a move would hold it).
func registerParsingActionBenchmarks() {
    let corpus = Corpus(lineCount: 1000)
    let configuration = PoolConfiguration(
        capacity: 6 * 1000 + 64, eventSizeBytes: 8192, maxEventSizeBytes: Fixtures.maxEventBytes,
        largeSlots: 8, maxFields: PoolConfiguration.defaultMaxFields, hugePages: false)
    let pool: EventPool
    do { pool = try EventPool(configuration, placements: [.anyNode]) } catch { fatalError("benchmark pool: \(error)") }
    _ = Unmanaged.passRetained(pool)
    let counters = CounterBlock(pipelines: 1)

    let cases: [(String, String, [(String, String)])] = [
        ("mask msg (two words) per event", "mask", [("field", "msg"), ("pattern", #"\b(?:user|session)\b"#)]),
        ("mask every string (hex ids, hash) per event", "mask", [("pattern", "[0-9a-f]{16}"), ("hash", "true")]),
        ("parse_re ts (three groups) per event", "parse_re", [("field", "ts"), ("pattern", #"T(?<hour>\d\d):(?<minute>\d\d):(?<second>\d\d)"#)]),
        ("decode cri per event", "decode", [("field", "cri"), ("format", "cri")]),
        ("convert_date ts rfc3339 to unixms per event", "convert_date", [("field", "ts"), ("to", "unixms")]),
        ("convert_log_level level to number per event", "convert_log_level", [("style", "number")]),
    ]
    for (name, type, pairs) in cases {
        let action: Action
        do {
            action = try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }),
                                     maxEventBytes: Fixtures.maxEventBytes).forWorker()
        } catch { fatalError("\(name): \(error)") }
        let events = type == "decode" ? criEvents(corpus, pool) : Fixtures.events(holding: corpus, in: pool, decoded: true)
        // The header words and the whole index as json_decode left them: the actions repoint
        // and drop entries, so restoring the counts alone would leave them pointing elsewhere.
        let saved = UnsafeMutablePointer<Event.EditState>.allocate(capacity: events.count)
        let fields = PoolConfiguration.defaultMaxFields
        let entries = UnsafeMutablePointer<FieldEntry>.allocate(capacity: events.count * fields)
        for (i, e) in events.enumerated() {
            saved.advanced(by: i).initialize(to: e.editState)
            precondition(e.fieldCount <= fields && !e.has(EventFlags.fieldsTruncated), "\(name): a corpus line has more fields than the index")
            (entries + i * fields).initialize(from: e.fields, count: e.fieldCount)
        }
        Benchmark("ParsingActions \(name)") { benchmark in
            precondition(benchmark.scaledIterations.count == events.count)
            var changed = 0
            for (i, event) in events.enumerated() {
                let h = event.header
                event.restore(saved[i])
                event.fields.update(from: entries + i * fields, count: Int(h.pointee.fieldCount))
                var context = ActionContext(event: event, handle: h.pointee.handle, slab: pool.slabs)
                let verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
                precondition(verdict == .pass && context.handle == h.pointee.handle, "\(name): waited or moved an event")
                changed += event.has(EventFlags.modified) ? 1 : 0
            }
            // Every line has ts, level and (as a CRI line) cri; msg and hex ids only some.
            precondition(changed > 0 && (!name.hasPrefix("mask") ? changed == events.count : true), "\(name): \(changed) events changed")
            blackHole(changed)
        }
    }
}

/// One event per corpus line wrapped as a CRI line in a string field: `{"cri":"TIME stdout F <line escaped>"}`.
private func criEvents(_ corpus: Corpus, _ pool: EventPool) -> UnsafeMutableBufferPointer<Event> {
    let events = UnsafeMutableBufferPointer<Event>.allocate(capacity: corpus.lineCount)
    let decode = Fixtures.jsonDecode()
    let counters = CounterBlock(pipelines: 1)
    for i in 0..<corpus.lineCount {
        guard let event = pool.slabs[0].take() else { fatalError("benchmark pool too small") }
        var bytes = Array(#"{"cri":"2025-03-14T09:26:00.123456789Z stdout F "#.utf8)
        for b in corpus.line(i) {
            if b == 34 || b == 92 { bytes.append(92) }
            bytes.append(b)
        }
        bytes += Array(#""}"#.utf8)
        bytes.withUnsafeBytes { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        event.setRecord(length: bytes.count)
        decode.apply(event, counters: counters, pipeline: 0)
        precondition(event.has(EventFlags.object), "cri line \(i) is not a JSON object")
        events.initializeElement(at: i, to: event)
    }
    return events
}
