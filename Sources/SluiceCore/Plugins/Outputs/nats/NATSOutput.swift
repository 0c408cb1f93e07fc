import Glibc

/// `nats`: publishes every event as one message to a NATS JetStream stream, asynchronously,
/// with at most `window` messages published and not yet acknowledged per worker.
///
/// An event is acknowledged only once JetStream's PubAck for its message came (the stream
/// stored it, on a quorum of its replicas). Each message carries a `Nats-Msg-Id` made of
/// `id-prefix`, the stable identity of the event's source (a file's device and inode, a nats
/// input's stream), its offset there and a hash of the payload, so a line read again after a
/// crash is dropped by the server when it comes within the stream's duplicate window. Events
/// of sources without a stable identity get ids unique to this run. `subject` may hold
/// `${PATH}` substitutions of decoded fields (`logs.${service}`): streams are partitioned by
/// subject. While no server answers, nothing is acknowledged: the pool fills and the inputs
/// pause; messages without a PubAck within `ack-timeout`, or with an error answer, are
/// published again (the server drops those it already has).
public struct NATSOutput: Sendable {
    static let subject = Parameter.required("subject", .text,
                                            doc: "subject of each message; `${PATH}` inserts a decoded field (characters a subject token cannot hold become _)")
    static let stream = Parameter.required("stream", .text, doc: "the JetStream stream that must take the messages (sent as Nats-Expected-Stream)")
    static let window = Parameter.int("window", default: 512, range: 1...(1 << 20),
                                      doc: "messages published and not yet acknowledged per worker, at most (also at most two batches; unless --batch-size is set, a batch is the window, at most 1024, so messages keep going out while a batch waits for its PubAcks)")
    static let ackTimeout = Parameter.duration("ack-timeout", default: "5s", atLeast: "10ms",
                                               doc: "messages still without a PubAck this long after the last publish or PubAck are published again")
    static let retryWait = Parameter.duration("retry-wait", default: "1s", atLeast: "1ms",
                                              doc: "after an error answer (no stream for the subject, a JetStream error), the wait before publishing again")
    static let idPrefix = Parameter.optional("id-prefix", .text,
                                             doc: "first part of every Nats-Msg-Id (default: the host name; `env:NAME`: the environment variable NAME, as a Kubernetes node name); nodes that publish to one stream need different ones")
    static let createStream = Parameter.bool("create-stream", default: false,
                                             doc: "create the stream when it is missing, taking the subject with each `${…}` token as `*` (file storage)")
    static let replicas = Parameter.int("replicas", default: 1, range: 1...5, doc: "replicas of a stream create-stream makes")
    public static let parameters = [subject.doc, stream.doc, window.doc, ackTimeout.doc, retryWait.doc, idPrefix.doc, createStream.doc, replicas.doc]
        + NATSServers.parameters + DeliveryOptions.parameters + BufferOptions.parameters

    /// Longest subject and message id a message may have (the C publisher's limits too).
    static let maxSubjectBytes = 256
    static let maxIDPrefixBytes = 48
    static let maxIDBytes = 128

    public let servers: NATSServers
    public let subject: String
    public let stream: String
    public let window: Int
    public let ackTimeoutMillis: Int
    public let retryWaitMillis: Int
    public let idPrefix: String
    /// With `create-stream`: the subjects of the stream made when it is missing.
    public let createSubjects: String?
    public let replicas: Int
    public let delivery: DeliveryOptions
    /// Where undelivered events wait (`buffer=memory|disk`).
    public let buffer: BufferOptions

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        servers = try NATSServers(arguments)
        subject = try arguments.value(Self.subject)
        // Checked now so that a bad template is an error at start-up.
        let pieces = try FieldTemplate.pieces(subject, key: "subject")
        for piece in pieces {
            if piece.literal.contains(where: { $0 <= 32 || $0 == 127 }) {
                throw PluginArgumentError(key: "subject", "'\(subject)' has a space or control character, which a subject cannot hold")
            }
            if let field = piece.field { try FieldPath(field, key: "subject").dispose() }
        }
        guard pieces.reduce(0, { $0 + $1.literal.count }) <= Self.maxSubjectBytes / 2 else {
            throw PluginArgumentError(key: "subject", "'\(subject)' is longer than \(Self.maxSubjectBytes / 2) bytes")
        }
        stream = try arguments.value(Self.stream)
        guard !stream.contains(where: { $0 == "." || $0 == "*" || $0 == ">" || $0 == " " }) else {
            throw PluginArgumentError(key: "stream", "'\(stream)' is not a stream name (no '.', '*', '>' or spaces)")
        }
        window = try arguments.value(Self.window)
        ackTimeoutMillis = max(1, try arguments.value(Self.ackTimeout) / 1000)
        retryWaitMillis = max(1, try arguments.value(Self.retryWait) / 1000)
        var prefix = try arguments.value(Self.idPrefix) ?? NATSServers.hostName
        if prefix.hasPrefix("env:") {
            let name = String(prefix.dropFirst(4))
            guard let value = getenv(name).map({ String(decoding: UnsafeRawBufferPointer(start: $0, count: strlen($0)), as: UTF8.self) }), !value.isEmpty else {
                throw PluginArgumentError(key: "id-prefix", "the environment variable \(name) is not set (id-prefix=\(prefix))")
            }
            prefix = value
        }
        guard !prefix.isEmpty, prefix.utf8.count <= Self.maxIDPrefixBytes, !prefix.utf8.contains(where: { $0 <= 32 || $0 == 127 }) else {
            throw PluginArgumentError(key: "id-prefix", "'\(prefix)' must be 1 to \(Self.maxIDPrefixBytes) bytes without spaces")
        }
        idPrefix = prefix
        // Each substitution is one token (its value's dots become _): `logs.${service}` → `logs.*`.
        createSubjects = try arguments.value(Self.createStream)
            ? subject.split(separator: ".", omittingEmptySubsequences: false).map { $0.contains("${") ? "*" : String($0) }.joined(separator: ".")
            : nil
        replicas = try arguments.value(Self.replicas)
        delivery = try DeliveryOptions(arguments)
        buffer = try BufferOptions(arguments)
    }
}

extension NATSOutput: OutputPlugin {
    public static let name = "nats"
    public static let summary = "publish each event to a NATS JetStream stream (asynchronous, a bounded window); acknowledged on its PubAck, Nats-Msg-Id from source and offset"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> NATSOutput { try NATSOutput(arguments) }
    public var definition: OutputDefinition { .nats(self) }

    var recordOverheadBytes: Int { NATSSink.recordOverheadBytes }
    /// A batch as large as the window (at most the bulk loaders' 1,024) unless a batch size is
    /// set: the second buffer's messages then go out while the first waits for its PubAcks.
    /// With the node's 256 and the default window of 512, the publisher waited for a whole
    /// buffer's PubAcks before the worker refilled it (perf/README.md, "nats default batch").
    var preferredBatchSize: Int? { min(window, OutputDefinition.bulkLoaderBatchSize) }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        .nats(NATSSink(self, batchSize: batchSize))
    }
}

extension Counter {
    public static let natsRepublished = Counter(plugin: NATSOutput.natsRepublished)
}

extension NATSOutput {
    static let natsRepublished = CounterSpec("nats_republished", "Messages the nats output published again: no PubAck within ack-timeout, a reconnection, or an error answer (JetStream drops those it has by Nats-Msg-Id).")
    public static let counters = [natsRepublished]
}
