import Glibc

/// `discard`: drops events whose field has a given value; every other event passes.
///
/// Parameters (exactly one of `equals`, `prefix`, `contains`, `matches`):
/// - `field` (required): field name or dotted path, e.g. `type` or `request.method`.
/// - `equals`: the string value (or, for non-strings, the raw JSON text such as `42` or `true`).
/// - `prefix` / `contains`: the value starts with / contains this text.
/// - `matches`: a glob over the value: `*` any run of bytes, `?` one byte.
/// Events without the field, or not decoded as JSON, pass.
public struct DiscardAction: @unchecked Sendable {
    public static let parameters = [
        ParameterDoc("field", "field name or dotted path to test", required: true),
        ParameterDoc("equals", "drop when the value equals this text"),
        ParameterDoc("prefix", "drop when the value starts with this text"),
        ParameterDoc("contains", "drop when the value contains this text"),
        ParameterDoc("matches", "drop when the value matches this glob (* and ?)"),
    ]

    public enum Mode: Sendable { case equals, prefix, contains, matches }
    public let field: FieldPath
    public let mode: Mode
    let pattern: UnsafeMutableRawPointer
    let patternCount: Int
    /// Unescaped string value, reused per event (sized to the largest event's value); each
    /// worker has its own (`forWorker()`).
    private(set) var scratch: UnsafeMutableRawPointer
    let scratchCapacity: Int

    public init(_ arguments: PluginArguments, maxEventBytes: Int) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        field = try FieldPath(try arguments.required("field"))
        let given: [(Mode, String)] = [(.equals, "equals"), (.prefix, "prefix"), (.contains, "contains"), (.matches, "matches")]
            .compactMap { m, k in arguments.string(k).map { (m, $0) } }
        guard given.count == 1 else {
            throw PluginArgumentError(key: nil, "discard needs exactly one of equals=, prefix=, contains=, matches= (got \(given.count))")
        }
        mode = given[0].0
        let utf8 = Array(given[0].1.utf8)
        patternCount = utf8.count
        pattern = .allocate(byteCount: max(utf8.count, 1), alignment: 1)
        pattern.copyMemory(from: utf8, byteCount: utf8.count)
        scratchCapacity = maxEventBytes
        scratch = .allocate(byteCount: max(maxEventBytes, 1), alignment: 1)
    }

    /// A copy with its own scratch buffer, for one worker.
    public func forWorker() -> DiscardAction {
        var copy = self
        copy.scratch = .allocate(byteCount: max(scratchCapacity, 1), alignment: 1)
        return copy
    }

    /// Frees this instance's scratch: a worker copy's (from `forWorker()`) or the definition's
    /// own (from `init`).
    public func dispose() { scratch.deallocate() }

    /// Frees the pattern and field path every copy shares (on the definition, copies gone).
    public func disposeShared() {
        pattern.deallocate()
        field.dispose()
    }

    /// True when the event must be dropped.
    public func shouldDiscard(_ event: Event) -> Bool {
        guard event.has(EventFlags.decoded), let (raw, kind) = field.lookup(event) else { return false }
        let p = UnsafeRawBufferPointer(start: pattern, count: patternCount)
        var value = raw
        if kind == .string {
            // Strip the quotes; unescape only when the value has escapes.
            let inner = UnsafeRawBufferPointer(start: raw.baseAddress! + 1, count: raw.count - 2)
            if mode == .equals { return JSONScanner.rawStringEquals(inner, p) }
            if memchr(inner.baseAddress!, 92, inner.count) == nil {
                value = inner
            } else {
                let n = StringUnescaper.unescape(inner, into: scratch, capacity: scratchCapacity)
                value = UnsafeRawBufferPointer(start: scratch, count: n)
            }
        }
        switch mode {
        case .equals: return value.count == patternCount && (patternCount == 0 || memcmp(value.baseAddress!, pattern, patternCount) == 0)
        case .prefix: return value.count >= patternCount && (patternCount == 0 || memcmp(value.baseAddress!, pattern, patternCount) == 0)
        case .contains: return Glob.contains(value, p)
        case .matches: return Glob.matches(value, p)
        }
    }
}
