import CSupport
import Glibc

/// What a completion belongs to, in the top byte of its user_data.
/// The worker's own completion kinds (outputs, wake-ups, closes); input families make their
/// own user data (`SourceFamily.userData`, top bit set).
enum CompletionKind: UInt64 {
    case outputWrite = 4, outputSync, wake, close, cancel, outputConnect, deadLetterWrite, outputReceive, outputNotify
    /// A disk buffer's own file operations (`DiskBufferOperation` in the low word's bits 8...).
    case bufferFile
}

@inline(__always) func userData(_ kind: CompletionKind, _ a: Int, _ b: Int = 0) -> UInt64 {
    kind.rawValue << 56 | UInt64(a & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: b))
}

@inline(__always) func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// The wall clock (a date: events' times, index names), read where it is needed; the header's
/// receive time and the worker's turn clock are monotonic.
@inline(__always) func realtimeNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// One pinned worker thread: it owns an io_uring ring, a slab of the event pool, one instance
/// of each input source family (which owns the sources assigned to it), and one instance of
/// every pipeline's output. Each loop turn it takes back
/// released events, processes what other workers (or its own inputs) queued for it, lets its
/// inputs frame new data, flushes outputs, then submits all I/O at once and sleeps until a
/// completion, a wake-up or the next deadline.
final class Worker {
    let index: Int
    let cpu: Int?
    let shared: NodeShared
    let settings: NodeSettings
    let slab: UnsafeMutablePointer<Slab>
    let counters: CounterBlock
    /// Metrics: receive → ack latencies, written by the outputs on every ack.
    let latency: LatencyHistogram
    let workerCount: Int
    var ring: Ring!

    // Inputs: one instance per source family, each owning its sources' state on this worker
    // (Worker+Inputs.swift visits them; completions of their kinds are routed in `complete`).
    /// One instance of every input source family (the registry's list).
    let inputs: InputFamilies
    let offsetBook: OffsetBook

