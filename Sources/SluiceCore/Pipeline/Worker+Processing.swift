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
        if !event.header.pointee.flags.isDisjoint(with: .linked) {
            releaseLinked(handle)
            return
        }
        counters.add(.released, 1, pipeline: Int(event.header.pointee.pipelineID))
        inputs.acknowledged(sourceID: event.header.pointee.sourceID, offset: event.header.pointee.offset)
        slab.pointee.release(handle)
    }

    /// Releases an event that actions linked to others, following the links in stream order:
    /// a large slot an action moved the event into (`grown`) gives way to the slot it was framed
    /// in, so the count and the commit happen once, at its owner; an event `split` made
    /// (`derived`) is counted but commits nothing; an event `join` folded the next one into
    /// (`chained`) is counted and committed, then the next one is released (a loop, not
    /// recursion: a joined record may hold thousands of lines).
    func releaseLinked(_ first: EventHandle) {
        var handle = first
        while true {
            let event = slab.pointee.event(handle)
            let flags = event.header.pointee.flags
            let next: EventHandle
            if flags.contains(.grown) {
                next = event.header.pointee.origin
                slab.pointee.release(handle)
            } else {
                counters.add(.released, 1, pipeline: Int(event.header.pointee.pipelineID))
                if !flags.contains(.derived) { inputs.acknowledged(sourceID: event.header.pointee.sourceID, offset: event.header.pointee.offset) }
                let chained = flags.contains(.chained)
                next = event.header.pointee.origin
                slab.pointee.release(handle)
                if !chained { return }
            }
            if EventHandles.slab(next) != index {
                release(next)
                return
            }
            handle = next
        }
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
        if pendingCount > 0 {
            // Emitted events that could not go on: ahead of everything queued.
            if !drainPending(above: 0) { return false }
            any = true
        }
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
            // Blocked on an output or waiting for room: the event (maybe moved) resumes where
            // it stopped.
            var handle = carry[carryPosition]
            if !process(&handle, from: &carryNextAction, cursor: &carryCursor) {
                carry.handles[carryPosition] = handle
                return any
            }
            carryNextAction = 0
            carryCursor = 0
            carryPosition += 1
            any = true
        }
        carry.count = 0
        carryPosition = 0
        return any
    }

    /// Whether every output of the pipeline has room for the event (each takes every event:
    /// written, or holding its place), flushing a full one first.
    @inline(__always) func outputsCanAccept(_ event: Event, _ outs: UnsafeMutablePointer<OutputBatcher>, _ count: Int, pipeline: Int) -> Bool {
        var o = 0
        while o < count {
            if !outs[o].canAccept(event) {
                if !outs[o].flush(context: outputContext(pipeline, o)) { return false }
                if !outs[o].canAccept(event) { return false }
            }
            o += 1
        }
        return true
    }

    /// Whether no output of the pipeline holds an event (written or holding its place).
    @inline(__always) func outputsHoldNoEvents(_ outs: UnsafeMutablePointer<OutputBatcher>, _ count: Int) -> Bool {
        var o = 0
        while o < count {
            if !outs[o].holdsNoEvents { return false }
            o += 1
        }
        return true
    }

    /// Runs the actions from `nextAction` on and hands the event to its outputs. False when it
    /// must wait (an output cannot take it now, or an action waits for room); `handle` (an
    /// action may have moved the event), `nextAction` and `cursor` (an action making events
    /// from it) then say where to resume. Events actions emitted and that could not go on yet
    /// (`pending`) go first, whichever event they came from: they are ahead in their stream.
    @inline(__always) func process(_ handle: inout EventHandle, from nextAction: inout Int, cursor: inout UInt32) -> Bool {
        if pendingCount > 0 && !drainPending(above: 0) { return false }
        return run(&handle, from: &nextAction, cursor: &cursor)
    }

    // MARK: Events actions emit

    /// Runs the emitted events waiting on the pending stack above entry `base`, the latest first
    /// (an event's own emitted events sit above it and go before it). False when the top one
    /// must wait. An entry being run stays on the stack (its state is written back if it must
    /// wait), so what it emits is drained above it, never it again.
    func drainPending(above base: Int) -> Bool {
        while pendingCount > base {
            let i = pendingCount - 1
            var entry = pending[i]
            if !run(&entry.handle, from: &entry.nextAction, cursor: &entry.cursor) {
                pending[i] = entry
                return false
            }
            precondition(pendingCount == i + 1, "an emitted event's own emitted events are left pending")
            pendingCount = i
        }
        return true
    }

    /// Puts an event an action hands on (emitted, or a held one let go, such as a joined record
    /// whose timeout passed) on the pending stack, to run from action `nextAction` on.
    func pushPending(_ handle: EventHandle, nextAction: Int) {
        precondition(pendingCount < Worker.maxPendingEvents, "more nested emitted events than Worker.maxPendingEvents")
        let event = slabTable[EventHandles.slab(handle)].event(handle)
        if event.header.pointee.flags.contains(.derived) {
            counters.add(.derived, 1, pipeline: Int(event.header.pointee.pipelineID))
        }
        pending[pendingCount] = PendingEvent(handle: handle, nextAction: nextAction, cursor: 0)
        pendingCount += 1
    }

    /// `process` without the pending stack first: runs one event's actions and delivers it.
    @inline(__always) func run(_ handle: inout EventHandle, from nextAction: inout Int, cursor: inout UInt32) -> Bool {
        var event = slabTable[EventHandles.slab(handle)].event(handle)
        let pipeline = Int(event.header.pointee.pipelineID)
        let outs = outputs[pipeline]
        let outputCount = outputCounts[pipeline]
        if !outputsCanAccept(event, outs, outputCount, pipeline: pipeline) { return false }
        // Actions run once: an event refused above is retried before its actions ran.
        let chain = actionTable[pipeline]
        let count = actionCounts[pipeline]
        if nextAction < count {
            var context = ActionContext(event: event, handle: handle, slab: slab)
            context.cursor = cursor
            let sampleAt = sampler.requested(pipeline: pipeline)
            var a = nextAction
            while a < count {
                let verdict: Action.Verdict
                if let s = sampleAt, s == a, sampler.claim() {
                    sampler.record(before: context.event)
                    verdict = withUnsafeMutablePointer(to: &context) { Action.apply(chain + a, $0.pointee.event, counters: counters, pipeline: pipeline, context: $0) }
                    if verdict == .wait || verdict == .emit { sampler.unclaim() } else { sampler.finish(after: context.event, verdict: verdict) }
                } else {
                    verdict = withUnsafeMutablePointer(to: &context) { Action.apply(chain + a, $0.pointee.event, counters: counters, pipeline: pipeline, context: $0) }
                }
                if verdict == .wait {
                    handle = context.handle
                    nextAction = a
                    cursor = context.cursor
                    return false
                }
                if verdict == .emit {
                    // The emitted event goes first, through the actions after this one; then
                    // this action sees the same event again, from its cursor.
                    handle = context.handle
                    nextAction = a
                    cursor = context.cursor
                    let base = pendingCount
                    pushPending(context.emitted!, nextAction: a + 1)
                    if !drainPending(above: base) { return false }
                    event = context.event
                    if !outputsCanAccept(event, outs, outputCount, pipeline: pipeline) { return false }
                    context = ActionContext(event: event, handle: handle, slab: slab)
                    context.cursor = cursor
                    continue
                }
                if verdict == .held {
                    // The action keeps the event (folded into a record it will hand on later);
                    // its release and commit come with that record's.
                    counters.addActionVerdict(row: actionRowBase[pipeline] &+ a, consumed: true)
                    return true
                }
                if verdict != .pass {
                    counters.add(verdict == .drop ? .discarded : .aggregated, 1, pipeline: pipeline)
                    counters.addActionVerdict(row: actionRowBase[pipeline] &+ a, consumed: verdict != .drop)
                    if outputsHoldNoEvents(outs, outputCount) {
                        // No earlier event waits in an output: released now, it is still
                        // released (and its offset committed) after every earlier one.
                        release(context.handle)
                    } else {
                        // It holds its place in the outputs' queues, so it is released only
                        // after the earlier events there.
                        context.event.set(.discarded)
                        hand(context.event, handle: context.handle, routes: 0, to: outs, count: outputCount, pipeline: pipeline)
                    }
                    return true
                }
                a += 1
            }
            nextAction = count
            if context.handle != handle {
                // Moved to a large slot: its encoding may need more of the output buffers.
                handle = context.handle
                event = context.event
                if !outputsCanAccept(event, outs, outputCount, pipeline: pipeline) { return false }
            }
        }
        deliver(event, handle: handle, to: outs, count: outputCount, pipeline: pipeline)
        return true
    }

    /// Hands a processed event to every output of its pipeline: written by those whose route
    /// matches, a placeholder in the others. An event no route matches is counted (`unrouted`).
    @inline(__always) func deliver(_ event: Event, handle: EventHandle, to outs: UnsafeMutablePointer<OutputBatcher>, count: Int, pipeline: Int) {
        if count == 1 && !outs[0].hasRoute {
            // The common pipeline: one output taking every event.
            event.route(1, acknowledgements: 1)
            outs[0].append(event, handle: handle, context: outputContext(pipeline, 0))
            return
        }
        deliverRouted(event, handle: handle, to: outs, count: count, pipeline: pipeline)
    }

    func deliverRouted(_ event: Event, handle: EventHandle, to outs: UnsafeMutablePointer<OutputBatcher>, count: Int, pipeline: Int) {
        var routes: UInt32 = 0
        var o = 0
        while o < count {
            if outs[o].routeMatches(event) { routes |= outs[o].routeBit }
            o += 1
        }
        if routes == 0 { counters.add(.unrouted, 1, pipeline: pipeline) }
        hand(event, handle: handle, routes: routes, to: outs, count: count, pipeline: pipeline)
    }

    /// Gives the event to every output: written where its bit in `routes` is set, a placeholder
    /// elsewhere; it is released once all `count` acknowledged it.
    func hand(_ event: Event, handle: EventHandle, routes: UInt32, to outs: UnsafeMutablePointer<OutputBatcher>, count: Int, pipeline: Int) {
        event.route(routes, acknowledgements: count)
        var o = 0
        while o < count {
            if routes & outs[o].routeBit != 0 {
                outs[o].append(event, handle: handle, context: outputContext(pipeline, o))
            } else {
                outs[o].appendPlaceholder(handle, context: outputContext(pipeline, o))
            }
            o += 1
        }
    }

    /// One output acknowledged the event; it is released when the last one did.
    @inline(__always) func outputAcked(_ handle: EventHandle) {
        if slabTable[EventHandles.slab(handle)].event(handle).acknowledgedOnce() { release(handle) }
    }

    /// An event that never reached an output (an aggregate row that could not go on): its slot,
    /// and the one it was framed in if an action moved it, go back without a count or commit.
    func abandon(_ handle: EventHandle) {
        let event = slab.pointee.event(handle)
        if event.header.pointee.flags.contains(.grown) { slab.pointee.release(event.header.pointee.origin) }
        slab.pointee.release(handle)
    }

    func flushOutputs(idle: Bool) -> Bool {
        var any = false
        for p in 0..<pipelineCount {
            if hasDiskBuffers { setBufferModes(slot: p) }
            for o in 0..<outputCounts[p] {
                any = outputs[p][o].tick(idle: idle || stopping, context: outputContext(p, o)) || any
            }
        }
        return any
    }
}
