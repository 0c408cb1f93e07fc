import CSupport
import Glibc

/// A configured node: validates settings, prepares sources and outputs, starts the workers,
/// and runs the control loop (signals, heartbeats, drain, summary) on the calling thread.
public final class Node {
    public let settings: NodeSettings
    /// Pipeline slots: the starting pipelines, then those reloads added. A slot a reload
    /// removed stays (its counters are summed into totals) and is listed in `retiredSlots`.
    public internal(set) var pipelines: [PipelineDefinition]
    public internal(set) var retiredSlots: Set<Int> = []
    /// The pipeline reload under way, if any.
    var pipelineReload: PipelineReload?
    var reloadRound: UInt64 = 0
    public let cpus: [Int]
    public let workerCount: Int
    /// Where the exit summary goes (stderr by default).
    public var summaryFD: Int32 = 2
    /// Committed positions of file inputs that keep offsets.
    public let offsets = OffsetBook()
    /// The locks on the disk buffers' directories (`BufferDirectory.lock`), by path, held for
    /// the node's life (a reload that prepares a buffer again keeps its lock).
    var bufferLocks: [String: Int32] = [:]
    var offsetsIntervalMicros = Int.max

    /// What a finished run did, for `sluice bench` and tests.
    public struct RunSummary: Sendable {
        public var seconds: Double
        public var cpuSeconds: Double
        public var peakRSSBytes: Int
        public var counters: [Counter: UInt64]
        /// Disk buffers, summed over every buffered output: records written, read back, dropped.
        public var bufferRecords = (written: UInt64(0), read: UInt64(0), dropped: UInt64(0))
        public func value(_ c: Counter) -> UInt64 { counters[c] ?? 0 }
    }

    public private(set) var summary: RunSummary?
    /// Exit code after a second SIGINT/SIGTERM (no drain).
    public static let immediateExitCode: Int32 = 130

    /// What a SIGHUP found in the config file.
    public enum ReloadDecision {
        case unchanged
        case invalid(String)
        /// Node-wide settings changed: drain everything, then restart in place with them.
        case restart(String)
        /// Only pipelines changed: the new list, and the names whose definition differs from the
        /// running one or is new. Unchanged pipelines keep running untouched.
        case pipelines([PipelineDefinition], changed: Set<String>)
    }

    /// Checks the config file again on SIGHUP; set by the CLI when the node runs from `--config`.
    public var reloadCheck: (() -> ReloadDecision)?
    /// A SIGHUP found a valid new config and the node drained for it: the caller restarts the
    /// process in place (same PID) so the new config takes effect.
    public internal(set) var restartRequested = false
    /// `--on-stall=restart` fired: the caller restarts in place without waiting for the workers.
    var stallRestart = false

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Exit code after a stall with `--on-stall=exit`, so a service manager restarts the node.
    public static let stallExitCode: Int32 = 3
    /// One control-loop turn: the longest the control thread waits for admin traffic before it
    /// looks at signals, heartbeats and the drain again.
    static let controlTurnMillis: Int32 = 20

    public init(settings: NodeSettings, pipelines: [PipelineDefinition]) throws(SetupError) {
        guard !pipelines.isEmpty else { throw SetupError(description: "no pipeline to run") }
        var allowed = [Int32](repeating: 0, count: 1024)
        let n = Int(sl_allowed_cpus(&allowed, 1024))
        let machine = (0..<n).map { Int(allowed[$0]) }
        var cpus = settings.cpus.isEmpty ? machine : settings.cpus
        for cpu in cpus where !machine.contains(cpu) {
            throw SetupError(description: "--cpus: CPU \(cpu) is not available to this process (allowed: \(machine.map { String($0) }.joined(separator: ",")))")
        }
        let workers = settings.workers == 0 ? cpus.count : settings.workers
        guard workers >= 1 && workers <= EventHandles.maxSlabs else { throw SetupError(description: "--workers must be between 1 and \(EventHandles.maxSlabs)") }
        if cpus.isEmpty { cpus = [0] }
        self.cpus = (0..<workers).map { cpus[$0 % cpus.count] }
        workerCount = workers
        var settings = settings
        settings.pool = settings.pool.fitted(workers: workers)
        self.settings = settings
        self.pipelines = pipelines
        if let problem = settings.pool.problem(workers: workers) { throw SetupError(description: problem) }
        if settings.recvBuffers < 1 || settings.recvBuffers & (settings.recvBuffers - 1) != 0 || settings.recvBuffers > 32768 {
            throw SetupError(description: "--recv-buffers must be a power of two between 1 and 32768")
        }
        for p in pipelines {
            for input in p.inputs {
                if let problem = input.problem(with: settings) { throw SetupError(description: problem) }
            }
        }
    }

