import CSupport
import Glibc

/// What the workers and the control thread share: the pool, the rings between workers, and
/// one cache line of control words per worker. Built by the control thread before any worker
/// starts; read-only afterwards except for the atomic words.
public final class NodeShared: @unchecked Sendable {
    public let settings: NodeSettings
    /// The pipelines the node started with (slots 0..<count); a reload may fill more slots.
    public let pipelines: [PipelineDefinition]
    /// Pipeline slots every per-pipeline table has room for: the starting pipelines plus
    /// `PipelineSlots.spare` for pipelines a reload adds (past that a reload restarts the node).
    public let slotCapacity: Int
    public let workerCount: Int
    public let pool: EventPool
    /// forward[from * n + to]: events read by `from`, processed by `to`, in stream order.
    let forward: UnsafeMutablePointer<HandleRing>
    /// returns[from * n + to]: events processed by `from`, given back to their owner `to`.
    let returns: UnsafeMutablePointer<HandleRing>
    /// Per worker, 16 words (128 bytes): see `Word`.
    let words: UnsafeMutablePointer<UInt64>
    let phaseWord: UnsafeMutablePointer<UInt64>
    /// Set by the control thread before `stopping` when the inputs finished by themselves: disk
    /// buffers deliver everything before the node exits (after a signal they keep it for the
    /// next start).
    let emptyBuffersWord: UnsafeMutablePointer<UInt64>
    /// Per worker and disk-buffered output (an entry of `bufferStatsEntries`): its `BufferStats`.
    let bufferStatsWords: UnsafeMutablePointer<UInt64>
    /// Entries of `bufferStatsWords`: the starting pipelines' disk-buffered outputs, and room for
    /// `PipelineSlots.spare` × 4 more that reloads add.
    let bufferStatsCapacity: Int
    /// (slot × maxOutputs + output) → entry; the control thread's only (it assigns entries when
    /// it prepares a buffer, and reads them for `/metrics`).
    var bufferStatsEntries: [Int: Int] = [:]
    /// Wake-up eventfd per worker.
    let eventFDs: [Int32]
    /// Wakes the control thread when a worker's inputs finish or it has drained, so the node
    /// stops when its work is done rather than at the next control turn.
    let controlWakeFD: Int32
    public let counters: [CounterBlock]
    /// Per worker: receive → ack latency of delivered events, per pipeline.
    public let latency: [LatencyHistogram]

    public enum Word: Int {
        case heartbeat = 0, sleeping, inputsFinished, drained, started, failed, busyNanos, loops
        /// Time the worker's inputs spent paused because its slab had no free event.
        case backpressureNanos
        /// The last reload round whose pipeline installs this worker has applied.
        case installed
        /// A stdout output of this worker found its pipe closed by the reader (EPIPE).
        case stdoutClosed
    }

    /// Reload: per slot, `round << 2 | PipelineSlots.Phase` written by the control
    /// thread; per worker and slot, `round << 2 | PipelineSlots.Ack` written by the worker.
    let slotStates: UnsafeMutablePointer<UInt64>
    let slotAcks: UnsafeMutablePointer<UInt64>
    /// Bumped by the control thread whenever a slot state changes or installs are posted; a
    /// worker compares it with what it last saw once per loop turn.
    let reconfigWord: UnsafeMutablePointer<UInt64>
    /// Open connections of each tcp input (by its input counter row), over all workers:
    /// `max-connections` holds for the node, however SO_REUSEPORT spreads the connections.
    let openConnections: UnsafeMutablePointer<UInt64>
    /// Pipelines a reload starts, per worker; taken by the worker when `reconfigWord` moves.
    let mailboxes: [PipelineMailbox]
    /// Per-plugin counter rows; read and changed by the control thread only.
    var pluginRows: PluginRows

    /// Node life cycle, in `phaseWord`.
    public enum Phase: UInt64 { case running = 0, stopping = 1, exiting = 2 }

    /// Committed positions of file inputs that keep offsets (the node's book).
    let offsetBook: OffsetBook
    /// The admin API's event samples.
    let sampler = EventSampler()

