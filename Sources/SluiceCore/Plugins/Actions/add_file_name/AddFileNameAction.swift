/// `add_file_name`: sets `field` to the path of the file the event was read from (file and k8s
/// inputs). Events of other inputs pass unchanged and are counted (`no_file_name`). The path is
/// quoted once when its source opens (`SourceNames`); per event this is a lookup by source id.
public struct AddFileNameAction: @unchecked Sendable {
    static let field = Parameter.defaulted("field", .text, default: "file_name", doc: "field (name or dotted path) to set")
    public static let parameters = [field.doc]

    let path: FieldPath
    let editor: EventEditor

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field), key: "field")
        editor = EventEditor(maxEventBytes: maxEventBytes)
    }

    private init(_ other: AddFileNameAction) {
        path = other.path
        editor = EventEditor(maxEventBytes: other.editor.scratchCapacity)
    }

    public func forWorker() -> AddFileNameAction { AddFileNameAction(self) }
    public func dispose() { editor.dispose() }
    public func disposeShared() { path.dispose() }

    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        guard let name = context.fileName(of: context.event) else {
            counters.add(.noFileName, 1, pipeline: pipeline)
            return .pass
        }
        return editor.set(path, to: name, kind: .string, context: &context).verdict(counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let noFileName = Counter(plugin: AddFileNameAction.noFileName)
}

extension AddFileNameAction: ActionPlugin {
    public static let name = "add_file_name"
    public static let editsFields = true
    public static let summary = "set a field to the path of the file the event was read from"
    static let noFileName = CounterSpec("no_file_name", "Events add_file_name left unchanged: not read from a file (an input other than file or k8s, or stdin).")
    public static let counters = [noFileName]
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> AddFileNameAction {
        try AddFileNameAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .addFileName(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
