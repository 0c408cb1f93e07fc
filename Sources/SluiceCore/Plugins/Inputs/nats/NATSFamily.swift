import CSupport
import Glibc

/// One `nats` input on the worker that reads it: its C consumer (`CSupport/nats_consumer.c`:
/// two threads of its own that fetch and acknowledge through libnats) and what the worker
/// knows of the messages it took.
struct NATSSource {
    let consumer: OpaquePointer
    let wakeFD: Int32
    /// The eventfd read's 8 bytes (a read may still be in flight when the source is closed:
    /// not freed, 8 bytes per closed source).
    let wakeBuffer: UnsafeMutablePointer<UInt64>
    let pipeline: Int
    let identity: UInt64
    let window: UInt64
    var framer: LineFramer
    var notifyArmed = false
    /// Messages framed into events (or skipped, when empty) so far.
    var taken: UInt64 = 0
    /// Every message below it is done (its event acknowledged by every output, or empty).
    var acknowledged: UInt64 = 0
    /// What the consumer was last told of `acknowledged`.
    var told: UInt64 = 0
    /// The oldest message whose event is still out (events of one source come back in order).
    var oldestOut: UInt64 = 0
    /// Per message in the window: 1 once done.
    let done: UnsafeMutablePointer<UInt8>
    var finished = false
    var closed = false
    var seen = sl_nats_consumer_stats()
    var outageLogged = false
}

