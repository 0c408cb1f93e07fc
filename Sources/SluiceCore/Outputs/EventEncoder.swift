/// Turns an event into the bytes an output writes: the raw record, or, when an action changed
/// fields, the object re-encoded from the field index; then a newline.
public enum EventEncoder {
    /// Writes the line at `out` (room for `OutputBatcher.worstCase` bytes); returns its length.
    @inline(__always) public static func encodeLine(_ event: Event, into out: UnsafeMutableRawPointer) -> Int {
        let h = event.header
        if !h.pointee.flags.contains(.modified) {
            let n = Int(h.pointee.rawLength)
            out.copyMemory(from: event.data, byteCount: n)
            out.storeBytes(of: 10, toByteOffset: n, as: UInt8.self)
            return n + 1
        }
        var p = 0
        @inline(__always) func put(_ b: UInt8) { out.storeBytes(of: b, toByteOffset: p, as: UInt8.self); p += 1 }
        @inline(__always) func put(_ bytes: UnsafeRawBufferPointer) {
            if bytes.count > 0 { (out + p).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
            p += bytes.count
        }
        put(123)
        for i in 0..<event.fieldCount {
            if i > 0 { put(44) }
            put(34)
            put(event.key(i))
            put(34)
            put(58)
            put(event.value(i))
        }
        put(125)
        put(10)
        return p
    }
}
