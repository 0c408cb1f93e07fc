import Glibc

/// What an output plugin declares, in its folder (`Plugins/Outputs/<name>/`): its name, summary
/// and parameters, how it is built from its spec, which events it takes and where the
/// undelivered wait, and what a worker builds for it: the sink its bytes go to (a transport in
/// `Outputs/`: file, tcp, http, datagram, nats, postgres, or the disk buffer in front of one)
/// and the encoder that turns an event into the bytes of its record. The registry lists the
/// type once and wraps it in one `OutputDefinition` case; the batcher does the rest.
protocol OutputPlugin: Sendable {
    static var name: String { get }
    static var summary: String { get }
    static var parameters: [ParameterDoc] { get }
    static func make(_ arguments: PluginArguments) throws(PluginArgumentError) -> Self
    /// Its own counters (`Counter`), in /metrics and the exit summary.
    static var counters: [CounterSpec] { get }

    /// This value in its registry case.
    var definition: OutputDefinition { get }
    /// Which events the output accepts and where rejected ones go.
    var delivery: DeliveryOptions { get }
    /// Where undelivered events wait: the pool, or a disk buffer.
    var buffer: BufferOptions { get }
    /// The batch size this output takes when none is set; nil: the node's.
    var preferredBatchSize: Int? { get }
    /// The output buffer size this output takes when none is set; nil: the node's.
    var preferredOutputBufferBytes: Int? { get }
    /// Bytes the sink's record of an event adds to its encoded line, at most.
    var recordOverheadBytes: Int { get }
    /// Connections (lanes) per worker of a sink that answers (http, postgres): with 2, the
    /// batcher's second buffer is sent on the second while the first waits for its answer.
    var lanes: Int { get }
    /// A sink that answers whose batches need an event's slot only until it is encoded: the slot
    /// goes back then, and the batch keeps what its acknowledgement needs
    /// (`OutputBatcher+Detached.swift`), so batches are bounded by the output buffer, not the pool.
    var detachesEvents: Bool { get }
    /// On the control thread, once per worker: the descriptor the worker's sink writes (-1: the
    /// sink opens its own connection).
    func openDescriptor() throws(Node.SetupError) -> Int32
    /// One worker's sink. `bufferBytes`: the batcher's buffer size (the largest body a sink is
    /// given); `batchSize`: the most events a buffer holds.
    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink
    /// One worker's encoder.
    func encoder() -> OutputEncoder
}

extension OutputPlugin {
    static var counters: [CounterSpec] { [] }
    var delivery: DeliveryOptions { DeliveryOptions() }
    var preferredBatchSize: Int? { nil }
    var preferredOutputBufferBytes: Int? { nil }
    var recordOverheadBytes: Int { 0 }
    var lanes: Int { 1 }
    var detachesEvents: Bool { false }
    func openDescriptor() throws(Node.SetupError) -> Int32 { -1 }
    func encoder() -> OutputEncoder { .line }
}

/// An operation on whichever plugin an `OutputDefinition` holds (`OutputDefinition.open`).
protocol OutputVisitor {
    associatedtype Result
    mutating func visit<O: OutputPlugin>(_ output: O) -> Result
}

extension OutputDefinition {
    /// The plugin's registered name (as in `OutputDefinition.types`).
    var typeName: String {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> String { O.name } }
        var v = Visitor()
        return open(&v)
    }

    public var delivery: DeliveryOptions {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> DeliveryOptions { output.delivery } }
        var v = Visitor()
        return open(&v)
    }

    public var buffer: BufferOptions {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> BufferOptions { output.buffer } }
        var v = Visitor()
        return open(&v)
    }

    public var preferredBatchSize: Int? {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> Int? { output.preferredBatchSize } }
        var v = Visitor()
        return open(&v)
    }

    var preferredOutputBufferBytes: Int? {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> Int? { output.preferredOutputBufferBytes } }
        var v = Visitor()
        return open(&v)
    }

    var recordOverheadBytes: Int {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> Int { output.recordOverheadBytes } }
        var v = Visitor()
        return open(&v)
    }

    var lanes: Int {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> Int { output.lanes } }
        var v = Visitor()
        return open(&v)
    }

    var detachesEvents: Bool {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> Bool { output.detachesEvents } }
        var v = Visitor()
        return open(&v)
    }

    func openDescriptor() throws(Node.SetupError) -> Int32 {
        struct Visitor: OutputVisitor {
            func visit<O: OutputPlugin>(_ output: O) -> Result<Int32, Node.SetupError> {
                do throws(Node.SetupError) { return .success(try output.openDescriptor()) } catch { return .failure(error) }
            }
        }
        var v = Visitor()
        return try open(&v).get()
    }

    func sink(fd: Int32, bufferBytes: Int, batchSize: Int) -> OutputSink {
        struct Visitor: OutputVisitor {
            let fd: Int32, bufferBytes: Int, batchSize: Int
            func visit<O: OutputPlugin>(_ output: O) -> OutputSink { output.sink(fd: fd, bufferBytes: bufferBytes, batchSize: batchSize) }
        }
        var v = Visitor(fd: fd, bufferBytes: bufferBytes, batchSize: batchSize)
        return open(&v)
    }

    func encoder() -> OutputEncoder {
        struct Visitor: OutputVisitor { func visit<O: OutputPlugin>(_ output: O) -> OutputEncoder { output.encoder() } }
        var v = Visitor()
        return open(&v)
    }
}
