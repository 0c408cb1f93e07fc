/// One worker's share of a generator input: deterministic NDJSON lines written straight into
/// pool events.
struct GeneratorSource {
    static let types: [StaticString] = ["click", "view", "purchase", "login"]
    let pipeline: Int
    let target: Int
    /// Events left to make, or -1 for no limit.
    var remaining: Int
    let ratePerWorker: Int
    let lineBytes: Int
    var state: UInt64
    var produced = 0
    var startNanos: UInt64 = 0
    var finished = false
    var sourceID: UInt32
    /// The input's per-plugin counter row.
    var inputRow: Int32 = 0
    var sequence: UInt64 = 0
    var timestampBase: UInt64

    init(pipeline: Int, target: Int, count: Int, rate: Int, lineBytes: Int, seed: UInt64, sourceID: UInt32, timestampBase: UInt64) {
        self.pipeline = pipeline
        self.target = target
        remaining = count == 0 ? -1 : count
        ratePerWorker = rate
        self.lineBytes = lineBytes
        state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        self.sourceID = sourceID
        self.timestampBase = timestampBase
    }

    @inline(__always) mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// Writes one line into `out` (capacity ≥ lineBytes + 64); returns its length.
    mutating func writeLine(into out: UnsafeMutableRawPointer) -> Int {
        var w = ByteWriter(out)
        let r = next()
        w.put("{\"ts\":")
        w.put(timestampBase &+ sequence)
        w.put(",\"type\":\"")
        w.put(GeneratorSource.types[Int(r & 3)])
        w.put("\",\"user\":\"u")
        w.put((r >> 8) % 10_000)
        w.put("\",\"value\":")
        w.put((r >> 24) % 1000)
        w.put(",\"seq\":")
        w.put(sequence)
        w.put(",\"msg\":\"")
        let fill = max(0, lineBytes - w.count - 2)
        var letters = r
        var k = 0
        while k < fill {
            if letters == 0 { letters = next() }
            let c = UInt8(97 + letters % 26)
            w.base.storeBytes(of: k % 8 == 7 ? 32 : c, toByteOffset: w.count + k, as: UInt8.self)
            letters /= 26
            k += 1
        }
        w.count += fill
        w.put("\"}")
        sequence &+= 1
        return w.count
    }
}
