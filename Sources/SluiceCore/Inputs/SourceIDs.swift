/// The 32-bit source id in every event header: which worker read it, what kind of source,
/// the source's generation (a file reopened after rotation gets a new one) and its index in
/// the worker's table. The owner uses it, when an acknowledged event comes back, to advance
/// that source's committed offset without any lookup table.
public enum SourceIDs {
    /// Sources of one kind one worker can hold at once (12 bits of index); a file's entry is
    /// reused once it is finished and all its events came back (`FileFamily.takeSlot`).
    public static let maxSourcesPerWorker = 4096

    @inline(__always) public static func make(worker: Int, kind: Kind, generation: Int, index: Int) -> UInt32 {
        UInt32(worker & 0xFF) << 24 | kind.rawValue << 20 | UInt32(generation & 0xFF) << 12 | UInt32(index & 0xFFF)
    }
    @inline(__always) public static func worker(_ id: UInt32) -> Int { Int(id >> 24) }
    @inline(__always) public static func kind(_ id: UInt32) -> UInt32 { (id >> 20) & 0xF }
    @inline(__always) public static func generation(_ id: UInt32) -> Int { Int((id >> 12) & 0xFF) }
    @inline(__always) public static func index(_ id: UInt32) -> Int { Int(id & 0xFFF) }
}
