/// `json_decode`: parses the raw bytes as JSON and indexes the top-level object's fields.
///
/// Invalid JSON is counted (`invalid_json`) and the event passes on unparsed with the
/// `invalidJSON` flag; it is never dropped here.
public struct JSONDecodeAction: Sendable {
    static let maxDepth = Parameter.int("max-depth", default: JSONScanner.defaultMaxDepth, range: 1...65536,
                                        doc: "deepest nesting accepted; deeper documents count as invalid")
    public static let parameters = [maxDepth.doc]
    public let maxDepth: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        maxDepth = try arguments.value(Self.maxDepth)
    }

    /// The first byte after leading whitespace is `{` (the text is already valid JSON).
    @inline(__always) static func isObject(_ raw: UnsafeRawBufferPointer) -> Bool {
        for b in raw where b != 32 && b != 9 && b != 10 && b != 13 { return b == 123 }
        return false
    }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) {
        let h = event.header
        let outcome = JSONScanner.scan(event.raw, fields: event.fields, fieldCapacity: Int(h.pointee.fieldCapacity), maxDepth: maxDepth)
        switch outcome {
        case .valid(let count, let truncated):
            h.pointee.fieldCount = UInt16(count)
            h.pointee.flags.formUnion(truncated ? [.decoded, .fieldsTruncated] : .decoded)
            if JSONDecodeAction.isObject(event.raw) { h.pointee.flags.insert(.object) }
        case .invalid:
            h.pointee.fieldCount = 0
            h.pointee.flags.insert(.invalidJSON)
            counters.add(.invalidJSON, 1, pipeline: pipeline)
        }
    }
}
