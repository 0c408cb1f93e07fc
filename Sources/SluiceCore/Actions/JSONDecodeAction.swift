/// `json_decode`: parses the raw bytes as JSON and indexes the top-level object's fields.
///
/// Invalid JSON is counted (`invalid_json`) and the event passes on unparsed with the
/// `invalidJSON` flag; it is never dropped here.
///
/// Parameters:
/// - `max-depth`: deepest nesting accepted (default 1024); deeper documents count as invalid.
public struct JSONDecodeAction: Sendable {
    public static let parameters = [
        ParameterDoc("max-depth", "deepest nesting accepted; deeper documents count as invalid", default: "\(JSONScanner.defaultMaxDepth)"),
    ]
    public let maxDepth: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        maxDepth = try arguments.int("max-depth", default: JSONScanner.defaultMaxDepth, range: 1...65536)
    }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) {
        let h = event.header
        let outcome = JSONScanner.scan(event.raw, fields: event.fields, fieldCapacity: Int(h.pointee.fieldCapacity), maxDepth: maxDepth)
        switch outcome {
        case .valid(let count, let truncated):
            h.pointee.fieldCount = UInt16(count)
            h.pointee.flags |= EventFlags.decoded | (truncated ? EventFlags.fieldsTruncated : 0)
        case .invalid:
            h.pointee.fieldCount = 0
            h.pointee.flags |= EventFlags.invalidJSON
            counters.add(.invalidJSON, 1, pipeline: pipeline)
        }
    }
}
