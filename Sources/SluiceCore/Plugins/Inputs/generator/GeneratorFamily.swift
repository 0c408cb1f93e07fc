import Glibc

/// The generator family on one worker: its shares of the node's generator inputs, each
/// writing lines straight into pool events at its rate.
final class GeneratorFamily: SourceFamily {
    struct Assignment: SourceAssignment {
        var generators: [GeneratorSource] = []
        mutating func merge(_ other: Assignment) { generators += other.generators }
        func closeAll() {}
    }

    let worker: Int
    var generators: [GeneratorSource]

    init(worker: Int, settings: NodeSettings, assignment: Assignment) {
        self.worker = worker
        generators = assignment.generators
    }

    /// Every worker makes an equal share of the count and the rate.
    static func prepare(_ g: GeneratorInput, _ preparation: inout InputPreparation, into assignments: inout [WorkerAssignment]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let workerCount = preparation.workerCount
        for w in 0..<workerCount {
            let count = g.count == 0 ? 0 : g.count / workerCount + (w < g.count % workerCount ? 1 : 0)
            if g.count != 0 && count == 0 { continue }
            let rate = g.rate == 0 ? 0 : max(1, g.rate / workerCount)
            var generator = GeneratorSource(pipeline: preparation.slot, target: w, count: count, rate: rate, lineBytes: g.lineBytes,
                                            seed: g.seed &+ UInt64(w) &* 7919,
                                            sourceID: SourceIDs.make(worker: w, kind: .generator, generation: 0, index: assignments[w].inputs.generator.generators.count),
                                            timestampBase: UInt64(ts.tv_sec) * 1000)
            generator.inputRow = preparation.inputRow
            assignments[w].inputs.generator.generators.append(generator)
        }
    }

    func start(_ context: InputContext) {}
    func maintain(_ context: InputContext) {}

    func service(_ context: InputContext) -> Bool {
        var progressed = false
        for g in generators.indices where !generators[g].finished {
            progressed = serviceGenerator(g, context) || progressed
        }
        return progressed
    }

    static let kind = SourceIDs.Kind.generator

    func complete(_ kind: NoCompletion, _ a: Int, _ b: Int, result: Int32, flags: UInt32, _ context: InputContext) {
        preconditionFailure("completion routed to the generator family, which issues no I/O")
    }

    func stop(pipeline: Int?, _ context: InputContext) {
        for g in generators.indices where pipeline.map({ $0 == generators[g].pipeline }) ?? true { generators[g].finished = true }
    }

    /// A generator ends at once when stopped.
    func isQuiet(pipeline slot: Int) -> Bool { true }

    func isFinished(stopping: Bool) -> Bool { generators.allSatisfy(\.finished) }

    /// A generator with a rate is looked at every millisecond.
    func deadline(before deadline: UInt64, now: UInt64) -> UInt64 {
        for g in generators.indices where !generators[g].finished && generators[g].ratePerWorker > 0 {
            return min(deadline, now + 1_000_000)
        }
        return deadline
    }

    func install(_ assignment: Assignment, _ context: InputContext) {
        for var generator in assignment.generators {
            generator.sourceID = SourceIDs.make(worker: worker, kind: .generator, generation: 0, index: generators.count)
            generators.append(generator)
        }
    }

    func retire(pipeline slot: Int) {}

    @inline(__always) func acknowledged(sourceID: UInt32, offset: UInt64) {}
    func close() {}

    func serviceGenerator(_ g: Int, _ context: InputContext) -> Bool {
        guard !generators[g].finished, !context.stopping else { return false }
        let now = context.now
        var allowed = context.batchCapacity
        if generators[g].ratePerWorker > 0 {
            if generators[g].startNanos == 0 { generators[g].startNanos = now }
            let elapsed = Double(now - generators[g].startNanos) / 1e9
            let due = Int(elapsed * Double(generators[g].ratePerWorker)) + 1 - generators[g].produced
            allowed = min(allowed, max(0, due))
        }
        if generators[g].remaining >= 0 { allowed = min(allowed, generators[g].remaining) }
        if allowed == 0 {
            if generators[g].remaining == 0 { generators[g].finished = true }
            return false
        }
        var made = 0
        let pipeline = generators[g].pipeline
        let counters = context.counters
        while made < allowed {
            guard let e = context.takeEvent() else { context.waitForFreeEvents(); break }
            let n = generators[g].writeLine(into: e.data)
            e.fill(length: n, offset: generators[g].sequence, sourceID: generators[g].sourceID, pipeline: pipeline, receivedNanos: now)
            counters.add(.eventsIn, 1, pipeline: pipeline)
            counters.add(.bytesIn, n, pipeline: pipeline)
            counters.addInput(row: generators[g].inputRow, bytes: n)
            context.append(e.header.pointee.handle)
            made += 1
        }
        generators[g].produced += made
        if generators[g].remaining > 0 { generators[g].remaining -= made }
        if generators[g].remaining == 0 { generators[g].finished = true }
        context.dispatch(to: generators[g].target)
        return made > 0
    }
}
