import CSupport

/// What the node counts, per worker and pipeline; the control thread sums them.
public enum Counter: Int, CaseIterable, Sendable {
    case eventsIn, bytesIn, eventsOut, bytesOut, discarded, cutRecords, cutBytes, invalidJSON
    case partialRecords, connectionsAccepted, connectionsRejected, inputErrors, outputErrors
    case outputBatches, modifySkipped, emptyLines, connectionsTimedOut, aggregated, aggregateSkipped, aggregateRows

    public var name: String {
        switch self {
        case .eventsIn: "events_in"
        case .bytesIn: "bytes_in"
        case .eventsOut: "events_out"
        case .bytesOut: "bytes_out"
        case .discarded: "discarded"
        case .cutRecords: "cut_records"
        case .cutBytes: "cut_bytes"
        case .invalidJSON: "invalid_json"
        case .partialRecords: "partial_records"
        case .connectionsAccepted: "connections_accepted"
        case .connectionsRejected: "connections_rejected"
        case .inputErrors: "input_errors"
        case .outputErrors: "output_errors"
        case .outputBatches: "output_batches"
        case .modifySkipped: "modify_skipped"
        case .emptyLines: "empty_lines"
        case .connectionsTimedOut: "connections_timed_out"
        case .aggregated: "aggregated"
        case .aggregateSkipped: "aggregate_skipped"
        case .aggregateRows: "aggregate_rows"
        }
    }
}

/// One worker's counters for every pipeline: plain integers written only by the worker (no
/// atomic read-modify-write on the hot path) and read with relaxed loads by the control thread.
public struct CounterBlock {
    public let values: UnsafeMutablePointer<UInt64>
    public let pipelines: Int
    static let stride = (Counter.allCases.count + 7) & ~7  // whole cache lines per pipeline

    public init(pipelines: Int) {
        self.pipelines = pipelines
        values = .allocate(capacity: max(pipelines, 1) * CounterBlock.stride + 16)
        values.initialize(repeating: 0, count: max(pipelines, 1) * CounterBlock.stride + 16)
    }

    public func add(_ counter: Counter, _ amount: Int, pipeline: Int) {
        values[pipeline &* CounterBlock.stride &+ counter.rawValue] &+= UInt64(truncatingIfNeeded: amount)
    }

    /// Control thread side: a relaxed read of a value another thread writes.
    public func read(_ counter: Counter, pipeline: Int) -> UInt64 {
        sl_load_relaxed(values + pipeline * CounterBlock.stride + counter.rawValue)
    }
}
