import Glibc

/// The writer: the stage-1 batcher's `.disk` sink. Each batch is one write at the end of the
/// segment being written; segments are created on demand (the batcher's "connect"), closed for
/// writes when full, and synced as `buffer-sync` says; `buffer-max-size` and a full file system
/// are the room a batch needs.
extension DiskBuffer {
    // MARK: Room

    /// Whether `bytes` more fit under `buffer-max-size` (an empty buffer takes any one batch,
    /// so a batch larger than the limit cannot block for ever).
    @inline(__always) func hasRoom(forBytes bytes: Int) -> Bool {
        !diskFull && (totalBytes == 0 || totalBytes + UInt64(bytes) <= UInt64(options.maxBytes))
    }

    /// The stage-1 batcher found no room: logged once per episode.
    mutating func noteFull(blocking: Bool, logName: String, now: UInt64) {
        if blocking { blockedByRoom = true }
        guard !fullLogged, fullLoggedNanos == 0 || now &- fullLoggedNanos >= Self.fullLogIntervalNanos else { return }
        fullLogged = true
        fullLoggedNanos = now
        let why = diskFull ? "the disk under \(path) is full" : "\(path) is at buffer-max-size (\(Units.sizeText(options.maxBytes)))"
        Log.warn(logName, "disk buffer: \(why); " + (blocking ? "inputs pause until the output drains it (buffer-full=block)"
                                                             : "the newest batches are dropped and counted (buffer-full=drop-newest)"))
    }

    /// Whether a blocked stage-1 write may try again (a segment was deleted since the last look).
    mutating func takeRoomFreed() -> Bool {
        guard roomFreed else { return false }
        roomFreed = false
        return true
    }

    // MARK: The stage-1 sink: segments, writes, syncs

    /// A write can be submitted: a segment is open for writes.
    var isWritable: Bool { writeFD >= 0 }

    /// The stage-1 batcher's buffer `b` goes out now: its records are below `nextSequence`.
    mutating func batchClosed(_ b: Int) {
        if b == 0 { batchEndSequences.0 = nextSequence } else { batchEndSequences.1 = nextSequence }
    }

    @inline(__always) func batchEnd(_ b: Int) -> UInt64 { b == 0 ? batchEndSequences.0 : batchEndSequences.1 }

    /// Before a batch of `bytes` is written: a full segment is closed for writes, so the batch
    /// waits for the next one (`isWritable` false until it is created).
    /// While the last closed segment's final fdatasync is in flight, the batch goes into this
    /// one still (a segment may grow past buffer-segment-size by a batch).
    mutating func prepareWrite(bytes: Int, context: OutputContext) {
        guard writeFD >= 0, writeCursor > 0, writeCursor + UInt64(bytes) > segmentBytes, retiringFD < 0 else { return }
        retireWriteSegment(context: context)
    }

    /// Closes the segment being written: after its last fdatasync with buffer-sync=interval, or
    /// with batch when events of it wait for theirs (`retiringCovers`); with none nothing is.
    mutating func retireWriteSegment(context: OutputContext) {
        if options.sync == .batch, heldIn > heldOut {
            precondition(retiringFD < 0 && heldSyncInFlight, "disk buffer: a segment retired while the last one still syncs")
            retiringFD = writeFD
            retiringCovers = heldIn
        } else if case .interval = options.sync, unsynced, retiringFD < 0 {
            retiringFD = writeFD
            context.ring.fsync(fd: retiringFD, dataOnly: true, userData: userData(.retireSync))
            unsynced = false
        } else {
            context.ring.close(fd: writeFD, userData: SluiceCore.userData(.close, 0))
        }
        writeFD = -1
        writeCursor = 0
    }

    /// Every turn (through the stage-1 sink's `tick`): creates the next segment when none takes
    /// writes, and syncs with buffer-sync=interval when it is due.
    mutating func tickWriter(context: OutputContext) {
        if diskFull && context.now &- diskFullNanos >= Self.fullRetryNanos { diskFull = false }
        if writeFD < 0 && segmentWanted && creating == .none && context.now >= createRetry.atNanos {
            Self.writeName(unwrittenSequence, into: createName)
            creating = .opening
            context.ring.open(directoryFD: directoryFD, path: createName, flags: O_RDWR | O_CREAT | O_EXCL, mode: 0o640,
                              userData: context.userData(.outputConnect))
        }
        if case .interval(let micros) = options.sync, unsynced, !intervalSyncInFlight, writeFD >= 0,
           context.now &- lastSyncNanos >= UInt64(micros) * 1000 {
            intervalSyncInFlight = true
            unsynced = false
            lastSyncNanos = context.now
            context.ring.fsync(fd: writeFD, dataOnly: true, userData: userData(.intervalSync))
        }
    }

