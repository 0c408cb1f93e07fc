import CSupport

/// `GET /pipelines/NAME/ACTION/sample`: the control thread asks for the next event of a
/// pipeline as it enters and leaves one action; the first worker that processes such an event
/// claims the request, copies the bytes before and after the action into this sampler's
/// buffers and marks it done. Workers look at one shared word per event (a relaxed load of a
/// line that is written only when a sample is asked for).
public final class EventSampler: @unchecked Sendable {
    /// Bytes kept of each side of a sample.
    public static let maxSampleBytes = 64 << 10
    /// How long the control thread waits for an event before answering 504.
    public static let waitNanos: UInt64 = 5_000_000_000

    /// [0] request: 0 none, else (pipeline + 1) << 16 | (action + 1); [8] state: 0 idle,
    /// 1 asked, 2 claimed, 3 done; [16] before length, [17] after length, [18] verdict
    /// (0 pass, 1 dropped, 2 consumed).
    let words: UnsafeMutablePointer<UInt64>
    let before: UnsafeMutableRawPointer
    let after: UnsafeMutableRawPointer

    init() {
        words = .allocate(capacity: 32)
        words.initialize(repeating: 0, count: 32)
        before = .allocate(byteCount: EventSampler.maxSampleBytes, alignment: 64)
        after = .allocate(byteCount: EventSampler.maxSampleBytes, alignment: 64)
    }

    deinit {
        words.deallocate()
        before.deallocate()
        after.deallocate()
    }

    // MARK: Control thread

    /// Asks for a sample; false when one is already being taken.
    func ask(pipeline: Int, action: Int) -> Bool {
        guard sl_compare_exchange(words + 8, 0, 1) != 0 else { return false }
        sl_store_release(words, UInt64(pipeline + 1) << 16 | UInt64(action + 1))
        return true
    }

    /// The sample when a worker finished it: (before, after or nil when the action dropped the
    /// event, verdict name).
    func take() -> (before: [UInt8], after: [UInt8]?, verdict: String)? {
        guard sl_load_acquire(words + 8) == 3 else { return nil }
        let b = Array(UnsafeRawBufferPointer(start: before, count: Int(words[16])))
        let verdict = words[18]
        let a: [UInt8]? = verdict == 0 ? Array(UnsafeRawBufferPointer(start: after, count: Int(words[17]))) : nil
        reset()
        return (b, a, ["pass", "dropped", "consumed"][Int(min(verdict, 2))])
    }

    /// Gives up on a request (timeout): a worker that claimed it still completes, then it is reset.
    func cancel() {
        sl_store_release(words, 0)
        if sl_compare_exchange(words + 8, 1, 0) != 0 { return }
        if sl_load_acquire(words + 8) == 3 { reset() }
    }

    private func reset() {
        sl_store_release(words, 0)
        sl_store_release(words + 8, 0)
    }

    // MARK: Workers

    /// The action index asked for on `pipeline`, or nil (the hot-path check).
    @inline(__always) func requested(pipeline: Int) -> Int? {
        let r = sl_load_relaxed(words)
        guard r != 0, Int(r >> 16) == pipeline + 1 else { return nil }
        return Int(r & 0xFFFF) - 1
    }

    /// Claims the request; only one worker wins.
    func claim() -> Bool { sl_compare_exchange(words + 8, 1, 2) != 0 }

    /// Gives a claim back: the action waited and will run on the event again.
    func unclaim() { sl_store_release(words + 8, 1) }

    func record(before event: Event) { words[16] = UInt64(EventSampler.copy(event, into: before)) }

    func finish(after event: Event, verdict: Action.Verdict) {
        words[17] = verdict == .pass ? UInt64(EventSampler.copy(event, into: after)) : 0
        words[18] = verdict == .pass ? 0 : verdict == .drop ? 1 : 2
        sl_store_release(words, 0)
        sl_store_release(words + 8, 3)
    }

    /// The event as an output would write it (modified events re-encoded), without the newline.
    static func copy(_ event: Event, into buffer: UnsafeMutableRawPointer) -> Int {
        let worst = OutputBatcher.worstCase(event)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: worst + 1, alignment: 8)
        defer { scratch.deallocate() }
        let n = max(0, EventEncoder.encodeLine(event, into: scratch) - 1)
        let kept = min(n, maxSampleBytes)
        buffer.copyMemory(from: scratch, byteCount: kept)
        return kept
    }
}
