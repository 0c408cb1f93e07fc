/// One family of input sources (file and stdin, tcp, generator, …) as one worker runs it: the
/// family owns the state of all its sources on that worker, and the worker only calls these
/// entry points from its loop (`Worker+Inputs.swift`). Each worker holds one concrete instance
/// per family in a stored property, so every call is static; a family's per-event work
/// (framing) is plain struct code inside `service`.
///
/// Life cycle: `prepare` (a static function of the family, on the control thread: opens what
/// a pipeline's input needs and puts it into the workers' `Assignment`s) → `init` on the control
/// thread → `start` on the worker thread once its ring exists → every turn `maintain`, then
/// `service`, and `complete` for each completion of its kinds → `stop` (node stop, or one
/// pipeline's reload) → `isQuiet`/`isFinished` → `close` at exit. A reload adds sources with
/// `install` and frees a replaced pipeline's finished ones with `retire`.
protocol SourceFamily: AnyObject {
    /// What the control thread prepared for one worker (opened descriptors, sources).
    associatedtype Assignment: SourceAssignment

    init(worker: Int, settings: NodeSettings, assignment: Assignment)
    /// On the worker thread, its ring ready: arm reads, accepts, watches. A failure fails the worker.
    func start(_ context: InputContext) throws(SystemError)
    /// Every turn, whatever the pool: timers (rescans, idle connections).
    func maintain(_ context: InputContext)
    /// Frames what arrived and issues new reads; true when anything moved. A source that finds no
    /// free event calls `context.waitForFreeEvents()` and stops; the others go on.
    func service(_ context: InputContext) -> Bool
    /// A completion of one of the family's kinds (`a`, `b`: the family's own numbers).
    func complete(_ kind: CompletionKind, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext)
    /// Stops reading: every source, or only pipeline `pipeline`'s (a reload).
    func stop(pipeline: Int?, _ context: InputContext)
    /// Nothing of the family reads into pipeline `slot` any more.
    func isQuiet(pipeline slot: Int) -> Bool
    /// Nothing of the family will read again (`stopping`: the node stops, listeners don't count).
    func isFinished(stopping: Bool) -> Bool
    /// The earliest of `deadline` and the family's next timer (a poll, a rate step).
    func deadline(before deadline: UInt64, now: UInt64) -> UInt64
    /// A reload's new sources for this worker.
    func install(_ assignment: Assignment, _ context: InputContext)
    /// Frees the finished sources of a pipeline a reload replaced.
    func retire(pipeline slot: Int)
    /// At exit: closes every descriptor.
    func close()
}

/// A family's share of one worker's `WorkerAssignment`.
protocol SourceAssignment {
    init()
    /// Adds another preparation's sources (a reload that prepared pipelines one by one).
    mutating func merge(_ other: Self)
    /// Closes every descriptor in it (a preparation that failed or that a worker did not use).
    func closeAll()
}
