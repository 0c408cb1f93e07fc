/// How an output turns an event into the bytes of its batch: a line (the raw record, or its
/// fields written again as JSON: `EventEncoder`), or a row of PostgreSQL's COPY text format
/// (`CopyRowEncoder`, postgres). Either ends in a newline, one per event, so a batch can go out
/// in parts (`OutputBatcher.lineEnds`).
enum OutputEncoding {
    case lines
    case copyRows(CopyRowEncoder)

    /// This worker's encoding for the output (a COPY encoder has per-worker scratch).
    init(_ definition: OutputDefinition) {
        if case .postgres(let p) = definition {
            self = .copyRows(CopyRowEncoder(columns: p.columns, wholeEvent: p.jsonColumn != nil))
        } else {
            self = .lines
        }
    }

    /// Upper bound of one event's bytes for a slot of `dataBytes` bytes and `fields` entries.
    func worstCase(dataBytes: Int, fields: Int) -> Int {
        switch self {
        case .lines: return dataBytes + 4 * fields + 8
        case .copyRows(let encoder): return encoder.worstCase(dataBytes: dataBytes, fields: fields)
        }
    }

    /// Upper bound of this event's bytes, whatever its fields hold.
    @inline(__always) func worstCase(_ event: Event) -> Int {
        switch self {
        case .lines: return OutputBatcher.worstCase(event)
        case .copyRows(let encoder): return encoder.worstCase(event)
        }
    }

    func dispose() {
        if case .copyRows(let encoder) = self { encoder.dispose() }
    }
}
