/// Appends text and decimal numbers to memory the caller has sized, allocating nothing: the
/// generator input writes its lines with it, and so does the latency benchmark's sender.
public struct ByteWriter {
    public let base: UnsafeMutableRawPointer
    /// Bytes written so far.
    public var count = 0

    @inline(__always) public init(_ base: UnsafeMutableRawPointer) { self.base = base }

    @inline(__always) public mutating func put(_ text: StaticString) {
        (base + count).copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        count += text.utf8CodeUnitCount
    }

    @inline(__always) public mutating func put(byte: UInt8) {
        base.storeBytes(of: byte, toByteOffset: count, as: UInt8.self)
        count += 1
    }

    /// `value` in decimal.
    @inline(__always) public mutating func put(_ value: UInt64) {
        var digits = 0
        var rest = value
        repeat { digits += 1; rest /= 10 } while rest > 0
        var v = value
        var i = digits - 1
        repeat {
            base.storeBytes(of: UInt8(48 + v % 10), toByteOffset: count + i, as: UInt8.self)
            v /= 10
            i -= 1
        } while i >= 0
        count += digits
    }
}