    // MARK: Preparing sources

    /// Opens files, listening sockets and output files on the control thread, so every
    /// failure is reported before a worker starts; assigns sources and streams to workers.
    func prepare(shared: NodeShared, slots: [(slot: Int, definition: PipelineDefinition)]) throws(SetupError) -> [WorkerAssignment] {
        var assignments = [WorkerAssignment](repeating: WorkerAssignment(), count: workerCount)
        do {
            try prepareSources(into: &assignments, shared: shared, slots: slots)
        } catch {
            // Nothing half-opened stays behind (a reload goes on without these pipelines).
            for a in assignments { a.closeAll() }
            throw error
        }
        return assignments
    }

    func prepareSources(into assignments: inout [WorkerAssignment], shared: NodeShared,
                        slots: [(slot: Int, definition: PipelineDefinition)]) throws(SetupError) {
        let rows = shared.pluginRows
        var preparation = InputPreparation(workerCount: workerCount, settings: settings, offsets: offsets, openConnections: shared.openConnections)
        for (p, pipeline) in slots {
            preparation.slot = p
            preparation.pipelineName = pipeline.name
            for (inputIndex, input) in pipeline.inputs.enumerated() {
                preparation.inputRow = rows.inputRow(slot: p, input: inputIndex)
                try input.prepare(&preparation, into: &assignments)
            }
        }
        offsetsIntervalMicros = min(offsetsIntervalMicros, preparation.offsetsIntervalMicros)
        for (p, pipeline) in slots {
            for w in 0..<workerCount {
                // Filled as they open, so a failure part-way closes what was opened (closeAll).
                assignments[w].outputFDs[p] = []
                assignments[w].deadLetterFDs[p] = []
                for output in pipeline.outputs {
                    let fd: Int32
                    do throws(SetupError) { fd = try output.definition.openDescriptor() } catch {
                        throw SetupError(description: "pipeline \(pipeline.name): \(error.description)")
                    }
                    assignments[w].outputFDs[p]!.append(fd)
                    var deadLetterFD: Int32 = -1
                    if let path = output.definition.delivery.deadLetterPath {
                        deadLetterFD = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
                        guard deadLetterFD >= 0 else { throw SetupError(description: "pipeline \(pipeline.name): output dead-letter: \(SystemError.lastErrno("open \(path)"))") }
                    }
                    assignments[w].deadLetterFDs[p]!.append(deadLetterFD)
                }
            }
            try prepareBuffers(pipeline, slot: p, shared: shared, into: &assignments)
        }
    }

