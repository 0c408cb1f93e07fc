import Glibc

/// What a framer does to each record it completes before the record goes on: nothing (the raw
/// bytes are the event), or rewrite it in its slot as the JSON event of a decoded protocol
/// message (syslog). The decoder owns no memory: `scratch` (at least `maxEventBytes`, where
/// the raw record is copied while its slot is rewritten) belongs to the family that made it,
/// shared by all its framers on one worker.
public struct RecordDecoder {
    public enum Kind: Equatable {
        case none
        case syslog(SyslogFormat)
    }

    public let kind: Kind
    let scratch: UnsafeMutableRawPointer?

    public static var none: RecordDecoder { RecordDecoder(kind: .none, scratch: nil) }

    public init(kind: Kind, scratch: UnsafeMutableRawPointer?) {
        precondition(kind == .none || scratch != nil, "a decoder needs scratch memory")
        self.kind = kind
        self.scratch = scratch
    }

    /// Rewrites `e`'s raw record as its decoded event and returns the event to hand on: `e`, or
    /// a large slot it moved to when the JSON outgrew the ordinary one (`e` released). When no
    /// slot can hold it the message is kept cut, with `parse_error` (flagged and counted).
    @inline(__always) func decode(_ e: Event, maxEventBytes: Int, slab: UnsafeMutablePointer<Slab>?, counters: CounterBlock, pipeline: Int) -> Event {
        guard case .syslog(let format) = kind, let scratch else { return e }
        return decodeSyslog(e, format: format, scratch: scratch, maxEventBytes: maxEventBytes, slab: slab, counters: counters, pipeline: pipeline)
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
            large.header.pointee.flags = e.header.pointee.flags
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
            target.header.pointee.flags |= EventFlags.cut
            counters.add(.cutRecords, 1, pipeline: pipeline)
            counters.add(.syslogParseErrors, 1, pipeline: pipeline)
        }
        target.header.pointee.rawLength = UInt32(bytes)
        return target
    }
}
