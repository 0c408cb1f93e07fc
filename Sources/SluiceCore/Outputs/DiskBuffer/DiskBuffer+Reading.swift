import Glibc

/// The reader: segments are read in order through the ring into `readBuffer`, each record is
/// checked (checksum, length, sequence number) and copied into an event of the worker's pool,
/// which goes to the drain batcher. A stretch of bytes that is not a record (a flipped byte, a
/// segment whose tail was cut) is counted once, logged with its position, and skipped to the
/// next valid record.
extension DiskBuffer {
    enum NextRecord {
        case record(UnsafeRawPointer, BufferRecord.Header)
        case wait
    }

    /// The numbers a record of the segment being read may carry (below the next segment's
    /// first number; the one being written holds only numbers given out so far).
    @inline(__always) var readWindow: BufferRecord.Window {
        BufferRecord.Window(after: lastReadSequence, atLeast: readNumber, before: readBefore)
    }

    /// The first number of the segment after the one being read (nextSequence when none).
    var readBefore: UInt64 { readIndex + 1 < segments.count ? segments[readIndex + 1].number : nextSequence }

    /// The file offset of `readBuffer[readStart]`.
    var readPosition: UInt64 { readOffset - UInt64(readEnd - readStart) }

    /// Reads records into events for the drain while it has room and the pool has events;
    /// `context` is the drain's. True when any record went to the drain.
    mutating func pump(context: OutputContext) -> Bool {
        guard mode != .halting else { return false }
        var progressed = false
        while true {
            guard case .record(let start, let header) = nextRecord(context: context) else { break }
            let lineBytes = header.payloadBytes + 1
            if !drain.pointee.canAcceptLine(bytes: lineBytes) {
                _ = drain.pointee.flush(context: context)
                if !drain.pointee.canAcceptLine(bytes: lineBytes) { break }
            }
            guard let event = context.takeBufferedEvent(dataBytes: header.payloadBytes, fromReserve: inFlight < Self.reserveEvents) else { break }
            let copied = min(header.payloadBytes, Int(event.header.pointee.dataCapacity))
            event.data.copyMemory(from: start + BufferRecord.headerBytes, byteCount: copied)
            if copied < header.payloadBytes {
                // A line re-encoded past max-event-size: kept as far as a slot holds, flagged.
                event.set(EventFlags.cut)
                context.count(.cutRecords, 1)
                context.count(.cutBytes, header.payloadBytes - copied)
            }
            readStart += header.totalBytes
            let received = header.wallNanos > wallOffsetNanos ? min(header.wallNanos - wallOffsetNanos, context.now) : 0
            event.fill(length: copied, offset: readPosition, sourceID: readOrdinal, pipeline: context.pipeline, receivedNanos: received)
            event.route(drain.pointee.routeBit, acknowledgements: 1)
            lastReadSequence = header.sequence
            if inFlight == 0 { stats.set(.oldestWallNanos, header.wallNanos) }
            inFlight += 1
            stats.add(.read, 1)
            drain.pointee.append(event, handle: event.header.pointee.handle, context: context)
            progressed = true
        }
        return progressed
    }

    /// The next whole, valid record at the read point, or `.wait` (a read, an open or a retry
    /// is in flight or due; or everything written has been read).
    mutating func nextRecord(context: OutputContext) -> NextRecord {
        while readIndex < segments.count {
            if readFD < 0 {
                if !readOpening && readRetry.takeDueOrIdle(now: context.now) { openReadSegment(context: context) }
                return .wait
            }
            if readEnd > readStart {
                // Nothing follows the bytes at hand: a record they cut off never completes.
                let final = readOffset == readSegmentBytes && !isWriteSegment(readIndex)
                let window = readWindow
                if skippingCorrupt {
                    readStart += BufferRecord.resynchronize(readBuffer + readStart, available: readEnd - readStart, from: 0, window: window,
                                                            maxPayloadBytes: maxPayloadBytes, final: final)
                }
                if readEnd > readStart {
                    switch BufferRecord.check(readBuffer + readStart, available: readEnd - readStart, window: window, maxPayloadBytes: maxPayloadBytes) {
                    case .valid(let header):
                        if skippingCorrupt { resumed(context: context) }
                        return .record(readBuffer + readStart, header)
                    case .incomplete where !final:
                        break
                    case .invalid, .incomplete:
                        if !skippingCorrupt { corruptionFound(context: context) }
                        readStart += 1
                        continue
                    }
                }
            }
            // More bytes are needed.
            if readInFlight { return .wait }
            if readOffset < segments[readIndex].bytes {
                if readRetry.takeDueOrIdle(now: context.now) { issueRead(context: context) }
                return .wait
            }
            // Read to its end: the writer may add to the segment it writes; another one is done.
            guard !isWriteSegment(readIndex) else { return .wait }
            if skippingCorrupt {
                Log.warn(context.logName, "disk buffer: \(path)/\(BufferDirectory.segmentName(segments[readIndex].number)): no valid record after byte \(corruptFromOffset) to its end (\(segments[readIndex].bytes - corruptFromOffset) byte(s) skipped)")
            }
            moveToNextSegment(context: context)
        }
        return .wait
    }