/// The nats family on one worker: the nats inputs it reads. The worker's side of a consumer is
/// plain memory (the C ring of fetched messages, two counters it stores) and an eventfd read in
/// its ring that wakes it when messages were fetched: no lock, no libnats call.
final class NATSFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var sources: [NATSSource] = []
        mutating func merge(_ other: Assignment) { sources += other.sources }
        func closeAll() { for s in sources { NATSFamily.closeSource(s) } }
    }

    static let kind = SourceIDs.Kind.nats
    enum Completion: UInt8 { case notify }

    let worker: Int
    var sources: [NATSSource]

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        sources = []
        for s in assignment.sources { add(s) }
    }

    private func add(_ source: NATSSource) {
        var source = source
        source.framer.sourceID = SourceIDs.make(worker: worker, kind: .nats, generation: 0, index: sources.count)
        sources.append(source)
    }

    /// On the control thread: starts the consumer (it connects in the background and keeps
    /// trying; a stream or consumer that is missing is logged and looked for again) on the next
    /// reading worker.
    static func prepare(_ input: NATSInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) throws(Node.SetupError) {
        let wakeFD = sl_wake_fd()
        guard wakeFD >= 0 else { throw preparation.failure("nats", "\(SystemError(negated: wakeFD, operation: "eventfd"))") }
        var options = sl_nats_consumer_options()
        var error = [CChar](repeating: 0, count: 256)
        let started: OpaquePointer? = input.servers.urls.withCString { servers in
            input.stream.withCString { stream in
                input.consumer.withCString { consumer in
                    (input.subject ?? "").withCString { filter in
                        "sluice \(NATSServers.hostName) \(input.consumer)".withCString { name in
                            options.servers = servers
                            options.stream = stream
                            options.consumer = consumer
                            options.filter = filter
                            options.name = name
                            options.batch = Int32(input.batch)
                            options.window = Int32(input.window)
                            options.ack_wait_ms = Int64(input.ackWaitMillis)
                            options.fetch_wait_ms = Int64(input.fetchWaitMillis)
                            options.reconnect_wait_ms = Int64(input.servers.reconnectWaitMillis)
                            options.wake_fd = wakeFD
                            return sl_nats_consumer_start(&options, &error, error.count)
                        }
                    }
                }
            }
        }
        guard let consumer = started else {
            Glibc.close(wakeFD)
            throw preparation.failure("nats", NATSServers.text(error))
        }
        let reader = preparation.nextReader % preparation.workerCount
        preparation.nextReader += 1
        let done = UnsafeMutablePointer<UInt8>.allocate(capacity: input.window)
        done.initialize(repeating: 0, count: input.window)
        var framer = LineFramer(sourceID: 0, pipelineID: UInt16(preparation.slot), maxEventBytes: preparation.settings.pool.maxEventSizeBytes)
        framer.inputRow = preparation.inputRow
        let identity = Array("nats:\(input.stream)".utf8).withUnsafeBytes { XXHash64.hash($0) }
        assignments[reader].inputs.nats.sources.append(
            NATSSource(consumer: consumer, wakeFD: wakeFD, wakeBuffer: .allocate(capacity: 1), pipeline: preparation.slot,
                       identity: identity, window: UInt64(input.window), framer: framer, done: done))
    }

    func start(_ context: InputContext) {
        for s in sources.indices { armNotify(s, context) }
    }

    func armNotify(_ s: Int, _ context: InputContext) {
        guard !sources[s].notifyArmed, !sources[s].closed else { return }
        context.ring.read(fd: sources[s].wakeFD, into: UnsafeMutableRawPointer(sources[s].wakeBuffer), count: 8, offset: 0,
                          userData: Self.userData(.notify, s))
        sources[s].notifyArmed = true
    }

    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        guard a < sources.count else { return }
        sources[a].notifyArmed = false
        armNotify(a, context)  // `service` this turn takes what was fetched
    }

    /// Every turn: tells the consumer what was acknowledged, turns its counters into metrics
    /// and logs its new errors.
    func maintain(_ context: InputContext) {
        for s in sources.indices where !sources[s].closed {
            if sources[s].acknowledged != sources[s].told {
                sources[s].told = sources[s].acknowledged
                sl_nats_consumer_set_acknowledged(sources[s].consumer, sources[s].told)
            }
            report(s, context)
        }
    }

    func report(_ s: Int, _ context: InputContext) {
        var now = sl_nats_consumer_stats()
        sl_nats_consumer_stats_read(sources[s].consumer, &now)
        let seen = sources[s].seen, pipeline = sources[s].pipeline
        if now.redelivered != seen.redelivered { context.counters.add(.natsRedelivered, Int(now.redelivered &- seen.redelivered), pipeline: pipeline) }
        if now.progress_acks != seen.progress_acks { context.counters.add(.natsProgressAcks, Int(now.progress_acks &- seen.progress_acks), pipeline: pipeline) }
        if now.errors != seen.errors { context.counters.add(.inputErrors, Int(now.errors &- seen.errors), pipeline: pipeline) }
        if now.error_sequence != seen.error_sequence {
            var text = [CChar](repeating: 0, count: 512)
            sl_nats_consumer_last_error(sources[s].consumer, &text, text.count)
            Log.error("input nats", NATSServers.text(text))
            sources[s].outageLogged = true
        } else if sources[s].outageLogged && now.fetched != seen.fetched {
            Log.info("input nats", "fetching again")
            sources[s].outageLogged = false
        }
        sources[s].seen = now
    }

    func service(_ context: InputContext) -> Bool {
        var progressed = false
        for s in sources.indices where !sources[s].finished {
            progressed = serviceSource(s, context) || progressed
        }
        return progressed
    }

    /// Frames the fetched messages into events, one each, until the batch or the pool is full.
    func serviceSource(_ s: Int, _ context: InputContext) -> Bool {
        let consumer = sources[s].consumer
        let fetched = sl_nats_consumer_fetched(consumer)
        let start = sources[s].taken
        var made = 0
        while sources[s].taken < fetched {
            let index = sources[s].taken
            let message = sl_nats_consumer_message(consumer, index)
            var length = Int(message.length)
            let bytes = message.data.map { $0.assumingMemoryBound(to: UInt8.self) }
            while length > 0, let bytes, bytes[length - 1] == 10 || bytes[length - 1] == 13 { length -= 1 }
            if length == 0 {
                // Nothing to deliver: done as soon as everything before it is.
                sources[s].taken += 1
                markDone(s, index)
                continue
            }
            let stop = context.frameDatagram(&sources[s].framer, UnsafeRawBufferPointer(start: message.data, count: Int(message.length)),
                                             at: message.stream_sequence)
            if stop == .batchFull {
                context.dispatch(to: context.workerIndex)
                continue
            }
            if stop == .poolExhausted {
                context.waitForFreeEvents()
                break
            }
            sources[s].done[Int(index & (sources[s].window - 1))] = 0
            sources[s].taken += 1
            made += 1
        }
        if made > 0 { context.dispatch(to: context.workerIndex) }
        if sources[s].taken != start { sl_nats_consumer_set_taken(consumer, sources[s].taken) }
        return sources[s].taken != start
    }

    /// Message `index` is done: the acknowledged prefix grows over every done message.
    @inline(__always) func markDone(_ s: Int, _ index: UInt64) {
        let mask = sources[s].window - 1
        sources[s].done[Int(index & mask)] = 1
        var a = sources[s].acknowledged
        while a < sources[s].taken && sources[s].done[Int(a & mask)] == 1 { a += 1 }
        sources[s].acknowledged = a
    }

    /// An event came back acknowledged: it is the oldest message still out (a source's events
    /// come back in order). Per event: a few loads and stores.
    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {
        let s = SourceIDs.index(sourceID)
        guard s < sources.count, !sources[s].closed else { return }
        let mask = sources[s].window - 1
        var i = max(sources[s].oldestOut, sources[s].acknowledged)
        while i < sources[s].taken && sources[s].done[Int(i & mask)] == 1 { i += 1 }
        precondition(i < sources[s].taken, "nats input: an event acknowledged with no message out")
        assert(sl_nats_consumer_message(sources[s].consumer, i).stream_sequence == offset,
               "nats input: events acknowledged out of order")
        sources[s].oldestOut = i + 1
        markDone(s, i)
    }

    func identity(of event: Event) -> UInt64? {
        let s = SourceIDs.index(event.header.pointee.sourceID)
        return s < sources.count ? sources[s].identity : nil
    }

    func stop(pipeline: Int?, _ context: InputContext) {
        for s in sources.indices where pipeline.map({ $0 == sources[s].pipeline }) ?? true { sources[s].finished = true }
    }

    func isQuiet(pipeline slot: Int) -> Bool { true }

    /// A nats input reads until the node stops.
    func isFinished(stopping: Bool) -> Bool { sources.allSatisfy(\.finished) }

    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 { deadline }

    func install(_ assignment: Assignment, _ context: InputContext) {
        for source in assignment.sources {
            add(source)
            armNotify(sources.count - 1, context)
        }
    }

    /// Acknowledges what a replaced pipeline's outputs acknowledged and closes its consumers.
    func retire(pipeline slot: Int) {
        for s in sources.indices where sources[s].pipeline == slot && sources[s].finished { closeSource(s) }
    }

    func close() {
        for s in sources.indices { closeSource(s) }
    }

    func closeSource(_ s: Int) {
        guard !sources[s].closed else { return }
        sl_nats_consumer_set_acknowledged(sources[s].consumer, sources[s].acknowledged)
        Self.closeSource(sources[s])
        sources[s].closed = true
    }

    /// Stops the consumer (what was acknowledged is acknowledged to JetStream, the rest given
    /// back) and closes its eventfd.
    static func closeSource(_ source: NATSSource) {
        sl_nats_consumer_stop(source.consumer)
        Glibc.close(source.wakeFD)
        source.done.deallocate()
    }
}
