import Testing

@testable import SluiceCore

@Suite struct LatencyHistogramTests {
    @Test(arguments: [(UInt64(0), 0), (1, 0), (1024, 0), (1025, 1), (2048, 1), (2049, 2), (1_000_000, 10),
                      (UInt64(1) << 35, 25), ((UInt64(1) << 35) + 1, 26), (UInt64.max, 26)])
    func aLatencyLandsInTheSmallestBucketWhoseBoundHoldsIt(nanos: UInt64, bucket: Int) {
        let h = LatencyHistogram(pipelines: 2)
        defer { h.values.deallocate() }
        h.record(nanos, pipeline: 1)
        for i in 0...LatencyHistogram.finiteBucketCount {
            #expect(h.read(bucket: i, pipeline: 1) == (i == bucket ? 1 : 0), "bucket \(i)")
            #expect(h.read(bucket: i, pipeline: 0) == 0)
        }
        #expect(h.readSumNanos(pipeline: 1) == nanos)
        if bucket < LatencyHistogram.finiteBucketCount {
            #expect(Double(nanos) / 1e9 <= LatencyHistogram.upperBoundSeconds(bucket))
        }
    }
}
