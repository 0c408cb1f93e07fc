/// `nats`: reads a NATS JetStream stream through a durable pull consumer (created when missing,
/// with explicit acknowledgements, `ack-wait` and the `subject` filter), every message one
/// event whose offset is its stream sequence.
///
/// A message is acknowledged to JetStream only once every output acknowledged the event made
/// from it, in order; meanwhile the consumer's thread sends progress acknowledgements (`+WPI`)
/// for messages held longer than half of `ack-wait` (an output retrying, a full pool), so
/// JetStream does not deliver them again while the node works on them. A node that dies leaves
/// its messages unacknowledged: JetStream delivers them again after `ack-wait`, to whichever
/// node pulls (at least once). Nodes that pull from the same consumer share its messages.
/// Pull requests of `batch` messages are kept outstanding, up to two batches ahead of the worker,
/// so JetStream always has one to fill. Backpressure: nothing is asked for while two batches wait
/// for the worker (for free events), or while `window` messages are not yet acknowledged.
public struct NATSInput: Sendable {
    static let stream = Parameter.required("stream", .text, doc: "the JetStream stream to read")
    static let consumer = Parameter.required("consumer", .text, doc: "the durable pull consumer's name (created when missing; nodes that share it share the messages)")
    static let subject = Parameter.optional("subject", .text, doc: "filter subject of the consumer when it is created (default: the whole stream)")
    static let batch = Parameter.int("batch", default: 256, range: 1...65536, doc: "messages asked for per pull request, at most (two requests are kept outstanding)")
    static let window = Parameter.int("window", default: 4096, range: 1...(1 << 20),
                                      doc: "messages fetched and not yet acknowledged, at most (rounded up to a power of two)")
    static let ackWait = Parameter.duration("ack-wait", default: "30s", atLeast: "1s",
                                            doc: "the consumer's ack_wait when it is created: JetStream delivers a message again when a node held it this long without acknowledging or a progress acknowledgement")
    static let fetchWait = Parameter.duration("fetch-wait", default: "500ms", atLeast: "10ms",
                                              doc: "how long one pull request waits for messages before it expires")
    public static let parameters = [stream.doc, consumer.doc, subject.doc, batch.doc, window.doc, ackWait.doc, fetchWait.doc]
        + NATSServers.parameters

    public let servers: NATSServers
    public let stream: String
    public let consumer: String
    public let subject: String?
    public let batch: Int
    public let window: Int
    public let ackWaitMillis: Int
    public let fetchWaitMillis: Int

    public init(_ arguments: PluginArguments) throws(PluginArgumentError) {
        try arguments.checkKnown(Self.parameters)
        servers = try NATSServers(arguments)
        stream = try arguments.value(Self.stream)
        consumer = try arguments.value(Self.consumer)
        for (key, name) in [("stream", stream), ("consumer", consumer)] where name.contains(where: { $0 == "." || $0 == "*" || $0 == ">" || $0 == " " }) {
            throw PluginArgumentError(key: key, "'\(name)' is not a \(key) name (no '.', '*', '>' or spaces)")
        }
        subject = try arguments.value(Self.subject)
        batch = try arguments.value(Self.batch)
        var w = 1
        while w < max(try arguments.value(Self.window), batch) { w <<= 1 }
        window = w
        ackWaitMillis = try arguments.value(Self.ackWait) / 1000
        fetchWaitMillis = try arguments.value(Self.fetchWait) / 1000
    }
}

extension NATSInput: InputPlugin {
    public static let name = "nats"
    public static let summary = "a NATS JetStream durable pull consumer; each message acknowledged once the outputs acknowledged its event"
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> NATSInput {
        try NATSInput(arguments)
    }
    public var definition: InputDefinition { .nats(self) }

    func prepare(_ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        try NATSFamily.prepare(self, &preparation, into: &assignments)
    }
}

extension Counter {
    public static let natsRedelivered = Counter(plugin: NATSInput.natsRedelivered)
    public static let natsProgressAcks = Counter(plugin: NATSInput.natsProgressAcks)
}

extension NATSInput {
    static let natsRedelivered = CounterSpec("nats_redelivered", "Messages the nats input fetched that JetStream had delivered before (not acknowledged in time, or given back).")
    static let natsProgressAcks = CounterSpec("nats_progress_acks", "Progress acknowledgements (+WPI) the nats input sent for messages held longer than half of ack-wait.")
    public static let counters = [natsRedelivered, natsProgressAcks]
}
