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
