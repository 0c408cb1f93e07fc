/// A destination's answer on each event of one request (Elasticsearch's bulk `items`): the
/// i-th item is about the i-th event of the request that has bytes. A view of memory the sink
/// allocated once (its answer reader), valid until the sink's next request; the batcher acts
/// on it at once (`OutputBatcher.itemsAnswered`).
struct ItemVerdicts {
    enum Verdict: UInt8 {
        /// The destination has the event.
        case accepted
        /// The destination could not take it now (overloaded, a shard unavailable): sent again.
        case retry
        /// The destination refuses it for good (a mapping error): the dead-letter file.
        case rejected
    }

    /// Where an item's own words sit in the reader's text (still JSON-escaped), and its status.
    struct Reason {
        var status: UInt16 = 0
        var kindStart: UInt32 = 0
        var kindLength: UInt16 = 0
        var messageStart: UInt32 = 0
        var messageLength: UInt16 = 0
    }

    let count: Int
    let verdicts: UnsafePointer<Verdict>
    let reasons: UnsafePointer<Reason>
    let text: UnsafeRawPointer

    @inline(__always) func verdict(_ i: Int) -> Verdict { verdicts[i] }

    /// `item status 400: mapper_parsing_exception: failed to parse field [n]…` (rejections only:
    /// the rare path builds a String).
    func reason(_ i: Int) -> String {
        let r = reasons[i]
        var out = "item status \(r.status)"
        for (start, length) in [(r.kindStart, r.kindLength), (r.messageStart, r.messageLength)] where length > 0 {
            let raw = UnsafeRawBufferPointer(start: text + Int(start), count: Int(length))
            var bytes = [UInt8](repeating: 0, count: raw.count)
            let n = bytes.withUnsafeMutableBytes { StringUnescaper.unescape(raw, into: $0.baseAddress!, capacity: raw.count) }
            out += ": " + String(decoding: bytes.prefix(n), as: UTF8.self)
        }
        return out
    }
}
