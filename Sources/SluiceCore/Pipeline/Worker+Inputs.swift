/// The worker's side of its inputs: it owns no source state, it visits its source families
/// (one concrete instance each, so every call is static) from its loop and hands each an
/// `InputContext`.
///
/// The families themselves are listed once, in the registry (`Plugins/InputFamilies.swift`).
extension Worker {
    /// Runs one operation on every family.
    @inline(__always) func callInputFamilies(_ operation: FamilyCall.Operation) -> FamilyCall {
        var call = FamilyCall(operation, InputContext(self))
        inputs.visit(&call)
        return call
    }

    /// A completion whose user data a family made (`SourceFamily.userData`): to that family.
    func inputCompleted(userData: UInt64, result: Int32, flags: UInt32) {
        var call = FamilyCall(.complete(userData: userData, result: result, flags: flags), InputContext(self))
        inputs.visit(&call)
        precondition(call.answer == false, "completion \(String(userData, radix: 16)) of no input family")
    }

    /// Once the ring exists: every family arms its reads, accepts and watches.
    func startInputs() throws(SystemError) {
        if let error = callInputFamilies(.start).error { throw error }
    }

    /// Timers that run every turn whatever the pool (glob rescans, idle connections).
    func maintainInputs() {
        _ = callInputFamilies(.maintain)
    }

    /// Lets every input frame what arrived and issue new reads. A source that finds no free
    /// event stops where it is (backpressure: no new reads or receive buffers for it until
    /// events come back), and `poolExhausted` is set; the other sources are still served in
    /// this turn. They may need no new event: a source holding a half-read long record in a
    /// large slot only needs its next bytes, and stopping every source at the first one that
    /// waits for a large slot would leave those records, and the large slots, held forever.
    func runInputs() -> Bool {
        if poolExhausted {
            // Retry only when something was released since (takeBackReleased / local releases).
            if slab.pointee.freeSmallCount == 0 { return false }
            poolExhausted = false
        }
        return callInputFamilies(.service).answer
    }

    /// SIGTERM/SIGINT or all inputs done: stop reading (each family says how: files drop a
    /// half-read record, listeners close, connections are read until quiet). With `pipeline`,
    /// only that pipeline's inputs stop (a reload).
    func stopInputs(pipeline: Int? = nil) {
        _ = callInputFamilies(.stop(pipeline: pipeline))
    }

    func inputsFinished() -> Bool {
        callInputFamilies(.isFinished(stopping: stopping)).answer
    }

    /// True when nothing of this worker reads into pipeline `slot` any more.
    func inputsQuiet(pipeline slot: Int) -> Bool {
        callInputFamilies(.isQuiet(pipeline: slot)).answer
    }

    /// The earliest of `deadline` and every family's next timer.
    func inputDeadline(before deadline: UInt64) -> UInt64 {
        callInputFamilies(.deadline(deadline)).deadline
    }

    /// A reload's new sources for this worker.
    func installInputs(_ assignment: WorkerAssignment) {
        _ = callInputFamilies(.install(assignment.inputs))
    }

    /// Frees the finished sources of a pipeline a reload replaced.
    func retireInputs(pipeline slot: Int) {
        _ = callInputFamilies(.retire(pipeline: slot))
    }

    func closeInputs() {
        _ = callInputFamilies(.close)
    }
}

/// One operation over every source family of a worker (`Worker.visitInputFamilies`): generic
/// over the family, so each call is specialised to the concrete family, never an existential.
protocol SourceFamilyVisitor {
    /// `share`: where the family's part of a worker's assignment is.
    mutating func visit<Family: SourceFamily>(_ family: Family, _ share: KeyPath<InputAssignments, Family.Assignment>)
}

/// One `SourceFamily` entry point called on every family, with what the calls answered.
struct FamilyCall: SourceFamilyVisitor {
    enum Operation {
        case start, maintain, service, stop(pipeline: Int?), isFinished(stopping: Bool), isQuiet(pipeline: Int)
        case deadline(UInt64), retire(pipeline: Int), close
        case install(InputAssignments)
        /// Routed to the family whose kind is in the user data's top byte.
        case complete(userData: UInt64, result: Int32, flags: UInt32)
    }

    let operation: Operation
    let context: InputContext
    /// `service`: any family progressed; `isFinished`, `isQuiet`: every family is;
    /// `complete`: no family took it yet.
    var answer: Bool
    var deadline: UInt64 = 0
    var error: SystemError?

    init(_ operation: Operation, _ context: InputContext) {
        self.operation = operation
        self.context = context
        switch operation {
        case .service: answer = false
        case .deadline(let d):
            answer = true
            deadline = d
        default: answer = true
        }
    }

    @inline(__always) mutating func visit<Family: SourceFamily>(_ family: Family, _ share: KeyPath<InputAssignments, Family.Assignment>) {
        switch operation {
        case .start:
            guard error == nil else { return }
            do { try family.start(context) } catch { self.error = error }
        case .maintain: family.maintain(context)
        case .service: answer = family.service(context) || answer
        case .stop(let pipeline): family.stop(pipeline: pipeline, context)
        case .isFinished(let stopping): answer = answer && family.isFinished(stopping: stopping)
        case .isQuiet(let slot): answer = answer && family.isQuiet(pipeline: slot)
        case .deadline: deadline = family.deadline(before: deadline, now: context.now)
        case .retire(let slot): family.retire(pipeline: slot)
        case .close: family.close()
        case .install(let assignments): family.install(assignments[keyPath: share], context)
        case .complete(let userData, let result, let flags):
            let top = userData >> 56
            guard (top >> 3) & 0xF == UInt64(Family.kind.rawValue) else { return }
            guard let kind = Family.Completion(rawValue: UInt8(top & 7)) else {
                preconditionFailure("completion kind \(top & 7) unknown to the \(Family.kind) family")
            }
            family.complete(kind, Int((userData >> 32) & 0xFF_FFFF), Int(UInt32(truncatingIfNeeded: userData)),
                            result: result, flags: flags, context)
            answer = false
        }
    }
}