    // Processing. Tables are plain pointers copied out of the shared objects so the hot path
    // does no reference counting.
    let slabTable: UnsafeMutablePointer<Slab>
    let forward: UnsafeMutablePointer<HandleRing>
    let returns: UnsafeMutablePointer<HandleRing>
    let actionTable: UnsafeMutablePointer<UnsafeMutablePointer<Action>>
    let actionCounts: UnsafeMutablePointer<Int>
    let sampler: EventSampler
    /// Per slot: its outputs (`outputCounts[slot]` of them), in the pipeline's order.
    var outputs: UnsafeMutablePointer<UnsafeMutablePointer<OutputBatcher>>
    let outputCounts: UnsafeMutablePointer<Int>
    var scratch: EventBatch
    var carry: EventBatch
    var carryPosition = 0
    /// The first action still to run on the event at `carryPosition` (it waited for room).
    var carryNextAction = 0
    /// The carried event's cursor for the action making events from it (`ActionContext.cursor`).
    var carryCursor: UInt32 = 0
    /// Events actions emitted (`Action.Verdict.emit`) or let go (a joined record at its
    /// timeout) that wait to run from `nextAction` on: a stack, the latest on top, each event's
    /// own emitted events above it. Every entry is ahead, in its stream, of everything after it.
    struct PendingEvent {
        var handle: EventHandle
        var nextAction: Int
        var cursor: UInt32
    }
    let pending: UnsafeMutablePointer<PendingEvent>
    var pendingCount = 0
    /// Each nested entry comes from a later emitting action of the pipeline than the one below
    /// it, plus one held record a flush put at the bottom: the depth is at most the split and
    /// join actions of a pipeline plus one (`PipelineDefinition.maxEmittingActions`).
    static let maxPendingEvents = 64
    /// Actions that hold events for a while (`join`), flushed by `flushHeldEvents`.
    var holders: [(pipeline: Int, action: Int)] = []
    var inputBatch: EventBatch
    var returnBatches: UnsafeMutablePointer<EventBatch>
    var wakeTargets: UnsafeMutablePointer<Bool>
    var wakeBuffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)

    /// (pipeline, action index) of every aggregate action.
    var aggregators: [(pipeline: Int, action: Int)] = []
    var now: UInt64 = 0
    /// Last time events crossed to or from another worker; idle spinning is for such flows.
    var lastCrossTrafficNanos: UInt64 = 0
    static let crossTrafficWindowNanos: UInt64 = 10_000_000
    var stopping = false
    var poolExhausted = false
    var failure: String?
    /// Metrics: busy time is time not spent sleeping in the ring wait; published each
    /// turn as busy time up to the last sleep plus the time awake since.
    var busyBeforeSleepNanos: UInt64 = 0
    var awakeSinceNanos: UInt64 = 0
    /// Metrics: time the inputs spent paused for lack of free events (the pool exhausted at
    /// the end of a turn counts until the next turn starts).
    var backpressureNanos: UInt64 = 0
    var exhaustedAtTurnEnd = false
    var lastTurnNanos: UInt64 = 0
    /// Some output of some slot has a disk buffer (its mode is set every turn).
    var hasDiskBuffers = false
    /// Supervision tests only: an injected stall, inert unless its variables are set.
    var testStall: TestStall

    // Reload (Worker+Reload.swift). Slots in use (the per-pipeline tables have room
    // for `shared.slotCapacity`), their names for logs, and what this worker last saw of them.
    var pipelineCount: Int
    var pipelineNames: [String]
    var seenReconfig: UInt64 = 0
    /// Per slot: how far this worker has gone with a reload of it.
    struct SlotProgress {
        /// The phase this worker acted on (its inputs stopped, its final rows emitted) ...
        var phase = PipelineSlots.Phase.running
        /// ... in this reload round.
        var round: UInt64 = 0
        /// When this worker began stopping it (a connection that never falls quiet is closed
        /// `--shutdown-timeout` later, so a busy sender cannot hold a reload forever).
        var stopNanos: UInt64 = 0
        /// This worker woke the control thread when the stopped pipeline held no event any
        /// more (once per phase).
        var toldEmpty = false
    }
    var slotProgress: [SlotProgress]
    /// Some slot is stopping or finalizing: its acknowledgements are checked every turn.
    var reconfiguring = false
    /// Installs wait until the slot's old output has nothing in flight.
    var pendingDelivery: PipelineMailbox.Delivery?
    /// Per slot: the first row of its actions' per-plugin counters.
    let actionRowBase: UnsafeMutablePointer<Int>

    init(index: Int, cpu: Int?, shared: NodeShared, assignment: WorkerAssignment) {
        self.index = index
        self.cpu = cpu
        self.shared = shared
        settings = shared.settings
        workerCount = shared.workerCount
        slab = shared.pool.slabs + index
        counters = shared.counters[index]
        latency = shared.latency[index]
        testStall = TestStall.fromEnvironment(worker: index)
        inputs = InputFamilies(worker: index, settings: shared.settings, assignment: assignment.inputs)
        offsetBook = shared.offsetBook
        slabTable = shared.pool.slabs
        sampler = shared.sampler
        forward = shared.forward
        returns = shared.returns
        let slots = shared.slotCapacity
        pipelineCount = shared.pipelines.count
        pipelineNames = shared.pipelines.map(\.name)
        slotProgress = [SlotProgress](repeating: SlotProgress(), count: slots)
        actionTable = .allocate(capacity: slots)
        actionCounts = .allocate(capacity: slots)
        actionCounts.initialize(repeating: 0, count: slots)
        actionRowBase = .allocate(capacity: slots)
        actionRowBase.initialize(repeating: 0, count: slots)
        let batch = settings.batchSize
        scratch = EventBatch(capacity: batch)
        pending = .allocate(capacity: Worker.maxPendingEvents)
        carry = EventBatch(capacity: batch)
        inputBatch = EventBatch(capacity: batch)
        returnBatches = .allocate(capacity: workerCount)
        for w in 0..<workerCount { (returnBatches + w).initialize(to: EventBatch(capacity: batch)) }
        wakeTargets = .allocate(capacity: workerCount)
        wakeTargets.initialize(repeating: false, count: workerCount)
        outputs = .allocate(capacity: slots)
        outputCounts = .allocate(capacity: slots)
        outputCounts.initialize(repeating: 0, count: slots)
        for (p, pipeline) in shared.pipelines.enumerated() {
            setUpSlot(p, pipeline, assignment: assignment, actionRowBase: shared.pluginRows.actionBase(slot: p))
        }
    }

    /// Puts `definition` into `slot` (at start, or a reload's install after the old one was
    /// torn down): this worker's own copies of its actions, its action counter rows, its
    /// aggregators, and a fresh output on the descriptors the control thread opened.
    func setUpSlot(_ slot: Int, _ definition: PipelineDefinition, assignment: WorkerAssignment, actionRowBase base: Int) {
        actionCounts[slot] = definition.actions.count
        actionTable[slot] = .allocate(capacity: max(definition.actions.count, 1))
        actionTable[slot].initialize(from: definition.actions.map { $0.forWorker() }, count: definition.actions.count)
        actionRowBase[slot] = base
        aggregators.removeAll { $0.pipeline == slot }
        holders.removeAll { $0.pipeline == slot }
        for (a, action) in definition.actions.enumerated() {
            if case .aggregate = action.kind { aggregators.append((slot, a)) }
            if action.holdsEvents { holders.append((slot, a)) }
        }
        let count = definition.outputs.count
        outputCounts[slot] = count
        outputs[slot] = .allocate(capacity: count)
        for (o, output) in definition.outputs.enumerated() {
            let disk = (assignment.buffers[slot]?[o]).flatMap { $0 }.map { ($0, shared.bufferStats(worker: index, entry: $0.statsEntry)) }
            if disk != nil { hasDiskBuffers = true }
            (outputs[slot] + o).initialize(to: OutputBatcher(pipeline: slot, index: o, route: output.route?.forWorker(), definition: output.definition,
                                                           fd: assignment.outputFDs[slot]?[o] ?? -1,
                                                           deadLetterFD: assignment.deadLetterFDs[slot]?[o] ?? -1,
                                                           settings: settings, maxEventBytes: settings.pool.maxEventSizeBytes,
                                                           tuning: definition.tuning, disk: disk, slotShare: slab.pointee.smallCount))
        }
    }

    /// Frees the outputs of a slot whose outputs are idle (a reload replaces its pipeline).
    func disposeOutputs(of slot: Int) {
        for o in 0..<outputCounts[slot] { outputs[slot][o].dispose() }
        outputs[slot].deinitialize(count: outputCounts[slot])
        outputs[slot].deallocate()
        outputCounts[slot] = 0
    }

    /// Whether every output of the slot has nothing queued, in flight or unacknowledged.
    func outputsIdle(_ slot: Int) -> Bool {
        for o in 0..<outputCounts[slot] where !outputs[slot][o].isIdle { return false }
        return true
    }

    // MARK: Thread body

    func run() {
        if let cpu, settings.pin {
            let rc = sl_pin_current_thread(Int32(cpu))
            if rc != 0 { Log.warn("worker \(index)", "cannot pin to CPU \(cpu): \(SystemError(negated: rc, operation: "pthread_setaffinity_np"))") }
        }
        do {
            var options = Ring.Options()
            options.entries = UInt32(settings.ringEntries)
            options.sqpoll = settings.sqpoll
            options.sqpollCPU = settings.sqpollCPU.map(Int32.init)
            ring = try Ring(options)
            try startInputs()
        } catch {
            failure = error.description
            sl_store_release(shared.word(index, .failed), 1)
            sl_store_release(shared.word(index, .started), 1)
            return
        }
        sl_store_release(shared.word(index, .started), 1)
        armWake()
        loop()
        finalClose()
    }

    func loop() {
        let busyPoll = settings.busyPoll
        let busyWord = shared.word(index, .busyNanos)
        awakeSinceNanos = monotonicNanos()
        testStall.start(now: awakeSinceNanos)
        while true {
            now = monotonicNanos()
            if exhaustedAtTurnEnd {
                backpressureNanos &+= now &- lastTurnNanos
                sl_store_relaxed(shared.word(index, .backpressureNanos), backpressureNanos)
            }
            lastTurnNanos = now
            let heartbeat = shared.word(index, .heartbeat)
            sl_store_relaxed(heartbeat, heartbeat.pointee &+ 1)
            // Busy time for the metrics; the injected stall of the supervision tests.
            sl_store_relaxed(busyWord, busyBeforeSleepNanos &+ (now &- awakeSinceNanos))
            if now >= testStall.atNanos { testStall.hold(worker: index, shared: shared) }
            let phase = shared.phase
            if phase == .exiting { return }
            if phase == .stopping && !stopping { beginStop() }
            // Reload: one load per turn (a plain mov on x86) unless a reload is under way.
            if sl_load_acquire(shared.reconfigWord) != seenReconfig || reconfiguring || pendingDelivery != nil { reconfigure() }

            maintainInputs()
            var progressed = takeBackReleased()
            progressed = processInbound() || progressed
            progressed = runInputs() || progressed
            if !aggregators.isEmpty { progressed = emitAggregates() || progressed }
            if !holders.isEmpty { progressed = flushHeldEvents() || progressed }
            progressed = flushOutputs(idle: !progressed) || progressed
            flushReturns()
            updateStatus()
            exhaustedAtTurnEnd = poolExhausted

            if progressed || busyPoll {
                submit(wait: false)
            } else {
                let sleeping = shared.word(index, .sleeping)
                if spinForInboundWork() {
                    submit(wait: false)
                } else {
                sl_store_seq_cst(sleeping, 1)
                if hasInboundWork() {
                    sl_store_seq_cst(sleeping, 0)
                    submit(wait: false)
                } else {
                    let sleepStart = monotonicNanos()  // busy time excludes the sleep
                    submit(wait: true, timeoutNanos: nextTimeout())
                    sl_store_seq_cst(sleeping, 0)
                    busyBeforeSleepNanos &+= sleepStart &- awakeSinceNanos
                    awakeSinceNanos = monotonicNanos()
                }
                }
            }
            ring.drainCompletions { userData, result, flags in
                self.complete(userData: userData, result: result, flags: flags)
            }
        }
    }

    func submit(wait: Bool, timeoutNanos: Int64? = nil) {
        do {
            try ring.submit(wait: wait, timeoutNanos: timeoutNanos)
        } catch {
            Log.error("worker \(index)", "\(error)")
        }
    }

    /// Sleep no longer than the nearest flush, poll or retry deadline, and never over 100 ms so
    /// the heartbeat keeps moving.
    func nextTimeout() -> Int64 {
        var deadline = now + 100_000_000
        for p in 0..<pipelineCount {
            for o in 0..<outputCounts[p] {
                if let d = outputs[p][o].deadline(now: now) { deadline = min(deadline, d) }
            }
        }
        deadline = inputDeadline(before: deadline)
        return Int64(deadline > now ? deadline - now : 0)
    }

    /// Before sleeping, watch the rings for a short while (`--idle-spin`): between two workers
    /// handing batches back and forth, work usually arrives within microseconds, and a sleep
    /// plus an eventfd wake-up costs more than the wait.
    func spinForInboundWork() -> Bool {
        let budget = UInt64(settings.idleSpinMicros) * 1000
        // Spinning pays only between workers that hand events to each other; a worker whose
        // events stay local (TCP connections) sleeps at once, so a receive completion (posted
        // only when the worker enters the ring) is not held up by the spin.
        if budget == 0 || workerCount == 1 || now &- lastCrossTrafficNanos > Worker.crossTrafficWindowNanos { return false }
        let until = now + budget
        var turns = 0
        while true {
            if hasInboundWork() { return true }
            turns += 1
            if turns & 63 == 0 && monotonicNanos() >= until { return false }
            sl_cpu_relax()
        }
    }

    /// Work another worker queued for this one. Queued events count only while they can be
    /// taken: with a carried batch blocked on the output, the write completion wakes us instead.
    func hasInboundWork() -> Bool {
        let blocked = carryPosition < carry.count
        for from in 0..<workerCount {
            if !blocked && !forward[from * workerCount + index].isEmpty { return true }
            if !returns[from * workerCount + index].isEmpty { return true }
        }
        return false
    }

    func complete(userData: UInt64, result: Int32, flags: UInt32) {
        if userData >> 63 == 1 { return inputCompleted(userData: userData, result: result, flags: flags) }
        guard let kind = CompletionKind(rawValue: userData >> 56) else { return }
        let a = Int((userData >> 32) & 0xFF_FFFF)
        let b = Int(UInt32(truncatingIfNeeded: userData))
        switch kind {
        case .outputWrite: outputWriteCompleted(pipeline: a, output: b, result: result)
        case .outputSync: outputSyncCompleted(pipeline: a, output: b, result: result)
        case .outputConnect: outputConnectCompleted(pipeline: a, output: b, result: result)
        case .deadLetterWrite: deadLetterWriteCompleted(pipeline: a, output: b, result: result)
        case .outputReceive: outputReceiveCompleted(pipeline: a, output: b, result: result)
        case .outputNotify: outputNotifyCompleted(pipeline: a, output: b & 0xFFFF, tag: b >> 16)
        case .bufferFile: bufferFileCompleted(pipeline: a, word: b, result: result)
        case .wake: armWake()
        case .close, .cancel: break
        }
    }

    func armWake() {
        ring.read(fd: shared.eventFDs[index], into: UnsafeMutableRawPointer(wakeBuffer), count: 8, offset: 0, userData: userData(.wake, 0))
    }

    // MARK: Life cycle

    func beginStop() {
        stopping = true
        stopInputs()
    }

    /// Publishes whether the inputs are done and whether everything of this worker is back.
    func updateStatus() {
        let finished = inputsFinished()
        publish(.inputsFinished, finished)
        guard stopping else { return }
        var drained = finished && carryPosition == carry.count && pendingCount == 0 && !hasInboundWork() && slab.pointee.takenCount == 0 && aggregatesFinal()
        if drained {
            for p in 0..<pipelineCount where !outputsIdle(p) { drained = false }
            for w in 0..<workerCount where returnBatches[w].count > 0 { drained = false }
        }
        publish(.drained, drained)
    }

    /// Stores a status flag; raising it wakes the control thread, which waits for exactly these.
    func publish(_ word: NodeShared.Word, _ value: Bool) {
        let w = shared.word(index, word)
        let was = sl_load_relaxed(w) != 0
        sl_store_release(w, value ? 1 : 0)
        if value && !was { shared.wakeControl() }
    }

    func finalClose() {
        closeInputs()  // before the ring: the tcp family's buffer ring is registered with it
        for p in 0..<pipelineCount {
            for o in 0..<outputCounts[p] { outputs[p][o].close() }
        }
        ring = nil
    }
}

