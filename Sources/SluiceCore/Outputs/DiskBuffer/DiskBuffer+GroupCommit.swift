/// buffer-sync=batch as a group commit: a stage-1 batch's events are acknowledged to the inputs
/// only once an fdatasync that covers its records completed, but the batcher does not wait for
/// it. Once a batch is written its events move into `held` and its buffer takes events again;
/// one fdatasync is in flight at a time, and when it completes, the events it covers are
/// acknowledged and the next one covers everything written since. So writes go on while the
/// disk syncs, and each fdatasync carries as many batches as came meanwhile (one per batch with
/// one batch in flight bound `batch` to a fraction of the disk's speed: perf/README.md).
///
/// A held event needs its slot no more: its record is written. Up to `buffer-sync-group` per
/// worker give it back (as an output's detached events do, `OutputBatcher+Detached.swift`) and
/// wait as their source and offset, so a group is bounded by that, not by the worker's share of
/// the pool: with the pool's share (2,048 events at the defaults), fdatasyncs slower than ~20 ms
/// paused senders of 100,000 events/s per worker (perf/README.md, "disk-buffer at full scale").
/// Their offsets still commit only after the fdatasync, in the order they were written.
struct HeldEvent {
    /// Its slot, or `EventHandles.detached(0)` when it gave the slot back.
    var handle: EventHandle
    var sourceID: UInt32
    var offset: UInt64
    /// A record this output wrote (routed here, not discarded): counted written when safe.
    var written: Bool
}

extension DiskBuffer {
    /// Stage-1 buffer `batch`, whose `bytes` of records were all written, waits for an
    /// fdatasync covering them. A batch without records (placeholders only) behind nothing held
    /// needs none: it is acknowledged at once.
    mutating func hold(_ batch: EventBatch, bytes: Int, context: OutputContext) {
        precondition(options.sync == .batch, "disk buffer: events held without buffer-sync=batch")
        precondition(Int(heldIn &- heldOut) + batch.count <= heldCapacity, "disk buffer: more events held than the pool has")
        let routeBit = UInt32(1) << UInt32(output)
        let ownSlab = context.slabIndex
        for i in 0..<batch.count {
            let handle = batch[i]
            let event = context.event(handle)
            let h = event.header
            let written = event.isWritten(by: routeBit)
            let slot = Int((heldIn &+ UInt64(i)) % UInt64(heldCapacity))
            if heldDetached < heldDetachedLimit, event.canDetach(handle, ownSlab: ownSlab) {
                held[slot] = HeldEvent(handle: EventHandles.detached(0), sourceID: h.pointee.sourceID, offset: h.pointee.offset, written: written)
                heldDetached += 1
                context.releaseDetached(handle)
            } else {
                held[slot] = HeldEvent(handle: handle, sourceID: 0, offset: 0, written: written)
            }
        }
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
        var records = 0
        while heldOut < end {
            let e = held[Int(heldOut % UInt64(heldCapacity))]
            if e.written { records += 1 }
            if EventHandles.isDetached(e.handle) {
                context.commitDetached(sourceID: e.sourceID, offset: e.offset)
                heldDetached -= 1
            } else {
                context.acknowledge(e.handle)
            }
            heldOut &+= 1
        }
        recordsWritten(records)
    }
}
