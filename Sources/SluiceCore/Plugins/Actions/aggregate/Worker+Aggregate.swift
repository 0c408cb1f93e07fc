import CSupport

extension Worker {
    /// Emits aggregate rows when their interval is due, and the final rows once no more events
    /// can reach this worker (every worker's inputs finished, nothing queued here). Rows are new
    /// events of this worker's slab that continue with the actions after the aggregate.
    func emitAggregates() -> Bool {
        var progressed = false
        for (p, a) in aggregators {
            guard case .aggregate(let action) = actionTable[p][a].kind, let state = action.state else { continue }
            if state.pointee.finalEmitted { continue }
            var due = false
            var final = false
            if action.intervalNanos > 0 {
                if state.pointee.nextEmitNanos == 0 { state.pointee.nextEmitNanos = now + action.intervalNanos }
                if now >= state.pointee.nextEmitNanos { due = true }
            }
            // Final rows: at node shutdown once no event can reach this worker any more, or when
            // a reload retires the pipeline (the control thread saw it hold no event).
            if (stopping && allInputsFinishedEverywhere() && carryPosition == carry.count && pendingCount == 0 && !hasInboundWork()) || slotProgress[p].phase == .finalizing {
                due = true
                final = true
            }
            guard due else { continue }
            // Resume where a previous pass stopped (pool or output full).
            while state.pointee.emitCursor < state.pointee.capacity {
                let i = state.pointee.emitCursor
                if let row = action.row(i) {
                    if row.count > Int(slab.pointee.smallSlotBytes - slab.pointee.headerAndIndexBytes) {
                        // It can never fit an event slot (a key near max-key-bytes with a small
                        // --event-size): waiting for a free event would stall every later row
                        // and the shutdown. Dropped, logged and counted.
                        Log.error("action aggregate", "pipeline \(pipelineNames[p]): a row of \(row.count) bytes does not fit an event slot (--event-size \(slab.pointee.smallSlotBytes) bytes less the header and field index); it is dropped: \(String(decoding: row.prefix(200), as: UTF8.self))")
                        counters.add(.aggregateSkipped, 1, pipeline: p)
                        state.pointee.emitCursor += 1
                        continue
                    }
                    guard let event = slab.pointee.take() else {
                        poolExhausted = true
                        return progressed
                    }
                    row.withUnsafeBytes { event.data.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                    event.fill(length: row.count, offset: 0, sourceID: 0, pipeline: p, receivedNanos: now)
                    // A row is a JSON object: index it so later actions can use its fields.
                    event.indexJSON()
                    // A row that cannot go on now is made again on the next pass.
                    var handle = event.header.pointee.handle, next = a + 1, cursor: UInt32 = 0
                    if !process(&handle, from: &next, cursor: &cursor) {
                        abandon(handle)
                        return progressed
                    }
                    counters.add(.aggregateRows, 1, pipeline: p)
                    progressed = true
                }
                state.pointee.emitCursor += 1
            }
            action.reset()
            state.pointee.nextEmitNanos = now + action.intervalNanos
            if final { state.pointee.finalEmitted = true }
        }
        return progressed
    }

    func allInputsFinishedEverywhere() -> Bool {
        for w in 0..<workerCount where !shared.flag(w, .inputsFinished) { return false }
        return true
    }

    func aggregatesFinal() -> Bool {
        for (p, a) in aggregators {
            if case .aggregate(let action) = actionTable[p][a].kind, let state = action.state, !state.pointee.finalEmitted { return false }
        }
        return true
    }
}
