import Glibc

/// One connection's answer being built and sent: the body grows at the back (bulk items are
/// appended as their action lines are read), and the status line, headers and the start of the
/// body are written at the end into room kept before it, so the answer goes out in one send.
/// It grows by doubling (bulk items are bounded by the body, which `max-body` bounds) and keeps
/// its memory for the connection's next request.
struct HTTPResponse {
    /// Room before the body for the status line, the headers and a bulk answer's opening.
    static let headRoom = 512
    static let initialCapacity = 4096

    private(set) var storage: UnsafeMutableRawPointer? = nil
    private(set) var capacity = 0
    /// Where the answer starts (set by `finish`) and where it ends.
    private(set) var start = HTTPResponse.headRoom
    private(set) var end = HTTPResponse.headRoom
    /// Bytes of the answer already sent.
    var sent = 0

    var bodyCount: Int { end - Self.headRoom }
    var pending: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: storage! + start + sent, count: end - start - sent) }
    var isComplete: Bool { start + sent == end }

    /// Empties it for the next request.
    mutating func reset() {
        start = Self.headRoom
        end = Self.headRoom
        sent = 0
    }

    mutating func free() {
        storage?.deallocate()
        storage = nil
        capacity = 0
        reset()
    }

    mutating func reserve(_ extra: Int) {
        if end + extra <= capacity { return }
        var grown = max(capacity * 2, Self.initialCapacity)
        while grown < end + extra { grown *= 2 }
        let bigger = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
        if let old = storage {
            bigger.copyMemory(from: old, byteCount: end)
            old.deallocate()
        }
        storage = bigger
        capacity = grown
    }

    @inline(__always) mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inline(__always) mutating func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if bytes.count > 0 { (storage! + end).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        end += bytes.count
    }

    /// Appends a copy of bytes it already holds (`range`, before the end): a bulk item like
    /// the one before it.
    @inline(__always) mutating func appendCopy(_ range: Range<Int>) {
        precondition(range.upperBound <= end, "copying bytes the answer does not hold")
        reserve(range.count)
        (storage! + end).copyMemory(from: storage! + range.lowerBound, byteCount: range.count)
        end += range.count
    }

    mutating func append(decimal value: UInt64) {
        reserve(20)
        var writer = ByteWriter(storage! + end)
        writer.put(value)
        end += writer.count
    }

    /// Puts `status` line and headers (and `prefix`, the body's opening) before the body.
    mutating func finish(status: StaticString, prefix: UnsafeRawBufferPointer, keepAlive: Bool, contentLength: Int? = nil) {
        reserve(0)
        var head = [UInt8]()  // per request, not per event: the answer's first few hundred bytes
        head.reserveCapacity(Self.headRoom)
        func put(_ s: StaticString) { head.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) }
        put("HTTP/1.1 ")
        put(status)
        put("\r\nX-Elastic-Product: Elasticsearch\r\ncontent-type: application/json\r\ncontent-length: ")
        head.append(contentsOf: String(contentLength ?? (prefix.count + bodyCount)).utf8)
        put(keepAlive ? "\r\n\r\n" : "\r\nconnection: close\r\n\r\n")
        head.append(contentsOf: prefix)
        precondition(head.count <= Self.headRoom, "answer head over its room")
        start = Self.headRoom - head.count
        head.withUnsafeBytes { (storage! + start).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        sent = 0
    }

    /// A HEAD answer: the status line and headers `finish` wrote, without the body.
    mutating func dropBody() {
        var i = start
        while i + 3 < end {
            if storage!.loadUnaligned(fromByteOffset: i, as: UInt32.self) == 0x0A0D_0A0D {
                end = i + 4
                return
            }
            i += 1
        }
    }
}
