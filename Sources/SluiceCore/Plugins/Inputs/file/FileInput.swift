import Glibc

/// `file`: reads one or more files (paths or globs) to the end; with `follow=true` it keeps
/// tailing appended data.
///
/// Without `follow` the input finishes at the end of every file, and a node whose inputs all
/// finish drains and exits. `poll-interval` is the backstop for filesystems where inotify sees
/// nothing (remote writes on NFS). The offsets file keeps path, inode and offset of every file,
/// written atomically every `offsets-interval` and at shutdown; without it, every start reads
/// the files from the beginning (or the end, with `offsets-op=tail`). `parallel` splits every
/// file of at least 16 MiB into byte ranges of about `parallel-range` bytes (at least one per
/// worker), cut at newlines; each worker reads and processes one range and then claims the next
/// free one, so the faster worker reads more.
/// A last line without a newline is delivered as an event (flagged partial) when the file ends
/// and is not followed. A followed file that is renamed and recreated (rotation) is read to its
/// end and then the new file from its start. The path is watched while the old file is still
/// read (inotify on its directory, and a check every `poll-interval`): each newer file that
/// appears under it is opened at once and waits its turn, up to `max-rotated`, so rotations
/// faster than the reader lose nothing. A file that shrinks (copytruncate) is read again from
/// its start.
public struct FileInput: Sendable {
    public enum OffsetsOp: String, Sendable, CaseIterable { case `continue`, tail, reset }
    static let path = Parameter.repeatable("path", .path, required: true, missing: "file input needs path=FILE or path=GLOB",
                                           doc: "file path or glob (`/var/log/*.log`)")
    static let follow = Parameter.bool("follow", default: false,
                                       doc: "keep reading data appended after the end; inotify wakes the reader on writes, truncation and renames")
    static let pollInterval = Parameter.duration("poll-interval", default: "100ms", atLeast: "1ms", example: "100ms",
                                                 doc: "check interval at the end of a followed file, the backstop where inotify sees nothing")
    static let maxRotated = Parameter.int("max-rotated", default: 5, range: 0...64,
                                          doc: "followed files: newer files under the same path kept open while the old one is still read (several rotations while the reader is behind); 0: only the file the path names when the old one is done")
    static let offsets = Parameter.optional("offsets", .path, doc: "file that keeps the committed position of every file")
    static let offsetsOp = Parameter.choice("offsets-op", default: OffsetsOp.continue,
                                            doc: "where to start: from the saved offset, at the current end, or at the beginning")
    static let offsetsInterval = Parameter.duration("offsets-interval", default: "1s", atLeast: "10ms", example: "1s",
                                                    doc: "how often offsets are saved")
    static let rescanInterval = Parameter.duration("rescan-interval", default: "1s", atLeast: "10ms", example: "1s",
                                                   doc: "how often a followed glob is expanded again for new files (read from their start)")
    static let parallel = Parameter.bool("parallel", default: false,
                                         doc: "for one large file read once: cut each file into byte ranges that the workers claim one after another (no follow, no offsets; order kept within a range only)")
    static let parallelRange = Parameter.size("parallel-range", default: "16MiB", atLeast: "1MiB", example: "16MiB",
                                              doc: "with parallel: the size of one range")
    /// How long a followed file that was deleted stays open after its last bytes were read and
    /// its events acknowledged. The process that wrote it may hold it open and still append
    /// until it reopens its log (logrotate without `copytruncate`, then a signal to the
    /// writer); seconds cover that, and the disk space comes free soon after.
    public static let defaultDeletedGrace = "5s"
    static let deletedGrace = Parameter.duration("deleted-grace", default: defaultDeletedGrace, example: "5s",
                                                 doc: "followed files: a deleted file (no name left) is closed, freeing its disk space, once read to its end, its events acknowledged and nothing appended for this long")
    public static let parameters = [path.doc, follow.doc, pollInterval.doc, maxRotated.doc, offsets.doc, offsetsOp.doc, offsetsInterval.doc,
                                    rescanInterval.doc, deletedGrace.doc, parallel.doc, parallelRange.doc]
    public let patterns: [String]
    public let follow: Bool
    public let pollIntervalMicros: Int
    public let maxRotated: Int
    public let offsetsPath: String?
    public let offsetsOp: OffsetsOp
    public let offsetsIntervalMicros: Int
    public let parallel: Bool
    public let rescanIntervalMicros: Int
    /// With `parallel`: the size of the ranges workers claim one after another.
    public let parallelRangeBytes: Int
    /// How each line is turned into an event (`k8s`: container log lines into JSON).
    public let decoding: RecordDecoder.Kind
    /// The input's name in logs and errors.
    public let pluginName: String
    /// A followed file that was deleted (no name left) is closed once read to its end, its
    /// events acknowledged and nothing appended for this long; its last records are handed on.
    public let deletedGraceMicros: Int
    /// A record the decoder assembles whose rest has not come for this long is handed on alone
    /// (`k8s` `partial-timeout`); 0: not before the file ends.
    public let partialTimeoutMicros: Int
    /// Files smaller than this are not split by `parallel=true`.
    public static let minimumParallelFileBytes = 16 << 20

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        patterns = try arguments.value(Self.path)
        follow = try arguments.value(Self.follow)
        pollIntervalMicros = try arguments.value(Self.pollInterval)
        maxRotated = try arguments.value(Self.maxRotated)
        offsetsPath = try arguments.value(Self.offsets)
        offsetsOp = try arguments.value(Self.offsetsOp)
        offsetsIntervalMicros = try arguments.value(Self.offsetsInterval)
        rescanIntervalMicros = try arguments.value(Self.rescanInterval)
        parallel = try arguments.value(Self.parallel)
        parallelRangeBytes = try arguments.value(Self.parallelRange)
        deletedGraceMicros = try arguments.value(Self.deletedGrace)
        decoding = .none
        pluginName = "file"
        partialTimeoutMicros = 0
        if parallel && (follow || offsetsPath != nil) {
            throw PluginArgumentError(key: "parallel", "parallel=true reads a fixed file in ranges; it cannot be combined with follow=true or offsets=")
        }
    }

    /// A file input another input is made of (`k8s`): followed files whose lines `decoding`
    /// turns into events; no parallel ranges.
    init(patterns: [String], follow: Bool, pollIntervalMicros: Int, maxRotated: Int, offsetsPath: String?, offsetsOp: OffsetsOp,
         offsetsIntervalMicros: Int, rescanIntervalMicros: Int, decoding: RecordDecoder.Kind, pluginName: String, deletedGraceMicros: Int,
         partialTimeoutMicros: Int) {
        self.patterns = patterns
        self.follow = follow
        self.pollIntervalMicros = pollIntervalMicros
        self.maxRotated = maxRotated
        self.offsetsPath = offsetsPath
        self.offsetsOp = offsetsOp
        self.offsetsIntervalMicros = offsetsIntervalMicros
        self.rescanIntervalMicros = rescanIntervalMicros
        self.decoding = decoding
        self.pluginName = pluginName
        self.deletedGraceMicros = deletedGraceMicros
        self.partialTimeoutMicros = partialTimeoutMicros
        parallel = false
        parallelRangeBytes = 0  // read only with parallel
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

extension FileInput: InputPlugin {
    public static let name = "file"
    public static let summary = "read files (paths or globs), optionally following appends"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> FileInput {
        try FileInput(arguments)
    }
    public var definition: InputDefinition { .file(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try FileFamily.prepare(self, &preparation, into: &assignments)
    }
}
