import CSupport
import Glibc

/// The control thread's per-run state besides signals and drain: worker health, the admin HTTP
/// API and systemd notifications. Everything here reads the workers' shared words and never
/// touches an event.
final class ControlPlane {
    let node: Node
    let shared: NodeShared
    private(set) var admin: AdminServer?
    let notifier: SystemdNotifier?
    private(set) var health: WorkerHealth
    private var readyNotified = false
    private var stoppingNotified = false
    private var watchdogDueNanos: UInt64 = 0
    private var watchdogBeats: [UInt64]
    /// Descriptors that end a control turn early: the workers' wake eventfd and, when it could
    /// be made, a signalfd over the stop and reload signals (the signal itself is taken by
    /// `sl_wait_control_signal` after the turn).
    private let wakeFDs: [Int32]
    private let signalFD: Int32

    /// Opens the admin socket (when enabled) and reads the systemd environment. Failing to
    /// listen is fatal only when `--admin` was given: the default address is best effort, so a
    /// second node or a busy port 9090 does not keep a pipeline from running.
    init(node: Node, shared: NodeShared) throws(Node.SetupError) {
        self.node = node
        self.shared = shared
        notifier = SystemdNotifier()
        health = WorkerHealth(shared: shared, now: monotonicNanos())
        watchdogBeats = [UInt64](repeating: 0, count: shared.workerCount)
        signalFD = sl_control_signal_fd()
        wakeFDs = [shared.controlWakeFD] + (signalFD >= 0 ? [signalFD] : [])
        if let address = node.settings.admin {
            do {
                let server = try AdminServer(address: address)
                admin = server
                Log.info("admin", "listening on http://\(server.address) (/live /ready /metrics /pipelines)")
            } catch {
                if node.settings.adminRequired { throw Node.SetupError(description: "--admin \(address): \(error)") }
                Log.warn("admin", "\(error): running without the admin interface (choose another address with --admin HOST:PORT, or --admin off)")
            }
        }
    }

    deinit {
        if signalFD >= 0 { close(signalFD) }
    }

