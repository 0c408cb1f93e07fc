import Glibc

/// What follows a delivery: segments whose every record was delivered are deleted (through the
/// ring), and the read position is saved atomically — `position.tmp` opened, written, fsync'd,
/// closed, renamed over `position`, the directory fsync'd — every `buffer-position-interval`
/// and when the buffer stops.
extension DiskBuffer {
    @inline(__always) func userData(_ operation: DiskBufferOperation) -> UInt64 {
        Self.userData(operation, pipeline: pipeline, output: output)
    }

    /// The drain's output acknowledged `count` events, the last one ending at `end` of the
    /// segment `ordinal`; `oldestReceivedNanos` is the oldest event it still holds (0: none).
    mutating func delivered(count: Int, ordinal: UInt32, end: UInt64, oldestReceivedNanos: UInt64, context: OutputContext) {
        precondition(count <= inFlight, "disk buffer: more events delivered than were read")
        inFlight -= count
        delivered = (ordinal, end)
        positionDirty = true
        stats.set(.oldestWallNanos, inFlight > 0 && oldestReceivedNanos > 0 ? oldestReceivedNanos &+ wallOffsetNanos : 0)
        collect(context: context)
    }

    /// The drain gave back `count` events it had not sent (the buffer stops): they are read
    /// again at the next start.
    mutating func abandoned(count: Int) {
        precondition(count <= inFlight, "disk buffer: more events given back than were read")
        inFlight -= count
    }

    /// Deletes the oldest segment when the reader is past it and none of its records is still
    /// on the way to the destination.
    mutating func collect(context: OutputContext) {
        retireDeliveredWriteSegment(context: context)
        guard !unlinking, readIndex > 0, let first = segments.first else { return }
        if inFlight > 0 {
            guard let d = delivered, d.ordinal > first.ordinal || (d.ordinal == first.ordinal && d.end >= first.bytes) else { return }
        }
        unlinking = true
        Self.writeName(first.number, into: unlinkName)
        context.ring.unlink(directoryFD: directoryFD, path: unlinkName, userData: userData(.unlink))
    }

    /// The segment being written, read and delivered to its end, is closed for writes (the next
    /// batch starts a new one) so it can be deleted: when it holds a quarter of a segment, when
    /// the writer waits for room, or when the buffer stops. Not for every delivery: a drain that
    /// keeps up would otherwise make a file per batch.
    mutating func retireDeliveredWriteSegment(context: OutputContext) {
        guard writeSegmentRetirable else { return }
        retireWriteSegment(context: context)
        moveToNextSegment(context: context)
    }

    var writeSegmentRetirable: Bool {
        guard writeFD >= 0, retiringFD < 0, !writerBusy, inFlight == 0, readIndex == segments.count - 1, readFD >= 0, !readInFlight,
              readEnd == readStart, readOffset == segments[readIndex].bytes, writeCursor > 0 else { return false }
        return blockedByRoom || mode != .running || writeCursor >= segmentBytes / 4
    }

