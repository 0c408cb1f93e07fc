import Glibc

/// One output instance's dead-letter file writer: two buffers (one filling, one being written)
/// of JSON lines describing rejected events, and sequence numbers telling which lines are on
/// disk, so the output can hold a batch's acknowledgement until its rejected events are.
/// Rejections are rare: lines are built with ordinary Swift values (not the event hot path).
struct DeadLetterQueue {
    let fd: Int32
    let capacity: Int
    let buffers: (UnsafeMutableRawPointer, UnsafeMutableRawPointer)
    var fillIndex = 0
    var used = 0
    var writing = false
    var writeBuffer: UnsafeMutableRawPointer
    var writeBytes = 0
    var written = 0
    /// Sequence number of the last line appended, of the last line in the write in flight, and
    /// of the last line written.
    var appended: UInt64 = 0
    var writingUpTo: UInt64 = 0
    var durable: UInt64 = 0

    /// Longest reason a line carries (a server's error text is cut to it).
    static let reasonBytesLimit = 1000
    /// Room a line needs besides its event's escaped bytes: the reason escaped, the rest.
    static let lineOverheadBytes = 6 * reasonBytesLimit + 512

    /// Room for two of the largest lines (every byte of an event may become a 6-byte escape).
    static func capacity(maxEventBytes: Int) -> Int { max(64 << 10, 2 * (6 * maxEventBytes + lineOverheadBytes)) }

    init(fd: Int32, capacity: Int) {
        self.fd = fd
        self.capacity = capacity
        buffers = (.allocate(byteCount: capacity, alignment: 4096), .allocate(byteCount: capacity, alignment: 4096))
        writeBuffer = buffers.1
    }

    var isIdle: Bool { !writing && used == 0 }

    var fillBuffer: UnsafeMutableRawPointer { fillIndex == 0 ? buffers.0 : buffers.1 }

    /// Closes the file and frees the buffers (an output a reload replaces).
    func dispose() {
        Glibc.close(fd)
        buffers.0.deallocate()
        buffers.1.deallocate()
    }

    func hasRoom(forEventBytes n: Int) -> Bool { used + 6 * n + DeadLetterQueue.lineOverheadBytes <= capacity }

    /// Adds the line for `event`; returns its sequence number.
    mutating func append(raw: UnsafeRawBufferPointer, offset: UInt64, reason: String, pipeline: String) -> UInt64 {
        let line = DeadLetterQueue.line(raw: raw, offset: offset, reason: reason, pipeline: pipeline)
        precondition(used + line.count <= capacity, "dead-letter buffer over capacity")
        line.withUnsafeBytes { (fillBuffer + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        used += line.count
        appended += 1
        return appended
    }

    mutating func startWrite() {
        writeBuffer = fillBuffer
        writeBytes = used
        written = 0
        writingUpTo = appended
        fillIndex = 1 - fillIndex
        used = 0
        writing = true
    }

    mutating func finishWrite() {
        durable = writingUpTo
        writing = false
    }

    /// `{"reason":…,"pipeline":…,"offset":…,"event":"…"}` — or `"event_base64"` when the bytes
    /// are not UTF-8, so every rejected byte can be recovered.
    static func line(raw bytes: UnsafeRawBufferPointer, offset: UInt64, reason: String, pipeline: String) -> [UInt8] {
        var out: [UInt8] = Array("{\"reason\":".utf8) + JSONText.quoted(reason) + Array(",\"pipeline\":".utf8) + JSONText.quoted(pipeline)
        out += Array(",\"offset\":\(offset)".utf8)
        let raw = Array(bytes)
        if let text = String(validating: raw, as: UTF8.self) {
            out += Array(",\"event\":".utf8) + JSONText.quoted(text)
        } else {
            out += Array(",\"event_base64\":\"".utf8) + base64(raw) + [34]
        }
        out += [125, 10]
        return out
    }

    static func base64(_ bytes: [UInt8]) -> [UInt8] {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], 61, 61]
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], 61]
        }
        return out
    }
}
