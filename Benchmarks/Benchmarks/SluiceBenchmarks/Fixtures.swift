import Glibc
import SluiceCore

/// Set-up shared by the benchmarks: a one-slab pool with the production slot geometry, plugin
/// arguments, prepared events, and a clock for the MB/s metrics. Built before measuring.
enum Fixtures {
    /// Events per framed batch, as `--batch-size` defaults to in the node.
    static let batchSize = 256
    static let maxEventBytes = 64 * 1024
    static let oneMebibyte = 1 << 20

    /// One slab of `capacity` 4 KiB slots (32 fields each), 8 large slots, no huge pages. Never
    /// freed: benchmarks keep raw pointers into it (slabs, events) for the life of the process.
    static func makePool(capacity: Int = 8192) -> EventPool {
        let configuration = PoolConfiguration(
            capacity: capacity, eventSizeBytes: PoolConfiguration.defaultEventSizeBytes, maxEventSizeBytes: maxEventBytes,
            largeSlots: 8, maxFields: PoolConfiguration.defaultMaxFields, hugePages: false)
        do {
            let pool = try EventPool(configuration, placements: [.anyNode])
            _ = Unmanaged.passRetained(pool)
            return pool
        } catch {
            fatalError("benchmark pool: \(error)")
        }
    }

    static func arguments(_ plugin: String, _ pairs: (String, String)...) -> PluginArguments {
        PluginArguments(plugin: plugin, pairs: pairs.map { (key: $0.0, value: $0.1) })
    }

    static func jsonDecode() -> JSONDecodeAction {
        do { return try JSONDecodeAction(arguments("json_decode")) } catch { fatalError("\(error)") }
    }

    /// `discard field=type equals=view`: drops the quarter of the corpus that is page views.
    static func discardViews() -> DiscardAction {
        do { return try DiscardAction(arguments("discard", ("field", "type"), ("equals", "view")), maxEventBytes: maxEventBytes) } catch { fatalError("\(error)") }
    }

    /// `modify field=pipeline value=ingest`: adds a member absent from every corpus line.
    static func modifyAddField() -> ModifyAction {
        do { return try ModifyAction(arguments("modify", ("field", "pipeline"), ("value", "ingest"))) } catch { fatalError("\(error)") }
    }

    /// One event per corpus line, taken from slab 0 and filled as the framer would.
    static func events(holding corpus: Corpus, in pool: EventPool, decoded: Bool) -> UnsafeMutableBufferPointer<Event> {
        let events = UnsafeMutableBufferPointer<Event>.allocate(capacity: corpus.lineCount)
        let decode = jsonDecode()
        let counters = CounterBlock(pipelines: 1)
        for i in 0..<corpus.lineCount {
            guard let event = pool.slabs[0].take() else { fatalError("benchmark pool too small for the corpus") }
            let line = corpus.line(i)
            event.data.copyMemory(from: line.baseAddress!, byteCount: line.count)
            event.setRecord(length: line.count)
            if decoded {
                decode.apply(event, counters: counters, pipeline: 0)
                precondition(event.has(EventFlags.decoded), "corpus line \(i) is not valid JSON")
            }
            events.initializeElement(at: i, to: event)
        }
        return events
    }

    /// An output buffer with room for `bytes` plus the worst-case encoding of one event.
    static func outputBuffer(bytes: Int) -> UnsafeMutableRawPointer {
        .allocate(byteCount: bytes + PoolConfiguration.defaultEventSizeBytes * 2, alignment: 4096)
    }

    static func nowNanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Decimal megabytes per second (10^6 B/s).
    static func megabytesPerSecond(bytes: Int, nanos: UInt64) -> Int {
        nanos == 0 ? 0 : Int(UInt64(bytes) * 1000 / nanos)
    }
}
