import Foundation
import Glibc

struct WaitTimedOut: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` every 20 ms until it holds; throws after `timeout`, or as soon as `sluice`
/// (when given) is no longer running, quoting `what` and the node's stderr.
func waitUntil(_ what: @autoclosure () -> String, within timeout: Duration, while sluice: SluiceProcess? = nil,
               _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        if let sluice, !sluice.isRunning {
            throw WaitTimedOut(description: "sluice exited while waiting for \(what()). stderr:\n\(sluice.standardErrorTail())")
        }
        if ContinuousClock.now > deadline {
            throw WaitTimedOut(description: "no \(what()) within \(timeout)" + (sluice.map { ". stderr:\n\($0.standardErrorTail())" } ?? ""))
        }
        usleep(20_000)
    }
}

/// The size of `path` in bytes, 0 when it does not exist.
func fileSize(_ path: String) -> Int {
    var info = stat()
    return stat(path, &info) == 0 ? Int(info.st_size) : 0
}

/// The lines (newlines) in `path`, 0 when it does not exist; cheap enough to poll on files of
/// a few tens of MB.
func lineCount(_ path: String) -> Int {
    guard let data = FileManager.default.contents(atPath: path) else { return 0 }
    return data.withUnsafeBytes { bytes in
        guard var p = bytes.baseAddress else { return 0 }
        let end = p + bytes.count
        var n = 0
        while p < end, let newline = memchr(p, 0x0A, end - p) {
            n += 1
            p = UnsafeRawPointer(newline) + 1
        }
        return n
    }
}
