/// `decode`: parses a string field in a format (`DecodeFormat`) and sets top-level fields,
/// named `prefix` + the decoded name, from it; existing fields of those names are replaced.
/// `json`: the members of an object held in a string; `logfmt`: `key=value` pairs; `cri`: the
/// CRI container log line; `nginx_error`: nginx's error log line; `rfc5424`, `rfc3164`: a syslog
/// message, into the syslog input's fields (see `Decoders`). The field
/// decoded (top-level or nested) is removed unless `keep-origin=true` or a decoded field took
/// its name.
///
/// A value not in the format, with more than `max-fields` fields, a field that is not a
/// string, or an event that is not a decoded object is left as it is and counted
/// (`decode_failed`); a result that would not fit `--max-event-size` too (`parse_too_large`).
public struct DecodeAction: @unchecked Sendable {
    static let defaultMaxFields = 256

    static let field = Parameter.required("field", .text, doc: "string field (name or dotted path) to decode")
    static let format = Parameter.choice("format", default: DecodeFormat.json, doc: "what the field holds")
    static let prefix = Parameter.defaulted("prefix", .text, default: "", doc: "text put before each decoded name")
    static let keepOrigin = Parameter.bool("keep-origin", default: false, doc: "keep the decoded field (by default it is removed)")
    static let maxFields = Parameter.int("max-fields", default: defaultMaxFields, range: 1...FieldBatch.indexLimit,
                                         doc: "most fields one value may decode into; a value with more is left and counted")
    static let nginxCustomFields = Parameter.bool("nginx-with-custom-fields", default: false,
                                                  doc: "nginx_error: also decode the client, server, request, … fields after the message")
    public static let parameters = [field.doc, format.doc, prefix.doc, keepOrigin.doc, maxFields.doc, nginxCustomFields.doc]

    let path: FieldPath
    public let format: DecodeFormat
    let prefix: UnsafeMutableRawBufferPointer
    let prefixCount: Int
    let keepsOrigin: Bool
    let fieldLimit: Int
    let customFields: Bool
    let maxEventBytes: Int
    /// The first component of `field`, escaped as a key: a decoded field of that name
    /// replaces the origin, which is then not removed.
    let escapedOriginTop: UnsafeRawBufferPointer
    let scratch: UnsafeMutablePointer<Scratch>?

    struct Scratch {
        let unescaped: UnsafeMutableRawPointer
        let values: UnsafeMutableRawPointer
        let entries: UnsafeMutablePointer<FieldEntry>
        var batch: FieldBatch
        let editor: EventEditor
    }

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field))
        format = try arguments.value(Self.format)
        let prefixText = Array(try arguments.value(Self.prefix).utf8)
        prefix = .allocate(byteCount: max(prefixText.count, 1), alignment: 1)
        prefix.copyBytes(from: prefixText)
        prefixCount = prefixText.count
        keepsOrigin = try arguments.value(Self.keepOrigin)
        fieldLimit = try arguments.value(Self.maxFields)
        customFields = try arguments.value(Self.nginxCustomFields)
        if customFields && format != .nginxError {
            throw PluginArgumentError(key: "nginx-with-custom-fields", "only format=nginx_error has custom fields")
        }
        self.maxEventBytes = maxEventBytes
        let top = Array(JSONText.quoted(String(decoding: path.component(0), as: UTF8.self)).dropFirst().dropLast())
        let topBytes = UnsafeMutableRawBufferPointer.allocate(byteCount: max(top.count, 1), alignment: 1)
        topBytes.copyBytes(from: top)
        escapedOriginTop = UnsafeRawBufferPointer(start: topBytes.baseAddress, count: top.count)
        scratch = nil
    }

    private init(_ d: DecodeAction, scratch: UnsafeMutablePointer<Scratch>) {
        path = d.path
        format = d.format
        prefix = d.prefix
        prefixCount = d.prefixCount
        keepsOrigin = d.keepsOrigin
        fieldLimit = d.fieldLimit
        customFields = d.customFields
        maxEventBytes = d.maxEventBytes
        escapedOriginTop = d.escapedOriginTop
        self.scratch = scratch
    }

    public func forWorker() -> DecodeAction {
        let bytes = max(maxEventBytes, 64)
        let s = UnsafeMutablePointer<Scratch>.allocate(capacity: 1)
        s.initialize(to: Scratch(unescaped: .allocate(byteCount: bytes, alignment: 8), values: .allocate(byteCount: bytes, alignment: 8),
                                 entries: .allocate(capacity: fieldLimit),
                                 batch: FieldBatch(byteCapacity: bytes, fieldCapacity: fieldLimit),
                                 editor: EventEditor(maxEventBytes: maxEventBytes)))
        return DecodeAction(self, scratch: s)
    }

    public func dispose() {
        guard let s = scratch else { return }
        s.pointee.unescaped.deallocate()
        s.pointee.values.deallocate()
        s.pointee.entries.deallocate()
        s.pointee.batch.deallocate()
        s.pointee.editor.dispose()
        s.deallocate()
    }

    public func disposeShared() {
        path.dispose()
        prefix.deallocate()
        escapedOriginTop.deallocate()
    }

    public func apply(_ event: Event, context: inout ActionContext) -> EditResult {
        guard let s = scratch else { preconditionFailure("decode runs on a worker copy (forWorker())") }
        guard event.has(EventFlags.object) else { return .failed }
        guard let (value, kind) = EventEditor.lookup(event, path) else { return .unchanged }
        guard kind == .string else { return .failed }
        let text = plainText(ofString: value, scratch: s.pointee.unescaped, capacity: maxEventBytes)
        s.pointee.batch.reset()
        let target = DecodeTarget(prefix: UnsafeRawBufferPointer(start: prefix.baseAddress, count: prefixCount), scratch: s.pointee.values,
                                  capacity: maxEventBytes, entries: s.pointee.entries, fieldCapacity: fieldLimit,
                                  nginxCustomFields: customFields)
        guard Decoders.decode(format, text, into: &s.pointee.batch, target), !s.pointee.batch.tooManyFields else { return .failed }
        let result = EditResult(s.pointee.batch.apply(with: s.pointee.editor, context: &context))
        guard result == .changed, !keepsOrigin, !s.pointee.batch.contains(escapedKey: escapedOriginTop) else { return result }
        // A decoded field of the same name took the origin's place: nothing to remove then.
        switch s.pointee.editor.remove(path, context: &context) {
        case .wait: return .waitForRoom  // a rerun decodes again into the same fields, then removes
        default: return .changed
        }
        return result
    }
}

extension DecodeAction: ActionPlugin {
    public static let name = "decode"
    public static let editsFields = true
    public static let summary = "parse a string field as json, logfmt, cri, nginx_error, rfc5424 or rfc3164 into top-level fields (decode_failed)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> DecodeAction {
        try DecodeAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .decode(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, context: &context).verdict(failed: .decodeFailed, counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let decodeFailed = Counter(plugin: DecodeAction.decodeFailed)
}

extension DecodeAction {
    static let decodeFailed = CounterSpec("decode_failed", "Events decode could not decode: not decoded objects, the field not a string, or a value not in the format (left unchanged).")
    public static let counters = [decodeFailed]
}
