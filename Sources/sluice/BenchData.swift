import Foundation
import SluiceCore
import Glibc

/// Data and load for `sluice bench`: deterministic NDJSON files, page-cache warm-up, loopback
/// senders, line counting.
enum BenchData {
    /// Writes `lines` NDJSON lines of 100 B–2 KB (xorshift with `seed`) unless the file exists;
    /// returns its size in bytes.
    static func ensureNDJSONFile(path: String, lines: Int, seed: UInt64) throws -> UInt64 {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? UInt64, size > 0 {
            return size
        }
        let temp = path + ".tmp"
        guard let file = fopen(temp, "w") else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var state = seed | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let types = ["click", "view", "purchase", "login"]
        let letters = Array("abcdefghijklmnopqrstuvwxyz".utf8)
        var line = [UInt8]()
        line.reserveCapacity(4096)
        var total: UInt64 = 0
        for i in 0..<lines {
            let r = next()
            line.removeAll(keepingCapacity: true)
            line += Array("{\"ts\":\(1_700_000_000_000 + i),\"type\":\"\(types[Int(r % 4)])\",\"user\":\"u\((r >> 8) % 10000)\",\"value\":\((r >> 24) % 1000),\"msg\":\"".utf8)
            let target = 100 + Int((r >> 32) % 1900)
            var m = next()
            while line.count < target - 3 {
                if m == 0 { m = next() }
                line.append(line.count % 9 == 0 ? 32 : letters[Int(m % 26)])
                m /= 26
            }
            line += Array("\"}\n".utf8)
            total += UInt64(line.count)
            _ = line.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        }
        fclose(file)
        rename(temp, path)
        return total
    }

    /// Writes `lines` NDJSON lines shaped like production logs unless the file exists; returns its
    /// size in bytes. Lines of 0.5–12 KB (mean about 3 KB), 5 to 140 top-level fields, objects and
    /// arrays nested up to 5 deep, strings with escapes (`\n`, `\t`, `\"`, `\\`, now and then
    /// `\u00e9`) and non-ASCII UTF-8 (Latin accents, Cyrillic, CJK, emoji); every line is valid
    /// JSON. A generator of the same shape apart from this one: `perf/realistic-corpus.py`.
    static func ensureRealisticFile(path: String, lines: Int, seed: UInt64) throws -> UInt64 {
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path), let size = attributes[.size] as? UInt64, size > 0 {
            return size
        }
        let temp = path + ".tmp"
        guard let file = fopen(temp, "w") else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var generator = RealisticLogLine(seed: seed)
        var chunk = [UInt8]()
        chunk.reserveCapacity(1 << 20)
        var total: UInt64 = 0
        for _ in 0..<lines {
            generator.append(to: &chunk)
            if chunk.count > (1 << 20) - RealisticLogLine.maxLineBytes {
                total += UInt64(chunk.count)
                _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                chunk.removeAll(keepingCapacity: true)
            }
        }
        total += UInt64(chunk.count)
        _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        rename(temp, path)
        return total
    }

    /// `{ts,type,user,value}` lines (~75 B) and, computed while writing them, the count and
    /// sum of value per type (kept next to the data in PATH.expected).
    static func ensureEventsFile(path: String, lines: Int, seed: UInt64) throws -> (UInt64, [String: (count: Int, sum: Int)]) {
        let expectedPath = path + ".expected"
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64, size > 0,
           let text = try? String(contentsOfFile: expectedPath, encoding: .utf8) {
            var expected: [String: (count: Int, sum: Int)] = [:]
            for line in text.split(separator: "\n") {
                let p = line.split(separator: " ")
                if p.count == 3, let c = Int(p[1]), let s = Int(p[2]) { expected[String(p[0])] = (c, s) }
            }
            if !expected.isEmpty { return (size, expected) }
        }
        let temp = path + ".tmp"
        guard let file = fopen(temp, "w") else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        var state = seed | 1
        func next() -> UInt64 { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return state }
        let types = ["click", "view", "purchase", "login"]
        var expected: [String: (count: Int, sum: Int)] = [:]
        var total: UInt64 = 0
        var chunk = [UInt8]()
        chunk.reserveCapacity(1 << 20)
        for i in 0..<lines {
            let r = next()
            let type = types[Int(r % 4)]
            let value = Int((r >> 24) % 1000)
            expected[type, default: (0, 0)].count += 1
            expected[type, default: (0, 0)].sum += value
            chunk += Array("{\"ts\":\(1_700_000_000_000 + i),\"type\":\"\(type)\",\"user\":\"u\((r >> 8) % 10000)\",\"value\":\(value)}\n".utf8)
            if chunk.count > (1 << 20) - 256 {
                total += UInt64(chunk.count)
                _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                chunk.removeAll(keepingCapacity: true)
            }
        }
        total += UInt64(chunk.count)
        _ = chunk.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
        rename(temp, path)
        let text = expected.map { "\($0.key) \($0.value.count) \($0.value.sum)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: expectedPath, atomically: true, encoding: .utf8)
        return (total, expected)
    }

    static func warmPageCache(path: String) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while read(fd, buffer, 1 << 20) > 0 {}
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        return UInt16(bigEndian: address.sin_port)
    }

    static func countLines(path: String) throws -> (UInt64, UInt64) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return (0, 0) }
        defer { close(fd) }
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        defer { buffer.deallocate() }
        var lines: UInt64 = 0, bytes: UInt64 = 0
        while true {
            let n = read(fd, buffer, size)
            if n <= 0 { break }
            bytes += UInt64(n)
            var p = buffer
            var left = n
            while left > 0, let hit = memchr(p, 10, left) {
                lines += 1
                let advance = UnsafeMutableRawPointer(hit) - p + 1
                p += advance
                left -= advance
            }
        }
        return (lines, bytes)
    }
}

