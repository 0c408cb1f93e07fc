/// How an output turns one event into the bytes its buffer holds for it: the event's line for
/// most outputs (`EventEncoder`), or a protocol's own record (`elasticsearch`: an action line
/// and the document; `syslog`: a framed syslog message). One per output and worker, built with
/// the batcher; an enum so the batcher dispatches with a switch (like `OutputSink`). An encoder
/// may refuse an event it cannot express (a syslog message over `max-size`): the event goes to
/// the dead-letter file with the reason, like one `format=json` rejects.
///
/// The cases hold pointers to encoders allocated once, when the batcher is built, and freed by
/// `dispose()`: the batcher asks for a bound and an encoding on every event, and an enum whose
/// payloads were the encoders themselves (145 bytes) was copied with `memcpy` on each of those
/// calls (a fifth of the CPU of `ndjson-aggregate` in `perf record`).
enum OutputEncoder {
    case line
    case elasticsearchBulk(UnsafeMutablePointer<ElasticsearchBulkEncoder>)
    case syslog(UnsafeMutablePointer<SyslogEncoder>)
    /// A row of PostgreSQL's COPY text format (postgres).
    case copyRows(UnsafeMutablePointer<CopyRowEncoder>)

    static func elasticsearchBulk(_ e: ElasticsearchBulkEncoder) -> OutputEncoder { .elasticsearchBulk(boxed(e)) }
    static func syslog(_ e: SyslogEncoder) -> OutputEncoder { .syslog(boxed(e)) }
    static func copyRows(_ e: CopyRowEncoder) -> OutputEncoder { .copyRows(boxed(e)) }

    private static func boxed<E>(_ e: E) -> UnsafeMutablePointer<E> {
        let p = UnsafeMutablePointer<E>.allocate(capacity: 1)
        p.initialize(to: e)
        return p
    }

    /// The most bytes `encode` writes for an event whose line takes at most `lineBytes`
    /// (`OutputBatcher.lineBound`).
    @inline(__always) func bound(lineBytes: Int) -> Int {
        switch self {
        case .line: lineBytes
        case .elasticsearchBulk: lineBytes + ElasticsearchBulkEncoder.actionLineBytesLimit
        case .syslog(let s): s.pointee.bound(lineBytes: lineBytes)
        // A line bound covers the slot's data and field index, which is what a row's bound is made of.
        case .copyRows(let c): c.pointee.worstCase(dataBytes: lineBytes, fields: 0)
        }
    }

    /// Upper bound of this output's bytes for an event in this slot.
    @inline(__always) func bound(_ event: Event) -> Int {
        if case .copyRows(let c) = self { return c.pointee.worstCase(event) }
        return bound(lineBytes: OutputBatcher.worstCase(event))
    }

    /// Writes the event's bytes at `out` (room for `bound` bytes).
    @inline(__always) func encode(_ event: Event, into out: UnsafeMutableRawPointer) -> EncodedEvent {
        switch self {
        case .line: return .wrote(EventEncoder.encodeLine(event, into: out))
        case .elasticsearchBulk(let e): return e.pointee.encode(event, into: out)
        case .syslog(let s): return s.pointee.encode(event, into: out)
        case .copyRows(let c):
            guard let row = c.pointee.encodeRow(event, into: out) else { return .refused(CopyRowEncoder.notAnObject) }
            return .wrote(row)
        }
    }

    func dispose() {
        switch self {
        case .line: break
        case .elasticsearchBulk(let e): e.pointee.dispose(); e.deinitialize(count: 1); e.deallocate()
        case .syslog(let s): s.pointee.dispose(); s.deinitialize(count: 1); s.deallocate()
        case .copyRows(let c): c.pointee.dispose(); c.deinitialize(count: 1); c.deallocate()
        }
    }
}

/// What an encoder made of one event: its bytes, or why it cannot be sent (the event goes to
/// the dead-letter file with that reason).
public enum EncodedEvent: Equatable {
    case wrote(Int)
    case refused(StaticString)

    public static func == (a: EncodedEvent, b: EncodedEvent) -> Bool {
        switch (a, b) {
        case (.wrote(let x), .wrote(let y)): x == y
        case (.refused(let x), .refused(let y)): x.description == y.description
        default: false
        }
    }
}
