import SluiceConfig
import SluiceCore

/// One node tunable, declared once: its name (the `sluice run` flag and the `settings:` key),
/// what its value looks like, its default, its help text and how its value is applied.
/// `--help`, the README's flag table (`sluice run --help-markdown`), the flag parser and the
/// config loader all read `Settings.all`.
struct Setting {
    let name: String
    /// How the value is shown (`N`, `BYTES`, `DURATION`); nil for a switch (`--busy-poll`),
    /// which takes no value on the command line.
    let value: String?
    /// The default as `--help` and the README print it.
    let defaultText: String
    let help: String
    let apply: (inout NodeSettings, String) throws(SettingError) -> Void
}

struct SettingError: Error {
    let message: String
}

enum Settings {
    /// A count or a size (`BYTES` takes KiB/MiB suffixes; so does a count, harmlessly), in `range`.
    static func number(_ name: String, _ key: WritableKeyPath<NodeSettings, Int>, _ range: ClosedRange<Int>, value: String = "N",
                       default defaultText: String? = nil, help: String,
                       then mark: ((inout NodeSettings) -> Void)? = nil) -> Setting {
        let initial = NodeSettings()[keyPath: key]
        return Setting(name: name, value: value, defaultText: defaultText ?? (value == "BYTES" ? Units.sizeText(initial) : "\(initial)"),
                       help: help) { (s: inout NodeSettings, text: String) throws(SettingError) in
            s[keyPath: key] = try parseNumber(text, name, range)
            mark?(&s)
        }
    }

