import Foundation
import Glibc

/// One run of the real `sluice` binary, its stdout and stderr captured in files. Killed (SIGKILL)
/// and reaped when dropped, so a failing or throwing test never leaves a node running.
final class SluiceProcess {
    enum StandardInput {
        case none
        case pipe
        case file(String)
    }

    /// How the process ended.
    enum Termination: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let code): "exit code \(code)"
            case .signalled(let signal): "killed by signal \(signal)"
            }
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let arguments: [String]
    let standardOutputPath: String
    let standardErrorPath: String
    private let process = Process()
    var processIdentifier: Int32 { process.processIdentifier }

    /// Paths the process has open (from /proc/PID/fd).
    func openFiles() -> [String] {
        let dir = "/proc/\(process.processIdentifier)/fd"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(dir)/\($0)") }
    }
    private let inputPipe: Pipe?

    init(_ arguments: [String], in directory: TemporaryDirectory, standardInput: StandardInput = .none) throws {
        // A child that dies while we write its stdin must fail the test, not kill the runner.
        signal(SIGPIPE, SIG_IGN)
        self.arguments = arguments
        let runID = UUID().uuidString.prefix(8)
        standardOutputPath = directory.path("sluice-\(runID).stdout")
        standardErrorPath = directory.path("sluice-\(runID).stderr")
        guard FileManager.default.createFile(atPath: standardOutputPath, contents: nil),
              FileManager.default.createFile(atPath: standardErrorPath, contents: nil) else {
            throw Failure(description: "cannot create the output files in \(directory.url.path)")
        }
        process.executableURL = try SluiceExecutable.url()
        process.arguments = arguments
        process.currentDirectoryURL = directory.url
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: standardOutputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: standardErrorPath))
        switch standardInput {
        case .none:
            inputPipe = nil
            process.standardInput = FileHandle.nullDevice
        case .pipe:
            let pipe = Pipe()
            inputPipe = pipe
            process.standardInput = pipe
        case .file(let path):
            inputPipe = nil
            guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure(description: "cannot open \(path)") }
            process.standardInput = handle
        }
        try process.run()
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    var isRunning: Bool { process.isRunning }

    func send(signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// Writes to the child's stdin (`.pipe` only); `closeInput()` then gives it EOF.
    func writeInput(_ bytes: Data) throws {
        guard let inputPipe else { throw Failure(description: "stdin of sluice is not a pipe") }
        try inputPipe.fileHandleForWriting.write(contentsOf: bytes)
    }

    func closeInput() throws {
        try inputPipe?.fileHandleForWriting.close()
    }

    /// Waits for the process to end; on timeout kills it and throws, quoting its stderr.
    @discardableResult
    func waitForExit(within timeout: Duration) throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw Failure(description: "sluice \(arguments.joined(separator: " ")) did not exit within \(timeout); killed it. stderr:\n\(standardErrorTail())")
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return process.terminationReason == .exit ? .exited(process.terminationStatus) : .signalled(process.terminationStatus)
    }

    /// Polls stderr until it contains `text`; throws if the process exits first or time runs out.
    func waitForStandardError(containing text: String, within timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while !standardError().contains(text) {
            if !process.isRunning {
                throw Failure(description: "sluice exited before logging '\(text)'. stderr:\n\(standardErrorTail())")
            }
            if ContinuousClock.now > deadline {
                throw Failure(description: "sluice did not log '\(text)' within \(timeout). stderr:\n\(standardErrorTail())")
            }
            usleep(5_000)
        }
    }

    /// Polls until `path` holds at least `byteCount` bytes; throws if the process exits first or time runs out.
    func waitForFile(_ path: String, toReach byteCount: Int, within timeout: Duration) throws {
        let deadline = ContinuousClock.now + timeout
        while true {
            let size = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
            if size >= byteCount { return }
            if !process.isRunning {
                throw Failure(description: "sluice exited with \(path) at \(size) of \(byteCount) bytes. stderr:\n\(standardErrorTail())")
            }
            if ContinuousClock.now > deadline {
                throw Failure(description: "\(path) reached only \(size) of \(byteCount) bytes within \(timeout). stderr:\n\(standardErrorTail())")
            }
            usleep(10_000)
        }
    }

    func standardOutput() -> Data {
        FileManager.default.contents(atPath: standardOutputPath) ?? Data()
    }

    func standardError() -> String {
        String(decoding: FileManager.default.contents(atPath: standardErrorPath) ?? Data(), as: UTF8.self)
    }

    func standardErrorTail() -> String {
        String(standardError().suffix(4000))
    }

    /// The exit summary line of stderr; throws when there is none.
    func summary() throws -> ExitSummary {
        guard let summary = ExitSummary(standardError: standardError()) else {
            throw Failure(description: "no exit summary on stderr:\n\(standardErrorTail())")
        }
        return summary
    }
}

/// The `sluice: events_in=… events_out=… …` line a node writes to stderr when it exits.
struct ExitSummary: CustomStringConvertible {
    let description: String
    private let values: [String: String]

    init?(standardError: String) {
        guard let line = standardError.split(separator: "\n").last(where: { $0.hasPrefix("sluice: events_in=") }) else { return nil }
        description = String(line)
        var values: [String: String] = [:]
        for pair in line.dropFirst("sluice: ".count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        self.values = values
    }

    /// A counter's value; the summary leaves out optional counters that are zero, so absent is 0.
    func count(_ name: String) -> Int {
        values[name].flatMap { Int($0) } ?? 0
    }

    /// Whether the line carries `name` at all (events_in, events_out and discarded always do).
    func has(_ name: String) -> Bool { values[name] != nil }
}
