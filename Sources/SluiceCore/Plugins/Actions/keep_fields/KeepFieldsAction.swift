import Glibc

/// `keep_fields`: keeps only the top-level fields named (`keep_fields:field=time,field=msg`) and
/// removes every other one. Names are top-level keys: keeping part of a nested object is
/// `remove_fields` of the rest.
public struct KeepFieldsAction: @unchecked Sendable {
    static let field = Parameter.repeatable("field", .text, required: true, doc: "top-level field to keep; repeat for more")
    public static let parameters = [field.doc]

    /// The names, plain UTF-8, back to back; `(start, length)` of each.
    let names: UnsafeMutableRawPointer
    let spans: UnsafeMutablePointer<(Int, Int)>
    let nameCount: Int
    let editor: EventEditor

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let texts = try arguments.value(Self.field)
        if let nested = texts.first(where: { $0.contains(".") }) {
            throw PluginArgumentError(key: "field", "keep_fields keeps top-level fields; '\(nested)' is a path (remove_fields removes nested ones)")
        }
        let bytes = texts.flatMap { Array($0.utf8) }
        names = .allocate(byteCount: max(bytes.count, 1), alignment: 1)
        names.copyMemory(from: bytes, byteCount: bytes.count)
        spans = .allocate(capacity: texts.count)
        var start = 0
        for (i, t) in texts.enumerated() {
            (spans + i).initialize(to: (start, t.utf8.count))
            start += t.utf8.count
        }
        nameCount = texts.count
        editor = EventEditor(maxEventBytes: 64)
    }

    private init(_ other: KeepFieldsAction) {
        names = other.names
        spans = other.spans
        nameCount = other.nameCount
        editor = EventEditor(maxEventBytes: 64)
    }

    public func forWorker() -> KeepFieldsAction { KeepFieldsAction(self) }
    public func dispose() { editor.dispose() }
    public func disposeShared() {
        names.deallocate()
        spans.deallocate()
    }

    @inline(__always) func isKept(_ event: Event, _ index: Int) -> Bool {
        let escaped = event.fields[index].flags & FieldEntry.keyHasEscapes != 0
        var k = 0
        while k < nameCount {
            let name = UnsafeRawBufferPointer(start: names + spans[k].0, count: spans[k].1)
            if escaped ? JSONScanner.rawStringEquals(event.key(index), name)
                       : event.key(index).count == name.count && (name.count == 0 || memcmp(event.key(index).baseAddress!, name.baseAddress!, name.count) == 0) {
                return true
            }
            k += 1
        }
        return false
    }

    /// Compacts the index in place: no data is written, so no room is ever needed (except to
    /// index every member of an event cut at `--max-fields` first).
    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = editor.indexEveryMember(&context)
            guard indexed == .done else { return indexed.verdict(counters: counters, pipeline: pipeline) }
        }
        let event = context.event
        let count = event.fieldCount
        var kept = 0
        var i = 0
        while i < count {
            if isKept(event, i) {
                if kept != i { event.fields[kept] = event.fields[i] }
                kept += 1
            }
            i += 1
        }
        if kept != count {
            event.setFieldCount(kept)
            event.set(EventFlags.modified)
        }
        return .pass
    }
}

extension KeepFieldsAction: ActionPlugin {
    public static let name = "keep_fields"
    public static let editsFields = true
    public static let summary = "keep only these top-level fields"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> KeepFieldsAction {
        try KeepFieldsAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .keepFields(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
