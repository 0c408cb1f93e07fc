import Glibc

/// The sd_notify protocol without libsystemd: datagrams such as `READY=1` to the unix socket
/// named by `$NOTIFY_SOCKET` (a path, or an abstract name written `@name`). Present only when
/// the node runs under a service manager that asked for notifications (`Type=notify`).
final class SystemdNotifier {
    let fd: Int32
    private var address = sockaddr_un()
    private let addressLength: socklen_t
    /// Half of `$WATCHDOG_USEC` (systemd's advice), or nil when no watchdog is set for us.
    let watchdogIntervalNanos: UInt64?

    /// Reads `$NOTIFY_SOCKET` and `$WATCHDOG_USEC`/`$WATCHDOG_PID`; nil when not asked to notify.
    init?() {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        var path = Array(String(cString: raw).utf8)
        guard path.count > 1, path.count < MemoryLayout.size(ofValue: address.sun_path) else {
            Log.warn("systemd", "NOTIFY_SOCKET is empty or too long; not notifying")
            return nil
        }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace: a leading NUL, no terminator
        else if path[0] != UInt8(ascii: "/") {
            Log.warn("systemd", "NOTIFY_SOCKET is neither a path nor an @abstract name; not notifying")
            return nil
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let pathOffset = MemoryLayout<sa_family_t>.size  // sun_path follows sun_family
        addressLength = socklen_t(pathOffset + path.count + (path[0] == 0 ? 0 : 1))
        let s = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else {
            Log.warn("systemd", "\(SystemError.lastErrno("socket(AF_UNIX)")); not notifying")
            return nil
        }
        fd = s
        var interval: UInt64?
        if let usec = getenv("WATCHDOG_USEC").flatMap({ UInt64(String(cString: $0)) }), usec > 0 {
            let pid = getenv("WATCHDOG_PID").flatMap { Int32(String(cString: $0)) }
            if pid == nil || pid == getpid() { interval = usec * 1000 / 2 }
        }
        watchdogIntervalNanos = interval
    }

    deinit { Glibc.close(fd) }

    /// Sends one notification (`READY=1`, `WATCHDOG=1`, `STOPPING=1`, newline-separated
    /// assignments); a failure is logged, never fatal.
    func notify(_ state: String) {
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddr in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sockaddr, addressLength) }
            }
        }
        if sent < 0 { Log.warn("systemd", "\(SystemError.lastErrno("sd_notify \(state.split(separator: "\n").first ?? "")"))") }
    }
}