    /// Serves admin traffic for up to `timeoutMillis` (or just waits that long without an admin
    /// server). With `wakeable`, a stop signal or a worker raising a status flag ends the wait
    /// early; the wake is consumed here, so the caller must look at the workers' flags after
    /// every wakeable turn (the supervision loop does; the start-up wait is not wakeable).
    func service(timeoutMillis: Int32, wakeable: Bool = true) {
        let extra = wakeable ? wakeFDs : []
        if let admin {
            admin.service(timeoutMillis: timeoutMillis, now: monotonicNanos, route: route, pending: pendingSample, wakeFDs: extra)
        } else {
            var fds = extra.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), timeoutMillis)
        }
        guard wakeable else { return }
        var count: UInt64 = 0
        _ = read(shared.controlWakeFD, &count, 8)  // nonblocking: resets the eventfd if it was set
    }

    /// Supervision starts now: heartbeats are measured from here.
    func beginSupervision(now: UInt64) {
        health = WorkerHealth(shared: shared, now: now)
    }

    func observeWorkers(now: UInt64) -> [WorkerHealth.Change] {
        health.observe(shared: shared, now: now, stallTimeoutNanos: UInt64(node.settings.stallTimeoutMicros) * 1000)
    }

    // MARK: Readiness

    enum State {
        case starting, running, stopping
        case failed(worker: Int)
        case stalled(worker: Int)

        var name: String {
            switch self {
            case .starting: "starting"
            case .running: "running"
            case .stopping: "stopping"
            case .failed: "failed"
            case .stalled: "stalled"
            }
        }

        var detail: String {
            switch self {
            case .failed(let w): "worker \(w) failed to start"
            case .stalled(let w): "worker \(w) stalled"
            default: name
            }
        }
    }

    /// Ready (`.running`) when every worker started and turns its loop (inputs and outputs were
    /// opened before the workers started), none is stalled and the node is not stopping.
    var state: State {
        for w in 0..<shared.workerCount {
            if shared.flag(w, .failed) { return .failed(worker: w) }
            if !shared.flag(w, .started) || shared.heartbeat(w) == 0 { return .starting }
        }
        if shared.phase != .running { return .stopping }
        if let w = health.stalled.firstIndex(of: true) { return .stalled(worker: w) }
        return .running
    }

    var isReady: Bool { if case .running = state { true } else { false } }

    // MARK: systemd

    /// `READY=1` once ready; `WATCHDOG=1` every half watchdog period while every worker's
    /// heartbeat moved since the last one and none is stalled (a stuck node then gets killed
    /// and restarted by systemd).
    /// Since when each file with offsets has had uncommitted bytes (for the lag in seconds);
    /// checked once a second.
    private(set) var commitLagSince: [String: UInt64] = [:]
    private var commitLagCheckedAt: UInt64 = 0

    func updateCommitLag(now: UInt64) {
        guard now - commitLagCheckedAt >= 1_000_000_000 || commitLagCheckedAt == 0 else { return }
        commitLagCheckedAt = now
        for entry in node.offsets.entries {
            if ControlPlane.commitLagBytes(entry.record) > 0 {
                if commitLagSince[entry.path] == nil { commitLagSince[entry.path] = now }
            } else {
                commitLagSince[entry.path] = nil
            }
        }
    }

    func tick(now: UInt64) {
        updateCommitLag(now: now)
        guard let notifier else { return }
        if !readyNotified && isReady {
            notifier.notify("READY=1\nSTATUS=running \(node.pipelines.count - node.retiredSlots.count) pipeline(s) on \(shared.workerCount) worker(s)")
            readyNotified = true
            watchdogBeats = (0..<shared.workerCount).map { shared.heartbeat($0) }
            watchdogDueNanos = now + (notifier.watchdogIntervalNanos ?? 0)
        }
        guard readyNotified, let interval = notifier.watchdogIntervalNanos, now >= watchdogDueNanos else { return }
        let beats = (0..<shared.workerCount).map { shared.heartbeat($0) }
        let allMoved = zip(beats, watchdogBeats).allSatisfy { $0 != $1 }
        if allMoved && !health.anyStalled { notifier.notify("WATCHDOG=1") }
        watchdogBeats = beats
        watchdogDueNanos = now + interval
    }

    /// Before a restart in place; the restarted node sends `READY=1` again.
    func notifyReloading() {
        notifier?.notify("RELOADING=1")
    }

    /// A pipeline reload finished (the node kept running): `READY=1` again after `RELOADING=1`.
    func notifyReloaded() {
        notifier?.notify("READY=1\nSTATUS=running \(node.pipelines.count - node.retiredSlots.count) pipeline(s) on \(shared.workerCount) worker(s)")
    }

    func notifyStopping() {
        guard let notifier, !stoppingNotified else { return }
        notifier.notify("STOPPING=1")
        stoppingNotified = true
    }

    // MARK: Admin API

    static let routes = ["/live", "/ready", "/metrics", "/pipelines"]

    /// When the sample asked for is due: (asked at, pipeline, action).
    private var sampleAsked: (at: UInt64, pipeline: Int, action: Int)?

    /// `/pipelines/NAME/ACTION/sample`: the next event of the pipeline before and after action
    /// ACTION (0-based), as JSON — answered when a worker has it, 504 after `waitNanos`.
    func routeSample(_ request: AdminServer.Request) -> AdminServer.Response? {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0].isEmpty, parts[1] == "pipelines", parts[4] == "sample" else { return nil }
        guard request.method == "GET" else {
            return .init(status: 405, body: "method \(request.method) not allowed\n", extraHeaders: [("Allow", "GET")])
        }
        guard let p = node.liveSlots[String(parts[2])] else {
            return .init(status: 404, body: "no pipeline named \(parts[2])\n")
        }
        guard let a = Int(parts[3]), a >= 0, a < node.pipelines[p].actions.count else {
            return .init(status: 404, body: "pipeline \(parts[2]) has actions 0..<\(node.pipelines[p].actions.count); no action \(parts[3])\n")
        }
        if let asked = sampleAsked, monotonicNanos() - asked.at > EventSampler.waitNanos {
            shared.sampler.cancel()  // its client went away before the answer
            sampleAsked = nil
        }
        guard sampleAsked == nil, shared.sampler.ask(pipeline: p, action: a) else {
            return .init(status: 409, body: "a sample is already being taken; try again\n")
        }
        sampleAsked = (monotonicNanos(), p, a)
        return AdminServer.deferred
    }

    func pendingSample() -> AdminServer.Response? {
        guard let asked = sampleAsked else { return nil }
        func quoted(_ bytes: [UInt8]) -> String { String(decoding: JSONText.quoted(String(decoding: bytes, as: UTF8.self)), as: UTF8.self) }
        if let sample = shared.sampler.take() {
            sampleAsked = nil
            let body = "{\"pipeline\":\(quoted(Array(node.pipelines[asked.pipeline].name.utf8))),\"action\":\(asked.action),"
                + "\"verdict\":\"\(sample.verdict)\",\"before\":\(quoted(sample.before)),\"after\":\(sample.after.map(quoted) ?? "null")}\n"
            return .init(status: 200, contentType: "application/json", body: body)
        }
        if monotonicNanos() - asked.at > EventSampler.waitNanos {
            shared.sampler.cancel()
            sampleAsked = nil
            return .init(status: 504, body: "no event reached that action within \(EventSampler.waitNanos / 1_000_000_000) s\n")
        }
        return nil
    }

    func route(_ request: AdminServer.Request) -> AdminServer.Response {
        if let sample = routeSample(request) { return sample }
        guard ControlPlane.routes.contains(request.path) else {
            return .init(status: 404, body: "not found: \(request.path) (try \(ControlPlane.routes.joined(separator: ", ")))\n")
        }
        guard request.method == "GET" || request.method == "HEAD" else {
            return .init(status: 405, body: "method \(request.method) not allowed\n", extraHeaders: [("Allow", "GET, HEAD")])
        }
        switch request.path {
        case "/live":
            return .init(status: 200, body: "live\n")
        case "/ready":
            let now = state
            if case .running = now { return .init(status: 200, body: "ready\n") }
            return .init(status: 503, body: "not ready: \(now.detail)\n")
        case "/metrics":
            return .init(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metricsText())
        default:
            return .init(status: 200, contentType: "application/json", body: pipelinesJSON())
        }
    }

    /// `{"state":…,"ready":…,"workers":N,"pipelines":[{"name","inputs","actions","output","state","counters"}]}`.
    /// Every worker runs every pipeline, so a pipeline's state is the node's.
    func pipelinesJSON() -> String {
        func quoted(_ s: String) -> String { String(decoding: JSONText.quoted(s), as: UTF8.self) }
        func list(_ items: [String]) -> String { "[" + items.map(quoted).joined(separator: ",") + "]" }
        let state = self.state.name
        var entries: [String] = []
        for (p, pipeline) in node.pipelines.enumerated() where !node.retiredSlots.contains(p) {
            let state = node.pipelineReload.map { $0.starts.contains { $0.slot == p } || $0.stops.contains(p) } == true ? "reloading" : state
            let counters = Counter.allCases.map { "\(quoted($0.name)):\(shared.sum($0, pipeline: p))" }.joined(separator: ",")
            let inputs = pipeline.inputs.indices.map { i in
                let c = shared.inputCounts(slot: p, input: i)
                return "{\"plugin\":\(quoted(pipeline.inputs[i].typeName)),\"events\":\(c.events),\"bytes\":\(c.bytes)}"
            }.joined(separator: ",")
            let actions = pipeline.actions.indices.map { a in
                let c = shared.actionCounts(slot: p, action: a)
                return "{\"plugin\":\(quoted(pipeline.actions[a].typeName)),\"dropped\":\(c.dropped),\"consumed\":\(c.consumed)}"
            }.joined(separator: ",")
            let buffers = diskBufferedOutputs([(p, pipeline)]).map { o in
                let stat = { (w: BufferStats.Word) in self.shared.bufferStat(w, slot: p, output: o.output) }
                return "{\"output\":\(o.output),\"plugin\":\(quoted(o.plugin)),\"bytes\":\(stat(.bytes)),\"segments\":\(stat(.segments)),"
                    + "\"oldest_record_age_seconds\":\(PrometheusText.number(bufferAgeSeconds(slot: p, output: o.output))),"
                    + "\"records_written\":\(stat(.written)),\"records_read\":\(stat(.read)),\"records_dropped\":\(stat(.dropped)),"
                    + "\"corrupt\":\(stat(.corrupt)),\"torn_tails\":\(stat(.tornTails))}"
            }.joined(separator: ",")
            entries.append("{\"name\":\(quoted(pipeline.name)),\"inputs\":\(list(pipeline.inputs.map(\.typeName))),"
                + "\"actions\":\(list(pipeline.actions.map(\.typeName))),\"output\":\(quoted(pipeline.outputs[0].definition.typeName)),"
                + "\"outputs\":\(list(pipeline.outputs.map(\.definition.typeName))),"
                + "\"state\":\(quoted(state)),\"counters\":{\(counters)},"
                + "\"input_counters\":[\(inputs)],\"action_counters\":[\(actions)],\"buffers\":[\(buffers)]}")
        }
        return "{\"state\":\(quoted(state)),\"ready\":\(isReady),\"workers\":\(shared.workerCount),"
            + "\"pipelines\":[\(entries.joined(separator: ","))]}\n"
    }
}

