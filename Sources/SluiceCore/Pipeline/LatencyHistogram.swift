import CSupport

/// One worker's receive → ack latency histogram for every pipeline: fixed power-of-two buckets,
/// written with plain stores by the worker when an output acks an event and read with relaxed
/// loads by the control thread, which sums the workers (like `CounterBlock`).
public struct LatencyHistogram {
    /// Bucket `i` counts latencies ≤ 2^(firstBucketShift + i) ns: 1.024 µs, 2.048 µs, … ≈ 34.4 s.
    public static let firstBucketShift = 10
    public static let finiteBucketCount = 26
    /// Finite buckets, then the overflow bucket (+Inf), then the sum of latencies in ns.
    static let sumIndex = finiteBucketCount + 1
    static let stride = 32  // words per pipeline: whole cache lines, so pipelines never share one

    public let values: UnsafeMutablePointer<UInt64>
    public let pipelines: Int

    public init(pipelines: Int) {
        self.pipelines = pipelines
        let words = max(pipelines, 1) * LatencyHistogram.stride
        values = .allocate(capacity: words)
        values.initialize(repeating: 0, count: words)
    }

    /// Upper bound of finite bucket `i` in seconds (the `le` label).
    public static func upperBoundSeconds(_ i: Int) -> Double {
        Double(UInt64(1) << UInt64(firstBucketShift + i)) / 1e9
    }

    /// Worker side: one event acked `latencyNanos` after it was received. Two plain
    /// load/store pairs, no branch per bucket, no atomic read-modify-write.
    @inline(__always) public func record(_ latencyNanos: UInt64, pipeline: Int) {
        let base = values + pipeline &* LatencyHistogram.stride
        // Smallest i with latency ≤ 2^(shift + i): the bit width of (latency - 1), less the shift.
        let width = UInt64.bitWidth &- (max(latencyNanos, 1) &- 1).leadingZeroBitCount
        let bucket = min(max(width &- LatencyHistogram.firstBucketShift, 0), LatencyHistogram.finiteBucketCount)
        base[bucket] &+= 1
        base[LatencyHistogram.sumIndex] &+= latencyNanos
    }

    /// Control thread side: events in bucket `i` (not cumulative; `finiteBucketCount` is +Inf).
    public func read(bucket i: Int, pipeline: Int) -> UInt64 {
        sl_load_relaxed(values + pipeline * LatencyHistogram.stride + i)
    }

    public func readSumNanos(pipeline: Int) -> UInt64 {
        sl_load_relaxed(values + pipeline * LatencyHistogram.stride + LatencyHistogram.sumIndex)
    }
}
