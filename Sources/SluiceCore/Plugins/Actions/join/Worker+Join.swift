extension Worker {
    /// Hands on the records `join` holds once they are due: idle for the action's timeout, or
    /// all of them when the node or the pipeline stops. Each goes through the actions after the
    /// join and to the outputs like any event; one that cannot go on now waits on the pending
    /// stack, ahead of everything else (`drainPending`).
    func flushHeldEvents() -> Bool {
        // What waits already goes first (and a record goes to the bottom of the stack).
        if pendingCount > 0 && !drainPending(above: 0) { return false }
        var progressed = false
        for (p, a) in holders {
            guard case .join(let action) = actionTable[p][a].kind else { continue }
            let all = stopping || slotProgress[p].phase != .running
            while let record = action.takeDue(now: now, all: all) {
                pushPending(record.header.pointee.handle, nextAction: a + 1)
                progressed = true
                if !drainPending(above: 0) { return progressed }
            }
        }
        return progressed
    }
}
