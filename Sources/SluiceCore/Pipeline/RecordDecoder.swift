import Glibc

/// What a framer does to each record it completes before the record goes on: nothing (the raw
/// bytes are the event), rewrite it in its slot as the JSON event of a decoded protocol
/// message (syslog), or decode container log lines, which also joins the lines a runtime split
/// (`ContainerLogState`). The decoder owns no memory: `scratch` (at least `maxEventBytes`, where
/// the raw record is copied while its slot is rewritten) belongs to the family that made it,
/// shared by all its framers on one worker; per-source state (`containerLog`) belongs to the
/// source, which frees it with `dispose()`.
public struct RecordDecoder {
    public enum Kind: Equatable, Sendable {
        case none
        case syslog(SyslogFormat)
        /// Kubernetes container log lines (CRI or Docker JSON), partial lines joined.
        case containerLog
    }

    public let kind: Kind
    let scratch: UnsafeMutableRawPointer?
    let containerLog: UnsafeMutablePointer<ContainerLogState>?

    public static var none: RecordDecoder { RecordDecoder(kind: .none, scratch: nil) }

    public init(kind: Kind, scratch: UnsafeMutableRawPointer?) {
        precondition(kind == .none || scratch != nil, "a decoder needs scratch memory")
        precondition(kind != .containerLog, "container logs need per-source state: init(containerLogOf:)")
        self.kind = kind
        self.scratch = scratch
        containerLog = nil
    }

    /// The decoder of one container log file (`path`, read from `startOffset`).
    init(containerLogOf path: String, startOffset: UInt64, maxEventBytes: Int, scratch: UnsafeMutableRawPointer) {
        kind = .containerLog
        self.scratch = scratch
        containerLog = ContainerLogState.make(path: path, maxEventBytes: maxEventBytes, startOffset: startOffset)
    }

    /// The decoder of one source named `path`, read from `startOffset`.
    public static func forSource(_ kind: Kind, path: String, startOffset: UInt64, maxEventBytes: Int, scratch: UnsafeMutableRawPointer) -> RecordDecoder {
        switch kind {
        case .none: .none
        case .syslog: RecordDecoder(kind: kind, scratch: scratch)
        case .containerLog: RecordDecoder(containerLogOf: path, startOffset: startOffset, maxEventBytes: maxEventBytes, scratch: scratch)
        }
    }

    /// What became of a record.
    public enum Outcome {
        /// The event to hand on and the offset it commits (at most the record's end).
        case event(Event, offset: UInt64)
        /// The record is part of one still being assembled: its slot was released.
        case folded
        /// The decoded event needs a large slot and none is free (only when the caller may
        /// wait): nothing changed, decode the same record again once events come back.
        case needsRoom
    }

    /// What a decoder still holds at the end of its source.
    public enum Pending {
        case none
        case event(Event, offset: UInt64)
        case needsRoom
    }

    /// Rewrites `e`'s raw record (ending at `offset` in its source) as its decoded event.
    /// Syslog: `e`, or a large slot it moved to when the JSON outgrew the ordinary one (`e`
    /// released); when no slot can hold it the message is kept cut, with `parse_error` (flagged
    /// and counted). Container logs: see `ContainerLogState.decode`.
    @inline(__always) func decode(_ e: Event, end offset: UInt64, nowNanos: UInt64, mayWait: Bool, maxEventBytes: Int,
                                  slab: UnsafeMutablePointer<Slab>?, counters: CounterBlock, pipeline: Int) -> Outcome {
        switch kind {
        case .none:
            return .event(e, offset: offset)
        case .syslog(let format):
            return .event(decodeSyslog(e, format: format, scratch: scratch!, maxEventBytes: maxEventBytes, slab: slab, counters: counters, pipeline: pipeline),
                          offset: offset)
        case .containerLog:
            guard let slab else { preconditionFailure("container log decoding needs the slab") }
            return containerLog!.pointee.decode(e, end: offset, nowNanos: nowNanos, mayWait: mayWait, scratch: scratch!, slab: slab,
                                                counters: counters, pipeline: pipeline)
        }
    }

    /// At the end of the source (`offset`): one record the decoder still assembles, as an event
    /// (call again until `.none`), or `.needsRoom` when no slot is free for it.
    func takePending(end offset: UInt64, slab: UnsafeMutablePointer<Slab>, counters: CounterBlock, pipeline: Int) -> Pending {
        guard let containerLog else { return .none }
        return containerLog.pointee.takePending(end: offset, scratch: scratch!, slab: slab, counters: counters, pipeline: pipeline)
    }

    /// Whether a record waits whose last line was read at or before `cutoff` (its rest late).
    func hasPending(updatedBy cutoff: UInt64) -> Bool { containerLog?.pointee.hasPending(updatedBy: cutoff) ?? false }

    /// One record whose last line was read at or before `cutoff`, handed on without its rest
    /// (call again until `.none`); its offset commits the lines read so far.
    func takeLatePending(updatedBy cutoff: UInt64, slab: UnsafeMutablePointer<Slab>, counters: CounterBlock, pipeline: Int) -> Pending {
        guard let containerLog else { return .none }
        return containerLog.pointee.takePending(end: containerLog.pointee.lineStart, updatedBy: cutoff, scratch: scratch!, slab: slab,
                                                counters: counters, pipeline: pipeline)
    }

    /// Drops what is being assembled (the source stops; it is read again from the committed offset).
    func abandon() { containerLog?.pointee.abandon() }

    /// The source goes on with a new file from its start (rotation).
    public func restarted() { containerLog?.pointee.restarted() }

    /// Frees the per-source state (the source is done).
    public func dispose() {
        guard let containerLog else { return }
        containerLog.pointee.dispose()
        containerLog.deallocate()
    }

    func decodeSyslog(_ e: Event, format: SyslogFormat, scratch: UnsafeMutableRawPointer, maxEventBytes: Int,
                      slab: UnsafeMutablePointer<Slab>?, counters: CounterBlock, pipeline: Int) -> Event {
        let length = Int(e.header.pointee.rawLength)
        scratch.copyMemory(from: e.data, byteCount: length)
        let message = UnsafeRawBufferPointer(start: scratch, count: length)
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int(ts.tv_sec)
        var target = e
        var written = SyslogJSON.convert(message, format: format, nowSeconds: now, into: e.data, capacity: min(Int(e.header.pointee.dataCapacity), maxEventBytes))
        if written == .needsRoom, let slab, Int(e.header.pointee.dataCapacity) < min(slab.pointee.largeDataCapacity, maxEventBytes),
           let large = slab.pointee.takeLarge(forFraming: true) {
            large.set(e.flags)
            slab.pointee.release(e.header.pointee.handle)
            target = large
            written = SyslogJSON.convert(message, format: format, nowSeconds: now, into: large.data, capacity: min(Int(large.header.pointee.dataCapacity), maxEventBytes))
        }
        let bytes: Int
        switch written {
        case .wrote(let n, let parsed):
            bytes = n
            if !parsed { counters.add(.syslogParseErrors, 1, pipeline: pipeline) }
        case .needsRoom:
            let capacity = min(Int(target.header.pointee.dataCapacity), maxEventBytes)
            guard capacity >= 128 else { return target }  // too small for any JSON: the raw bytes stay, as they are
            bytes = SyslogJSON.writeTruncated(message, reason: "too large for max-event-size", into: target.data, capacity: capacity)
            target.set(.cut)
            counters.add(.cutRecords, 1, pipeline: pipeline)
            counters.add(.syslogParseErrors, 1, pipeline: pipeline)
        }
        target.setRecordLength(bytes)
        return target
    }
}