/// Loopback senders for tcp-file: each connection writes 256 B lines in 64 KB writes for the
/// given time (or line count), then the node is stopped with SIGTERM and drains. For
/// syslog-file (`syslog`), each 256 B record is an octet-counted RFC 5424 message instead.
final class TCPSenders: @unchecked Sendable {
    let port: UInt16
    var syslog = false
    let connections: Int
    let seconds: Double
    let linesPerConnection: Int?
    private let lock = NSLock()
    private var sent: UInt64 = 0
    private(set) var elapsedSeconds = 0.0

    init(port: UInt16, connections: Int, seconds: Double, linesPerConnection: Int?) {
        self.port = port
        self.connections = connections
        self.seconds = seconds
        self.linesPerConnection = linesPerConnection
    }

    var linesSent: UInt64 { lock.lock(); defer { lock.unlock() }; return sent }

    func run() {
        // Wait for the node to listen.
        for _ in 0..<500 {
            if let fd = connect() { close(fd); break }
            usleep(10_000)
        }
        let start = Date()
        let group = DispatchGroup()
        for c in 0..<connections {
            group.enter()
            Thread {
                let n = self.send(connection: c)
                self.lock.lock()
                self.sent += n
                self.lock.unlock()
                group.leave()
            }.start()
        }
        group.wait()
        elapsedSeconds = Date().timeIntervalSince(start)
        // The empty probe connection above closed without data; now stop the node.
        kill(getpid(), SIGTERM)
    }

    func connect() -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if ok { return fd }
        close(fd)
        return nil
    }

    func send(connection: Int) -> UInt64 {
        guard let fd = connect() else { return 0 }
        defer { close(fd) }
        let lineBytes = 256
        let perWrite = 256
        // Every line is `{"conn":C,"seq":N,"msg":"` + x… + `"}\n`. The x… and the end are laid
        // down once; each line then rewrites only its prefix, which never gets shorter in a
        // given place (seq grows), so no stale byte is left. Nothing is allocated per line:
        // the sender shares the node's two CPUs, and its cost would count against the node.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: lineBytes * perWrite, alignment: 64)
        defer { buffer.deallocate() }
        for i in 0..<perWrite {
            let line = buffer + i * lineBytes
            line.initializeMemory(as: UInt8.self, repeating: 120, count: lineBytes - 3)
            var w = ByteWriter(line + (lineBytes - 3))
            if syslog { w.put("xxx") } else { w.put("\"}\n") }
        }
        var sequence = 0
        let deadline = Date().addingTimeInterval(seconds)
        var lines: UInt64 = 0
        while true {
            if let limit = linesPerConnection { if sequence >= limit { break } } else if Date() >= deadline { break }
            let count = linesPerConnection.map { min(perWrite, $0 - sequence) } ?? perWrite
            for i in 0..<count {
                var w = ByteWriter(buffer + i * lineBytes)
                if syslog {
                    // `252 ` + 252 bytes of message: 256 B per record, like tcp-file's lines.
                    w.put("252 <165>1 2026-12-04T10:00:00.123456Z bench.example.com benchapp 4242 ID47 [meta conn=\"")
                    w.put(UInt64(connection))
                    w.put("\" seq=\"")
                    w.put(UInt64(sequence + i))
                    w.put("\"] ")
                    continue
                }
                w.put("{\"conn\":")
                w.put(UInt64(connection))
                w.put(",\"seq\":")
                w.put(UInt64(sequence + i))
                w.put(",\"msg\":\"")
            }
            var offset = 0
            let total = count * lineBytes
            while offset < total {
                let n = Glibc.send(fd, buffer + offset, total - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return lines }
                offset += n
            }
            sequence += count
            lines += UInt64(count)
        }
        return lines
    }
}
