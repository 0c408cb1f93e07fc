import Glibc

/// Which events an action applies to, or which events an output takes (its route), in the
/// manner of file.d's `match_fields`: groups of a field and one test on its value, combined
/// with `and` or `or`, optionally inverted. The mechanics run it before the plugin sees the
/// event; plugins never parse or evaluate conditions themselves.
///
/// Spelling (the `if-` prefix on actions and outputs): `if-field=PATH` followed by exactly one
/// of `if-equals=`, `if-prefix=`, `if-contains=`, `if-matches=` (glob: `*`, `?`), `if-regex=`
/// (PCRE2, compiled once with JIT; a bad pattern is a config error with its offset); repeated
/// `if-field` groups combine with `if-mode=and|or` (and by default); `if-not=true` inverts the
/// whole condition. The n-th test belongs to the n-th `if-field`, so a YAML list
/// (`if-field: [a, b]`, `if-equals: x`, `if-prefix: y`) reads as the CLI spec
/// `if-field=a,if-equals=x,if-field=b,if-prefix=y`.
///
/// A group matches a decoded JSON event whose field exists and passes the test: strings are
/// compared after unescaping, other values by their JSON text (`42`, `true`). An event without
/// the field, or not decoded, matches no group.
public struct Condition: @unchecked Sendable {
    public enum Test: String, Sendable, CaseIterable { case equals, prefix, contains, matches, regex }
    public enum Mode: String, Sendable, CaseIterable { case and, or }

