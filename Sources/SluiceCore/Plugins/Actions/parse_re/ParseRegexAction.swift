/// `parse_re`: matches a PCRE2 pattern against a string field and sets a top-level field per
/// named capture group (`(?<name>…)`), named `prefix` + the group's name, to the captured text
/// (a string). Groups that took no part in the match set nothing; existing fields of those
/// names are replaced.
///
/// No match, a field that is not a string, an event that is not a decoded object, or a search
/// PCRE2 gave up on leaves the event unchanged and is counted (`parse_re_failed`); a result that
/// would not fit `--max-event-size` too (`parse_too_large`). A missing field passes uncounted.
public struct ParseRegexAction: @unchecked Sendable {
    static let field = Parameter.defaulted("field", .text, default: "log", doc: "string field (name or dotted path) to match")
    static let pattern = Parameter.required("pattern", .text, doc: "PCRE2 pattern; each named group (?<name>...) becomes a field")
    static let prefix = Parameter.defaulted("prefix", .text, default: "", doc: "text put before each group's name")
    public static let parameters = [field.doc, pattern.doc, prefix.doc]

    let path: FieldPath
    /// Retained until `disposeShared()`: unmanaged so the action stays plain memory.
    let regex: Unmanaged<PCRERegex>
    /// Group numbers, and their names back to back (plain UTF-8).
    let groups: UnsafeMutablePointer<(number: Int, offset: Int, length: Int)>
    let groupCount: Int
    let names: UnsafeMutableRawBufferPointer
    let prefix: UnsafeMutableRawBufferPointer
    let prefixCount: Int
    let maxEventBytes: Int
    let scratch: UnsafeMutablePointer<Scratch>?

    struct Scratch {
        let matcher: Unmanaged<RegexMatcher>
        let unescaped: UnsafeMutableRawPointer
        var batch: FieldBatch
        let editor: EventEditor
    }

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        path = try FieldPath(try arguments.value(Self.field))
        let text = try arguments.value(Self.pattern)
        let compiled: PCRERegex
        do { compiled = try PCRERegex.compile(text) } catch { throw PluginArgumentError(key: "pattern", "'\(text)': \(error)") }
        let named = compiled.namedGroups.sorted { $0.number < $1.number }
        guard !named.isEmpty else {
            throw PluginArgumentError(key: "pattern", "'\(text)' has no named group: name what to keep, as in (?<status>\\d+)")
        }
        regex = .passRetained(compiled)
        groupCount = named.count
        groups = .allocate(capacity: named.count)
        var bytes: [UInt8] = []
        for (i, g) in named.enumerated() {
            groups[i] = (g.number, bytes.count, g.name.utf8.count)
            bytes += g.name.utf8
        }
        names = .allocate(byteCount: max(bytes.count, 1), alignment: 1)
        names.copyBytes(from: bytes)
        let prefixText = Array(try arguments.value(Self.prefix).utf8)
        prefix = .allocate(byteCount: max(prefixText.count, 1), alignment: 1)
        prefix.copyBytes(from: prefixText)
        prefixCount = prefixText.count
        self.maxEventBytes = maxEventBytes
        scratch = nil
    }

    private init(_ d: ParseRegexAction, scratch: UnsafeMutablePointer<Scratch>) {
        path = d.path
        regex = d.regex
        groups = d.groups
        groupCount = d.groupCount
        names = d.names
        prefix = d.prefix
        prefixCount = d.prefixCount
        maxEventBytes = d.maxEventBytes
        self.scratch = scratch
    }

    public func forWorker() -> ParseRegexAction {
        let bytes = max(maxEventBytes, 64)
        let s = UnsafeMutablePointer<Scratch>.allocate(capacity: 1)
        s.initialize(to: Scratch(matcher: .passRetained(RegexMatcher(regex.takeUnretainedValue())), unescaped: .allocate(byteCount: bytes, alignment: 8),
                                 batch: FieldBatch(byteCapacity: bytes, fieldCapacity: groupCount),
                                 editor: EventEditor(maxEventBytes: maxEventBytes)))
        return ParseRegexAction(self, scratch: s)
    }

    public func dispose() {
        guard let s = scratch else { return }
        s.pointee.matcher.release()
        s.pointee.unescaped.deallocate()
        s.pointee.batch.deallocate()
        s.pointee.editor.dispose()
        s.deallocate()
    }

    public func disposeShared() {
        regex.release()
        path.dispose()
        groups.deallocate()
        names.deallocate()
        prefix.deallocate()
    }

    public func apply(_ event: Event, context: inout ActionContext) -> EditResult {
        guard let s = scratch else { preconditionFailure("parse_re runs on a worker copy (forWorker())") }
        guard event.has(EventFlags.object) else { return .failed }
        guard let (value, kind) = EventEditor.lookup(event, path) else { return .unchanged }
        guard kind == .string else { return .failed }
        let text = plainText(ofString: value, scratch: s.pointee.unescaped, capacity: maxEventBytes)
        let matcher = s.pointee.matcher
        guard matcher._withUnsafeGuaranteedRef({ $0.match(text) }) == .matched else { return .failed }
        s.pointee.batch.reset()
        let prefixBytes = UnsafeRawBufferPointer(start: prefix.baseAddress, count: prefixCount)
        for g in 0..<groupCount {
            let group = groups[g]
            guard let range = matcher._withUnsafeGuaranteedRef({ $0.capture(group.number) }) else { continue }
            s.pointee.batch.setString(prefix: prefixBytes,
                                       key: UnsafeRawBufferPointer(start: names.baseAddress! + group.offset, count: group.length),
                                       value: UnsafeRawBufferPointer(rebasing: text[range]))
        }
        return EditResult(s.pointee.batch.apply(with: s.pointee.editor, context: &context))
    }
}

extension ParseRegexAction: ActionPlugin {
    public static let name = "parse_re"
    public static let editsFields = true
    public static let summary = "set a field per named group of a PCRE2 pattern matched against a string field (parse_re_failed)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> ParseRegexAction {
        try ParseRegexAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .parseRegex(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, context: &context).verdict(failed: .parseREFailed, counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let parseREFailed = Counter(plugin: ParseRegexAction.parseREFailed)
}

extension ParseRegexAction {
    static let parseREFailed = CounterSpec("parse_re_failed", "Events parse_re could not parse: not decoded objects, the field not a string, no match, or a PCRE2 limit (left unchanged).")
    public static let counters = [parseREFailed]
}
