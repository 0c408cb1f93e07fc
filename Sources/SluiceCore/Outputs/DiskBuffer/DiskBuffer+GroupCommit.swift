/// buffer-sync=batch as a group commit: a stage-1 batch's events are acknowledged to the inputs
/// only once an fdatasync that covers its records completed, but the batcher does not wait for
/// it. Once a batch is written its events move into `held` and its buffer takes events again;
/// one fdatasync is in flight at a time, and when it completes, the events it covers are
/// acknowledged and the next one covers everything written since. So writes go on while the
/// disk syncs, and each fdatasync carries as many batches as came meanwhile (one per batch with
/// one batch in flight bound `batch` to a fraction of the disk's speed: perf/README.md).
extension DiskBuffer {
    /// Stage-1 buffer `batch`, whose `bytes` of records were all written, waits for an
    /// fdatasync covering them. A batch without records (placeholders only) behind nothing held
    /// needs none: it is acknowledged at once.
    mutating func hold(_ batch: EventBatch, bytes: Int, context: OutputContext) {
        precondition(options.sync == .batch, "disk buffer: events held without buffer-sync=batch")
        precondition(Int(heldIn &- heldOut) + batch.count <= heldCapacity, "disk buffer: more events held than the pool has")
        for i in 0..<batch.count { held[Int((heldIn &+ UInt64(i)) % UInt64(heldCapacity))] = batch[i] }
        heldIn &+= UInt64(batch.count)
        if bytes == 0 && !heldSyncInFlight {
            acknowledgeHeld(upTo: heldIn, context: context)
            return
        }
        syncHeld(context: context)
    }

    /// Submits the fdatasync of what is held and not covered by the one in flight: first the
    /// segment closed for writes (`retiringFD`) when events of it wait, then the one being
    /// written. Held events behind no unsynced record (placeholders after the last segment's
    /// sync) are acknowledged at once.
    mutating func syncHeld(context: OutputContext) {
        guard !heldSyncInFlight, heldIn > heldOut else { return }
        if retiringFD >= 0 && heldOut < retiringCovers {
            heldSyncFD = retiringFD
            heldSyncCovers = retiringCovers
        } else if writeFD >= 0 {
            heldSyncFD = writeFD
            heldSyncCovers = heldIn
        } else {
            acknowledgeHeld(upTo: heldIn, context: context)
            return
        }
        heldSyncInFlight = true
        context.ring.fsync(fd: heldSyncFD, dataOnly: true, userData: userData(.heldSync))
    }

    /// The fdatasync of held events completed: they are acknowledged to the inputs (a failed one
    /// is submitted again: nothing it covers is acknowledged before it succeeds).
    mutating func heldSynced(result: Int32, context: OutputContext) {
        precondition(heldSyncInFlight, "disk buffer: fdatasync completion without one in flight")
        guard result >= 0 else {
            context.count(.outputErrors, 1)
            Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "fdatasync \(path)")); retrying")
            context.ring.fsync(fd: heldSyncFD, dataOnly: true, userData: userData(.heldSync))
            return
        }
        heldSyncInFlight = false
        acknowledgeHeld(upTo: heldSyncCovers, context: context)
        if retiringFD >= 0 && heldOut >= retiringCovers {
            context.ring.close(fd: retiringFD, userData: SluiceCore.userData(.close, 0))
            retiringFD = -1
        }
        syncHeld(context: context)
    }

    /// Acknowledges the held events before the running count `end` to the inputs, in the order
    /// they were written; those this output writes are counted as written to the buffer.
    mutating func acknowledgeHeld(upTo end: UInt64, context: OutputContext) {
        let routeBit = UInt32(1) << UInt32(output)
        var records = 0
        while heldOut < end {
            let handle = held[Int(heldOut % UInt64(heldCapacity))]
            let event = context.event(handle)
            if !event.has(EventFlags.discarded) && event.header.pointee.routes & routeBit != 0 { records += 1 }
            context.acknowledge(handle)
            heldOut &+= 1
        }
        recordsWritten(records)
    }
}
