import Foundation
import Glibc

/// What /proc says about a running node: its process id and resident memory.
enum ProcessStatus {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The id of `sluice`'s process. `SluiceProcess` keeps its `Process` private, so this finds
    /// the child of the test process whose command line is the node's (the arguments name the
    /// test's own temporary directory, so they are unique).
    static func processID(of sluice: SluiceProcess) throws -> pid_t {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry), let stat = read("/proc/\(pid)/stat"),
                  let afterName = stat.range(of: ") ", options: .backwards) else { continue }
            // "PID (COMM) STATE PPID …": the name may hold spaces, so split after its last ')'.
            let fields = stat[afterName.upperBound...].split(separator: " ")
            guard fields.count > 1, pid_t(fields[1]) == me,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { continue }
            let arguments = cmdline.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
            if Array(arguments.dropFirst()) == sluice.arguments { return pid }
        }
        throw Failure(description: "no child process runs sluice \(sluice.arguments.joined(separator: " "))")
    }

    /// Resident memory (VmRSS) of `pid` in bytes.
    static func residentBytes(of pid: pid_t) throws -> Int {
        guard let status = read("/proc/\(pid)/status"),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") else {
            throw Failure(description: "no VmRSS for process \(pid)")
        }
        return kib * 1024
    }

    private static func read(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }
}
