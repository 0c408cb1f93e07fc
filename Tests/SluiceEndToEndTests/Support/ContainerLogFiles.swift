import Foundation
import Glibc

/// Container log files written the way container runtimes write them, for the k8s input's
/// tests: CRI lines (containerd, CRI-O) or Docker json-file lines, long messages split into
/// partial lines (CRI `P`, a Docker `log` without its `\n`; the CRI ones cut at any byte, even
/// inside a UTF-8 character), a stderr record written between the partial lines of a stdout
/// one. Every message names its file and record, so the output can be checked record by record.
enum ContainerLogFiles {
    enum Format { case cri, docker }

    /// One record: what its event must carry.
    struct Record {
        let message: String
        let stream: String
        let time: String
    }

    /// The longest piece of a message one line carries (containerd's is 16 KiB; smaller here so
    /// more records are split).
    static let pieceBytes = 4096

    static func containerID(_ file: Int) -> String {
        let hex = String(file, radix: 16)
        return String(repeating: "0", count: 64 - hex.count) + hex
    }

    /// The kubelet's name for file `file`: pod and namespace with dots and dashes.
    static func name(_ file: Int) -> String {
        "web-\(file).v2-7d9f8b-x2v_team-a.prod_app-\(file)-\(containerID(file)).log"
    }

    /// Record `k` of file `file`: some carry quotes, backslashes, tabs, a control byte and
    /// non-ASCII text; every eleventh is long enough to be split into several lines.
    static func record(_ file: Int, _ k: Int) -> Record {
        var message = "f\(file) r\(k)"
        if k % 5 == 1 { message += " \"quoted\" back\\slash\ttab é€😀 \u{01}" }
        if k % 11 == 3 { message += " " + String(repeating: "long-é€😀-", count: 700) }
        let stream = k % 4 == 3 ? "stderr" : "stdout"
        let time = String(format: "2024-05-01T10:%02d:%02d.%09dZ", (k / 60) % 60, k % 60, k)
        return Record(message: message, stream: stream, time: time)
    }

    /// The lines of one record (each with its newline).
    static func lines(_ r: Record, _ format: Format) -> [[UInt8]] {
        switch format {
        case .cri:
            let bytes = Array(r.message.utf8)
            var pieces: [ArraySlice<UInt8>] = []
            var start = 0
            repeat {
                let end = min(bytes.count, start + pieceBytes)
                pieces.append(bytes[start..<end])
                start = end
            } while start < bytes.count
            return pieces.enumerated().map { i, piece in
                Array("\(r.time) \(r.stream) \(i == pieces.count - 1 ? "F" : "P") ".utf8) + piece + [10]
            }
        case .docker:
            // Docker splits before escaping; pieces end between characters here.
            var pieces: [String] = []
            var piece = ""
            for c in r.message {
                if piece.utf8.count + c.utf8.count > pieceBytes {
                    pieces.append(piece)
                    piece = ""
                }
                piece.append(c)
            }
            pieces.append(piece)
            return pieces.enumerated().map { i, piece in
                let log = escaped(piece + (i == pieces.count - 1 ? "\n" : ""))
                return Array("{\"log\":\"\(log)\",\"stream\":\"\(r.stream)\",\"time\":\"\(r.time)\"}\n".utf8)
            }
        }
    }

    /// The bytes of records `range` of file `file` and the records in the order their events
    /// come (a stdout record split into lines has the stderr record after it written between
    /// its first and second line, so that one comes first).
    static func content(_ file: Int, _ range: Range<Int>, _ format: Format) -> (bytes: [UInt8], records: [Record]) {
        var bytes: [UInt8] = []
        var order: [Record] = []
        var k = range.lowerBound
        while k < range.upperBound {
            let r = record(file, k)
            let own = lines(r, format)
            if own.count > 1, k + 1 < range.upperBound, record(file, k + 1).stream != r.stream {
                let next = record(file, k + 1)
                bytes += own[0]
                for line in lines(next, format) { bytes += line }
                for line in own.dropFirst() { bytes += line }
                order += [next, r]
                k += 2
                continue
            }
            for line in own { bytes += line }
            order.append(r)
            k += 1
        }
        return (bytes, order)
    }

    static func escaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Writes `bytes` to the end of `path` in pieces of random size (1 byte to 6 KB), each its
    /// own write: a reader sees lines and records cut anywhere.
    static func appendInPieces(_ bytes: [UInt8], to path: String, using random: inout SeededRandom, pauseMicros: UInt32 = 0) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var start = 0
        while start < bytes.count {
            let n = min(bytes.count - start, Int.random(in: 1...6000, using: &random))
            let written = bytes[start..<start + n].withUnsafeBytes { write(fd, $0.baseAddress, n) }
            guard written == n else { throw POSIXError(.EIO) }
            start += n
            if pauseMicros > 0 && Int.random(in: 0..<8, using: &random) == 0 { usleep(pauseMicros) }
        }
    }

    /// What arrived: the events (JSON lines) parsed, grouped by container; lines that are not
    /// JSON objects (a write cut by SIGKILL) counted apart.
    struct Arrived {
        var byContainer: [String: [[String: Any]]] = [:]
        var unreadable = 0
        var events: Int { byContainer.values.reduce(0) { $0 + $1.count } }

        init(_ data: Data) {
            data.withUnsafeBytes { buffer in
                var start = 0
                for i in 0..<buffer.count where buffer[i] == 10 {
                    defer { start = i + 1 }
                    guard i > start else { continue }
                    let line = Data(buffer[start..<i])
                    guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any],
                          let container = object["container"] as? String else {
                        unreadable += 1
                        continue
                    }
                    byContainer[container, default: []].append(object)
                }
            }
        }

        /// Problems with file `file`'s events against `expected` (in order, each once; or with
        /// `atLeastOnce`, each at least once and nothing else); empty when they match.
        func problems(file: Int, expected: [Record], atLeastOnce: Bool = false) -> [String] {
            let events = byContainer["app-\(file)"] ?? []
            var problems: [String] = []
            if !atLeastOnce && events.count != expected.count {
                problems.append("file \(file): \(events.count) events, \(expected.count) records")
            }
            var wanted: [String: Record] = [:]
            for r in expected { wanted[r.message] = r }
            var seen = Set<String>()
            for (i, e) in events.enumerated() {
                let log = e["log"] as? String ?? "<no log>"
                if !atLeastOnce && i < expected.count && log != expected[i].message {
                    problems.append("file \(file) event \(i): log \(log.prefix(60)) where \(expected[i].message.prefix(60)) was expected")
                    break
                }
                guard let r = wanted[log] else {
                    problems.append("file \(file) event \(i): unexpected log \(log.prefix(80))")
                    break
                }
                seen.insert(log)
                if e["stream"] as? String != r.stream || e["time"] as? String != r.time || e["pod"] as? String != "web-\(file).v2-7d9f8b-x2v"
                    || e["namespace"] as? String != "team-a.prod" || e["container_id"] as? String != containerID(file) || e["parse_error"] != nil {
                    problems.append("file \(file) event \(i): fields \(e.filter { $0.key != "log" })")
                    break
                }
            }
            if seen.count != wanted.count { problems.append("file \(file): \(wanted.count - seen.count) records missing") }
            return problems
        }
    }
}