    /// Opens and checks every worker's directory of the pipeline's disk buffers (torn tails cut,
    /// delivered segments removed: `BufferDirectory.recover`), after locking each buffer-dir;
    /// directories of workers a run with more workers had are adopted (`BufferDirectory.adopt`).
    func prepareBuffers(_ pipeline: PipelineDefinition, slot p: Int, shared: NodeShared, into assignments: inout [WorkerAssignment]) throws(SetupError) {
        for w in 0..<workerCount { assignments[w].buffers[p] = [] }
        for (o, output) in pipeline.outputs.enumerated() {
            let options = output.definition.buffer
            guard options.isDisk else {
                for w in 0..<workerCount { assignments[w].buffers[p]!.append(nil) }
                continue
            }
            let name = "output \(pipeline.name)"
            do {
                if bufferLocks[options.directory] == nil { bufferLocks[options.directory] = try BufferDirectory.lock(options.directory) }
                let orphans = BufferDirectory.orphanedWorkers(options.directory, workerCount: workerCount)
                guard let entry = shared.bufferStatsEntry(slot: p, output: o) else {
                    throw SetupError(description: "pipeline \(pipeline.name): output \(o): the node has room for \(shared.bufferStatsCapacity) disk buffers over its life, and a reload added more: restart it")
                }
                let maxPayload = OutputBatcher.longestLineBytes(settings: settings, maxEventBytes: settings.pool.maxEventSizeBytes)
                for w in 0..<workerCount {
                    var recovery = try BufferDirectory.recover(BufferDirectory.workerDirectory(options.directory, worker: w), maxPayloadBytes: maxPayload) {
                        Log.warn(name, "disk buffer: \($0)")
                    }
                    // Directories of workers a run with more workers had: worker K mod workers drains them.
                    for k in orphans where k % workerCount == w {
                        _ = try BufferDirectory.adopt(BufferDirectory.workerDirectory(options.directory, worker: k), into: &recovery,
                                                      maxPayloadBytes: maxPayload) { Log.warn(name, "disk buffer: \($0)") }
                    }
                    recovery.statsEntry = entry
                    assignments[w].buffers[p]!.append(recovery)
                }
            } catch let error as SetupError {
                throw error
            } catch {
                throw SetupError(description: "pipeline \(pipeline.name): output \(o): disk buffer: \(error)")
            }
        }
    }

