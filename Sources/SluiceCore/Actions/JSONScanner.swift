// TEMPORARY STUB until the real scanner lands (replaced by the JSON scanner file).
public enum JSONValueKind: UInt8, Sendable { case string = 1, number, object, array, trueLiteral, falseLiteral, null }
public enum JSONError: UInt8, Sendable { case empty }
@frozen public struct FieldEntry: Sendable {
    public var keyOffset: UInt32
    public var keyLength: UInt32
    public var valueOffset: UInt32
    public var valueLength: UInt32
    public var kind: JSONValueKind
    public var flags: UInt8
    public init(keyOffset: UInt32, keyLength: UInt32, valueOffset: UInt32, valueLength: UInt32, kind: JSONValueKind, flags: UInt8) {
        self.keyOffset = keyOffset; self.keyLength = keyLength; self.valueOffset = valueOffset; self.valueLength = valueLength; self.kind = kind; self.flags = flags
    }
    public static let keyHasEscapes: UInt8 = 1
    public static let valueHasEscapes: UInt8 = 2
}
public enum JSONScanOutcome: Equatable, Sendable { case valid(fieldCount: Int, fieldsTruncated: Bool), invalid(offset: Int, reason: JSONError) }
public enum JSONScanner {
    public static let defaultMaxDepth = 1024
    public static func scan(_ bytes: UnsafeRawBufferPointer, fields: UnsafeMutablePointer<FieldEntry>, fieldCapacity: Int, maxDepth: Int = defaultMaxDepth) -> JSONScanOutcome { .valid(fieldCount: 0, fieldsTruncated: false) }
    public static func member(named key: UnsafeRawBufferPointer, inObject object: UnsafeRawBufferPointer) -> (offset: Int, length: Int, kind: JSONValueKind)? { nil }
    public static func rawStringEquals(_ raw: UnsafeRawBufferPointer, _ plain: UnsafeRawBufferPointer) -> Bool { false }
}
