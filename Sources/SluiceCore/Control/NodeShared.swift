import CSupport
import Glibc

/// What the workers and the control thread share: the pool, the rings between workers, and
/// one cache line of control words per worker. Built by the control thread before any worker
/// starts; read-only afterwards except for the atomic words.
public final class NodeShared: @unchecked Sendable {
    public let settings: NodeSettings
    public let pipelines: [PipelineDefinition]
    public let workerCount: Int
    public let pool: EventPool
    /// forward[from * n + to]: events read by `from`, processed by `to`, in stream order.
    let forward: UnsafeMutablePointer<HandleRing>
    /// returns[from * n + to]: events processed by `from`, given back to their owner `to`.
    let returns: UnsafeMutablePointer<HandleRing>
    /// Per worker, 16 words (128 bytes): see `Word`.
    let words: UnsafeMutablePointer<UInt64>
    let phaseWord: UnsafeMutablePointer<UInt64>
    /// Wake-up eventfd per worker.
    let eventFDs: [Int32]
    public let counters: [CounterBlock]
    /// Per worker: receive → ack latency of delivered events, per pipeline.
    public let latency: [LatencyHistogram]

    public enum Word: Int {
        case heartbeat = 0, sleeping, inputsFinished, drained, started, failed, busyNanos, loops
    }

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
        self.workerCount = workerCount
        self.pool = pool
        let n = workerCount
        forward = .allocate(capacity: n * n)
        returns = .allocate(capacity: n * n)
        for from in 0..<n {
            for to in 0..<n {
                // Sized to the producer's / owner's whole slab, so a push never finds the ring full.
                let fromSlots = pool.slabs[from].smallCount + pool.slabs[from].largeCount
                let toSlots = pool.slabs[to].smallCount + pool.slabs[to].largeCount
                (forward + from * n + to).initialize(to: HandleRing(capacity: fromSlots))
                (returns + from * n + to).initialize(to: HandleRing(capacity: toSlots))
            }
        }
        words = .allocate(capacity: n * 16 + 16)
        words.initialize(repeating: 0, count: n * 16 + 16)
        phaseWord = words + n * 16
        var fds: [Int32] = []
        for _ in 0..<n {
            let fd = sl_wake_fd()
            guard fd >= 0 else { throw SystemError(negated: fd, operation: "eventfd") }
            fds.append(fd)
        }
        eventFDs = fds
        counters = (0..<n).map { _ in CounterBlock(pipelines: pipelines.count) }
        latency = (0..<n).map { _ in LatencyHistogram(pipelines: pipelines.count) }
    }

    deinit {
        for i in 0..<(workerCount * workerCount) {
            forward[i].deallocate()
            returns[i].deallocate()
        }
        forward.deallocate()
        returns.deallocate()
        words.deallocate()
        for fd in eventFDs { Glibc.close(fd) }
        for c in counters { c.values.deallocate() }
        for l in latency { l.values.deallocate() }
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

    func wakeAlways(_ worker: Int) {
        var one: UInt64 = 1
        _ = Glibc.write(eventFDs[worker], &one, 8)
    }

    /// Events taken from slab `w` and not yet back (a gauge for metrics and the summary).
    public func inFlight(_ w: Int) -> Int { pool.slabs[w].takenCount }

    public func sum(_ counter: Counter, pipeline: Int? = nil) -> UInt64 {
        var total: UInt64 = 0
        for c in counters {
            if let p = pipeline { total &+= c.read(counter, pipeline: p) }
            else { for p in 0..<pipelines.count { total &+= c.read(counter, pipeline: p) } }
        }
        return total
    }
}
