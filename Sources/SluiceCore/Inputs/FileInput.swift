import Glibc

/// `file`: reads one or more files (paths or globs) to the end; with `follow=true` it keeps
/// tailing appended data.
///
/// Parameters:
/// - `path` (required, repeatable): a file path or a glob (`/var/log/*.log`).
/// - `follow`: keep reading data appended after the end (default false: the input finishes at
///   the end of every file, and a node whose inputs all finish drains and exits).
/// - `poll-interval`: how often a followed file at its end is checked for new data (default 100ms).
/// A last line without a newline is delivered as an event (flagged partial) when the file ends
/// and is not followed.
public struct FileInput: Sendable {
    public static let parameters = [
        ParameterDoc("path", "file path or glob", required: true, repeated: true),
        ParameterDoc("follow", "keep reading data appended after the end", default: "false"),
        ParameterDoc("poll-interval", "check interval for new data at the end of a followed file", default: "100ms"),
    ]
    public let patterns: [String]
    public let follow: Bool
    public let pollIntervalMicros: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        patterns = arguments.all("path")
        guard !patterns.isEmpty, !patterns.contains(where: \.isEmpty) else { throw PluginArgumentError(key: "path", "file input needs path=FILE or path=GLOB") }
        follow = try arguments.bool("follow", default: false)
        let poll = arguments.string("poll-interval") ?? "100ms"
        guard let micros = Units.micros(poll), micros >= 1000 else { throw PluginArgumentError(key: "poll-interval", "expected a duration of at least 1ms such as 100ms, got '\(poll)'") }
        pollIntervalMicros = micros
    }

    /// The files the patterns name now, sorted, each once. A pattern that matches nothing is
    /// an error unless the input follows (the file may appear later).
    public func expand() throws(PluginArgumentError) -> [String] {
        var result: [String] = []
        for pattern in patterns {
            var g = glob_t()
            defer { globfree(&g) }
            let rc = glob(pattern, 0, nil, &g)
            if rc == 0 {
                for i in 0..<Int(g.gl_pathc) {
                    if let p = g.gl_pathv[i] { result.append(String(cString: p)) }
                }
            } else if rc == GLOB_NOMATCH {
                if !follow { throw PluginArgumentError(key: "path", "no file matches '\(pattern)'") }
                if !pattern.contains(where: { "*?[".contains($0) }) { result.append(pattern) }
            } else {
                throw PluginArgumentError(key: "path", "cannot expand '\(pattern)' (glob error \(rc))")
            }
        }
        var seen = Set<String>()
        return result.filter { seen.insert($0).inserted }
    }
}

/// `stdin`: reads standard input to its end. No parameters.
public struct StdinInput: Sendable {
    public static let parameters: [ParameterDoc] = []
}
