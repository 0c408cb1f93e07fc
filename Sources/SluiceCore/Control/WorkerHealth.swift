/// What the control thread does when a worker stalls (`--on-stall`).
public enum StallPolicy: String, Sendable, CaseIterable {
    /// Log it, count it, report not ready until the worker moves again.
    case log
    /// Exit with `Node.stallExitCode` so the service manager restarts the node.
    case exit
    /// Restart the node in place (same PID). A stalled worker thread cannot be stopped on its
    /// own and every pipeline has a share of every worker, so the node is what restarts; file
    /// inputs with offsets resume from their committed positions.
    case restart
}

/// The control thread's view of the workers' health, updated once per control-loop turn from
/// the workers' heartbeat and busy-time words: stalls (heartbeat still for `--stall-timeout`),
/// stall counts, and each worker's busy ratio over the last sampling window.
struct WorkerHealth {
    /// The busy ratio is measured over windows of this length.
    static let busySampleNanos: UInt64 = 1_000_000_000

    private(set) var lastBeats: [UInt64]
    private var lastMovedNanos: [UInt64]
    private(set) var stalled: [Bool]
    private(set) var stallCounts: [UInt64]
    private(set) var busyRatio: [Double]
    private var busySample: [UInt64]
    private var busySampleAtNanos: UInt64

    init(shared: NodeShared, now: UInt64) {
        let n = shared.workerCount
        lastBeats = (0..<n).map { shared.heartbeat($0) }
        lastMovedNanos = [UInt64](repeating: now, count: n)
        stalled = [Bool](repeating: false, count: n)
        stallCounts = [UInt64](repeating: 0, count: n)
        busyRatio = [Double](repeating: 0, count: n)
        busySample = (0..<n).map { shared.value($0, .busyNanos) }
        busySampleAtNanos = now
    }

    var anyStalled: Bool { stalled.contains(true) }

    enum Change {
        case stalled(worker: Int, stillNanos: UInt64)
        case moving(worker: Int)
    }

    /// Reads every worker's words; returns the workers that stalled or recovered in this turn.
    mutating func observe(shared: NodeShared, now: UInt64, stallTimeoutNanos: UInt64) -> [Change] {
        var changes: [Change] = []
        for w in 0..<shared.workerCount {
            let beat = shared.heartbeat(w)
            if beat != lastBeats[w] {
                lastBeats[w] = beat
                lastMovedNanos[w] = now
                if stalled[w] {
                    stalled[w] = false
                    changes.append(.moving(worker: w))
                }
            } else if !stalled[w] && now - lastMovedNanos[w] > stallTimeoutNanos {
                stalled[w] = true
                stallCounts[w] += 1
                changes.append(.stalled(worker: w, stillNanos: now - lastMovedNanos[w]))
            }
        }
        if now - busySampleAtNanos >= WorkerHealth.busySampleNanos {
            let window = Double(now - busySampleAtNanos)
            for w in 0..<shared.workerCount {
                let busy = shared.value(w, .busyNanos)
                busyRatio[w] = min(1, Double(busy &- busySample[w]) / window)
                busySample[w] = busy
            }
            busySampleAtNanos = now
        }
        return changes
    }
}
