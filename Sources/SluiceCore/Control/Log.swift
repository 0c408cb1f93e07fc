import Glibc

/// Sluice's own log: one line per message on stderr with time, level and component, rate
/// limited per component so a flood of bad input cannot flood the log. Never used per event
/// on the success path.
public enum Log {
    public enum Level: Int, Comparable, Sendable {
        case debug, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var name: String { ["debug", "info", "warn", "error"][rawValue] }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
    }

    /// Messages per second per component before lines are suppressed (and later counted).
    public static let maxLinesPerSecond = 20
    nonisolated(unsafe) public static var minimumLevel: Level = .info
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    nonisolated(unsafe) static var lockReady = false
    nonisolated(unsafe) static var windows: [String: (second: Int, lines: Int, suppressed: Int)] = [:]

    public static func setUp(level: Level) {
        minimumLevel = level
        if !lockReady { pthread_mutex_init(&lock, nil); lockReady = true }
    }

    public static func debug(_ component: String, _ message: @autoclosure () -> String) { write(.debug, component, message) }
    public static func info(_ component: String, _ message: @autoclosure () -> String) { write(.info, component, message) }
    public static func warn(_ component: String, _ message: @autoclosure () -> String) { write(.warn, component, message) }
    public static func error(_ component: String, _ message: @autoclosure () -> String) { write(.error, component, message) }

    static func write(_ level: Level, _ component: String, _ message: () -> String) {
        guard level >= minimumLevel else { return }
        if !lockReady { setUp(level: minimumLevel) }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let second = ts.tv_sec
        var w = windows[component] ?? (second, 0, 0)
        var prefix = ""
        if w.second != second {
            if w.suppressed > 0 { prefix = "(\(w.suppressed) more \(component) lines suppressed) " }
            w = (second, 0, 0)
        }
        w.lines += 1
        if w.lines > maxLinesPerSecond {
            w.suppressed += 1
            windows[component] = w
            return
        }
        windows[component] = w
        var tm = tm()
        var t = ts.tv_sec
        gmtime_r(&t, &tm)
        let stamp = String(Int(tm.tm_year) + 1900) + "-" + String(pad2: Int(tm.tm_mon) + 1) + "-" + String(pad2: Int(tm.tm_mday))
            + "T" + String(pad2: Int(tm.tm_hour)) + ":" + String(pad2: Int(tm.tm_min)) + ":" + String(pad2: Int(tm.tm_sec))
            + "." + String(pad3: ts.tv_nsec / 1_000_000) + "Z"
        let line = "\(stamp) \(level.name) \(component): \(prefix)\(message())\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

extension String {
    init(pad2 n: Int) { self = n < 10 ? "0\(n)" : "\(n)" }
    init(pad3 n: Int) { self = n < 10 ? "00\(n)" : n < 100 ? "0\(n)" : "\(n)" }
}