/// The sources and output files the control thread prepared for one worker.
struct WorkerAssignment {
    /// Each input family's share (the registry lists the families: `InputFamilies`).
    var inputs = InputAssignments()
    /// Per pipeline slot, the file of each of its outputs (-1: devnull, tcp); no entry: not this
    /// assignment's slot.
    var outputFDs: [Int: [Int32]] = [:]
    /// Per pipeline slot, the dead-letter file of each of its outputs (-1: none).
    var deadLetterFDs: [Int: [Int32]] = [:]
    /// Per pipeline slot, this worker's disk buffer of each of its outputs (nil: buffer=memory).
    var buffers: [Int: [BufferRecovery?]] = [:]

    /// Adds another preparation's sources (a reload that prepared pipelines one by one).
    mutating func merge(_ other: WorkerAssignment) {
        inputs.merge(other.inputs)
        outputFDs.merge(other.outputFDs) { a, _ in a }
        deadLetterFDs.merge(other.deadLetterFDs) { a, _ in a }
        buffers.merge(other.buffers) { a, _ in a }
    }

    /// Closes every descriptor in it (a reload that could not use it).
    func closeAll() {
        inputs.closeAll()
        for fd in outputFDs.values.joined() where fd > 2 { Glibc.close(fd) }
        for fd in deadLetterFDs.values.joined() where fd > 2 { Glibc.close(fd) }
        for recovery in buffers.values.joined() { if let recovery { Glibc.close(recovery.directoryFD) } }
    }
}
