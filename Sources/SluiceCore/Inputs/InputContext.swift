/// What an input family sees of the worker running it (file.d's `InputPluginController`): the
/// clock, the ring, the event pool through framing, the worker's input batch and its dispatch
/// to the stream's processor, counters, and the pipeline phases a stop depends on. It is a
/// view, not an owner: one unowned pointer, so passing it costs nothing and retains nothing.
struct InputContext {
    // Valid for as long as the worker runs the family; the worker owns its families.
    // The per-event calls go through `_withUnsafeGuaranteedRef`, never wrapped in a retain and
    // release (a call through `unowned(unsafe)` was, once per event: callgrind, generator →
    // devnull); the others through `worker`.
    private let guaranteed: Unmanaged<Worker>
    private var worker: Worker { guaranteed.takeUnretainedValue() }

    init(_ worker: Worker) { guaranteed = Unmanaged.passUnretained(worker) }

    // MARK: Where and when

    /// The worker's clock, read once per loop turn.
    @inline(__always) var now: UInt64 { worker.now }
    var workerIndex: Int { worker.index }
    var workerCount: Int { worker.workerCount }
    var settings: NodeSettings { worker.settings }
    @inline(__always) var ring: Ring { worker.ring }
    @inline(__always) var counters: CounterBlock { worker.counters }
    var offsetBook: OffsetBook { worker.offsetBook }
    /// The worker's table of its sources' file names (`add_file_name` reads it).
    var sourceNames: SourceNames { worker.slab.pointee.sourceNames }
    /// The node is stopping (SIGTERM, or every input finished).
    @inline(__always) var stopping: Bool { worker.stopping }
    /// Some pipeline's reload is under way (its stop is watched more often).
    var reconfiguring: Bool { worker.reconfiguring }

    // MARK: Events

    /// Frames `chunk` (its first byte at `offset` in the stream) into pool events appended to
    /// the input batch. `.poolExhausted`: call `waitForFreeEvents()` and stop this source.
    @inline(__always) func frame(_ framer: inout LineFramer, _ chunk: UnsafeRawBufferPointer, at offset: UInt64) -> (consumed: Int, stop: LineFramer.Stop) {
        guaranteed._withUnsafeGuaranteedRef { w in
            framer.frame(chunk, chunkOffset: offset, nowNanos: w.now, slab: w.slab, batch: &w.inputBatch, counters: w.counters)
        }
    }

    /// Frames one datagram as one record (`LineFramer.frameDatagram`), its end at `offset`.
    @inline(__always) func frameDatagram(_ framer: inout LineFramer, _ datagram: UnsafeRawBufferPointer, at offset: UInt64) -> LineFramer.Stop {
        guaranteed._withUnsafeGuaranteedRef { w in
            framer.frameDatagram(datagram, offset: offset, nowNanos: w.now, slab: w.slab, batch: &w.inputBatch, counters: w.counters)
        }
    }

    /// A fresh event of this worker's slab, for sources that write events themselves.
    @inline(__always) func takeEvent() -> Event? { guaranteed._withUnsafeGuaranteedRef { $0.slab.pointee.take(forFraming: true) } }

    /// Appends a filled event to the input batch (room: `batchCapacity` per dispatch).
    @inline(__always) func append(_ handle: EventHandle) { guaranteed._withUnsafeGuaranteedRef { $0.inputBatch.append(handle) } }
    var batchCapacity: Int { worker.inputBatch.capacity }
    /// Events in the input batch now (a family counts what one `frame` call made).
    @inline(__always) var batchCount: Int { guaranteed._withUnsafeGuaranteedRef { $0.inputBatch.count } }

    /// Hands the input batch to the stream's processor (`target` worker): straight to the
    /// actions when it is this worker and nothing waits before it.
    @inline(__always) func dispatch(to target: Int) { worker.dispatchInputBatch(to: target) }

    /// Hands on the record a framer holds without its newline, flagged partial (end of a file,
    /// a closed connection, stdin at stop, a rotated file read to its end). With `endOfSource`,
    /// also the records its decoder still assembles; false when one of those found no free
    /// event: call `waitForFreeEvents()` and again later.
    @discardableResult
    func deliverPartial(_ framer: inout LineFramer, offset: UInt64, to target: Int, endOfSource: Bool = false) -> Bool {
        dispatchEachBatch(to: target) {
            framer.finish(offset: offset, nowNanos: worker.now, slab: worker.slab, batch: &worker.inputBatch,
                          counters: worker.counters, endOfSource: endOfSource)
        }
    }

    /// Hands on the records a framer's decoder assembles whose last line was read at or before
    /// `cutoff` (`LineFramer.flushLatePending`); false when one found no free event: call
    /// `waitForFreeEvents()` and again later.
    func flushLatePending(_ framer: inout LineFramer, updatedBy cutoff: UInt64, to target: Int) -> Bool {
        dispatchEachBatch(to: target) {
            framer.flushLatePending(updatedBy: cutoff, nowNanos: worker.now, slab: worker.slab, batch: &worker.inputBatch,
                                    counters: worker.counters)
        }
    }

    /// Runs `step` (a framer handing on what it holds) until it is done or the pool is
    /// exhausted, dispatching the input batch after each step; false when the pool ran out.
    private func dispatchEachBatch(to target: Int, _ step: () -> LineFramer.Finish) -> Bool {
        while true {
            let outcome = step()
            worker.dispatchInputBatch(to: target)
            switch outcome {
            case .batchFull: continue
            case .done: return true
            case .poolExhausted: return false
            }
        }
    }

    /// Gives back a framer's half-assembled record (it will be read again).
    func abandon(_ framer: inout LineFramer) { framer.abandon(slab: worker.slab) }

    /// The source found no free event: it stops where it is, the others are still served in this
    /// turn, and the worker retries once events come back (backpressure per source).
    @inline(__always) func waitForFreeEvents() { worker.poolExhausted = true }
    /// Set by `waitForFreeEvents()` until events come back.
    @inline(__always) var poolExhausted: Bool { worker.poolExhausted }

    // MARK: Pipelines

    /// Pipeline `slot` is being stopped by a reload (its connections close once quiet).
    @inline(__always) func pipelineStopping(_ slot: Int) -> Bool { worker.pipelineStopping(slot) }
    /// When this worker began stopping pipeline `slot`.
    func stopNanos(pipeline slot: Int) -> UInt64 { worker.slotProgress[slot].stopNanos }
    func pipelineName(_ slot: Int) -> String { worker.pipelineNames[slot] }
}
