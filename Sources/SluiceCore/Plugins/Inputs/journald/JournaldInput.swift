/// `journald`: reads systemd journal files through libsystemd, every entry as one JSON event of
/// its fields (`{"MESSAGE":"…","PRIORITY":"6","_HOSTNAME":"…",…,"__REALTIME_TIMESTAMP":"…"}`,
/// the shape of `journalctl -o json`).
///
/// With `offsets=FILE` the journal cursor of the last entry every output acknowledged is kept in
/// FILE (written atomically about every `offsets-interval` and at stop), so a restart continues
/// after it: at-least-once, entries acknowledged after the last save are read again. Without
/// `directory` it reads the local system journal. With `follow=true` (default) it waits for new
/// entries at the end, looking again every `poll-interval`.
public struct JournaldInput: Sendable {
    static let directory = Parameter.optional("directory", .path, doc: "directory of journal files (`/var/log/journal/<machine-id>`, or files written by systemd-journal-remote); without it, the local system journal")
    static let offsets = Parameter.optional("offsets", .path, doc: "file that keeps the cursor of the last acknowledged entry; a restart continues after it")
    static let offsetsInterval = Parameter.duration("offsets-interval", default: "1s", atLeast: "10ms", example: "1s",
                                                    doc: "how often the cursor is saved")
    static let follow = Parameter.bool("follow", default: true, doc: "wait for new entries at the end of the journal (false: read to the end and finish)")
    static let pollInterval = Parameter.duration("poll-interval", default: "250ms", atLeast: "1ms", example: "250ms",
                                                 doc: "at the end of the journal, how often it is looked at again for new entries")
    public static let parameters = [directory.doc, offsets.doc, offsetsInterval.doc, follow.doc, pollInterval.doc]

    public let directory: String?
    public let offsetsPath: String?
    public let offsetsIntervalMicros: Int
    public let follow: Bool
    public let pollIntervalMicros: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        directory = try arguments.value(Self.directory)
        offsetsPath = try arguments.value(Self.offsets)
        offsetsIntervalMicros = try arguments.value(Self.offsetsInterval)
        follow = try arguments.value(Self.follow)
        pollIntervalMicros = try arguments.value(Self.pollInterval)
    }
}

extension JournaldInput: InputPlugin {
    public static let name = "journald"
    public static let summary = "systemd journal entries as JSON events, resuming from the last acknowledged cursor"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> JournaldInput {
        try JournaldInput(arguments)
    }
    public var definition: InputDefinition { .journald(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try JournaldFamily.prepare(self, &preparation, into: &assignments)
    }
}