    /// One field and its test; the pattern is kept as raw bytes so matching allocates nothing.
    struct Group {
        let field: FieldPath
        let test: Test
        let pattern: UnsafeMutableRawPointer
        let patternCount: Int
        /// `if-regex`: the compiled pattern, shared read-only by the workers; retained until
        /// `disposeShared()`, unmanaged so a group is plain memory (matching copies it per event).
        let regex: Unmanaged<PCRERegex>?
        var patternBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pattern, count: patternCount) }
    }

    let groups: UnsafeMutablePointer<Group>
    let groupCount: Int
    public let mode: Mode
    public let inverted: Bool
    /// Unescaped string value, reused per event (sized to the largest event); each worker has
    /// its own (`forWorker()`), freed by `dispose()`.
    private(set) var scratch: UnsafeMutableRawPointer
    let scratchCapacity: Int
    /// Per group, this copy's match data for an `if-regex` group (nil for the others), held
    /// unmanaged so matching does no reference counting; nil when no group is a regex.
    private(set) var matchers: UnsafeMutablePointer<Unmanaged<RegexMatcher>?>?

    /// The declarations of a condition spelled with `prefix` (`if-` on actions and outputs).
    struct Declarations {
        let field: Parameter<[String]>
        let tests: [(Test, Parameter<[String]>)]
        let mode: Parameter<Mode>
        let not: Parameter<Bool>

        init(prefix: String) {
            field = .repeatable(prefix + "field", .text, required: false,
                                doc: "the field (name or dotted path) the next test looks at; the n-th test belongs to the n-th \(prefix)field")
            tests = Test.allCases.map { t in (t, .repeatable(prefix + t.rawValue, .text, required: false, doc: Condition.testSummary[t]!)) }
            mode = .choice(prefix + "mode", default: .and, doc: "how several \(prefix)field groups combine")
            not = .bool(prefix + "not", default: false, doc: "invert the whole condition")
        }

        var docs: [ParameterDoc] { [field.doc] + tests.map(\.1.doc) + [mode.doc, not.doc] }
    }

    static let conditionDeclarations = Declarations(prefix: "if-")
    static let discardDeclarations = Declarations(prefix: "")

    static func declarations(prefix: String) -> Declarations { prefix.isEmpty ? discardDeclarations : conditionDeclarations }

    /// The parameters of a condition with `prefix` (`if-` on actions and outputs).
    public static func parameters(prefix: String = "if-") -> [ParameterDoc] { declarations(prefix: prefix).docs }

    static let testSummary: [Test: String] = [
        .equals: "the value equals this text (strings unescaped; other values by their JSON text)",
        .prefix: "the value starts with this text",
        .contains: "the value contains this text",
        .matches: "the value matches this glob (* any run of bytes, ? one byte)",
        .regex: "the value matches this PCRE2 regular expression (unanchored; ^ and $ anchor)",
    ]

    /// True when `key` belongs to a condition spelled with `prefix`.
    public static func isKey(_ key: String, prefix: String = "if-") -> Bool {
        guard key.hasPrefix(prefix) else { return false }
        let rest = key.dropFirst(prefix.count)
        return rest == "field" || rest == "mode" || rest == "not" || Test(rawValue: String(rest)) != nil
    }

    /// The condition the `prefix`ed keys of `arguments` describe, or nil when none is given.
    public init?(_ arguments: PluginArguments, prefix: String = "if-", maxEventBytes: Int) throws(PluginArgumentError) {
        let declared = Condition.declarations(prefix: prefix)
        let fields = try arguments.value(declared.field)
        // Tests in the order written, whatever their kind: the n-th belongs to the n-th field.
        var tests: [(Test, String)] = []
        for (key, value) in arguments.pairs where key.hasPrefix(prefix) {
            if let t = Test(rawValue: String(key.dropFirst(prefix.count))) { tests.append((t, value)) }
        }
        let modeGiven = arguments.string(declared.mode.name) != nil
        let notGiven = arguments.string(declared.not.name) != nil
        if fields.isEmpty && tests.isEmpty && !modeGiven && !notGiven { return nil }
        // discard's older spelling (no prefix) never had regex.
        let testList = Test.allCases.filter { !prefix.isEmpty || $0 != .regex }.map { prefix + $0.rawValue + "=" }.joined(separator: ", ")
        if prefix.isEmpty {
            // discard's own older spelling: one field, one test.
            guard tests.count == 1 else { throw PluginArgumentError(key: nil, "\(arguments.plugin) needs exactly one of \(testList) (got \(tests.count))") }
            guard !fields.isEmpty, !fields[0].isEmpty else { throw PluginArgumentError(key: "field", "\(arguments.plugin) needs field=...") }
        } else {
            guard !fields.isEmpty else {
                throw PluginArgumentError(key: tests.isEmpty ? (modeGiven ? prefix + "mode" : prefix + "not") : prefix + tests[0].0.rawValue,
                                          "a condition needs \(prefix)field=PATH before its test")
            }
            guard tests.count == fields.count else {
                throw PluginArgumentError(key: prefix + "field", "each \(prefix)field needs exactly one test of \(testList) (\(fields.count) field(s), \(tests.count) test(s))")
            }
        }
        mode = try arguments.value(declared.mode)
        inverted = try arguments.value(declared.not)
        var made: [Group] = []
        for (field, (test, pattern)) in zip(fields, tests) {
            let path: FieldPath
            do { path = try FieldPath(field) } catch { throw PluginArgumentError(key: prefix + "field", error.message) }
            var regex: PCRERegex?
            if test == .regex {
                do { regex = try PCRERegex.compile(pattern) } catch { throw PluginArgumentError(key: prefix + "regex", "\(error)") }
            }
            let utf8 = Array(pattern.utf8)
            let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(utf8.count, 1), alignment: 1)
            bytes.copyMemory(from: utf8, byteCount: utf8.count)
            made.append(Group(field: path, test: test, pattern: bytes, patternCount: utf8.count, regex: regex.map { .passRetained($0) }))
        }
        groupCount = made.count
        groups = .allocate(capacity: max(made.count, 1))
        groups.initialize(from: made, count: made.count)
        scratchCapacity = maxEventBytes
        scratch = .allocate(byteCount: max(maxEventBytes, 1), alignment: 1)
        matchers = Condition.makeMatchers(groups, groupCount)
    }

    static func makeMatchers(_ groups: UnsafeMutablePointer<Group>, _ count: Int) -> UnsafeMutablePointer<Unmanaged<RegexMatcher>?>? {
        guard (0..<count).contains(where: { groups[$0].regex != nil }) else { return nil }
        let matchers = UnsafeMutablePointer<Unmanaged<RegexMatcher>?>.allocate(capacity: count)
        for i in 0..<count { (matchers + i).initialize(to: groups[i].regex.map { Unmanaged.passRetained(RegexMatcher($0.takeUnretainedValue())) }) }
        return matchers
    }

    /// A copy with its own scratch buffer and regex match data, for one worker (the groups are
    /// read-only and shared).
    public func forWorker() -> Condition {
        var copy = self
        copy.scratch = .allocate(byteCount: max(scratchCapacity, 1), alignment: 1)
        copy.matchers = Condition.makeMatchers(groups, groupCount)
        return copy
    }

    /// Frees this copy's scratch and match data (a worker retiring its pipeline).
    public func disposeScratch() {
        scratch.deallocate()
        if let matchers {
            for i in 0..<groupCount { matchers[i]?.release() }
            matchers.deinitialize(count: groupCount)
            matchers.deallocate()
        }
    }

    /// Frees the groups, patterns and field paths every copy shares (on the definition, once no
    /// worker copy is left).
    public func disposeShared() {
        for i in 0..<groupCount {
            groups[i].pattern.deallocate()
            groups[i].field.dispose()
            groups[i].regex?.release()
        }
        groups.deinitialize(count: groupCount)
        groups.deallocate()
    }

    /// Whether the event passes the condition.
    @inline(__always) public func matches(_ event: Event) -> Bool {
        var result = mode == .and
        var i = 0
        while i < groupCount {
            let hit = matches(groups[i], event, group: i)
            if mode == .and && !hit { result = false; break }
            if mode == .or && hit { result = true; break }
            i += 1
        }
        return result != inverted
    }

    func matches(_ group: Group, _ event: Event, group index: Int) -> Bool {
        // `EventEditor.lookup`: a member past a `--max-fields` index is found in the text.
        guard let (raw, kind) = EventEditor.lookup(event, group.field) else { return false }
        let p = group.patternBytes
        var value = raw
        if kind == .string {
            // Strip the quotes; unescape only when the value has escapes.
            let inner = UnsafeRawBufferPointer(start: raw.baseAddress! + 1, count: raw.count - 2)
            if group.test == .equals { return JSONScanner.rawStringEquals(inner, p) }
            if memchr(inner.baseAddress!, 92, inner.count) == nil {
                value = inner
            } else {
                let n = StringUnescaper.unescape(inner, into: scratch, capacity: scratchCapacity)
                value = UnsafeRawBufferPointer(start: scratch, count: n)
            }
        }
        let n = group.patternCount
        switch group.test {
        case .equals: return value.count == n && (n == 0 || memcmp(value.baseAddress!, group.pattern, n) == 0)
        case .prefix: return value.count >= n && (n == 0 || memcmp(value.baseAddress!, group.pattern, n) == 0)
        case .contains: return Glob.contains(value, p)
        case .matches: return Glob.matches(value, p)
        case .regex: return matchers![index]!._withUnsafeGuaranteedRef { $0.matches(value) }
        }
    }
}

extension PluginArguments {
    /// The arguments without the keys of a condition spelled with `prefix` (the plugin's own).
    public func removingCondition(prefix: String = "if-") -> PluginArguments {
        PluginArguments(plugin: plugin, pairs: pairs.filter { !Condition.isKey($0.key, prefix: prefix) })
    }
}