    /// At start, an output file (or an output's dead-letter file) that ends without a newline was
    /// cut mid-write by a crash (the kernel can stop a write at a page boundary when the process
    /// is killed): a newline goes after it, so the records written now start on a line of their
    /// own instead of being glued to the cut one. The cut record stays as it is; its events were
    /// not acknowledged, so a file input with offsets reads them again.
    static func endPartialLine(path: String, appendFD: Int32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        var status = stat()
        var last: UInt8 = 0
        let cut = fstat(fd, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG && status.st_size > 0
            && pread(fd, &last, 1, status.st_size - 1) == 1 && last != 10
        Glibc.close(fd)
        guard cut else { return }
        var newline: UInt8 = 10
        if write(appendFD, &newline, 1) == 1 {
            Log.warn("output file", "\(path) ended in a partial line (an earlier run stopped mid-write): added a newline after it")
        } else {
            Log.warn("output file", "\(path) ends in a partial line and a newline could not be added: \(SystemError.lastErrno("write"))")
        }
    }

    // MARK: Running

    /// Runs until every input is finished and drained, or a signal stops the node. Returns
    /// the process exit code.
    public func run() -> Int32 {
        _ = sl_block_control_signals()
        defer {
            // The buffers are free for the next node (a bench runs several in one process).
            for fd in bufferLocks.values { Glibc.close(fd) }
            bufferLocks = [:]
        }
        let topology = NUMATopology.detect(cpus: cpus)
        let placements = (0..<workerCount).map { w in
            settings.numa ? SlabPlacement.forWorker(cpu: settings.pin ? cpus[w] : nil, topology: topology) : .anyNode
        }
        let pool: EventPool
        let shared: NodeShared
        let assignments: [WorkerAssignment]
        let control: ControlPlane
        do {
            pool = try EventPool(settings.pool, placements: placements)
            shared = try NodeShared(settings: settings, pipelines: pipelines, workerCount: workerCount, pool: pool, offsetBook: offsets)
            assignments = try prepare(shared: shared, slots: pipelines.enumerated().map { ($0.offset, $0.element) })
            for (p, pipeline) in pipelines.enumerated() {
                for (o, output) in pipeline.outputs.enumerated() {
                    if case .file(let f) = output.definition, let fd = assignments[0].outputFDs[p]?[o] { Node.endPartialLine(path: f.path, appendFD: fd) }
                    if let path = output.definition.delivery.deadLetterPath, let fd = assignments[0].deadLetterFDs[p]?[o], fd >= 0 {
                        Node.endPartialLine(path: path, appendFD: fd)
                    }
                }
            }
            control = try ControlPlane(node: self, shared: shared)
        } catch let e as SetupError {
            Log.error("node", e.description)
            return 1
        } catch {
            Log.error("node", "\(error)")
            return 1
        }
        let workers = (0..<workerCount).map { Worker(index: $0, cpu: cpus[$0], shared: shared, assignment: assignments[$0]) }
        let start = monotonicNanos()
        var usageStart = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usageStart)
        var threads: [pthread_t] = []
        for w in workers {
            let box = Unmanaged.passRetained(w).toOpaque()
            var thread = pthread_t()
            let rc = pthread_create(&thread, nil, { raw in
                let worker = Unmanaged<Worker>.fromOpaque(raw!).takeRetainedValue()
                worker.run()
                return nil
            }, box)
            precondition(rc == 0, "pthread_create failed: \(rc)")
            threads.append(thread)
        }
        // Wait for every worker's ring to exist (the admin API answers "starting" meanwhile).
        while (0..<workerCount).contains(where: { !shared.flag($0, .started) }) { control.service(timeoutMillis: 1, wakeable: false) }
        if let failed = (0..<workerCount).first(where: { shared.flag($0, .failed) }) {
            Log.error("node", "worker \(failed) could not start: \(workers[failed].failure ?? "unknown error")")
            shared.setPhase(.exiting)
            for t in threads { pthread_join(t, nil) }
            return 1
        }
        Log.info("node", "started \(workerCount) worker(s) on CPU(s) \(cpus.map { String($0) }.joined(separator: ",")), pool \(settings.pool.capacity) events x \(settings.pool.eventSizeBytes) B, \(pipelines.count) pipeline(s)")
        let exitCode = supervise(shared: shared, control: control)
        if exitCode != 0 { restartRequested = stallRestart }  // a reload whose drain failed exits instead
        if !restartRequested { control.notifyStopping() }
        shared.setPhase(.exiting)
        // A stalled worker may never turn its loop again, and a second stop signal means "now":
        // exit without waiting for the workers.
        if exitCode != Node.stallExitCode && exitCode != Node.immediateExitCode { for t in threads { pthread_join(t, nil) } }
        // Workers are gone: what they committed is final.
        if !offsets.entries.isEmpty { offsets.persist() }
        let seconds = Double(monotonicNanos() - start) / 1e9
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let cpuSeconds = Self.seconds(usage.ru_utime) + Self.seconds(usage.ru_stime) - Self.seconds(usageStart.ru_utime) - Self.seconds(usageStart.ru_stime)
        var totals: [Counter: UInt64] = [:]
        for c in Counter.allCases { totals[c] = shared.sum(c) }
        let peak = Node.peakResidentBytes() ?? Int(usage.ru_maxrss) * 1024
        summary = RunSummary(seconds: seconds, cpuSeconds: cpuSeconds, peakRSSBytes: peak, counters: totals)
        summary?.bufferRecords = (bufferTotal(.written, shared), bufferTotal(.read, shared), bufferTotal(.dropped, shared))
        if summaryFD >= 0 { writeSummary(shared: shared, seconds: seconds, cpuSeconds: cpuSeconds, peakRSSBytes: peak) }
        withExtendedLifetime(workers) {}
        return exitCode
    }

