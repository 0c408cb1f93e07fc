/// `remove_fields`: removes the fields named (`remove_fields:field=password,field=user.token`);
/// fields an event does not have are simply not there to remove.
public struct RemoveFieldsAction: @unchecked Sendable {
    static let field = Parameter.repeatable("field", .text, required: true, doc: "field (name or dotted path) to remove; repeat for more")
    public static let parameters = [field.doc]

    let paths: UnsafeMutablePointer<FieldPath>
    let pathCount: Int
    let editor: EventEditor

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let texts = try arguments.value(Self.field)
        let paths = UnsafeMutablePointer<FieldPath>.allocate(capacity: texts.count)
        for (i, text) in texts.enumerated() {
            do { (paths + i).initialize(to: try FieldPath(text, key: "field")) } catch {
                for k in 0..<i { paths[k].dispose() }
                paths.deallocate()
                throw error
            }
        }
        self.init(paths: paths, pathCount: texts.count, editor: EventEditor(maxEventBytes: maxEventBytes))
    }

    private init(paths: UnsafeMutablePointer<FieldPath>, pathCount: Int, editor: EventEditor) {
        self.paths = paths
        self.pathCount = pathCount
        self.editor = editor
    }

    public func forWorker() -> RemoveFieldsAction {
        RemoveFieldsAction(paths: paths, pathCount: pathCount, editor: EventEditor(maxEventBytes: editor.scratchCapacity))
    }
    public func dispose() { editor.dispose() }
    public func disposeShared() {
        for i in 0..<pathCount { paths[i].dispose() }
        paths.deinitialize(count: pathCount)
        paths.deallocate()
    }

    /// A `wait` part way runs the action again: the fields already removed are then missing.
    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard context.event.has(EventFlags.object) else { return EventEditor.Outcome.notAnObject.verdict(counters: counters, pipeline: pipeline) }
        var i = 0
        while i < pathCount {
            let outcome = editor.remove(paths[i], context: &context)
            if outcome == .wait { return .wait }
            _ = outcome.verdict(counters: counters, pipeline: pipeline)
            i += 1
        }
        return .pass
    }
}

extension RemoveFieldsAction: ActionPlugin {
    public static let name = "remove_fields"
    public static let editsFields = true
    public static let summary = "remove fields (names or dotted paths)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> RemoveFieldsAction {
        try RemoveFieldsAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .removeFields(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
