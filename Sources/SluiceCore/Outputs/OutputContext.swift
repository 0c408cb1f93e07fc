/// What an output may ask of the worker running it (file.d's OutputPluginController): its ring,
/// its counters and latency histogram, the turn's clock, its name for logs, and acknowledging an
/// event it is done with. Built by the worker for each call; plain values and an unmanaged
/// reference (the worker outlives every call), so building one costs no reference counting.
struct OutputContext {
    let counters: CounterBlock
    let latency: LatencyHistogram
    /// The worker's clock for this loop turn.
    let now: UInt64
    let pipeline: Int
    /// The output's place among its pipeline's outputs, with `drainFlag` for the drain of its
    /// disk buffer (its completions come back to the drain batcher).
    let output: Int
    static let drainFlag = 1 << 16
    /// The connection (lane) of a sink with two (`OutputBatcher.lanes`) an operation belongs
    /// to: set in the output number of its user_data as `laneFlag`.
    private(set) var lane = 0
    static let laneFlag = 1 << 17
    private let slabTable: UnsafeMutablePointer<Slab>
    /// This worker's own slab (a disk buffer's drain takes its events there).
    private let ownSlab: UnsafeMutablePointer<Slab>
    /// Only for `ring`, `acknowledge`, the names and `stopNode`: outputs never reach the worker
    /// itself. The per-event acknowledgement calls through `_withUnsafeGuaranteedRef`: no retain and
    /// release around the call (one through `unowned(unsafe)` had them, once per event:
    /// callgrind, generator → devnull); the rest through `worker`.
    private let guaranteed: Unmanaged<Worker>
    private var worker: Worker { guaranteed.takeUnretainedValue() }

    init(worker: Worker, pipeline: Int, output: Int) {
        counters = worker.counters
        latency = worker.latency
        now = worker.now
        slabTable = worker.slabTable
        ownSlab = worker.slab
        guaranteed = Unmanaged.passUnretained(worker)
        self.pipeline = pipeline
        self.output = output
    }

    /// The worker's ring: outputs submit their writes, sends, fsyncs and connects here, tagged
    /// with `userData(_:)` so the completion comes back to them. Read when used (per batch), so
    /// building a context per event loads nothing it does not need.
    @inline(__always) var ring: Ring { worker.ring }

    @inline(__always) func count(_ counter: Counter, _ amount: Int) { counters.add(counter, amount, pipeline: pipeline) }

    /// One event delivered at `ackNanos`: its receive → ack latency.
    @inline(__always) func recordLatency(of event: Event, ackNanos: UInt64) {
        recordLatency(receivedNanos: event.header.pointee.receivedNanos, ackNanos: ackNanos)
    }

    @inline(__always) func recordLatency(receivedNanos: UInt64, ackNanos: UInt64) {
        latency.record(ackNanos &- min(receivedNanos, ackNanos), pipeline: pipeline)
    }

    @inline(__always) func event(_ handle: EventHandle) -> Event { slabTable[EventHandles.slab(handle)].event(handle) }

    /// This output is done with the event (delivered, or holding its place); it is released when
    /// every output of its pipeline is.
    @inline(__always) func acknowledge(_ handle: EventHandle) { guaranteed._withUnsafeGuaranteedRef { $0.outputAcked(handle) } }

    /// The number of this worker's slab: an event of it may be detached (`OutputBatcher+Detached`).
    @inline(__always) var slabIndex: Int { ownSlab.pointee.index }

    /// A detached event's slot goes back before its acknowledgement (nothing else holds it).
    @inline(__always) func releaseDetached(_ handle: EventHandle) { ownSlab.pointee.release(handle) }

    /// A detached event of this worker's slab is acknowledged: counted released, its offset committed.
    @inline(__always) func commitDetached(sourceID: UInt32, offset: UInt64) {
        counters.add(.released, 1, pipeline: pipeline)
        guaranteed._withUnsafeGuaranteedRef { $0.inputs.acknowledged(sourceID: sourceID, offset: offset) }
    }

    /// The user_data of an operation whose completion belongs to this output.
    @inline(__always) func userData(_ kind: CompletionKind) -> UInt64 { SluiceCore.userData(kind, pipeline, output | lane * OutputContext.laneFlag) }

    /// This context for the sink of `lane`: its operations come back tagged with it.
    @inline(__always) func onLane(_ lane: Int) -> OutputContext {
        var c = self
        c.lane = lane
        return c
    }

    /// The user_data of an operation whose completion belongs to this output, with `tag` (15
    /// bits) telling it from one a replaced output started.
    @inline(__always) func userData(_ kind: CompletionKind, tag: Int) -> UInt64 {
        SluiceCore.userData(kind, pipeline, output | (tag & 0x7FFF) << 16)
    }

    /// A stable 64-bit name of the source that made `event` (one that survives a restart: a
    /// file's device and inode), when this worker read it and its family has one; nil
    /// otherwise (an event another worker read, or of a source without one).
    @inline(__always) func sourceIdentity(of event: Event) -> UInt64? {
        guaranteed._withUnsafeGuaranteedRef { w in
            let id = event.header.pointee.sourceID
            guard id >> 24 == UInt32(w.index & 0xFF) else { return nil }
            return w.inputs.identity(of: event)
        }
    }

    /// The pipeline's name (dead-letter lines).
    var pipelineName: String { worker.pipelineNames[pipeline] }

    /// Who speaks in this output's log lines.
    var logName: String { "output \(worker.pipelineNames[pipeline])" }

    /// The same output's disk-buffer drain.
    func forDrain() -> OutputContext {
        OutputContext(worker: worker, pipeline: pipeline, output: output | OutputContext.drainFlag)
    }

    /// An event of this worker's slab to read a disk-buffer record of `dataBytes` into (a large
    /// one past an ordinary slot's data). Ordinary slots only while more than the framers'
    /// reserve are free, or `fromReserve` (the drain holds few: it must make progress when the
    /// inputs filled the pool behind a full buffer); nil: none now.
    @inline(__always) func takeBufferedEvent(dataBytes: Int, fromReserve: Bool) -> Event? {
        let slab = ownSlab
        if dataBytes > slab.pointee.smallSlotBytes - slab.pointee.headerAndIndexBytes, slab.pointee.largeCount > 0 {
            return slab.pointee.takeLonger(dataBytes: dataBytes, forFraming: true)
        }
        return slab.pointee.take(forFraming: !fromReserve)
    }

    /// A disk-buffer drain is done with an event it read (delivered, or given back at a stop):
    /// its slot goes back, with no commit (the input was acknowledged when it was buffered).
    @inline(__always) func releaseBuffered(_ handle: EventHandle) { slabTable[EventHandles.slab(handle)].release(handle) }

    /// The destination is gone for good (stdout's reader closed the pipe): the control thread
    /// drains the other pipelines and the node exits 1.
    func stopNode() { worker.publish(.stdoutClosed, true) }
}
