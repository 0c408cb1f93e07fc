import SluiceConfig
import SluiceCore

/// Every node tunable, once: its name (the `sluice run` flag and the `settings:` key), its help
/// text with the default, and how its value is applied.
struct Setting {
    let name: String
    let help: String
    let apply: (inout NodeSettings, String) throws(SettingError) -> Void
}

struct SettingError: Error {
    let message: String
}

enum Settings {
    static func count(_ name: String, _ range: ClosedRange<Int>, _ set: @escaping (inout NodeSettings, Int) -> Void) -> (inout NodeSettings, String) throws(SettingError) -> Void {
        return { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let n = Units.bytes(text), range.contains(n) else {
                throw SettingError(message: "\(name) expects a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            set(&s, n)
        }
    }

    static func duration(_ name: String, _ range: ClosedRange<Int>, _ set: @escaping (inout NodeSettings, Int) -> Void) -> (inout NodeSettings, String) throws(SettingError) -> Void {
        return { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let n = Units.micros(text), range.contains(n) else {
                throw SettingError(message: "\(name) expects a duration such as 500us, 5ms or 2s (at least \(range.lowerBound)us), got '\(text)'")
            }
            set(&s, n)
        }
    }

    static func flag(_ name: String, _ set: @escaping (inout NodeSettings, Bool) -> Void) -> (inout NodeSettings, String) throws(SettingError) -> Void {
        return { (s: inout NodeSettings, text: String) throws(SettingError) in
            switch text.lowercased() {
            case "true", "yes", "on", "1": set(&s, true)
            case "false", "no", "off", "0": set(&s, false)
            default: throw SettingError(message: "\(name) expects true or false, got '\(text)'")
            }
        }
    }

    nonisolated(unsafe) static let all: [Setting] = [
        Setting(name: "cpus", help: "CPUs to run workers on, e.g. 0-3 or 0,2 (default: all allowed)") { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let cpus = parseCPUList(text) else { throw SettingError(message: "cpus expects a list such as 0-3 or 0,2, got '\(text)'") }
            s.cpus = cpus
        },
        Setting(name: "workers", help: "worker threads, one per CPU (default: one per CPU in --cpus)",
                apply: count("workers", 0...255) { $0.workers = $1 }),
        Setting(name: "pool-capacity", help: "events in the preallocated pool, split across workers (default: \(PoolConfiguration.defaultCapacity))",
                apply: count("pool-capacity", 64...(1 << 24)) { $0.pool.capacity = $1; $0.pool.capacityIsDefault = false }),
        Setting(name: "event-size", help: "bytes per event slot: header, field index and data (default: \(PoolConfiguration.defaultEventSizeBytes))",
                apply: count("event-size", 256...(1 << 20)) { $0.pool.eventSizeBytes = $1 }),
        Setting(name: "max-event-size", help: "longest record kept whole; longer ones are cut and flagged (default: 1MiB)",
                apply: count("max-event-size", 64...(256 << 20)) { $0.pool.maxEventSizeBytes = $1 }),
        Setting(name: "large-event-slots", help: "pool slots of max-event-size for records that outgrow an event slot (default: \(PoolConfiguration.defaultLargeSlots))",
                apply: count("large-event-slots", 0...65536) { $0.pool.largeSlots = $1; $0.pool.largeSlotsIsDefault = false }),
        Setting(name: "max-fields", help: "top-level fields indexed per event (default: \(PoolConfiguration.defaultMaxFields))",
                apply: count("max-fields", 1...4096) { $0.pool.maxFields = $1 }),
        Setting(name: "batch-size", help: "events per output batch (default: \(NodeSettings.defaultBatchSize))",
                apply: count("batch-size", 1...65536) { $0.batchSize = $1 }),
        Setting(name: "flush-interval", help: "longest wait of an event in an output batch (default: 5ms)",
                apply: duration("flush-interval", 1...60_000_000) { $0.flushIntervalMicros = $1 }),
        Setting(name: "ring-entries", help: "io_uring submission entries per worker (default: \(NodeSettings.defaultRingEntries))",
                apply: count("ring-entries", 8...32768) { $0.ringEntries = $1 }),
        Setting(name: "read-buffer-size", help: "bytes per file read; two per file (default: 256KiB)",
                apply: count("read-buffer-size", 4096...(64 << 20)) { $0.readBufferBytes = $1 }),
        Setting(name: "output-buffer-size", help: "bytes per output write buffer, at least twice the largest encoded event (about 2 x max-event-size); two per output and worker, resident only as far as batches fill them (default: 1MiB)",
                apply: count("output-buffer-size", 4096...(256 << 20)) { $0.outputBufferBytes = $1 }),
        Setting(name: "recv-buffers", help: "provided tcp receive buffers per worker, a power of two (default: \(NodeSettings.defaultRecvBuffers))",
                apply: count("recv-buffers", 1...32768) { $0.recvBuffers = $1 }),
        Setting(name: "recv-buffer-size", help: "bytes per tcp receive buffer (default: 16KiB)",
                apply: count("recv-buffer-size", 512...(16 << 20)) { $0.recvBufferBytes = $1 }),
        Setting(name: "idle-spin", help: "how long an idle worker watches its rings before sleeping; 0 sleeps at once (default: 50us)",
                apply: duration("idle-spin", 0...1_000_000) { $0.idleSpinMicros = $1 }),
        Setting(name: "busy-poll", help: "workers spin instead of sleeping, for the lowest latency (default: false)",
                apply: flag("busy-poll") { $0.busyPoll = $1 }),
        Setting(name: "sqpoll", help: "kernel thread polls each ring's submissions (default: false)",
                apply: flag("sqpoll") { $0.sqpoll = $1 }),
        Setting(name: "sqpoll-cpu", help: "CPU for the kernel polling thread of --sqpoll (default: unpinned)",
                apply: count("sqpoll-cpu", 0...4095) { $0.sqpollCPU = $1 }),
        Setting(name: "numa", help: "place each worker's pool slab on its NUMA node (default: true)",
                apply: flag("numa") { $0.numa = $1 }),
        Setting(name: "pin", help: "pin each worker thread to its CPU (default: true)",
                apply: flag("pin") { $0.pin = $1 }),
        Setting(name: "pool-prefault", help: "fault the ordinary event slots in at start, before any input opens, so memory is what it will be under load from the first second and no page fault lands on the event path (default: true)",
                apply: flag("pool-prefault") { $0.pool.prefault = $1 }),
        Setting(name: "lock-memory", help: "mlock the event pool (default: false)",
                apply: flag("lock-memory") { $0.pool.lockMemory = $1 }),
        Setting(name: "shutdown-timeout", help: "longest drain after SIGTERM/SIGINT before exiting non-zero (default: 10s)",
                apply: duration("shutdown-timeout", 1000...3_600_000_000) { $0.shutdownTimeoutMicros = $1 }),
        Setting(name: "stall-timeout", help: "a worker whose loop does not turn for this long is reported (default: 5s)",
                apply: duration("stall-timeout", 100_000...3_600_000_000) { $0.stallTimeoutMicros = $1 }),
        Setting(name: "on-stall", help: "on a stalled worker: log (report it, not ready until it moves), exit (with code \(Node.stallExitCode), for a service manager to restart the node) or restart (the node in place, same PID) (default: log)") { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let policy = StallPolicy(rawValue: text.lowercased()) else { throw SettingError(message: "on-stall expects log, exit or restart, got '\(text)'") }
            s.onStall = policy
        },
        Setting(name: "admin", help: "admin HTTP API (/live /ready /metrics /pipelines) on HOST:PORT, or off (default: \(AdminAddress.defaultAddress); when that default is taken the node runs without it, with a warning)") { (s: inout NodeSettings, text: String) throws(SettingError) in
            if text.lowercased() == "off" {
                s.admin = nil
                return
            }
            guard let address = AdminAddress(parsing: text) else { throw SettingError(message: "admin expects an IPv4 HOST:PORT such as 127.0.0.1:9090, or off, got '\(text)'") }
            s.admin = address
            s.adminRequired = true
        },
    ]

    static func named(_ name: String) -> Setting? { all.first { $0.name == name } }

    /// "0-3,6" → [0, 1, 2, 3, 6].
    static func parseCPUList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-", omittingEmptySubsequences: false)
            if bounds.count == 1, let n = Int(bounds[0]), n >= 0 { cpus.append(n) }
            else if bounds.count == 2, let a = Int(bounds[0]), let b = Int(bounds[1]), a >= 0, a <= b { cpus.append(contentsOf: a...b) }
            else { return nil }
        }
        return cpus.isEmpty ? nil : cpus
    }
}
