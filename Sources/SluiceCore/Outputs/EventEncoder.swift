/// Turns an event into the bytes an output writes: the raw record, or, when an action changed
/// fields, the object re-encoded from the field index; then a newline.
public enum EventEncoder {
    /// Writes the line at `out` (room for `OutputBatcher.worstCase` bytes); returns its length.
    ///
    /// Members an action left alone still lie in the raw record one after another, as
    /// `"key":value,"key":value`: a run of them is copied in one piece instead of two copies
    /// per member (events of production logs have tens of members and an edit or two). The
    /// bytes written are the same as member by member.
    @inline(__always) public static func encodeLine(_ event: Event, into out: UnsafeMutableRawPointer) -> Int {
        let h = event.header
        if !h.pointee.flags.contains(.modified) {
            let n = Int(h.pointee.rawLength)
            out.copyMemory(from: event.data, byteCount: n)
            out.storeBytes(of: 10, toByteOffset: n, as: UInt8.self)
            return n + 1
        }
        let data = UnsafeRawPointer(event.data)
        let fields = event.fields
        let count = event.fieldCount
        let rawLength = Int(h.pointee.rawLength)
        var p = 0
        @inline(__always) func put(_ b: UInt8) { out.storeBytes(of: b, toByteOffset: p, as: UInt8.self); p += 1 }
        @inline(__always) func put(_ from: UnsafeRawPointer, _ n: Int) {
            if n > 0 { (out + p).copyMemory(from: from, byteCount: n) }
            p += n
        }
        put(123)
        var i = 0
        while i < count {
            if i > 0 { put(44) }
            let f = fields[i]
            let keyStart = Int(f.keyOffset), valueEnd = Int(f.valueOffset) + Int(f.valueLength)
            if isCompactRawMember(f, rawLength: rawLength) {
                // Extend over the members that follow it in the raw record, comma and all.
                var end = valueEnd
                var j = i + 1
                while j < count, isCompactRawMember(fields[j], rawLength: rawLength), Int(fields[j].keyOffset) == end + 2,
                      data.load(fromByteOffset: end, as: UInt8.self) == 44 {
                    end = Int(fields[j].valueOffset) + Int(fields[j].valueLength)
                    j += 1
                }
                put(data + keyStart - 1, end - keyStart + 1)
                i = j
                continue
            }
            put(34)
            put(data + keyStart, Int(f.keyLength))
            put(34)
            put(58)
            put(data + Int(f.valueOffset), Int(f.valueLength))
            i += 1
        }
        put(125)
        put(10)
        return p
    }

    /// A member whose key and value are where the raw record has them, written `"key":value`
    /// with nothing between: copying the record's bytes from its key's quote writes it as the
    /// member-by-member encoding would. (Values an action set lie past the record.)
    @inline(__always) static func isCompactRawMember(_ f: FieldEntry, rawLength: Int) -> Bool {
        Int(f.keyOffset) > 0 && Int(f.valueOffset) == Int(f.keyOffset) + Int(f.keyLength) + 2
            && Int(f.valueOffset) + Int(f.valueLength) <= rawLength
    }
}
