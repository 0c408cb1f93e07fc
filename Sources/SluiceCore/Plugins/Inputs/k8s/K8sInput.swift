/// `k8s`: the container logs a Kubernetes node keeps, each line turned into a JSON event
/// `{"time","stream","log","namespace","pod","container","container_id"}`.
///
/// The files are read by the `file` input's family, followed and rotated the same way (by
/// device and inode, `max-rotated` newer files kept open, offsets per inode, globs expanded
/// again every `rescan-interval`); only how a line becomes an event differs
/// (`RecordDecoder.Kind.containerLog`): the CRI format of containerd and CRI-O (`TIME STREAM
/// F|P LOG`) or Docker's json-file (`{"log":"…\n","stream":…,"time":…}`), told apart per line.
/// Lines the runtime split (CRI `P`, a Docker `log` without its final `\n`) are joined per
/// stream into the event of the line that ends them, their offsets committed with it; a record
/// whose last line has not come `partial-timeout` after its latest one, while the file is read to
/// its end, is handed on as it is with `"partial":true` (partial_timeouts), and so is one still
/// pending when its file ends (deleted, or at stop with `follow=false`). The
/// metadata come from the file name the kubelet gives (`<pod>_<namespace>_<container>-<id>.log`).
/// A line in neither format is kept whole in `log` with `parse_error`
/// (container_log_parse_errors). A file deleted (its container removed) is read to its end,
/// its pending records handed on, and closed once its events are acknowledged
/// (`deleted-grace`, 0 by default).
public struct K8sInput: Sendable {
    static let defaultPath = "/var/log/containers/*.log"
    static let path = Parameter.defaulted("path", .path, default: defaultPath,
                                          doc: "container log files (glob); the kubelet's names give each event its namespace, pod, container and container_id")
    static let follow = Parameter.bool("follow", default: true,
                                       doc: "keep reading what the runtime appends; false reads the files to their end and finishes")
    // As Fluent Bit's multiline parsers flush an unterminated record after their flush_timeout:
    // seconds are long enough for a runtime that writes a long line's pieces apart, short
    // enough that what a container wrote before it died mid-line is seen soon.
    static let partialTimeout = Parameter.duration("partial-timeout", default: "5s", atLeast: "1ms", example: "5s",
                                                   doc: "hand on a record split into partial lines whose last line has not come for this long, with \"partial\":true (partial_timeouts)")
    // The kubelet deletes a container's logs when the container is removed, and its rotated
    // files once it keeps more than its limit: nothing writes a deleted file any more, so it is
    // closed as soon as it is read and acknowledged.
    public static let defaultDeletedGrace = "0"
    static let deletedGrace = Parameter.duration("deleted-grace", default: defaultDeletedGrace, example: "5s",
                                                 doc: "a deleted file (no name left) is closed once read to its end, its events acknowledged and nothing appended for this long")
    public static let parameters = [path.doc, follow.doc, partialTimeout.doc, deletedGrace.doc, FileInput.pollInterval.doc, FileInput.maxRotated.doc, FileInput.offsets.doc,
                                    FileInput.offsetsOp.doc, FileInput.offsetsInterval.doc, FileInput.rescanInterval.doc]
    /// The file input that reads the files, decoding their lines.
    public let file: FileInput

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        file = FileInput(patterns: [try arguments.value(Self.path)], follow: try arguments.value(Self.follow),
                         pollIntervalMicros: try arguments.value(FileInput.pollInterval), maxRotated: try arguments.value(FileInput.maxRotated),
                         offsetsPath: try arguments.value(FileInput.offsets), offsetsOp: try arguments.value(FileInput.offsetsOp),
                         offsetsIntervalMicros: try arguments.value(FileInput.offsetsInterval),
                         rescanIntervalMicros: try arguments.value(FileInput.rescanInterval), decoding: .containerLog, pluginName: "k8s",
                         deletedGraceMicros: try arguments.value(Self.deletedGrace), partialTimeoutMicros: try arguments.value(Self.partialTimeout))
    }
}

extension K8sInput: InputPlugin {
    public static let name = "k8s"
    public static let summary = "Kubernetes container logs (CRI or Docker JSON lines) as JSON events with namespace, pod, container and container_id; split lines joined; followed and rotated as the file input"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> K8sInput {
        try K8sInput(arguments)
    }
    public var definition: InputDefinition { .k8s(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try FileFamily.prepare(file, &preparation, into: &assignments)
    }
}

extension Counter {
    public static let containerLogParseErrors = Counter(plugin: K8sInput.containerLogParseErrors)
    public static let partialLinesJoined = Counter(plugin: K8sInput.partialLinesJoined)
}

extension K8sInput {
    static let containerLogParseErrors = CounterSpec("container_log_parse_errors", "Container log lines in neither the CRI nor the Docker JSON format, kept whole in log with parse_error.")
    static let partialLinesJoined = CounterSpec("partial_lines_joined", "Container log lines a runtime split (CRI P, Docker log without a newline), folded into the event of their record.")
    public static let counters = [containerLogParseErrors, partialLinesJoined]
}
