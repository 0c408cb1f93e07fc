import Glibc

/// `add_host`: sets `field` to the node's host name, read once when the pipeline is built
/// (bytes that are not UTF-8 become U+FFFD).
public struct AddHostAction: @unchecked Sendable {
    static let field = Parameter.defaulted("field", .text, default: "host", doc: "field (name or dotted path) to set")
    public static let parameters = [field.doc]

    let path: FieldPath
    /// The host name as a JSON string.
    let value: UnsafeMutableRawBufferPointer
    let editor: EventEditor

    public init(_ arguments: PluginArguments, maxEventBytes: Int, hostName: String = AddHostAction.hostName()) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field), key: "field")
        let quoted = JSONText.quoted(hostName)
        value = .allocate(byteCount: quoted.count, alignment: 1)
        value.copyBytes(from: quoted)
        editor = EventEditor(maxEventBytes: maxEventBytes)
    }

    private init(_ other: AddHostAction) {
        path = other.path
        value = other.value
        editor = EventEditor(maxEventBytes: other.editor.scratchCapacity)
    }

    /// gethostname(2), decoded as UTF-8 with replacement.
    public static func hostName() -> String {
        var name = [UInt8](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        return String(decoding: name.prefix { $0 != 0 }, as: UTF8.self)
    }

    public func forWorker() -> AddHostAction { AddHostAction(self) }
    public func dispose() { editor.dispose() }
    public func disposeShared() {
        path.dispose()
        value.deallocate()
    }

    public func apply(context: inout ActionContext, counters: CounterBlock, pipeline: Int) -> Action.Verdict {
        editor.set(path, to: UnsafeRawBufferPointer(value), kind: .string, context: &context).verdict(counters: counters, pipeline: pipeline)
    }
}

extension AddHostAction: ActionPlugin {
    public static let name = "add_host"
    public static let editsFields = true
    public static let summary = "set a field to the node's host name"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> AddHostAction {
        try AddHostAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .addHost(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(context: &context, counters: counters, pipeline: pipeline)
    }
}
