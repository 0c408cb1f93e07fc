import ArgumentParser
import Foundation
import SluiceCore

// MARK: disk-buffer

extension Bench {
    /// The disk buffer measured against its limits in one run: the sequential write speed of
    /// the directory it lives in (dd), tcp-file with buffer=memory, tcp-file with buffer=disk
    /// (sync=none and batch), a buffer whose output is down (what the buffer alone takes in), and
    /// the drain of that buffer into devnull (what the reader alone gives out).
    func runDiskBuffer() throws -> Result {
        let directory = "\(dataDir)/disk-buffer"
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dd = try ddWriteSpeed(directory: directory, megabytes: 1024)
        var rows = [String(format: "dd            %.1f MB/s (dd if=/dev/zero of=%@/dd.tmp bs=1M count=1024 conv=fdatasync)", dd / 1e6, directory)]
        func line(_ name: String, _ r: Result) -> String {
            String(format: "%@ %.0f events/s, %.1f MB/s of lines, cpu %.2f s, peak RSS %.1f MB; %@", name.padding(toLength: 13, withPad: " ", startingAt: 0),
                   Double(r.events) / r.seconds, Double(r.bytes) / r.seconds / 1e6, r.cpuSeconds, Double(r.peakRSSBytes) / 1048576, r.note)
        }
        let memory = try runTCPFile()
        rows.append(line("memory", memory))
        var diskNone = memory, diskBatch = memory
        // The disk is shared: its speed right before the batch run is the batch's limit.
        var ddBefore = dd
        for sync in ["none", "batch"] {
            let buffer = "\(directory)/tcp-file-\(sync)"
            if sync == "batch" { ddBefore = try ddWriteSpeed(directory: directory, megabytes: 256) }
            let r = try runTCPFile(buffer: [("buffer", "disk"), ("buffer-dir", buffer), ("buffer-max-size", "64GiB"), ("buffer-sync", sync)])
            if sync == "none" { diskNone = r } else { diskBatch = r }
            rows.append(line("disk \(sync)", r))
        }
        let write = try writeWithOutputDown(buffer: "\(directory)/down")
        rows.append(String(format: "write         %.0f records/s, %.1f MB/s of records into a buffer whose output is down (sync=none)",
                           Double(write.records) / write.seconds, Double(write.bytes) / write.seconds / 1e6))
        let drain = try drainBuffer(output: try OutputDefinition.make(type: "devnull", PluginArguments(plugin: "devnull", pairs: [
            ("buffer", "disk"), ("buffer-dir", "\(directory)/down"), ("buffer-max-size", "64GiB")])))
        guard drain.records == write.records else { throw ValidationError("wrote \(write.records) records, drained \(drain.records): LOST") }
        rows.append(String(format: "drain         %.0f records/s, %.1f MB/s of records from the buffer into devnull",
                           Double(drain.records) / drain.seconds, Double(write.bytes) / drain.seconds / 1e6))
        let limit = min(Double(memory.bytes) / memory.seconds, dd)
        rows.append(String(format: "ratio         disk none / min(memory, dd) = %.0f%% (lines: %.1f MB/s vs %.1f MB/s)",
                           100 * (Double(diskNone.bytes) / diskNone.seconds) / limit, Double(diskNone.bytes) / diskNone.seconds / 1e6, limit / 1e6))
        rows.append(String(format: "ratio         disk batch / dd just before it (256 MiB) = %.0f%% (lines: %.1f MB/s vs %.1f MB/s)",
                           100 * (Double(diskBatch.bytes) / diskBatch.seconds) / ddBefore, Double(diskBatch.bytes) / diskBatch.seconds / 1e6, ddBefore / 1e6))
        try? FileManager.default.removeItem(atPath: directory)
        return Result(events: diskNone.events, bytes: diskNone.bytes, seconds: diskNone.seconds, cpuSeconds: diskNone.cpuSeconds,
                      peakRSSBytes: diskNone.peakRSSBytes, note: "\n" + rows.joined(separator: "\n"))
    }

    /// dd's sequential write speed (bytes/s) of a 1 MiB-block file in `directory`, fdatasync'd.
    func ddWriteSpeed(directory: String, megabytes: Int) throws -> Double {
        let target = "\(directory)/dd.tmp"
        defer { unlink(target) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/dd")
        process.arguments = ["if=/dev/zero", "of=\(target)", "bs=1M", "count=\(megabytes)", "conv=fdatasync"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        process.waitUntilExit()
        let seconds = Date().timeIntervalSince(start)
        _ = errors.fileHandleForReading.readDataToEndOfFile()
        guard process.terminationStatus == 0 else { throw ValidationError("dd failed") }
        return Double(megabytes << 20) / seconds
    }

    /// tcp → tcp output to a port nobody listens on, buffer=disk sync=none: what the buffer takes
    /// in, with nothing drained. The records stay for `drainBuffer`.
    func writeWithOutputDown(buffer: String) throws -> (records: UInt64, bytes: UInt64, seconds: Double) {
        let port = try BenchData.freePort(), nobody = try BenchData.freePort()
        let input = try InputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [("listen", "127.0.0.1:\(port)")]))
        let output = try OutputDefinition.make(type: "tcp", PluginArguments(plugin: "tcp", pairs: [
            ("address", "127.0.0.1:\(nobody)"), ("buffer", "disk"), ("buffer-dir", buffer), ("buffer-max-size", "64GiB"), ("buffer-sync", "none")]))
        let node = try Node(settings: try settings(), pipelines: [PipelineDefinition(name: "bench", inputs: [input], actions: [], output: output)])
        node.summaryFD = -1
        let senders = TCPSenders(port: port, connections: connections, seconds: seconds, linesPerConnection: events.map { max(1, $0 / connections) })
        let thread = Thread { senders.run() }
        thread.start()
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the pipeline failed (exit code \(code))") }
        guard s.bufferRecords.written == senders.linesSent else {
            throw ValidationError("sent \(senders.linesSent) lines, \(s.bufferRecords.written) written to the buffer")
        }
        let bytes = BufferFilesBytes.total(under: buffer)
        return (s.bufferRecords.written, bytes, senders.elapsedSeconds)
    }

    /// A node without inputs whose output drains the disk buffer `output` names: it finishes
    /// at once and delivers every record before it exits.
    func drainBuffer(output: OutputDefinition) throws -> (records: UInt64, seconds: Double) {
        var definition = PipelineDefinition(name: "bench", inputs: [], actions: [], output: output)
        definition.tuning = PipelineTuning()
        let node = try Node(settings: try settings(), pipelines: [definition])
        node.summaryFD = -1
        let code = node.run()
        guard code == 0, let s = node.summary else { throw ValidationError("the drain failed (exit code \(code))") }
        return (s.bufferRecords.read, s.seconds)
    }
}

/// Bytes of the segment files under a buffer directory.
enum BufferFilesBytes {
    static func total(under directory: String) -> UInt64 {
        var total: UInt64 = 0
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return 0 }
        for case let path as String in enumerator where path.hasSuffix(".seg") {
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + path)
            total += (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
        }
        return total
    }
}