    init(settings: NodeSettings, pipelines: [PipelineDefinition], workerCount: Int, pool: EventPool, offsetBook: OffsetBook) throws(SystemError) {
        self.offsetBook = offsetBook
        self.settings = settings
        self.pipelines = pipelines
        slotCapacity = pipelines.count + PipelineSlots.spare
        self.workerCount = workerCount
        self.pool = pool
        let n = workerCount
        forward = .allocate(capacity: n * n)
        returns = .allocate(capacity: n * n)
        for from in 0..<n {
            for to in 0..<n {
                // Sized to the producer's / owner's whole slab, so a push never finds the ring full.
                let fromSlots = pool.slabs[from].slotCount
                let toSlots = pool.slabs[to].slotCount
                (forward + from * n + to).initialize(to: HandleRing(capacity: fromSlots))
                (returns + from * n + to).initialize(to: HandleRing(capacity: toSlots))
            }
        }
        words = .allocate(capacity: n * 16 + 16)
        words.initialize(repeating: 0, count: n * 16 + 16)
        phaseWord = words + n * 16
        emptyBuffersWord = words + n * 16 + 1
        bufferStatsCapacity = pipelines.reduce(0) { $0 + $1.outputs.count(where: { $0.definition.buffer.isDisk }) } + 4 * PipelineSlots.spare
        let statsCount = n * bufferStatsCapacity * BufferStats.words
        bufferStatsWords = .allocate(capacity: statsCount)
        bufferStatsWords.initialize(repeating: 0, count: statsCount)
        var fds: [Int32] = []
        for _ in 0..<n {
            let fd = sl_wake_fd()
            guard fd >= 0 else { throw SystemError(negated: fd, operation: "eventfd") }
            fds.append(fd)
        }
        eventFDs = fds
        let controlFD = sl_wake_fd()
        guard controlFD >= 0 else {
            for fd in fds { Glibc.close(fd) }
            throw SystemError(negated: controlFD, operation: "eventfd")
        }
        controlWakeFD = controlFD
        let rows = PluginRows(pipelines)
        pluginRows = rows
        counters = (0..<n).map { [slotCapacity] _ in CounterBlock(pipelines: slotCapacity, inputRows: rows.inputCapacity, actionRows: rows.actionCapacity) }
        latency = (0..<n).map { [slotCapacity] _ in LatencyHistogram(pipelines: slotCapacity) }
        slotStates = .allocate(capacity: slotCapacity)
        slotStates.initialize(repeating: 0, count: slotCapacity)
        slotAcks = .allocate(capacity: slotCapacity * n)
        slotAcks.initialize(repeating: 0, count: slotCapacity * n)
        reconfigWord = .allocate(capacity: 8)
        reconfigWord.initialize(repeating: 0, count: 8)
        openConnections = .allocate(capacity: max(rows.inputCapacity, 1))
        openConnections.initialize(repeating: 0, count: max(rows.inputCapacity, 1))
        mailboxes = (0..<n).map { _ in PipelineMailbox() }
    }

    deinit {
        for i in 0..<(workerCount * workerCount) {
            forward[i].deallocate()
            returns[i].deallocate()
        }
        forward.deallocate()
        returns.deallocate()
        words.deallocate()
        bufferStatsWords.deallocate()
        for fd in eventFDs { Glibc.close(fd) }
        Glibc.close(controlWakeFD)
        for c in counters { c.deallocate() }
        for l in latency { l.values.deallocate() }
        slotStates.deallocate()
        slotAcks.deallocate()
        reconfigWord.deallocate()
        openConnections.deallocate()
    }

    func word(_ worker: Int, _ w: Word) -> UnsafeMutablePointer<UInt64> { words + (worker * 16 + w.rawValue) }

    public var phase: Phase { Phase(rawValue: sl_load_acquire(phaseWord)) ?? .exiting }

    public func setPhase(_ p: Phase) {
        sl_store_release(phaseWord, p.rawValue)
        for w in 0..<workerCount { wakeAlways(w) }
    }

    public func heartbeat(_ worker: Int) -> UInt64 { sl_load_relaxed(word(worker, .heartbeat)) }
    public func flag(_ worker: Int, _ w: Word) -> Bool { sl_load_acquire(word(worker, w)) != 0 }
    public func value(_ worker: Int, _ w: Word) -> UInt64 { sl_load_relaxed(word(worker, w)) }

    /// Wakes `worker` if it sleeps (after a push into one of its rings).
    func wake(_ worker: Int) {
        let s = word(worker, .sleeping)
        if sl_load_seq_cst(s) != 0 && sl_exchange(s, 0) != 0 {
            var one: UInt64 = 1
            _ = Glibc.write(eventFDs[worker], &one, 8)
        }
    }

