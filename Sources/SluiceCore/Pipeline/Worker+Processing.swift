import CSupport

/// The processing half of a worker: events other workers (or its own inputs) queued for it go
/// through the actions to the outputs; finished events go back to their owner's slab.
extension Worker {
    // MARK: Releasing events

    /// Returns an event to its slab: directly when this worker owns it, else through the
    /// owner's return ring (batched).
    @inline(__always) func release(_ handle: EventHandle) {
        let owner = EventHandles.slab(handle)
        if owner == index {
            releaseOwned(handle)
            return
        }
        returnBatches[owner].append(handle)
        if returnBatches[owner].isFull { flushReturn(owner) }
    }

    /// An event of this worker's slab is done: commit its offset, then free its slot.
    @inline(__always) func releaseOwned(_ handle: EventHandle) {
        let event = slab.pointee.event(handle)
        counters.add(.released, 1, pipeline: Int(event.header.pointee.pipelineID))
        commit(event)
        slab.pointee.release(handle)
    }

    func flushReturn(_ owner: Int) {
        let batch = returnBatches[owner]
        if batch.count == 0 { return }
        let pushed = returns[index * workerCount + owner].push(batch.handles, count: batch.count)
        precondition(pushed == batch.count, "return ring over capacity")
        returnBatches[owner].count = 0
        wakeTargets[owner] = true
        lastCrossTrafficNanos = now
    }

    func flushReturns() {
        for w in 0..<workerCount where w != index { flushReturn(w) }
        for w in 0..<workerCount where wakeTargets[w] {
            wakeTargets[w] = false
            shared.wake(w)
        }
    }

    /// Takes back events other workers finished with.
    func takeBackReleased() -> Bool {
        var any = false
        for from in 0..<workerCount where from != index {
            while true {
                let n = returns[from * workerCount + index].pop(into: scratch.handles, max: scratch.capacity)
                if n == 0 { break }
                any = true
                for i in 0..<n { releaseOwned(scratch.handles[i]) }
            }
        }
        if any {
            poolExhausted = false
            lastCrossTrafficNanos = now
        }
        return any
    }

    /// Hands the framed events in `inputBatch` to the stream's processor.
    func dispatchInputBatch(to target: Int) {
        if inputBatch.count == 0 { return }
        let pushed = forward[index * workerCount + target].push(inputBatch.handles, count: inputBatch.count)
        precondition(pushed == inputBatch.count, "forward ring over capacity")
        inputBatch.count = 0
        if target != index {
            wakeTargets[target] = true
            lastCrossTrafficNanos = now
        }
    }

    // MARK: Processing

    /// Runs the actions over queued events and hands survivors to the outputs.
    func processInbound() -> Bool {
        var any = false
        while true {
            if carryPosition < carry.count {
                while carryPosition < carry.count {
                    // Blocked on the output: progress only if something went through before.
                    if !process(carry[carryPosition]) { return any }
                    carryPosition += 1
                    any = true
                }
                carry.count = 0
                carryPosition = 0
            }
            var popped = false
            for from in 0..<workerCount {
                let n = forward[from * workerCount + index].pop(into: carry.handles, max: carry.capacity)
                if n > 0 {
                    if from != index { lastCrossTrafficNanos = now }
                    carry.count = n
                    carryPosition = 0
                    popped = true
                    break
                }
            }
            if !popped { return any }
        }
    }

    /// False when the output cannot take the event now (the event stays queued).
    @inline(__always) func process(_ handle: EventHandle) -> Bool { process(handle, firstAction: 0) }

    @inline(__always) func process(_ handle: EventHandle, firstAction: Int) -> Bool {
        let event = slabTable[EventHandles.slab(handle)].event(handle)
        let pipeline = Int(event.header.pointee.pipelineID)
        if !outputs[pipeline].canAccept(event) {
            if !outputs[pipeline].flush(worker: self) { return false }
            if !outputs[pipeline].canAccept(event) { return false }
        }
        // Actions run once: an event refused above is retried before its actions ran.
        let chain = actionTable[pipeline]
        var a = firstAction
        let count = actionCounts[pipeline]
        let sampleAt = sampler.requested(pipeline: pipeline)
        while a < count {
            let verdict: Action.Verdict
            if let s = sampleAt, s == a, sampler.claim() {
                sampler.record(before: event)
                verdict = chain[a].apply(event, counters: counters, pipeline: pipeline)
                sampler.finish(after: event, verdict: verdict)
            } else {
                verdict = chain[a].apply(event, counters: counters, pipeline: pipeline)
            }
            if verdict != .pass {
                // Dropped events still pass through the output's queue, so they are released
                // (and their offset committed) only after every earlier event of the stream.
                counters.add(verdict == .drop ? .discarded : .aggregated, 1, pipeline: pipeline)
                counters.addActionVerdict(row: actionRowBase[pipeline] &+ a, consumed: verdict != .drop)
                outputs[pipeline].appendDiscarded(event, handle: handle, worker: self)
                return true
            }
            a += 1
        }
        outputs[pipeline].append(event, handle: handle, worker: self)
        return true
    }

    func flushOutputs(idle: Bool) -> Bool {
        var any = false
        for p in 0..<pipelineCount {
            any = outputs[p].tick(now: now, idle: idle || stopping, worker: self) || any
        }
        return any
    }
}
