/// `elasticsearch`'s encoding: each event becomes its bulk action line and its document line,
/// `{"index":{"_index":"logs-2026.01.02"}}\n{…the event…}\n`, so any run of events in the
/// buffer is a valid bulk body (a request may carry part of a batch). The index name is
/// rendered per event from the pattern; the date parts are computed once per hour of time seen.
public struct ElasticsearchBulkEncoder {
    /// `{"create":{"_index":"` (21 bytes) + the longest name + `"}}\n` (4), rounded up.
    public static let actionLineBytesLimit = 32 + IndexPattern.nameBytesLimit

    let pattern: IndexPattern
    /// `{"index":{"_index":"` or `{"create":{"_index":"`.
    let opening: StaticString
    let timeField: FieldPath?
    /// The date parts of the hour last seen, and which hour (seconds / 3600) that was.
    var hour: Int64 = .min
    var date = IndexPattern.DateParts()

    public init(_ definition: ElasticsearchOutput) {
        pattern = IndexPattern(definition.index)
        opening = definition.action == .create ? "{\"create\":{\"_index\":\"" : "{\"index\":{\"_index\":\""
        timeField = definition.timeField.map { try! FieldPath($0) }
    }

    public func dispose() {
        pattern.dispose()
        if let timeField { timeField.dispose() }
    }

    /// The seconds since the epoch that name the event's index: its `time-field` when it reads
    /// as a time, else the node's clock now.
    @inline(__always) func seconds(of event: Event) -> Int64 {
        if let timeField, let (value, kind) = EventEditor.read(event, timeField),
           let instant = DateFormats.instant(ofField: value, kind: kind) {
            return instant.seconds
        }
        return Int64(realtimeNanos() / 1_000_000_000)
    }

    /// Writes the event's action and document lines at `out` (room for its line's bound plus
    /// `actionLineBytesLimit`).
    public mutating func encode(_ event: Event, into out: UnsafeMutableRawPointer) -> EncodedEvent {
        var n = opening.utf8CodeUnitCount
        out.copyMemory(from: opening.utf8Start, byteCount: n)
        if pattern.usesTime {
            let seconds = seconds(of: event)
            let h = seconds >= 0 ? seconds / 3600 : (seconds - 3599) / 3600
            if h != hour {
                hour = h
                date = IndexPattern.DateParts(seconds: seconds)
            }
        }
        guard let name = pattern.render(event, date: date, into: out + n) else { return .refused("the index name would be longer than 255 bytes") }
        n += name
        let closing: StaticString = "\"}}\n"
        (out + n).copyMemory(from: closing.utf8Start, byteCount: closing.utf8CodeUnitCount)
        n += closing.utf8CodeUnitCount
        return .wrote(n + EventEncoder.encodeLine(event, into: out + n))
    }
}
