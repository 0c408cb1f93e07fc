/// `mask`: replaces every match of one or more PCRE2 patterns in a string field, or in every
/// string value of the event (top level and nested, keys excepted) when no field is given, with
/// a fixed text (`*****`) or with a stable hash of the match (`hash=true`: 16 hex digits of
/// XXH64, as the `hash` action and `xxhsum -H1` write it; equal values give equal hashes). Patterns apply in the order given, each to what the
/// previous one left. Escaped JSON strings are unescaped before matching and the result escaped
/// again.
///
/// Events that are not decoded JSON objects, a field that is not a string, and a search PCRE2
/// gives up on (a match or JIT stack limit) leave the event unchanged and are counted
/// (`mask_failed`); a result that would not fit `--max-event-size` too (`parse_too_large`).
public struct MaskAction: @unchecked Sendable {
    static let field = Parameter.optional("field", .text, doc: "field (name or dotted path) to mask; without it, every string value of the event")
    static let pattern = Parameter.repeatable("pattern", .text, required: true, doc: "PCRE2 pattern whose matches are replaced (repeat for several, applied in order)")
    static let replace = Parameter.defaulted("replace", .text, default: "*****", doc: "text that replaces each match")
    static let hash = Parameter.bool("hash", default: false, doc: "replace each match with 16 hex digits of its XXH64 hash instead (stable, not secret)")
    public static let parameters = [field.doc, pattern.doc, replace.doc, hash.doc]

    let path: FieldPath?
    /// The compiled patterns, retained until `disposeShared()`: unmanaged so the action stays
    /// plain memory and running it copies no reference (`ActionLayoutTests`).
    let regexes: UnsafeMutableBufferPointer<Unmanaged<PCRERegex>>
    let replacement: UnsafeMutableRawBufferPointer
    let hashes: Bool
    let maxEventBytes: Int
    /// This copy's matchers and buffers (nil on the definition: `forWorker()` makes them).
    let scratch: UnsafeMutablePointer<Scratch>?