    mutating func unlinkCompleted(result: Int32, context: OutputContext) {
        unlinking = false
        if result < 0 && result != -ENOENT {
            Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "unlink \(path)/\(BufferDirectory.segmentName(segments[0].number))")); it stays on disk, outside the buffer's size")
        }
        totalBytes -= segments[0].bytes
        segments.removeFirst()
        readIndex -= 1
        roomFreed = true
        diskFull = false
        if fullLogged {
            Log.info(context.logName, "disk buffer: \(path) has room again")
            fullLogged = false
        }
        positionDirty = true
        publishSize()
        collect(context: context)
    }

    /// Where delivery stands: the delivered event's segment and end, or the start of the
    /// oldest segment when that one is gone (everything before it was delivered).
    var position: BufferPosition {
        let last = nextSequence &- 1
        if let d = delivered, let segment = segments.first(where: { $0.ordinal == d.ordinal }) {
            return BufferPosition(segment: segment.number, offset: d.end, sequence: last)
        }
        return BufferPosition(segment: segments.first?.number ?? unwrittenSequence, offset: 0, sequence: last)
    }

    /// Starts saving the position when it moved and the interval passed (at once when stopping).
    mutating func savePositionIfDue(context: OutputContext) {
        guard positionDirty, positionStep == nil, mode != .running || context.now &- positionSavedNanos >= positionIntervalNanos else { return }
        positionDirty = false
        let text = Array(position.text.utf8)
        precondition(text.count <= Self.positionTextCapacity, "position text over its buffer")
        text.withUnsafeBytes { positionText.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        positionTextBytes = text.count
        positionStep = .positionOpen
        context.ring.open(directoryFD: directoryFD, path: temporaryName, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o640,
                          userData: userData(.positionOpen))
    }

    /// One step of the save completed: the next one goes.
    mutating func positionStepCompleted(_ step: DiskBufferOperation, result: Int32, context: OutputContext) {
        precondition(positionStep == step, "disk buffer: position completion \(step) out of order")
        let failed = result < 0 || (step == .positionWrite && Int(result) != positionTextBytes)
        if failed {
            positionFailed(SystemError(negated: result < 0 ? result : -EIO, operation: "save \(path)/\(BufferPosition.fileName)"), context: context)
            return
        }
        switch step {
        case .positionOpen:
            positionFD = result
            positionStep = .positionWrite
            context.ring.write(fd: positionFD, from: positionText, count: positionTextBytes, offset: 0, userData: userData(.positionWrite))
        case .positionWrite:
            positionStep = .positionSync
            context.ring.fsync(fd: positionFD, dataOnly: false, userData: userData(.positionSync))
        case .positionSync:
            context.ring.close(fd: positionFD, userData: SluiceCore.userData(.close, 0))
            positionFD = -1
            positionStep = .positionRename
            context.ring.rename(directoryFD: directoryFD, from: temporaryName, to: positionName, userData: userData(.positionRename))
        case .positionRename:
            positionStep = .positionDirectorySync
            context.ring.fsync(fd: directoryFD, dataOnly: false, userData: userData(.positionDirectorySync))
        case .positionDirectorySync:
            positionStep = nil
            positionSavedNanos = context.now
            positionErrorLogged = false
        default:
            preconditionFailure("not a position step: \(step)")
        }
    }

    mutating func positionFailed(_ error: SystemError, context: OutputContext) {
        if positionFD >= 0 {
            context.ring.close(fd: positionFD, userData: SluiceCore.userData(.close, 0))
            positionFD = -1
        }
        positionStep = nil
        positionSavedNanos = context.now
        // Running, it is tried again; stopping, the last saved position stands (records after
        // it are delivered again at the next start: at least once).
        positionDirty = mode == .running
        if !positionErrorLogged {
            Log.error(context.logName, "disk buffer: \(error); " + (mode == .running ? "retrying" : "records after the last saved position will be delivered again"))
            positionErrorLogged = true
        }
    }

    /// A `bufferFile` completion of this buffer.
    mutating func completed(_ operation: DiskBufferOperation, result: Int32, context: OutputContext) {
        switch operation {
        case .intervalSync:
            intervalSyncInFlight = false
            if result < 0 {
                unsynced = true
                Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "fdatasync \(path)")); retrying")
            }
        case .retireSync:
            context.ring.close(fd: retiringFD, userData: SluiceCore.userData(.close, 0))
            retiringFD = -1
        case .heldSync: heldSynced(result: result, context: context)
        case .readOpen: readOpenCompleted(result: result, context: context)
        case .read: readCompleted(result: result, context: context)
        case .unlink: unlinkCompleted(result: result, context: context)
        case .positionOpen, .positionWrite, .positionSync, .positionRename, .positionDirectorySync:
            positionStepCompleted(operation, result: result, context: context)
        }
    }
}
