@testable import SluiceCore

/// Runs a parsing action (mask, parse_re, decode, convert_date, convert_log_level) the way a
/// worker does: the worker copy from `Action.make`, one event, the event it leaves.
struct ActionRun {
    let pool: EventPool
    let counters = CounterBlock(pipelines: 1)
    let action: Action

    init(_ type: String, _ pairs: (String, String)..., pool: EventPool? = nil) throws {
        self.pool = try pool ?? makePool(eventSizeBytes: 2048, maxEventSizeBytes: 16384)
        let definition = try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }),
                                         maxEventBytes: self.pool.configuration.maxEventSizeBytes)
        action = definition.forWorker()
    }

    /// The event after the action, its verdict.
    func run(_ event: Event) -> (Event, Action.Verdict) {
        var context = ActionContext(event: event, handle: event.header.pointee.handle, slab: pool.slabs)
        let verdict = action.apply(event, counters: counters, pipeline: 0, context: &context)
        return (context.event, verdict)
    }

    /// The line an output writes for `json` after the action (without the newline).
    func line(_ json: String) throws -> String {
        let (event, verdict) = run(try makeDecodedEvent(json, in: pool))
        precondition(verdict == .pass, "the action did not pass the event")
        return encoded(event)
    }

    func count(_ counter: Counter) -> UInt64 { counters.read(counter, pipeline: 0) }
}

/// What the outputs write for the event (without the newline).
func encoded(_ event: Event) -> String {
    let out = UnsafeMutableRawPointer.allocate(byteCount: OutputBatcher.worstCase(event), alignment: 1)
    defer { out.deallocate() }
    let n = EventEncoder.encodeLine(event, into: out)
    return String(decoding: UnsafeRawBufferPointer(start: out, count: n - 1), as: UTF8.self)
}

/// A plugin's parameter error for these arguments, or nil when accepted.
func parsingRejection(_ type: String, _ pairs: (String, String)...) -> PluginArgumentError? {
    rejection { () throws(PluginArgumentError) in
        try Action.make(type: type, PluginArguments(plugin: type, pairs: pairs.map { (key: $0.0, value: $0.1) }), maxEventBytes: 8192)
    }
}