    /// The new segment's open (then its directory's fsync) completed; true once it takes writes.
    mutating func creationCompleted(result: Int32, context: OutputContext) -> Bool {
        switch creating {
        case .none: preconditionFailure("segment creation completion without a creation in flight")
        case .opening:
            guard result >= 0 else {
                creating = .none
                if result == -EEXIST {
                    // A name the last run used (its segment had nothing valid): past it.
                    unwrittenSequence &+= 1
                    nextSequence = max(nextSequence, unwrittenSequence)
                    return false
                }
                if result == -ENOSPC || result == -EDQUOT {
                    diskFull = true
                    diskFullNanos = context.now
                }
                createRetry.failed(now: context.now)
                if !createErrorLogged {
                    Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "create a segment in \(path)")); retrying with backoff")
                    createErrorLogged = true
                }
                return false
            }
            writeFD = result
            writeCursor = 0
            segments.append(Segment(ordinal: nextOrdinal, number: unwrittenSequence, bytes: 0))
            nextOrdinal &+= 1
            publishSize()
            if options.sync == .batch {
                // The segment's name must be durable before records in it are acknowledged.
                creating = .syncingDirectory
                context.ring.fsync(fd: directoryFD, dataOnly: false, userData: context.userData(.outputConnect))
                return false
            }
        case .syncingDirectory:
            if result < 0 { Log.error(context.logName, "disk buffer: \(SystemError(negated: result, operation: "fsync \(path)"))") }
        }
        creating = .none
        segmentWanted = false
        createRetry.succeeded()
        createErrorLogged = false
        return true
    }

    mutating func write(from bytes: UnsafeRawPointer, count: Int, context: OutputContext) {
        writerBusy = true
        blockedByRoom = false
        context.ring.write(fd: writeFD, from: bytes, count: count, offset: writeCursor, userData: context.userData(.outputWrite))
    }

    /// A write completed: `n` more bytes of the batch are in the segment (not yet readable:
    /// the reader sees a batch once all of it is there).
    mutating func written(result: Int32, context: OutputContext) -> SinkWriteResult {
        if result > 0 {
            writeCursor += UInt64(result)
            if diskFull {
                diskFull = false
                fullLogged = false
            }
            return .wrote(Int(result))
        }
        let error = result == 0 ? -ENOSPC : result
        if error == -ENOSPC || error == -EDQUOT {
            diskFull = true
            diskFullNanos = context.now
        }
        context.count(.outputErrors, 1)
        if options.full == .dropNewest && diskFull { return .dropped(error) }
        if diskFull { noteFull(blocking: true, logName: context.logName, now: context.now) }
        return .failed(error, reported: diskFull)
    }

    /// All of stage-1 buffer `b` is written: its records become readable, and the buffer takes
    /// events again (with buffer-sync=batch its events wait in `held` for their fdatasync).
    mutating func committed(_ b: Int, context: OutputContext) -> SinkSafety {
        let last = segments.count - 1
        totalBytes += writeCursor - segments[last].bytes
        segments[last].bytes = writeCursor
        unwrittenSequence = batchEnd(b)
        publishSize()
        if case .interval = options.sync { unsynced = true }
        writerBusy = false
        return .now
    }

    /// A batch of `records` records is dropped (drop-newest): the bytes written of it, if any,
    /// are overwritten by the next batch.
    mutating func dropped(_ b: Int, records: Int) {
        writeCursor = segments.last?.bytes ?? 0
        unwrittenSequence = batchEnd(b)
        writerBusy = false
        stats.add(.dropped, records)
    }

    /// A batch's records are in the buffer (under the sync policy): counted.
    func recordsWritten(_ records: Int) { stats.add(.written, records) }
}