    mutating func corruptionFound(context: OutputContext) {
        skippingCorrupt = true
        corruptFromOffset = readPosition
        stats.add(.corrupt, 1)
    }

    mutating func resumed(context: OutputContext) {
        skippingCorrupt = false
        Log.warn(context.logName, "disk buffer: \(path)/\(BufferDirectory.segmentName(segments[readIndex].number)): corrupt bytes \(corruptFromOffset)..<\(readPosition) skipped to the next valid record")
    }

    mutating func openReadSegment(context: OutputContext) {
        Self.writeName(segments[readIndex].number, into: readName)
        readOpening = true
        context.ring.open(directoryFD: directoryFD, path: readName, flags: O_RDONLY, mode: 0, userData: userData(.readOpen))
    }

    mutating func readOpenCompleted(result: Int32, context: OutputContext) {
        readOpening = false
        guard result >= 0 else {
            if result == -ENOENT {
                // Gone under us: what it held cannot be read; counted, and the next one is read.
                stats.add(.corrupt, 1)
                Log.error(context.logName, "disk buffer: \(path)/\(BufferDirectory.segmentName(segments[readIndex].number)) disappeared; skipping it")
                totalBytes -= segments[readIndex].bytes
                segments[readIndex].bytes = 0
                readOffset = 0
                if !isWriteSegment(readIndex) { moveToNextSegment(context: context) }
                return
            }
            readFailed(SystemError(negated: result, operation: "open \(path)/\(BufferDirectory.segmentName(segments[readIndex].number))"), context: context)
            return
        }
        readFD = result
        readOrdinal = segments[readIndex].ordinal
        readNumber = segments[readIndex].number
        readOffset = min(readStartOffset, segments[readIndex].bytes)
        readStartOffset = 0
        readStart = 0
        readEnd = 0
    }

    /// Reads as much of the segment as fits after the unread bytes (moved to the front).
    mutating func issueRead(context: OutputContext) {
        if readStart > 0 {
            if readEnd > readStart { readBuffer.copyMemory(from: readBuffer + readStart, byteCount: readEnd - readStart) }
            readEnd -= readStart
            readStart = 0
        }
        let count = Int(min(UInt64(readCapacity - readEnd), segments[readIndex].bytes - readOffset))
        precondition(count > 0, "disk buffer read without room")
        readInFlight = true
        context.ring.read(fd: readFD, into: readBuffer + readEnd, count: count, offset: readOffset, userData: userData(.read))
    }

    mutating func readCompleted(result: Int32, context: OutputContext) {
        readInFlight = false
        if result > 0 {
            readEnd += Int(result)
            readOffset += UInt64(result)
            readRetry.succeeded()
            readErrorLogged = false
            return
        }
        if result == 0 {
            // Shorter than the records written to it: cut by someone else. What is there was read.
            Log.error(context.logName, "disk buffer: \(path)/\(BufferDirectory.segmentName(segments[readIndex].number)) ends at byte \(readOffset), before its last record; the rest is lost")
            stats.add(.corrupt, 1)
            totalBytes -= segments[readIndex].bytes - readOffset
            segments[readIndex].bytes = readOffset
            if readIndex == segments.count - 1 && writeFD >= 0 { writeCursor = readOffset }
            publishSize()
            return
        }
        readFailed(SystemError(negated: result, operation: "read \(path)/\(BufferDirectory.segmentName(segments[readIndex].number))"), context: context)
    }

    mutating func readFailed(_ error: SystemError, context: OutputContext) {
        readRetry.failed(now: context.now)
        context.count(.outputErrors, 1)
        if !readErrorLogged {
            Log.error(context.logName, "disk buffer: \(error); retrying with backoff")
            readErrorLogged = true
        }
    }

    /// Bytes of whole records in the segment being read.
    var readSegmentBytes: UInt64 { segments[readIndex].bytes }

    /// Whether segment `i` takes writes (only the last one does, while it is open for them).
    @inline(__always) func isWriteSegment(_ i: Int) -> Bool { i == segments.count - 1 && writeFD >= 0 }

    mutating func moveToNextSegment(context: OutputContext) {
        if readFD >= 0 { context.ring.close(fd: readFD, userData: SluiceCore.userData(.close, 0)) }
        readFD = -1
        readIndex += 1
        readStart = 0
        readEnd = 0
        readOffset = 0
        skippingCorrupt = false
        collect(context: context)
    }
}

extension Backoff {
    /// No wait scheduled, or the scheduled one is due (and taken).
    @inline(__always) mutating func takeDueOrIdle(now: UInt64) -> Bool { !isWaiting || takeDue(now: now) }
}
