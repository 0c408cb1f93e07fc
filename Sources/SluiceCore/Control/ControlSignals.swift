import CSupport

/// SIGINT, SIGTERM, SIGHUP and SIGPIPE are taken only by the control thread (sigtimedwait).
public enum ControlSignals {
    /// Blocks them in the calling thread; threads it creates afterwards inherit the mask. Call
    /// before starting any thread that might otherwise receive them (e.g. `sluice bench`).
    public static func block() { _ = sl_block_control_signals() }
}
