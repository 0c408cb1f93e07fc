import Benchmark
import Glibc
import SluiceCore
import Synchronization

/// HandleRing and Slab: the per-event bookkeeping every stage pays.
func registerRingAndPoolBenchmarks() {
    let batch = Fixtures.batchSize
    let source = UnsafeMutablePointer<EventHandle>.allocate(capacity: batch)
    let destination = UnsafeMutablePointer<EventHandle>.allocate(capacity: batch)
    for i in 0..<batch { source[i] = EventHandle(i) }

    // One op: push a batch of 256 handles, then pop it (single thread, ring of 1024).
    let ring = HandleRing(capacity: 4 * batch)
    Benchmark("HandleRing push+pop, batch of 256, 1 thread") { benchmark in
        for _ in benchmark.scaledIterations {
            precondition(ring.push(source, count: batch) == batch)
            precondition(ring.pop(into: destination, max: batch) == batch)
        }
        blackHole(destination[batch - 1])
    }

    // One op: the producer (benchmark thread) pushes a batch of 256; a consumer thread pops
    // continuously. An iteration ends when the consumer has every handle of it.
    let crossRing = HandleRing(capacity: 4096)
    let consumer = RingConsumer(ring: crossRing, batch: batch)
    Benchmark(
        "HandleRing push / pop, batch of 256, 2 threads",
        configuration: .init(setup: { consumer.start() }, teardown: { consumer.stop() })
    ) { benchmark in
        var target = consumer.consumed.load(ordering: .acquiring)
        for _ in benchmark.scaledIterations {
            var pushed = 0
            while pushed < batch { pushed += crossRing.push(source + pushed, count: batch - pushed) }
            target += batch
        }
        while consumer.consumed.load(ordering: .acquiring) < target {}
    }

    // One op: take one event and release it, in runs of 250 takes then 250 releases (LIFO
    // free list, as a batch is framed and later released).
    let pool = Fixtures.makePool()
    let slab = pool.slabs
    let run = 250
    let taken = UnsafeMutablePointer<EventHandle>.allocate(capacity: run)
    Benchmark("Slab take+release") { benchmark in
        precondition(benchmark.scaledIterations.count % run == 0)
        for _ in 0..<benchmark.scaledIterations.count / run {
            for i in 0..<run { taken[i] = slab.pointee.take()!.header.pointee.handle }
            for i in 0..<run { slab.pointee.release(taken[i]) }
        }
    }
}

/// The consumer side of the two-thread ring benchmark: a pthread that pops batches until told
/// to stop and publishes how many handles it has seen.
final class RingConsumer: @unchecked Sendable {
    let ring: HandleRing
    let batch: Int
    let consumed = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)
    var thread = pthread_t()
    var running = false

    init(ring: HandleRing, batch: Int) {
        self.ring = ring
        self.batch = batch
    }

    func start() {
        guard !running else { return }
        running = true
        stopping.store(false, ordering: .releasing)
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { context in
            Unmanaged<RingConsumer>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    func stop() {
        guard running else { return }
        stopping.store(true, ordering: .releasing)
        pthread_join(thread, nil)
        running = false
    }

    func run() {
        let into = UnsafeMutablePointer<EventHandle>.allocate(capacity: batch)
        defer { into.deallocate() }
        while !stopping.load(ordering: .acquiring) {
            let n = ring.pop(into: into, max: batch)
            if n > 0 { consumed.add(n, ordering: .releasing) }
        }
    }
}