    /// Wakes the control thread (a worker's status flag went up; rare, never per event).
    func wakeControl() {
        var one: UInt64 = 1
        _ = Glibc.write(controlWakeFD, &one, 8)
    }

    func wakeAlways(_ worker: Int) {
        var one: UInt64 = 1
        _ = Glibc.write(eventFDs[worker], &one, 8)
    }

    // MARK: Reload

    func slotState(_ slot: Int) -> (round: UInt64, phase: PipelineSlots.Phase) {
        let v = sl_load_acquire(slotStates + slot)
        return (v >> 2, PipelineSlots.Phase(rawValue: v & 3)!)
    }

    func setSlotState(_ slot: Int, round: UInt64, _ phase: PipelineSlots.Phase) {
        sl_store_release(slotStates + slot, round << 2 | phase.rawValue)
    }

    func slotAck(worker: Int, slot: Int) -> UInt64 { sl_load_acquire(slotAcks + (worker * slotCapacity + slot)) }

    func acknowledge(worker: Int, slot: Int, round: UInt64, _ ack: PipelineSlots.Ack) {
        sl_store_release(slotAcks + (worker * slotCapacity + slot), round << 2 | ack.rawValue)
    }

    /// Tells every worker to look at the slot states and its mailbox again.
    func announceReconfiguration() {
        sl_store_release(reconfigWord, reconfigWord.pointee &+ 1)  // only the control thread writes it
        for w in 0..<workerCount { wakeAlways(w) }
    }

    /// Events of a pipeline created (framed, generated, aggregate rows, split elements) less those released:
    /// what is still somewhere in the node. Exact once the pipeline's inputs stopped on every
    /// worker: creations are final then, and releases only catch up.
    func eventsInFlight(slot: Int) -> Int64 {
        let created = sum(.eventsIn, pipeline: slot) &+ sum(.aggregateRows, pipeline: slot) &+ sum(.derived, pipeline: slot)
        let released = sum(.released, pipeline: slot)
        return Int64(bitPattern: created &- released)
    }

    /// Per-plugin counters summed over the workers.
    func inputCounts(slot: Int, input: Int) -> (events: UInt64, bytes: UInt64) {
        let row = Int(pluginRows.inputRow(slot: slot, input: input))
        return counters.reduce((UInt64(0), UInt64(0))) { t, c in let v = c.readInput(row: row); return (t.0 &+ v.events, t.1 &+ v.bytes) }
    }

    func actionCounts(slot: Int, action: Int) -> (dropped: UInt64, consumed: UInt64) {
        let row = pluginRows.actionBase(slot: slot) + action
        return counters.reduce((UInt64(0), UInt64(0))) { t, c in let v = c.readAction(row: row); return (t.0 &+ v.dropped, t.1 &+ v.consumed) }
    }

    /// The stats entry of output `output` of `slot` (the same over reloads, so its counters keep
    /// counting), assigned now if it has none; nil when every entry is taken.
    func bufferStatsEntry(slot: Int, output: Int) -> Int? {
        let key = slot * PipelineDefinition.maxOutputs + output
        if let entry = bufferStatsEntries[key] { return entry }
        guard bufferStatsEntries.count < bufferStatsCapacity else { return nil }
        bufferStatsEntries[key] = bufferStatsEntries.count
        return bufferStatsEntries.count - 1
    }

    /// Where worker `worker`'s disk buffer with stats entry `entry` publishes its stats.
    func bufferStats(worker: Int, entry: Int) -> BufferStats {
        BufferStats(base: bufferStatsWords + (worker * bufferStatsCapacity + entry) * BufferStats.words)
    }

    /// A disk buffer stat of one output summed over the workers (`oldestWallNanos`: the oldest).
    func bufferStat(_ word: BufferStats.Word, slot: Int, output: Int) -> UInt64 {
        guard let entry = bufferStatsEntries[slot * PipelineDefinition.maxOutputs + output] else { return 0 }
        var total: UInt64 = 0
        for w in 0..<workerCount {
            let v = bufferStats(worker: w, entry: entry).read(word)
            if word == .oldestWallNanos {
                if v != 0 && (total == 0 || v < total) { total = v }
            } else {
                total &+= v
            }
        }
        return total
    }

    /// Events taken from slab `w` and not yet back (a gauge for metrics and the summary).
    public func inFlight(_ w: Int) -> Int { pool.slabs[w].takenCount }

