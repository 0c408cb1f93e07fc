import Glibc

/// `file`: reads one or more files (paths or globs) to the end; with `follow=true` it keeps
/// tailing appended data.
///
/// Parameters:
/// - `path` (required, repeatable): a file path or a glob (`/var/log/*.log`).
/// - `follow`: keep reading data appended after the end (default false: the input finishes at
///   the end of every file, and a node whose inputs all finish drains and exits).
/// - `poll-interval`: how often a followed file at its end is checked for new data (default
///   100ms); writes, truncations and renames inotify reports are read at once, so this is the
///   backstop for filesystems where inotify sees nothing (remote writes on NFS).
/// - `offsets`: file where the committed position of every file is kept (path, inode, offset),
///   written atomically every `offsets-interval` and at shutdown. Without it, every start reads
///   the files from the beginning (or the end, with `offsets-op=tail`).
/// - `offsets-op`: where to start: `continue` from the saved offset (default), `tail` at the
///   current end, `reset` at the beginning.
/// - `offsets-interval`: how often offsets are saved (default 1s).
/// - `rescan-interval`: with `follow=true`, how often the paths are expanded again so files that
///   appear later under a glob are read too, from their start (default 1s).
/// - `parallel`: split every file of at least 16 MiB into byte ranges of about
///   `parallel-range` bytes (at least one per worker), cut at newlines; each worker reads and
///   processes one range and then claims the next free one, so the faster worker reads more
///   (default false). For one large file read once (benchmarks, backfills): lines keep their
///   order within a range, not across ranges; not with `follow` or `offsets`.
/// A last line without a newline is delivered as an event (flagged partial) when the file ends
/// and is not followed. A followed file that is renamed and recreated (rotation) is read to its
/// end and then the new file from its start; a file that shrinks (copytruncate) is read again
/// from its start.
public struct FileInput: Sendable {
    public static let parameters = [
        ParameterDoc("path", "file path or glob", required: true, repeated: true),
        ParameterDoc("follow", "keep reading data appended after the end", default: "false"),
        ParameterDoc("poll-interval", "check interval at the end of a followed file; what inotify reports (writes, truncation, rename) is read at once", default: "100ms"),
        ParameterDoc("offsets", "file that keeps the committed position of every file"),
        ParameterDoc("offsets-op", "where to start: continue, tail or reset", default: "continue"),
        ParameterDoc("offsets-interval", "how often offsets are saved", default: "1s"),
        ParameterDoc("rescan-interval", "how often a followed glob is expanded again for new files", default: "1s"),
        ParameterDoc("parallel", "split each file into byte ranges read in parallel by all workers (no follow, no offsets; order kept within a range only)", default: "false"),
        ParameterDoc("parallel-range", "with parallel: the size of one range; a worker that is done with one claims the next", default: "16MiB"),
    ]
    public enum OffsetsOp: String, Sendable { case `continue`, tail, reset }
    public let patterns: [String]
    public let follow: Bool
    public let pollIntervalMicros: Int
    public let offsetsPath: String?
    public let offsetsOp: OffsetsOp
    public let offsetsIntervalMicros: Int
    public let parallel: Bool
    public let rescanIntervalMicros: Int
    /// With `parallel`: the size of the ranges workers claim one after another.
    public let parallelRangeBytes: Int
    /// Files smaller than this are not split by `parallel=true`.
    public static let minimumParallelFileBytes = 16 << 20
    /// The smallest `parallel-range` (each range costs a claim and a restart of the reads).
    public static let minimumParallelRangeBytes = 1 << 20

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        patterns = arguments.all("path")
        guard !patterns.isEmpty, !patterns.contains(where: \.isEmpty) else { throw PluginArgumentError(key: "path", "file input needs path=FILE or path=GLOB") }
        follow = try arguments.bool("follow", default: false)
        pollIntervalMicros = try arguments.micros("poll-interval", default: "100ms", atLeast: (1000, "1ms"), example: "100ms")
        offsetsPath = arguments.string("offsets")
        if offsetsPath?.isEmpty == true { throw PluginArgumentError(key: "offsets", "empty path") }
        let op = arguments.string("offsets-op") ?? "continue"
        guard let parsed = OffsetsOp(rawValue: op) else { throw PluginArgumentError(key: "offsets-op", "expected continue, tail or reset, got '\(op)'") }
        offsetsOp = parsed
        offsetsIntervalMicros = try arguments.micros("offsets-interval", default: "1s", atLeast: (10_000, "10ms"), example: "1s")
        rescanIntervalMicros = try arguments.micros("rescan-interval", default: "1s", atLeast: (10_000, "10ms"), example: "1s")
        parallel = try arguments.bool("parallel", default: false)
        let rangeText = arguments.string("parallel-range") ?? "16MiB"
        guard let range = Units.bytes(rangeText), range >= Self.minimumParallelRangeBytes else {
            throw PluginArgumentError(key: "parallel-range", "expected a size of at least 1MiB such as 16MiB, got '\(rangeText)'")
        }
        parallelRangeBytes = range
        if parallel && (follow || offsetsPath != nil) {
            throw PluginArgumentError(key: "parallel", "parallel=true reads a fixed file in ranges; it cannot be combined with follow=true or offsets=")
        }
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
                // A followed path may appear later: the rescan picks it up.
                if !follow { throw PluginArgumentError(key: "path", "no file matches '\(pattern)'") }
            } else {
                throw PluginArgumentError(key: "path", "cannot expand '\(pattern)' (glob error \(rc))")
            }
        }
        var seen = Set<String>()
        return result.filter { seen.insert($0).inserted }
    }
}