    /// One worker's matchers and buffers (`maxEventBytes` each: a value or result larger than
    /// that could not be in an event).
    struct Scratch {
        let matchers: UnsafeMutablePointer<Unmanaged<RegexMatcher>>
        let unescaped: UnsafeMutableRawPointer
        let first: UnsafeMutableRawPointer
        let second: UnsafeMutableRawPointer
        let json: UnsafeMutableRawPointer
        var batch: FieldBatch
        let editor: EventEditor
    }

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        let fieldText = try arguments.value(Self.field)
        var compiled: [PCRERegex] = []
        for text in try arguments.value(Self.pattern) {
            do { compiled.append(try PCRERegex.compile(text)) } catch {
                throw PluginArgumentError(key: "pattern", "'\(text)': \(error)")
            }
        }
        let text = try arguments.value(Self.replace)
        hashes = try arguments.value(Self.hash)
        if hashes && arguments.string("replace") != nil {
            throw PluginArgumentError(key: "replace", "mask takes replace= or hash=true, not both")
        }
        path = try fieldText.map { t throws(PluginArgumentError) in try FieldPath(t) }
        regexes = .allocate(capacity: compiled.count)
        _ = regexes.initialize(from: compiled.map { Unmanaged.passRetained($0) })
        replacement = .allocate(byteCount: max(text.utf8.count, 1), alignment: 1)
        replacement.copyBytes(from: Array(text.utf8))
        self.maxEventBytes = maxEventBytes
        scratch = nil
    }

    private init(_ definition: MaskAction, scratch: UnsafeMutablePointer<Scratch>) {
        path = definition.path
        regexes = definition.regexes
        replacement = definition.replacement
        hashes = definition.hashes
        maxEventBytes = definition.maxEventBytes
        self.scratch = scratch
    }

    /// A copy with its own matchers and buffers, for one worker.
    public func forWorker() -> MaskAction {
        let matchers = UnsafeMutablePointer<Unmanaged<RegexMatcher>>.allocate(capacity: regexes.count)
        for (i, r) in regexes.enumerated() { (matchers + i).initialize(to: .passRetained(RegexMatcher(r.takeUnretainedValue()))) }
        let bytes = max(maxEventBytes, 1)
        let s = UnsafeMutablePointer<Scratch>.allocate(capacity: 1)
        s.initialize(to: Scratch(matchers: matchers, unescaped: .allocate(byteCount: bytes, alignment: 8),
                                 first: .allocate(byteCount: bytes, alignment: 8), second: .allocate(byteCount: bytes, alignment: 8),
                                 json: .allocate(byteCount: bytes, alignment: 8),
                                 batch: FieldBatch(byteCapacity: bytes, fieldCapacity: FieldBatch.indexLimit),
                                 editor: EventEditor(maxEventBytes: maxEventBytes)))
        return MaskAction(self, scratch: s)
    }

    /// Frees a worker copy's matchers and buffers.
    public func dispose() {
        guard let s = scratch else { return }
        for i in 0..<regexes.count { s.pointee.matchers[i].release() }
        s.pointee.matchers.deallocate()
        s.pointee.unescaped.deallocate()
        s.pointee.first.deallocate()
        s.pointee.second.deallocate()
        s.pointee.json.deallocate()
        s.pointee.batch.deallocate()
        s.pointee.editor.dispose()
        s.deallocate()
    }

    /// Frees what every copy shares.
    public func disposeShared() {
        for r in regexes { r.release() }
        regexes.deallocate()
        replacement.deallocate()
        path?.dispose()
    }

    public func apply(_ event: Event, context: inout ActionContext) -> EditResult {
        guard let s = scratch else { preconditionFailure("mask runs on a worker copy (forWorker())") }
        guard event.has(EventFlags.object) else { return .failed }
        let masker = Masker(matchers: s.pointee.matchers, matcherCount: regexes.count,
                            replacement: UnsafeRawBufferPointer(replacement), hashes: hashes)
        let buffers = (s.pointee.first, s.pointee.second)
        guard let path else { return maskEveryString(masker, buffers, s, context: &context) }
        guard let (value, kind) = EventEditor.lookup(event, path) else { return .unchanged }
        guard kind == .string else { return .failed }
        let plain = plainText(ofString: value, scratch: s.pointee.unescaped, capacity: maxEventBytes)
        switch masker.mask(plain, buffers: buffers, capacity: maxEventBytes) {
        case .unchanged: return .unchanged
        case .failed: return .failed
        case .overflow: return .tooLarge
        case .masked(let masked):
            guard let quoted = MaskAction.quote(masked, into: s.pointee.json, capacity: maxEventBytes) else { return .tooLarge }
            return EditResult(s.pointee.editor.set(path, to: quoted, kind: .string, context: &context))
        }
    }

    /// Every string value, top level and nested, in one batch (all of them or, when there is
    /// no room, none: a rerun must not mask what it already masked).
    private func maskEveryString(_ masker: Masker, _ buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer),
                                 _ s: UnsafeMutablePointer<Scratch>, context: inout ActionContext) -> EditResult {
        if context.event.has(EventFlags.fieldsTruncated) {
            let indexed = s.pointee.editor.indexEveryMember(&context)
            guard indexed == .done else { return EditResult(indexed) }
        }
        let event = context.event
        let walker = JSONStringMasker(masker: masker, scratch: s.pointee.unescaped, buffers: buffers, capacity: maxEventBytes)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        s.pointee.batch.reset()
        for i in 0..<event.fieldCount {
            let kind = event.fields[i].kind
            if kind == .string {
                let plain = plainText(ofString: event.value(i), scratch: s.pointee.unescaped, capacity: maxEventBytes)
                switch masker.mask(plain, buffers: buffers, capacity: maxEventBytes) {
                case .unchanged: continue
                case .failed: return .failed
                case .overflow: return .tooLarge
                case .masked(let masked): s.pointee.batch.setString(prefix: none, key: event.key(i), keyIsEscaped: true, value: masked)
                }
            } else if kind == .object || kind == .array {
                switch walker.mask(event.value(i), into: s.pointee.json, capacity: maxEventBytes) {
                case .unchanged: continue
                case .failed: return .failed
                case .overflow: return .tooLarge
                case .masked(let masked): s.pointee.batch.setRaw(prefix: none, key: event.key(i), keyIsEscaped: true, json: masked, kind: kind)
                }
            }
        }
        if s.pointee.batch.count == 0 && !s.pointee.batch.overflowed { return .unchanged }
        return EditResult(s.pointee.batch.apply(with: s.pointee.editor, context: &context))
    }

    /// `"` + `text` escaped + `"` at `out`, or nil past `capacity`.
    static func quote(_ text: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity: Int) -> UnsafeRawBufferPointer? {
        guard capacity >= 2, let n = JSONEscaper.escape(text, into: out + 1, capacity: capacity - 2) else { return nil }
        out.storeBytes(of: 34, toByteOffset: 0, as: UInt8.self)
        out.storeBytes(of: 34, toByteOffset: n + 1, as: UInt8.self)
        return UnsafeRawBufferPointer(start: out, count: n + 2)
    }
}

extension MaskAction: ActionPlugin {
    public static let name = "mask"
    public static let editsFields = true
    public static let summary = "replace matches of PCRE2 patterns in a string field, or in every string value, with a text or a stable hash (mask_failed, parse_too_large)"
    public static func make(_ arguments: PluginArguments, _ setup: ActionSetup) throws(PluginArgumentError) -> MaskAction {
        try MaskAction(arguments, maxEventBytes: setup.maxEventBytes)
    }

    public var kind: Action.Kind { .mask(self) }

    @inline(__always) public func run(_ event: Event, counters: CounterBlock, pipeline: Int, context: inout ActionContext) -> Action.Verdict {
        return apply(event, context: &context).verdict(failed: .maskFailed, counters: counters, pipeline: pipeline)
    }
}

extension Counter {
    public static let maskFailed = Counter(plugin: MaskAction.maskFailed)
}

extension MaskAction {
    static let maskFailed = CounterSpec("mask_failed", "Events mask could not mask: not decoded objects, the field not a string, or a pattern that hit a PCRE2 limit (left unchanged).")
    public static let counters = [maskFailed]
}
