/// `json_decode`: parses the raw bytes as JSON and indexes the top-level object's fields.
///
/// Invalid JSON is counted (`invalid_json`) and the event passes on unparsed with the
/// `invalidJSON` flag; it is never dropped here.
///
/// An event's index holds `--max-fields` members; the members of a longer object are found in
/// its text when read. When an action after this one in the pipeline edits fields
/// (`completesIndex`, set by `Action.linked`), that action would index every member first,
/// walking the text past the cut a second time: this one then indexes them all in the same
/// scan (into its own staging index, then into the event, whose index grows into its slot or
/// which moves to a longer one, as the editor's would).
public struct JSONDecodeAction: @unchecked Sendable {
    static let maxDepth = Parameter.int("max-depth", default: JSONScanner.defaultMaxDepth, range: 1...65536,
                                        doc: "deepest nesting accepted; deeper documents count as invalid")
    public static let parameters = [maxDepth.doc]
    public let maxDepth: Int
    /// An action after this one edits fields: index every member of a long object.
    public internal(set) var completesIndex = false
    /// A worker's copy with `completesIndex`: where the scan writes the index before it is
    /// copied into the event (`stagingCapacity` entries, the most an index can hold).
    let staging: UnsafeMutablePointer<FieldEntry>?
    static let stagingCapacity = FieldBatch.indexLimit

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        maxDepth = try arguments.value(Self.maxDepth)
        staging = nil
    }

    private init(_ other: JSONDecodeAction, staging: UnsafeMutablePointer<FieldEntry>?) {
        maxDepth = other.maxDepth
        completesIndex = other.completesIndex
        self.staging = staging
    }

    public func forWorker() -> JSONDecodeAction {
        JSONDecodeAction(self, staging: completesIndex ? .allocate(capacity: Self.stagingCapacity) : nil)
    }

    public func dispose() { staging?.deallocate() }

    public func apply(_ event: Event, counters: CounterBlock, pipeline: Int) {
        if !event.indexJSON(maxDepth: maxDepth) { counters.add(.invalidJSON, 1, pipeline: pipeline) }
    }

    /// Indexes every member (up to `stagingCapacity`): the index grows first when they are more
    /// than it holds. `wait` when that needs a longer slot and none is free (the action runs
    /// again); when even the longest slot cannot hold them, the index is cut as `apply` cuts it.
    public func applyWhole(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard let staging else {
            apply(context.event, counters: counters, pipeline: pipeline)
            return .pass
        }
        switch JSONScanner.scan(context.event.raw, fields: staging, fieldCapacity: Self.stagingCapacity, maxDepth: maxDepth) {
        case .invalid:
            context.event.markInvalidJSON()
            counters.add(.invalidJSON, 1, pipeline: pipeline)
        case .valid(let count, let truncated):
            var kept = count, cut = truncated
            if count > Int(context.event.header.pointee.fieldCapacity) {
                // One more entry: room for the member the editing action may add.
                switch context.makeRoom(fieldEntries: count + 1, dataBytes: 0) {
                case .ready: break
                case .wait: return .wait
                case .tooLarge:
                    kept = Int(context.event.header.pointee.fieldCapacity)
                    cut = true
                }
            }
            context.event.setIndex(copying: staging, count: kept, truncated: cut)
        }
        return .pass
    }
}

extension JSONDecodeAction: ActionPlugin {
    public static let name = "json_decode"
    public static let summary = "parse the event as JSON and index its top-level fields"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> JSONDecodeAction {
        try JSONDecodeAction(arguments)
    }

    public var kind: Action.Kind { .jsonDecode(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        if staging != nil { return applyWhole(context: &context, counters: counters, pipeline: pipeline) }
        apply(event, counters: counters, pipeline: pipeline)
        return .pass
    }
}
