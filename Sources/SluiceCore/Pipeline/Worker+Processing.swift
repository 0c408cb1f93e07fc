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

    /// Hands the framed events in `inputBatch` to the stream's processor. A stream processed
    /// here goes straight to the actions when nothing of this worker waits before it (no carried
    /// batch, nothing queued in its own ring); otherwise it queues behind, keeping stream order.
    func dispatchInputBatch(to target: Int) {
        if inputBatch.count == 0 { return }
        if target == index && carryPosition == carry.count && forward[index * workerCount + index].isEmpty {
            swap(&carry, &inputBatch)
            carryPosition = 0
            inputBatch.count = 0
            _ = processCarry()
            return
        }
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
                any = processCarry() || any
                if carryPosition < carry.count { return any }  // blocked on an output
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

    /// Runs the carried batch until it is done or an output cannot take the next event; true
    /// when any event went through.
    @inline(__always) func processCarry() -> Bool {
        var any = false
        while carryPosition < carry.count {
            if !process(carry[carryPosition]) { return any }
            carryPosition += 1
            any = true
        }
        carry.count = 0
        carryPosition = 0
        return any
    }

    /// False when the output cannot take the event now (the event stays queued).
    @inline(__always) func process(_ handle: EventHandle) -> Bool { process(handle, firstAction: 0) }

    @inline(__always) func process(_ handle: EventHandle, firstAction: Int) -> Bool {
        let event = slabTable[EventHandles.slab(handle)].event(handle)
        let pipeline = Int(event.header.pointee.pipelineID)
        let outs = outputs[pipeline]
        let outputCount = outputCounts[pipeline]
        // Every output takes every event (written, or holding its place), so each must have
        // room for the largest encoding before the actions run.
        var o = 0
        while o < outputCount {
            if !outs[o].canAccept(event) {
                if !outs[o].flush(worker: self) { return false }
                if !outs[o].canAccept(event) { return false }
            }
            o += 1
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
                // Dropped events still pass through the outputs' queues, so they are released
                // (and their offset committed) only after every earlier event of the stream.
                counters.add(verdict == .drop ? .discarded : .aggregated, 1, pipeline: pipeline)
                counters.addActionVerdict(row: actionRowBase[pipeline] &+ a, consumed: verdict != .drop)
                event.header.pointee.flags |= EventFlags.discarded
                event.header.pointee.routes = 0
                event.header.pointee.pendingAcks = UInt32(outputCount)
                o = 0
                while o < outputCount {
                    outs[o].appendPlaceholder(handle, worker: self)
                    o += 1
                }
                return true
            }
            a += 1
        }
        deliver(event, handle: handle, to: outs, count: outputCount, pipeline: pipeline)
        return true
    }

    /// Hands a processed event to every output of its pipeline: written by those whose route
    /// matches, a placeholder in the others. An event no route matches is counted (`unrouted`).
    @inline(__always) func deliver(_ event: Event, handle: EventHandle, to outs: UnsafeMutablePointer<OutputState>, count: Int, pipeline: Int) {
        var routes: UInt32 = 0
        var o = 0
        while o < count {
            if outs[o].route.map({ $0.matches(event) }) ?? true { routes |= outs[o].routeBit }
            o += 1
        }
        event.header.pointee.routes = routes
        event.header.pointee.pendingAcks = UInt32(count)
        if routes == 0 { counters.add(.unrouted, 1, pipeline: pipeline) }
        o = 0
        while o < count {
            if routes & outs[o].routeBit != 0 {
                outs[o].append(event, handle: handle, worker: self)
            } else {
                outs[o].appendPlaceholder(handle, worker: self)
            }
            o += 1
        }
    }

    /// One output acknowledged the event; it is released when the last one did.
    @inline(__always) func outputAcked(_ handle: EventHandle) {
        let header = slabTable[EventHandles.slab(handle)].event(handle).header
        precondition(header.pointee.pendingAcks > 0, "event acknowledged by more outputs than it was given to")
        header.pointee.pendingAcks -= 1
        if header.pointee.pendingAcks == 0 { release(handle) }
    }

    func flushOutputs(idle: Bool) -> Bool {
        var any = false
        for p in 0..<pipelineCount {
            for o in 0..<outputCounts[p] {
                any = outputs[p][o].tick(now: now, idle: idle || stopping, worker: self) || any
            }
        }
        return any
    }
}