    public func sum(_ counter: Counter, pipeline: Int? = nil) -> UInt64 {
        var total: UInt64 = 0
        for c in counters {
            if let p = pipeline { total &+= c.read(counter, pipeline: p) }
            else { for p in 0..<slotCapacity { total &+= c.read(counter, pipeline: p) } }
        }
        return total
    }
}

/// Pipeline slots and the reload protocol between the control thread and the workers.
public enum PipelineSlots {
    /// Slots beyond the starting pipelines that reloads may add pipelines into.
    public static let spare = 32
    /// Pipelines a node can start with: an event carries its pipeline in 16 bits, and a
    /// reload may add `spare` more.
    public static let maxPipelines = (1 << 16) - spare

    /// What the control thread asks of a slot's pipeline.
    enum Phase: UInt64 {
        /// Running (or empty).
        case running = 0
        /// Stop this pipeline's inputs; acknowledge with `.quiet` once they are closed.
        case stopping = 1
        /// Every event of it is released: emit the aggregates' final rows, then `.final`.
        case finalizing = 2
        /// Drained; a new definition may be installed into the slot.
        case retired = 3
    }

    enum Ack: UInt64 { case none = 0, quiet = 1, final = 2 }
}

/// What a reload asks one worker to start: the slots' new definitions and the sources the
/// control thread opened for this worker. Guarded by a mutex (the worker looks only when the
/// reconfiguration word moved, never on the event path).
final class PipelineMailbox: @unchecked Sendable {
    struct Delivery {
        var round: UInt64
        var slots: [(slot: Int, definition: PipelineDefinition)]
        var assignment: WorkerAssignment
        /// First action-counter row of each installed slot.
        var actionRows: [Int: Int]
    }

    private var pending: Delivery?
    private var lock = pthread_mutex_t()

    init() { pthread_mutex_init(&lock, nil) }
    deinit { pthread_mutex_destroy(&lock) }

    func post(_ delivery: Delivery) {
        pthread_mutex_lock(&lock)
        pending = delivery
        pthread_mutex_unlock(&lock)
    }

    func take() -> Delivery? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let d = pending
        pending = nil
        return d
    }
}

/// Rows of the per-plugin counters: each pipeline slot's inputs and actions have
/// consecutive rows. A reloaded pipeline whose input (action) types are the same keeps its rows,
/// so those counters stay monotonic; otherwise it gets new ones. Owned by the control thread;
/// workers get their rows with their sources and installs.
public struct PluginRows: Sendable {
    /// Rows beyond the starting pipelines' for what reloads add (past that a reload restarts the
    /// node, like pipeline slots).
    public static let spareInputRows = 4 * PipelineSlots.spare
    public static let spareActionRows = 8 * PipelineSlots.spare

    struct Span: Sendable {
        var base: Int
        var types: [String]
    }

    let inputCapacity: Int
    let actionCapacity: Int
    private(set) var inputs: [Int: Span] = [:]
    private(set) var actions: [Int: Span] = [:]
    private var nextInput = 0
    private var nextAction = 0

    private static func capacity(_ pipelines: [PipelineDefinition]) -> (inputs: Int, actions: Int) {
        (pipelines.reduce(0) { $0 + $1.inputs.count } + spareInputRows, pipelines.reduce(0) { $0 + $1.actions.count } + spareActionRows)
    }

    init(_ pipelines: [PipelineDefinition]) {
        (inputCapacity, actionCapacity) = PluginRows.capacity(pipelines)
        for (slot, p) in pipelines.enumerated() { _ = assign(slot: slot, p) }
    }

    /// Rows for `definition` in `slot`; false when the node has no room left for them.
    mutating func assign(slot: Int, _ definition: PipelineDefinition) -> Bool {
        let inputTypes = definition.inputs.map(\.typeName), actionTypes = definition.actions.map(\.typeName)
        let keepInputs = inputs[slot]?.types == inputTypes, keepActions = actions[slot]?.types == actionTypes
        if (!keepInputs && nextInput + inputTypes.count > inputCapacity) || (!keepActions && nextAction + actionTypes.count > actionCapacity) {
            return false
        }
        if !keepInputs {
            inputs[slot] = Span(base: nextInput, types: inputTypes)
            nextInput += inputTypes.count
        }
        if !keepActions {
            actions[slot] = Span(base: nextAction, types: actionTypes)
            nextAction += actionTypes.count
        }
        return true
    }

    func inputRow(slot: Int, input: Int) -> Int32 { Int32(inputs[slot]!.base + input) }
    func actionBase(slot: Int) -> Int { actions[slot]?.base ?? 0 }
}