    static func parseNumber(_ text: String, _ name: String, _ range: ClosedRange<Int>) throws(SettingError) -> Int {
        guard let n = Units.bytes(text), range.contains(n) else {
            throw SettingError(message: "\(name) expects a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return n
    }

    /// Microseconds, from `500us`, `5ms`, `2s`, in `range`.
    static func duration(_ name: String, _ key: WritableKeyPath<NodeSettings, Int>, _ range: ClosedRange<Int>, help: String) -> Setting {
        Setting(name: name, value: "DURATION", defaultText: Units.durationText(NodeSettings()[keyPath: key]),
                help: help) { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let n = Units.micros(text), range.contains(n) else {
                throw SettingError(message: "\(name) expects a duration such as 500us, 5ms or 2s (at least \(range.lowerBound)us), got '\(text)'")
            }
            s[keyPath: key] = n
        }
    }

    /// true/false (yes/no, on/off, 1/0). A `switch` is given alone on the command line.
    static func bool(_ name: String, _ key: WritableKeyPath<NodeSettings, Bool>, switch isSwitch: Bool = false, help: String) -> Setting {
        Setting(name: name, value: isSwitch ? nil : "BOOL", defaultText: "\(NodeSettings()[keyPath: key])",
                help: help) { (s: inout NodeSettings, text: String) throws(SettingError) in
            switch text.lowercased() {
            case "true", "yes", "on", "1": s[keyPath: key] = true
            case "false", "no", "off", "0": s[keyPath: key] = false
            default: throw SettingError(message: "\(name) expects true or false, got '\(text)'")
            }
        }
    }

    nonisolated(unsafe) static let all: [Setting] = [
        Setting(name: "cpus", value: "LIST", defaultText: "all allowed", help: "CPUs for workers, e.g. 0-3 or 0,2") { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let cpus = parseCPUList(text) else { throw SettingError(message: "cpus expects a list such as 0-3 or 0,2, got '\(text)'") }
            s.cpus = cpus
        },
        number("workers", \.workers, 0...255, default: "one per CPU", help: "worker threads, each pinned to its CPU (0: one per CPU in --cpus)"),
        number("pool-capacity", \.pool.capacity, 64...(1 << 24),
               help: "events in the preallocated pool, split across workers; the default grows to 64 per worker beyond 64 workers (× --event-size: 16 MiB, all resident while inputs outpace outputs)",
               then: { $0.pool.capacityIsDefault = false }),
        number("event-size", \.pool.eventSizeBytes, 256...(1 << 20), value: "BYTES", help: "bytes per event slot: header, field index and data"),
        number("max-event-size", \.pool.maxEventSizeBytes, 64...(256 << 20), value: "BYTES", help: "longest record kept whole; longer ones are cut and flagged"),
        number("large-event-slots", \.pool.largeSlots, 0...65536,
               help: "pool slots of max-event-size for records that outgrow an event slot; the default grows to one per worker beyond 8 workers",
               then: { $0.pool.largeSlotsIsDefault = false }),
        number("medium-event-size", \.pool.mediumEventSizeBytes, 1024...(64 << 20), value: "BYTES",
               help: "data bytes of a medium slot: records (and changes) that outgrow an event slot but fit this take one before a large slot"),
        number("medium-event-slots", \.pool.mediumSlots, 0...(1 << 20),
               help: "pool slots of medium-event-size, split across workers (0: none); lazily resident, at most N × medium-event-size"),
        number("max-fields", \.pool.maxFields, 1...4096, help: "top-level fields indexed per event"),
        number("batch-size", \.batchSize, 1...65536,
               help: "events per output batch (clickhouse and postgres: 32768 unless set, a batch being one insert or transaction, and bounded by --output-buffer-size; nats: its window, at most 1024)",
               then: { $0.batchSizeIsDefault = false }),
        duration("flush-interval", \.flushIntervalMicros, 1...60_000_000,
                 help: "longest wait of an event in an output batch (batches also flush when a worker goes idle)"),
        number("ring-entries", \.ringEntries, 8...32768, help: "io_uring submission entries per worker"),
        number("read-buffer-size", \.readBufferBytes, 4096...(64 << 20), value: "BYTES", help: "bytes per file read; two reads in flight per file"),
        number("max-file-sources", \.maxFileSources, 1...SourceIDs.maxSourcesPerWorker,
               help: "files one worker reads at once (file, k8s inputs); a finished file's entry is reused once all its events came back"),
        number("output-buffer-size", \.outputBufferBytes, 4096...(256 << 20), value: "BYTES",
               help: "bytes per output write buffer, raised to at least twice the largest encoded event (about 2 × max-event-size, so 2 MiB with the defaults); two per output and worker, resident only as far as batches fill them; clickhouse and postgres send a batch once it holds this many bytes (clickhouse: 4 MiB unless set)",
               then: { $0.outputBufferBytesIsDefault = false }),
        number("recv-buffers", \.recvBuffers, 1...32768,
               help: "provided TCP receive buffers per worker, a power of two (× --recv-buffer-size: 2 MiB, all resident under load)"),
        number("recv-buffer-size", \.recvBufferBytes, 512...(16 << 20), value: "BYTES", help: "bytes per TCP receive buffer"),
        duration("idle-spin", \.idleSpinMicros, 0...1_000_000,
                 help: "how long an idle worker watches its rings before sleeping, only while it exchanges events with another worker; 0 sleeps at once"),
        bool("busy-poll", \.busyPoll, switch: true, help: "workers spin instead of sleeping, for the lowest latency"),
        bool("sqpoll", \.sqpoll, switch: true, help: "a kernel thread polls each ring's submissions"),
        Setting(name: "sqpoll-cpu", value: "N", defaultText: "unpinned", help: "CPU for the kernel polling thread of --sqpoll") { (s: inout NodeSettings, text: String) throws(SettingError) in
            s.sqpollCPU = try parseNumber(text, "sqpoll-cpu", 0...4095)
        },
        bool("numa", \.numa, help: "place each worker's pool slab on its NUMA node (libnuma)"),
        bool("pin", \.pin, help: "pin each worker thread to its CPU"),
        bool("pool-prefault", \.pool.prefault,
             help: "fault the ordinary event slots in at start, before any input opens: memory is what it will be under load from the first second (the pool is the queue, so under load every slot is resident anyway) and no page fault lands on the event path; false lets the pool's resident part grow with use"),
        bool("lock-memory", \.pool.lockMemory, help: "mlock the event pool"),
        duration("shutdown-timeout", \.shutdownTimeoutMicros, 1000...3_600_000_000, help: "longest drain after SIGTERM/SIGINT before exiting 1"),
        duration("stall-timeout", \.stallTimeoutMicros, 100_000...3_600_000_000, help: "a worker whose loop stops turning this long is reported"),
        Setting(name: "on-stall", value: "log|exit|restart", defaultText: NodeSettings().onStall.rawValue,
                help: "on a stalled worker: log it (counted, /ready 503 until it moves), exit with code \(Node.stallExitCode) for the service manager to restart the node, or restart the node in place (same PID; file inputs resume from their committed offsets)") { (s: inout NodeSettings, text: String) throws(SettingError) in
            guard let policy = StallPolicy(rawValue: text.lowercased()) else { throw SettingError(message: "on-stall expects log, exit or restart, got '\(text)'") }
            s.onStall = policy
        },
        Setting(name: "admin", value: "HOST:PORT|off", defaultText: "\(AdminAddress.defaultAddress)",
                help: "admin HTTP API (/live /ready /metrics /pipelines); when the default port is taken the node runs without it and warns; a taken address given explicitly is an error") { (s: inout NodeSettings, text: String) throws(SettingError) in
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

    /// The tuning flags of a command line: `--name VALUE` or `--name=VALUE` (a switch alone
    /// means true), in the order given. The error reads like ArgumentParser's own.
    static func parseFlags(_ arguments: [String]) throws(SettingError) -> [(name: String, value: String)] {
        var given: [(name: String, value: String)] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else { throw SettingError(message: "Unexpected argument '\(argument)'") }
            let flag = argument.dropFirst(2)
            let name = String(flag.prefix { $0 != "=" })
            guard let setting = named(name) else { throw SettingError(message: "Unknown option '--\(name)'") }
            if let equals = flag.firstIndex(of: "=") {
                given.append((name, String(flag[flag.index(after: equals)...])))
            } else if setting.value == nil {
                given.append((name, "true"))
            } else {
                guard i < arguments.count, !arguments[i].hasPrefix("--") else {
                    throw SettingError(message: "Missing value for '--\(name) <\(setting.value!)>'")
                }
                given.append((name, arguments[i]))
                i += 1
            }
        }
        return given
    }

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
