import CSupport

/// What a worker's disk buffer publishes for `/metrics` and `/pipelines`: eight words per
/// worker, pipeline slot and output in `NodeShared.bufferStats`, written by the worker with
/// plain stores (one writer) and read by the control thread with relaxed loads.
struct BufferStats {
    enum Word: Int, CaseIterable {
        case bytes = 0, segments, oldestWallNanos, written, read, dropped, corrupt, tornTails
    }
    static let words = 8
    let base: UnsafeMutablePointer<UInt64>

    @inline(__always) func add(_ word: Word, _ amount: Int) { base[word.rawValue] &+= UInt64(truncatingIfNeeded: amount) }
    @inline(__always) func set(_ word: Word, _ value: UInt64) { sl_store_relaxed(base + word.rawValue, value) }
    func read(_ word: Word) -> UInt64 { sl_load_relaxed(base + word.rawValue) }
}
