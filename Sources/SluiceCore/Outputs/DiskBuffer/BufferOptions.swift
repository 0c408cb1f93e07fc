/// Where an output keeps the events it has not delivered yet: in the event pool (`memory`, the
/// default: while the destination is down the pool fills and the inputs pause), or in
/// checksummed segment files on disk (`disk`: inputs are acknowledged once their events are in
/// the buffer, and the output drains it in order). Every output takes these parameters.
public struct BufferOptions: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case memory, disk }
    public enum Full: String, Sendable, CaseIterable {
        case block
        case dropNewest = "drop-newest"
    }

    /// When records written to the buffer are forced to the disk (fdatasync).
    public enum Sync: Sendable, Equatable {
        /// Never: the kernel writes them back (a crash of the node loses nothing, a crash of
        /// the machine loses what was not written back yet).
        case none
        /// Before a batch's events are acknowledged to the inputs (a group commit: one
        /// fdatasync in flight covers every batch written since the last).
        case batch
        /// Every interval (microseconds): a machine crash loses at most that much.
        case interval(Int)

        public var text: String {
            switch self {
            case .none: "none"
            case .batch: "batch"
            case .interval(let micros): "interval:" + Units.durationText(micros)
            }
        }
    }

    static let kind = Parameter.choice("buffer", default: Kind.memory,
                                       doc: "memory: undelivered events wait in the pool (inputs pause while the destination is down); disk: in segment files under buffer-dir, inputs acknowledged once their events are there")
    static let directory = Parameter.optional("buffer-dir", .path,
                                              doc: "buffer=disk: this output's own directory (created; one subdirectory per worker)")
    static let maxSize = Parameter.optional("buffer-max-size", .size(atLeast: "256KiB", example: "1GiB"),
                                            doc: "buffer=disk (required): most bytes of segment files per worker")
    static let sync = Parameter.defaulted("buffer-sync", .bufferSync, default: Sync.batch,
                                          doc: "buffer=disk: acknowledge a batch once an fdatasync covering it completed (batch: one at a time, covering every batch written meanwhile), fdatasync every DURATION (interval:DURATION), or never (none)")
    static let full = Parameter.choice("buffer-full", default: Full.block,
                                       doc: "buffer=disk, at buffer-max-size or a full disk: pause the inputs (block) or drop the newest batch, counted (drop-newest)")
    static let segmentSize = Parameter.size("buffer-segment-size", default: "32MiB", atLeast: "64KiB",
                                            doc: "buffer=disk: bytes per segment file (at most a quarter of buffer-max-size); a segment is deleted once all of it is delivered")
    static let positionInterval = Parameter.duration("buffer-position-interval", default: "1s", atLeast: "10ms",
                                                     doc: "buffer=disk: how often the read position is saved (a restart delivers again what came after it)")
    static let syncGroup = Parameter.int("buffer-sync-group", default: 32768, range: 0...(1 << 22),
                                         doc: "buffer-sync=batch: events per worker that wait for their fdatasync without their pool slots (their records are written; their source and offset are kept); past it they keep their slots, so a sync then covers a worker's share of the pool at most (0: always)")
    public static let parameters = [kind.doc, directory.doc, maxSize.doc, sync.doc, full.doc, segmentSize.doc, positionInterval.doc, syncGroup.doc]

    public var kind = Kind.memory
    public var directory = ""
    public var maxBytes = 0
    public var sync = Sync.batch
    public var full = Full.block
    public var segmentBytes = 0
    public var positionIntervalMicros = 1_000_000
    public var syncGroupEvents = 32768

    public init() {}

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        kind = try arguments.value(Self.kind)
        let directory = try arguments.value(Self.directory)
        let maxBytes = try arguments.value(Self.maxSize)
        sync = try arguments.value(Self.sync)
        full = try arguments.value(Self.full)
        segmentBytes = try arguments.value(Self.segmentSize)
        positionIntervalMicros = try arguments.value(Self.positionInterval)
        syncGroupEvents = try arguments.value(Self.syncGroup)
        guard kind == .disk else {
            for p in Self.parameters.dropFirst() where !arguments.all(p.name).isEmpty {
                throw PluginArgumentError(key: p.name, "applies to buffer=disk only (this output has buffer=memory)")
            }
            return
        }
        guard let directory else { throw PluginArgumentError(key: Self.directory.name, "buffer=disk needs buffer-dir=PATH") }
        guard let maxBytes else { throw PluginArgumentError(key: Self.maxSize.name, "buffer=disk needs buffer-max-size=SIZE (such as 1GiB)") }
        self.directory = directory
        self.maxBytes = maxBytes
        segmentBytes = min(segmentBytes, maxBytes / 4)
    }

    public var isDisk: Bool { kind == .disk }
}

extension ParameterKind where Value == BufferOptions.Sync {
    /// `none`, `batch` or `interval:DURATION` (at least 1ms).
    static var bufferSync: Self {
        ParameterKind(summary: "none / batch / interval:DURATION", expected: "none, batch or interval:DURATION such as interval:1s",
                      format: \.text) { text in
            switch text {
            case "none": return BufferOptions.Sync.none
            case "batch": return .batch
            default:
                guard text.hasPrefix("interval:"), let micros = Units.micros(String(text.dropFirst("interval:".count))), micros >= 1000 else {
                    return nil
                }
                return .interval(micros)
            }
        }
    }
}
