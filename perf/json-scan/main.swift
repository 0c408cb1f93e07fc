// The JSON scanner alone, outside the node: every line of each file through `JSONScanner.scan`,
// timed in thread CPU time (the machine is shared), best of ROUNDS. Built by perf/json-scan.sh
// from one revision's scanner sources; not part of the package.
import CSupport
#if canImport(Glibc)
import Glibc
#endif

func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

let arguments = CommandLine.arguments
guard arguments.count >= 4, let megabytes = Int(arguments[1]), let rounds = Int(arguments[2]) else {
    print("usage: json-scan MEGABYTES ROUNDS FILE...")
    exit(2)
}
let fields = UnsafeMutablePointer<FieldEntry>.allocate(capacity: 256)
for path in arguments[3...] {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { print("cannot open \(path)"); exit(1) }
    let size = megabytes * 1_000_000
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
    var filled = 0
    while filled < size {
        let n = read(fd, buffer + filled, size - filled)
        if n <= 0 { break }
        filled += n
    }
    close(fd)
    var lines: [(start: Int, count: Int)] = []
    var start = 0
    let bytes = buffer.assumingMemoryBound(to: UInt8.self)
    for i in 0..<filled where bytes[i] == 10 {
        lines.append((start, i - start))
        start = i + 1
    }
    let total = lines.reduce(0) { $0 + $1.count }
    var best = 0.0
    var indexed = 0, invalid = 0
    for _ in 0..<rounds {
        indexed = 0
        invalid = 0
        let t0 = cpuNow()
        for line in lines {
            switch JSONScanner.scan(UnsafeRawBufferPointer(start: buffer + line.start, count: line.count), fields: fields, fieldCapacity: 256) {
            case .valid(let count, _): indexed &+= count
            case .invalid: invalid &+= 1
            }
        }
        best = max(best, Double(total) / (cpuNow() - t0) / 1e6)
    }
    print("\(path.split(separator: "/").last!) \(lines.count) lines \(total / 1_000_000) MB: \(Int(best)) MB per CPU second (\(indexed) fields, \(invalid) invalid)")
    buffer.deallocate()
}
