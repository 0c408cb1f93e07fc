/// `rename`: moves the value at `from` to `to`, across nesting levels (`rename:from=user.id,to=uid`);
/// a value already at `to` is overwritten, objects missing on the way to `to` are created.
///
/// An event without `from` passes unchanged (`field_missing`); so does one where a value on the
/// way to `to` is not an object (`field_wrong_type`) or whose change would not fit
/// `--max-event-size` (`edit_too_large`). `from` and `to` must not lie inside each other.
public struct RenameAction: @unchecked Sendable {
    static let from = Parameter.required("from", .text, doc: "field (name or dotted path) to move")
    static let to = Parameter.required("to", .text, doc: "where it goes (name or dotted path); overwritten when present")
    public static let parameters = [from.doc, to.doc]

    let from: FieldPath
    let to: FieldPath
    let editor: EventEditor

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let fromText = try arguments.value(Self.from), toText = try arguments.value(Self.to)
        let from = try FieldPath(fromText, key: "from")
        let to = try FieldPath(toText, key: "to")
        guard !from.overlaps(to) else {
            from.dispose()
            to.dispose()
            throw PluginArgumentError(key: "to", "'\(toText)' and '\(fromText)' lie inside each other; rename needs two separate places")
        }
        self.init(from: from, to: to, editor: EventEditor(maxEventBytes: maxEventBytes))
    }

    private init(from: FieldPath, to: FieldPath, editor: EventEditor) {
        self.from = from
        self.to = to
        self.editor = editor
    }

    public func forWorker() -> RenameAction { RenameAction(from: from, to: to, editor: EventEditor(maxEventBytes: editor.scratchCapacity)) }
    public func dispose() { editor.dispose() }
    public func disposeShared() {
        from.dispose()
        to.dispose()
    }

    /// Sets `to` first, then removes `from`: a `wait` at either step runs the whole action
    /// again, which finds `from` again and sets `to` to the same value.
    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        guard let (value, kind) = EventEditor.lookup(context.event, from) else {
            counters.add(.fieldMissing, 1, pipeline: pipeline)
            return .pass
        }
        let set = editor.set(to, to: value, kind: kind, context: &context)
        guard set == .done else { return set.verdict(counters: counters, pipeline: pipeline) }
        return editor.remove(from, context: &context).verdict(counters: counters, pipeline: pipeline)
    }
}

extension RenameAction: ActionPlugin {
    public static let name = "rename"
    public static let editsFields = true
    public static let summary = "move a field to another name or path (overwriting what is there)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> RenameAction {
        try RenameAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .rename(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
