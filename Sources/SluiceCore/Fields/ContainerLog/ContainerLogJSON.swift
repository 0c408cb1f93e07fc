/// Container log records as JSON events, written into memory the caller gives:
/// `{"time":"…","stream":"stdout","log":"…"}` followed by the members the source adds (its
/// Kubernetes metadata, already JSON: `,"namespace":"…",…`), `"cut":true` before them when the
/// message was cut to fit, `"partial":true` when the record's last line never came (its parts
/// handed on after `partial-timeout`, or at the end of the file). A line that is in neither format is written whole as
/// `{"log":"…","parse_error":"…"}` with the same members after it.
public enum ContainerLogJSON {
    public enum Written: Equatable {
        /// `count` bytes; `cut`: the message was shortened to fit (or had been while joined).
        case wrote(count: Int, cut: Bool)
        /// Not even the record without its message fits.
        case tooSmall
    }

    /// One record's parts; `escaped`: `time` and `log` are JSON string contents already (Docker),
    /// else bytes as written (CRI), escaped here.
    public struct Record {
        public var time: UnsafeRawBufferPointer
        public var stream: ContainerLogLine.Stream
        public var log: UnsafeRawBufferPointer
        public var escaped: Bool
        /// The message was already cut while its parts were joined.
        public var cut: Bool
        /// Its last line never came: the parts that did are handed on alone.
        public var partial: Bool

        public init(time: UnsafeRawBufferPointer, stream: ContainerLogLine.Stream, log: UnsafeRawBufferPointer, escaped: Bool, cut: Bool = false,
                    partial: Bool = false) {
            self.time = time
            self.stream = stream
            self.log = log
            self.escaped = escaped
            self.cut = cut
            self.partial = partial
        }
    }

    static let cutMember: StaticString = ",\"cut\":true"
    static let partialMember: StaticString = ",\"partial\":true"

    public static func write(_ r: Record, members: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer, capacity: Int) -> Written {
        var w = BoundedJSONWriter(base: out, capacity: capacity)
        w.put("{\"time\":\"")
        guard !w.overflowed, put(r.time, escaped: r.escaped, limit: w.capacity, into: &w) else { return .tooSmall }
        w.put(r.stream == .stdout ? "\",\"stream\":\"stdout\",\"log\":\"" : "\",\"stream\":\"stderr\",\"log\":\"")
        return finish(r.log, escaped: r.escaped, alreadyCut: r.cut, partial: r.partial, reason: nil, members: members, &w)
    }

    /// `line` (bytes as read) whole in `log`, with `parse_error`.
    public static func writeUnparsed(_ line: UnsafeRawBufferPointer, reason: StaticString, members: UnsafeRawBufferPointer,
                                     into out: UnsafeMutableRawPointer, capacity: Int) -> Written {
        var w = BoundedJSONWriter(base: out, capacity: capacity)
        w.put("{\"log\":\"")
        return finish(line, escaped: false, alreadyCut: false, partial: false, reason: reason, members: members, &w)
    }

    /// The message, as much of it as leaves room for what follows it, then the rest.
    static func finish(_ log: UnsafeRawBufferPointer, escaped: Bool, alreadyCut: Bool, partial: Bool, reason: StaticString?,
                       members: UnsafeRawBufferPointer, _ w: inout BoundedJSONWriter) -> Written {
        var tail = 1 + cutMember.utf8CodeUnitCount + members.count + 1
        if partial { tail += partialMember.utf8CodeUnitCount }
        if let reason { tail += 16 + reason.utf8CodeUnitCount + 1 }  // ,"parse_error":"…"
        guard !w.overflowed, w.count + tail <= w.capacity else { return .tooSmall }
        let cut = !put(log, escaped: escaped, limit: w.capacity - tail, into: &w) || alreadyCut
        w.put(byte: UInt8(ascii: "\""))
        if let reason {
            w.put(",\"parse_error\":\"")
            w.put(reason)
            w.put(byte: UInt8(ascii: "\""))
        }
        if cut { w.put(cutMember) }
        if partial { w.put(partialMember) }
        if let m = members.baseAddress, members.count > 0 {
            (w.base! + w.count).copyMemory(from: m, byteCount: members.count)
            w.count += members.count
        }
        w.put(byte: UInt8(ascii: "}"))
        assert(!w.overflowed, "the tail was reserved")
        return .wrote(count: w.count, cut: cut)
    }

    /// Writes `text` as string contents after `w.count`, escaping it unless it is escaped
    /// already, up to `limit` bytes of `w` (cut at a character). Returns whether all of it fit.
    static func put(_ text: UnsafeRawBufferPointer, escaped: Bool, limit: Int, into w: inout BoundedJSONWriter) -> Bool {
        let room = limit - w.count
        if escaped {
            let written = JSONEscaper.escapedPrefixLength(text, atMost: room)
            if written > 0 { (w.base! + w.count).copyMemory(from: text.baseAddress!, byteCount: written) }
            w.count += written
            return written == text.count
        }
        let r = JSONEscaper.escapeAnyBytes(text, into: w.base! + w.count, capacity: room)
        w.count += r.written
        return r.consumed == text.count
    }
}
