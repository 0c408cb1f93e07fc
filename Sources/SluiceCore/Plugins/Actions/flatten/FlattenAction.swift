/// `flatten`: turns the object at `field` into top-level fields, one per leaf, named by the keys
/// on the way joined with `separator` after `prefix` (`{"req":{"a":{"b":1},"c":2}}` with
/// `flatten:field=req,prefix=req.` gives `req.a.b` and `req.c`); the object itself is removed.
/// Arrays, scalars and empty objects are leaves; a top-level field of the same name is
/// overwritten. Keys keep their escapes.
///
/// An event without the field passes unchanged (`field_missing`), as does one where it is
/// not an object (`field_wrong_type`).
public struct FlattenAction: @unchecked Sendable {
    static let field = Parameter.required("field", .text, doc: "object (name or dotted path) to flatten")
    static let separator = Parameter.defaulted("separator", .text, default: ".", doc: "between the keys of nested levels")
    static let prefix = Parameter.defaulted("prefix", .text, default: "", doc: "before every new key")
    public static let parameters = [field.doc, separator.doc, prefix.doc]
    /// Objects nested deeper than this under the field are kept whole as leaves.
    public static let maxDepth = 64

    let path: FieldPath
    /// The prefix then the separator, escaped for JSON keys.
    let affixes: UnsafeMutableRawBufferPointer
    let prefixLength: Int
    let editor: EventEditor
    /// This copy's own room: the object copied out of the event (edits move the event's bytes),
    /// then the key being built.
    let buffer: UnsafeMutableRawPointer
    let objectCapacity: Int
    let keyCapacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let prefix = JSONText.quoted(try arguments.value(Self.prefix)).dropFirst().dropLast()
        let separator = JSONText.quoted(try arguments.value(Self.separator)).dropFirst().dropLast()
        path = try FieldPath(try arguments.value(Self.field), key: "field")
        affixes = .allocate(byteCount: prefix.count + separator.count, alignment: 1)
        affixes.copyBytes(from: Array(prefix) + Array(separator))
        prefixLength = prefix.count
        (editor, buffer, objectCapacity, keyCapacity) = FlattenAction.room(maxEventBytes, prefixLength: prefix.count, separatorLength: separator.count)
    }

    private static func room(_ maxEventBytes: Int, prefixLength: Int, separatorLength: Int)
        -> (EventEditor, UnsafeMutableRawPointer, Int, Int) {
        // A key is at most the prefix, the keys of one object's text and a separator per level.
        let keyCapacity = prefixLength + maxEventBytes + separatorLength * maxDepth
        return (EventEditor(maxEventBytes: maxEventBytes), .allocate(byteCount: maxEventBytes + keyCapacity, alignment: 8),
                maxEventBytes, keyCapacity)
    }

    private init(_ other: FlattenAction) {
        path = other.path
        affixes = other.affixes
        prefixLength = other.prefixLength
        (editor, buffer, objectCapacity, keyCapacity) = FlattenAction.room(other.objectCapacity, prefixLength: other.prefixLength,
                                                                          separatorLength: other.affixes.count - other.prefixLength)
    }

    public func forWorker() -> FlattenAction { FlattenAction(self) }
    public func dispose() {
        editor.dispose()
        buffer.deallocate()
    }
    public func disposeShared() {
        path.dispose()
        affixes.deallocate()
    }

    var key: UnsafeMutableRawPointer { buffer + objectCapacity }

    /// Room for every new field is made first, so the edits that follow never wait part way.
    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = editor.indexEveryMember(&context)
            guard indexed == .done else { return indexed.verdict(counters: counters, pipeline: pipeline) }
        }
        guard let (value, kind) = EventEditor.lookup(context.event, path) else {
            counters.add(.fieldMissing, 1, pipeline: pipeline)
            return .pass
        }
        guard kind == .object else {
            counters.add(.fieldWrongType, 1, pipeline: pipeline)
            return .pass
        }
        guard value.count <= objectCapacity else { return EventEditor.Outcome.tooLarge.verdict(counters: counters, pipeline: pipeline) }
        buffer.copyMemory(from: value.baseAddress!, byteCount: value.count)
        let object = UnsafeRawBufferPointer(start: buffer, count: value.count)
        key.copyMemory(from: affixes.baseAddress!, byteCount: prefixLength)
        var leaves = 0, bytes = 0
        var ignored = EventEditor.Outcome.done
        walk(object, keyLength: prefixLength, depth: 0, store: false, leaves: &leaves, bytes: &bytes, outcome: &ignored, context: &context)
        // The removal of a nested field writes its top-level member again.
        if !path.isTopLevel, let top = context.event.fieldIndex(named: path.component(0)) { bytes += context.event.value(top).count }
        let entries = context.event.fieldCount + leaves
        if !context.event.hasRoom(fieldEntries: entries, dataBytes: bytes) {
            switch context.makeRoom(fieldEntries: entries, dataBytes: bytes) {
            case .ready: break
            case .wait: return .wait
            case .tooLarge: return EventEditor.Outcome.tooLarge.verdict(counters: counters, pipeline: pipeline)
            }
        }
        let removed = editor.remove(path, context: &context)
        guard removed == .done else { return removed.verdict(counters: counters, pipeline: pipeline) }
        var outcome = EventEditor.Outcome.done
        walk(object, keyLength: prefixLength, depth: 0, store: true, leaves: &leaves, bytes: &bytes, outcome: &outcome, context: &context)
        return outcome.verdict(counters: counters, pipeline: pipeline)
    }

    /// Visits the leaves under `object`; the key so far is `key[0..<keyLength]`. Counting
    /// (`store` false) adds up the leaves and the bytes of their keys and values; storing sets them.
    func walk(_ object: UnsafeRawBufferPointer, keyLength: Int, depth: Int, store: Bool, leaves: inout Int, bytes: inout Int,
              outcome: inout EventEditor.Outcome, context: inout ActionContext) {
        JSONObjectText.forEachMember(in: object) { span in
            var length = keyLength
            if depth > 0 {
                let separatorLength = affixes.count - prefixLength
                (key + length).copyMemory(from: affixes.baseAddress! + prefixLength, byteCount: separatorLength)
                length += separatorLength
            }
            guard length + span.keyLength <= keyCapacity else { outcome = .tooLarge; return false }
            (key + length).copyMemory(from: object.baseAddress! + span.keyStart + 1, byteCount: span.keyLength)
            length += span.keyLength
            let value = UnsafeRawBufferPointer(start: object.baseAddress! + span.valueStart, count: span.valueEnd - span.valueStart)
            if span.kind == .object && depth + 1 < FlattenAction.maxDepth && value.count > 2 && !isEmptyObject(value) {
                walk(value, keyLength: length, depth: depth + 1, store: store, leaves: &leaves, bytes: &bytes, outcome: &outcome, context: &context)
                return outcome == .done
            }
            if store {
                outcome = editor.setTopLevel(escapedKey: UnsafeRawBufferPointer(start: key, count: length), to: value, kind: span.kind,
                                             context: &context)
                return outcome == .done
            }
            leaves += 1
            bytes += length + value.count
            return true
        }
    }

    func isEmptyObject(_ value: UnsafeRawBufferPointer) -> Bool {
        if case .absent(_, true) = JSONObjectText.find(UnsafeRawBufferPointer(start: nil, count: 0), in: value) { return true }
        return false
    }
}

extension FlattenAction: ActionPlugin {
    public static let name = "flatten"
    public static let editsFields = true
    public static let summary = "turn a nested object into top-level fields named by the keys on the way"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> FlattenAction {
        try FlattenAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .flatten(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
