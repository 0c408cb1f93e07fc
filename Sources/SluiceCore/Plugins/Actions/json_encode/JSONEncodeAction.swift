/// `json_encode`: replaces the object or array at `field` with its JSON text as a string
/// (`{"a":{"b":1}}` → `{"a":"{\"b\":1}"}`), byte for byte as it stands in the event.
///
/// An event without the field passes unchanged (`field_missing`), as does one where it is a
/// string, number, boolean or null (`field_wrong_type`).
public struct JSONEncodeAction: @unchecked Sendable {
    static let field = Parameter.required("field", .text, doc: "object or array (name or dotted path) to encode")
    public static let parameters = [field.doc]

    let path: FieldPath
    let editor: EventEditor
    /// This copy's room for the quoted text: at worst every byte escaped in two.
    let buffer: UnsafeMutableRawPointer
    let capacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        self.init(path: try FieldPath(try arguments.value(Self.field), key: "field"), maxEventBytes: maxEventBytes)
    }

    private init(path: FieldPath, maxEventBytes: Int) {
        self.path = path
        editor = EventEditor(maxEventBytes: maxEventBytes)
        capacity = 2 * maxEventBytes + 2
        buffer = .allocate(byteCount: capacity, alignment: 8)
    }

    public func forWorker() -> JSONEncodeAction { JSONEncodeAction(path: path, maxEventBytes: editor.scratchCapacity) }
    public func dispose() {
        editor.dispose()
        buffer.deallocate()
    }
    public func disposeShared() { path.dispose() }

    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        guard let (value, kind) = EventEditor.lookup(context.event, path) else {
            counters.add(.fieldMissing, 1, pipeline: pipeline)
            return .pass
        }
        guard kind == .object || kind == .array else {
            counters.add(.fieldWrongType, 1, pipeline: pipeline)
            return .pass
        }
        buffer.storeBytes(of: 34, as: UInt8.self)
        guard let n = JSONEscaper.escape(value, into: buffer + 1, capacity: capacity - 2) else {
            return EventEditor.Outcome.tooLarge.verdict(counters: counters, pipeline: pipeline)
        }
        buffer.storeBytes(of: 34, toByteOffset: n + 1, as: UInt8.self)
        let encoded = UnsafeRawBufferPointer(start: buffer, count: n + 2)
        return editor.set(path, to: encoded, kind: .string, context: &context).verdict(counters: counters, pipeline: pipeline)
    }
}

extension JSONEncodeAction: ActionPlugin {
    public static let name = "json_encode"
    public static let editsFields = true
    public static let summary = "replace an object or array field with its JSON text as a string"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> JSONEncodeAction {
        try JSONEncodeAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .jsonEncode(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
