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
    /// The family's own completion kinds (at most 8: `userData`).
    associatedtype Completion: RawRepresentable where Completion.RawValue == UInt8
    /// Its identity in source IDs and completions (`SourceIDs.Kind`, listed in the registry).
    static var kind: SourceIDs.Kind { get }

    init(worker: Int, settings: NodeSettings, assignment: Assignment)
    /// On the worker thread, its ring ready: arm reads, accepts, watches. A failure fails the worker.
    func start(_ context: InputContext) throws(SystemError)
    /// Every turn, whatever the pool: timers (rescans, idle connections).
    func maintain(_ context: InputContext)
    /// Frames what arrived and issues new reads; true when anything moved. A source that finds no
    /// free event calls `context.waitForFreeEvents()` and stops; the others go on.
    func service(_ context: InputContext) -> Bool
    /// A completion of one of the family's kinds (`a`, `b`: the family's own numbers, as given to
    /// `userData`).
    func complete(_ kind: Completion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext)
    /// Stops reading: every source, or only pipeline `pipeline`'s (a reload).
    func stop(pipeline: Int?, _ context: InputContext)
    /// Nothing of the family reads into pipeline `slot` any more.
    func isQuiet(pipeline slot: Int) -> Bool
    /// Nothing of the family will read again (`stopping`: the node stops, listeners don't count).
    func isFinished(stopping: Bool) -> Bool
    /// The earliest of `deadline` and the family's next timer (a poll, a rate step).
    func deadline(before deadline: UInt64, now: UInt64) -> UInt64
    /// One of the family's events came back acknowledged by every output it was routed to, on
    /// the worker that read it (`sourceID` names the source, `offset` is the event's): commit
    /// its offset. Only these two, not the event: an output may have given the event's slot back
    /// before the destination answered (`OutputBatcher+Detached.swift`). Per event, so keep it
    /// to a few loads and stores.
    func acknowledged(sourceID: UInt32, offset: UInt64)
    /// A stable 64-bit name of the source that made `event` (one of this family's, read by this
    /// worker), the same after a restart, so that an output whose destination drops duplicates
    /// by id (nats) can tell a line read again from a new one; nil when the source has none.
    func identity(of event: Event) -> UInt64?
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

extension SourceFamily {
    /// Sources whose events cannot be read again after a restart (sockets, generators) have no
    /// stable identity.
    func identity(of event: Event) -> UInt64? { nil }

    /// The ring user data of one of the family's operations: its completion comes back to this
    /// family's `complete` with `kind`, `a` (24 bits) and `b` (32 bits). The top byte is
    /// 1 · family kind (4 bits) · completion kind (3 bits); the worker's own kinds
    /// (`CompletionKind`) stay below 0x80.
    @inline(__always) static func userData(_ kind: Completion, _ a: Int, _ b: Int = 0) -> UInt64 {
        precondition(kind.rawValue < 8, "a source family has at most 8 completion kinds")
        let top = 0x80 | UInt64(Self.kind.rawValue) << 3 | UInt64(kind.rawValue)
        return top << 56 | UInt64(a & 0xFF_FFFF) << 32 | UInt64(UInt32(truncatingIfNeeded: b))
    }
}

/// The completion kinds of a family that issues no I/O.
enum NoCompletion: UInt8 { case none }
