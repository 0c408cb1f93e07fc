/// The core of `convert_log_level`: a level as written by loggers (`WARN`, `warning`, `4`,
/// `err`, `fatal`, `crit`, `emerg`, `notice`, `info`, `debug`, `trace`, …) mapped to a syslog
/// severity (RFC 5424: 0 emergency … 7 debug), and a severity written in one style.
public enum LogLevels {
    /// Names per severity, in the spelling `style=lower` writes first (file.d's RFC 5424 names).
    static let names: [[String]] = [
        ["emergency", "emerg", "panic"],
        ["alert"],
        ["critical", "crit", "fatal"],
        ["error", "err", "eror"],
        ["warning", "warn"],
        ["notice"],
        ["informational", "info", "information"],
        ["debug", "dbug", "trace"],
    ]

    /// Longest name the table holds, in bytes: longer values are never a level.
    static let maxNameBytes = 16

    /// A name packed in 16 bytes, lowercased (the value trimmed of spaces first): a level
    /// compares as one integer.
    @inline(__always) static func packed(_ bytes: UnsafeRawBufferPointer) -> UInt128? {
        var start = 0, end = bytes.count
        while start < end && (bytes[start] == 32 || bytes[start] == 9) { start += 1 }
        while end > start && (bytes[end - 1] == 32 || bytes[end - 1] == 9) { end -= 1 }
        guard end > start, end - start <= maxNameBytes else { return nil }
        var value: UInt128 = 0
        for i in start..<end {
            var c = bytes[i]
            if c >= 65 && c <= 90 { c += 32 }
            value = value << 8 | UInt128(c)
        }
        return value
    }

    /// Every known spelling, packed, with its severity: built once, read-only.
    static let table: [(UInt128, UInt8)] = {
        var rows: [(UInt128, UInt8)] = []
        for (severity, spellings) in names.enumerated() {
            for s in spellings + [String(severity)] {
                let packedName = Array(s.utf8).withUnsafeBytes { packed($0)! }
                rows.append((packedName, UInt8(severity)))
            }
        }
        return rows
    }()

    /// The severity (0–7) of a level name or number, or nil when it is none of them.
    @inline(__always) static func severity(of bytes: UnsafeRawBufferPointer, table: UnsafePointer<(UInt128, UInt8)>, count: Int) -> Int? {
        guard let key = packed(bytes) else { return nil }
        for i in 0..<count where table[i].0 == key { return Int(table[i].1) }
        return nil
    }
}
