/// Decimal digits of unsigned integers, written without allocation.
enum Digits {
    /// Writes `value` at `out` (room for 20 bytes); returns the count.
    static func write(_ value: UInt64, into out: UnsafeMutableRawPointer) -> Int {
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        var v = value
        for i in stride(from: digits - 1, through: 0, by: -1) {
            out.storeBytes(of: UInt8(48 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        }
        return digits
    }

    /// `value` zero-padded to `width` digits at `out`.
    static func write(_ value: Int, width: Int, into out: UnsafeMutableRawPointer) {
        var v = value
        for i in stride(from: width - 1, through: 0, by: -1) {
            out.storeBytes(of: UInt8(48 + v % 10), toByteOffset: i, as: UInt8.self)
            v /= 10
        }
    }
}