    /// VmHWM of /proc/self/status: this process's own peak (ru_maxrss carries a parent's peak
    /// across exec).
    static func peakResidentBytes() -> Int? {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        for line in String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.dropFirst(6).filter(\.isNumber)
            return Int(digits).map { $0 * 1024 }
        }
        return nil
    }

    static func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }

    /// The control loop: admin API, signals, heartbeats, systemd, finished inputs, drain and its timeout.
    func supervise(shared: NodeShared, control: ControlPlane) -> Int32 {
        control.beginSupervision(now: monotonicNanos())
        var stopSince: UInt64 = 0
        var signalled = false
        var stdoutClosed = false
        var offsetsSavedAt = monotonicNanos()
        while true {
            // Admin traffic for up to one turn, then a signal that arrived meanwhile (no wait).
            control.service(timeoutMillis: Node.controlTurnMillis)
            let sig = sl_wait_control_signal(0)
            let now = monotonicNanos()
            if sig == SIGINT || sig == SIGTERM {
                if signalled {
                    Log.warn("node", "second stop signal: exiting without draining")
                    restartRequested = false
                    return Node.immediateExitCode
                }
                signalled = true
                if restartRequested { Log.info("node", "stop signal during a reload: exiting after the drain instead of restarting") }
                restartRequested = false
                Log.info("node", "signal \(sig == SIGINT ? "SIGINT" : "SIGTERM"): stopping inputs and draining")
            } else if sig == SIGHUP {
                reload(control: control)
            }
            if pipelineReload != nil {
                if signalled {
                    Log.warn("node", "stop signal during a pipeline reload: the reload is abandoned, every pipeline drains")
                    pipelineReload = nil
                } else {
                    advanceReload(shared: shared, control: control, now: now)
                }
            }
            for change in control.observeWorkers(now: now) {
                switch change {
                case .moving(let w):
                    Log.info("node", "worker \(w) is moving again")
                case .stalled(let w, let stillNanos):
                    Log.error("node", "worker \(w) stalled: no heartbeat for \(stillNanos / 1_000_000) ms")
                    if settings.onStall == .exit {
                        Log.error("node", "--on-stall=exit: exiting with code \(Node.stallExitCode) so the service manager restarts the node")
                        return Node.stallExitCode
                    }
                    if settings.onStall == .restart {
                        Log.error("node", "--on-stall=restart: restarting the node in place (file inputs resume from their committed offsets)")
                        stallRestart = true
                        TestStall.disarmAfterRestart()
                        return Node.stallExitCode
                    }
                }
            }
            control.tick(now: now)
            if !offsets.entries.isEmpty && now - offsetsSavedAt >= UInt64(offsetsIntervalMicros) * 1000 {
                offsets.persist()
                offsetsSavedAt = now
            }
            // While pipelines are swapped their old inputs are finished and the new ones not yet started.
            let allFinished = pipelineReload == nil && (0..<workerCount).allSatisfy { shared.flag($0, .inputsFinished) }
            if !stdoutClosed && (0..<workerCount).contains(where: { shared.flag($0, .stdoutClosed) }) {
                stdoutClosed = true
                pipelineReload = nil
                restartRequested = false
                if shared.phase == .running { Log.error("node", "stdout was closed by its reader: stopping inputs and draining the other pipelines") }
            }
            if shared.phase == .running && (signalled || allFinished || restartRequested || stdoutClosed) {
                // Inputs that finished by themselves: disk buffers deliver everything before the
                // exit. A signal or a restart leaves undelivered records for the next start.
                let empty = allFinished && !signalled && !restartRequested && !stdoutClosed
                sl_store_release(shared.emptyBuffersWord, empty ? 1 : 0)
                shared.setPhase(.stopping)
                if !restartRequested { control.notifyStopping() }  // a reload said RELOADING=1
                stopSince = now
            }
            if shared.phase == .stopping {
                if (0..<workerCount).allSatisfy({ shared.flag($0, .drained) }) { return stdoutClosed ? 1 : 0 }
                if stdoutClosed && (0..<workerCount).allSatisfy({ shared.flag($0, .inputsFinished) }) {
                    // The stdout pipelines' events can never be written: once every other
                    // pipeline has drained, exit 1 rather than wait for --shutdown-timeout.
                    let toStdout = pipelines.indices.filter { pipelines[$0].hasOutput { if case .stdout = $0 { true } else { false } } }
                    let othersDrained = pipelines.indices.allSatisfy { toStdout.contains($0) || shared.eventsInFlight(slot: $0) == 0 }
                    if othersDrained {
                        let held = toStdout.reduce(Int64(0)) { $0 + shared.eventsInFlight(slot: $1) }
                        Log.error("node", "stdout was closed by its reader: \(held) event(s) were not written there")
                        return 1
                    }
                }
                if now - stopSince > UInt64(settings.shutdownTimeoutMicros) * 1000 {
                    let inFlight = (0..<workerCount).reduce(0) { $0 + shared.inFlight($1) }
                    Log.error("node", "shutdown timed out after \(settings.shutdownTimeoutMicros / 1000) ms with \(inFlight) event(s) not yet acknowledged")
                    return 1
                }
            }
        }
    }

    /// SIGHUP: an invalid or unchanged config changes nothing; a valid new one drains the node
    /// like SIGTERM does, and `restartRequested` tells the caller to restart with it.
    func reload(control: ControlPlane) {
        guard let reloadCheck else {
            Log.warn("node", "SIGHUP: the node runs without --config, so there is nothing to reload; ignoring")
            return
        }
        guard control.shared.phase == .running, !restartRequested else {
            Log.warn("node", "SIGHUP: the node is already stopping; ignoring")
            return
        }
        guard pipelineReload == nil else {
            Log.warn("node", "SIGHUP: a pipeline reload is still under way; ignoring (send SIGHUP again once 'reload done' is logged)")
            return
        }
        switch reloadCheck() {
        case .unchanged:
            Log.info("node", "SIGHUP: the configuration is unchanged; nothing to do")
        case .invalid(let problem):
            Log.error("node", "SIGHUP: the new configuration is invalid, keeping the running one: \(problem)")
        case .restart(let why):
            Log.info("node", "SIGHUP: \(why): draining, then restarting in place with the new configuration")
            control.notifyReloading()
            restartRequested = true
        case .pipelines(let definitions, let changed):
            beginReload(definitions, changed: changed, control: control)
        }
    }

    func writeSummary(shared: NodeShared, seconds: Double, cpuSeconds: Double, peakRSSBytes: Int) {
        let eventsIn = shared.sum(.eventsIn), eventsOut = shared.sum(.eventsOut), bytesIn = shared.sum(.bytesIn)
        let mbPerSecond = seconds > 0 ? Double(bytesIn) / seconds / 1e6 : 0
        let eventsPerSecond = seconds > 0 ? Double(eventsIn) / seconds : 0
        var line = "sluice: events_in=\(eventsIn) events_out=\(eventsOut) discarded=\(shared.sum(.discarded))"
        line += " bytes_in=\(bytesIn) bytes_out=\(shared.sum(.bytesOut))"
        line += " seconds=\(Self.fixed(seconds, 3)) events_per_s=\(Self.fixed(eventsPerSecond, 0)) mb_per_s=\(Self.fixed(mbPerSecond, 1))"
        line += " cpu_seconds=\(Self.fixed(cpuSeconds, 2)) peak_rss_mb=\(Self.fixed(Double(peakRSSBytes) / 1048576, 1))"
        for c in Counter.allCases where c.inSummary {
            let v = shared.sum(c)
            if v > 0 { line += " \(c.name)=\(v)" }
        }
        for (word, name) in [(BufferStats.Word.written, "buffer_written"), (.read, "buffer_read"), (.dropped, "buffer_dropped"),
                             (.corrupt, "buffer_corrupt"), (.tornTails, "buffer_torn_tails"), (.bytes, "buffer_bytes")] {
            let v = bufferTotal(word, shared)
            if v > 0 { line += " \(name)=\(v)" }
        }
        let backpressure = (0..<workerCount).reduce(UInt64(0)) { $0 &+ shared.value($1, .backpressureNanos) }
        if backpressure > 0 { line += " backpressure_seconds=\(Self.fixed(Double(backpressure) / 1e9, 3))" }
        line += "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(summaryFD, $0.baseAddress, $0.count) }
    }

    /// A disk buffer stat summed over every buffered output of every pipeline.
    func bufferTotal(_ word: BufferStats.Word, _ shared: NodeShared) -> UInt64 {
        var total: UInt64 = 0
        for (p, pipeline) in pipelines.enumerated() {
            for (o, output) in pipeline.outputs.enumerated() where output.definition.buffer.isDisk {
                total &+= shared.bufferStat(word, slot: p, output: o)
            }
        }
        return total
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        if digits == 0 { return String(Int(v.rounded())) }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let n = Int((v * scale).rounded())
        let whole = n / Int(scale), frac = abs(n % Int(scale))
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        return "\(whole).\(f)"
    }
}
