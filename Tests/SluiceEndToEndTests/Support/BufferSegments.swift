import Foundation
import Glibc

/// Reads a disk buffer's segment files the way the format is documented (`docs/guarantees.md`,
/// `BufferRecord`), independently of the node's reader: `crc32c u32 | length u32 | sequence u64 |
/// time u64 | payload`, the checksum over everything after it. A stretch that is not a record is
/// skipped byte by byte to the next one that checks.
enum BufferSegments {
    static let headerBytes = 24

    /// Every segment file under `directory` (all worker subdirectories), oldest first per worker.
    static func files(under directory: String) -> [String] {
        let workers = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix("worker-") }.sorted()
        return workers.flatMap { worker in
            let dir = directory + "/" + worker
            return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".seg") }.sorted().map { dir + "/" + $0 }
        }
    }

    /// The payloads of the records that check in `data`, with where each starts.
    static func records(in data: Data) -> [(offset: Int, payload: Data)] {
        var result: [(Int, Data)] = []
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset + headerBytes <= bytes.count {
                let length = Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)))
                let end = offset + headerBytes + length
                if length <= 1 << 22, end <= bytes.count,
                   crc32c(UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<end])) == UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) {
                    result.append((offset, Data(bytes[(offset + headerBytes)..<end])))
                    offset = end
                } else {
                    offset += 1
                }
            }
        }
        return result
    }

    /// The payloads of every record that checks in every segment under `directory`.
    static func payloads(under directory: String) -> [Data] {
        files(under: directory).flatMap { path in records(in: (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()).map(\.payload) }
    }

    static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static func crc32c(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { t in
            for b in bytes { c = t[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }
}

/// Line numbers of numbered lines (`NumberedLines`), in the order they appear; other lines are
/// left out.
func lineNumbers(_ data: Data) -> [Int] {
    var numbers: [Int] = []
    let scratch = ByteBuilder(capacity: 128)
    data.withUnsafeBytes { bytes in
        _ = bytes.forEachLine { line in
            if let n = NumberedLines.number(of: line, scratch: scratch) { numbers.append(n) }
        }
    }
    return numbers
}
