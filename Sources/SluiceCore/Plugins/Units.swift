/// Parses sizes ("4096", "64KiB", "1MiB", "2M") and durations ("500us", "10ms", "2s").
public enum Units {
    public static func bytes(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: " ")
        let suffixes: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000),
                                         ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        for (suffix, scale) in suffixes where t.hasSuffix(suffix) {
            guard let n = Int(t.dropLast(suffix.count)), n >= 0 else { return nil }
            let (v, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : v
        }
        return Int(t).flatMap { $0 >= 0 ? $0 : nil }
    }

    /// Microseconds.
    public static func micros(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: " ")
        if t == "0" { return 0 }  // zero needs no unit
        let suffixes: [(String, Double)] = [("us", 1), ("µs", 1), ("ms", 1000), ("s", 1_000_000), ("m", 60_000_000)]
        for (suffix, scale) in suffixes where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n >= 0, n.isFinite, n * scale < 9.0e18 else { return nil }
            return Int(n * scale)
        }
        return nil
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
