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

    /// Microseconds as a user writes them, in the largest unit that divides them: `5m`, `100ms`.
    public static func durationText(_ micros: Int) -> String {
        guard micros != 0 else { return "0" }
        for (suffix, scale) in [("m", 60_000_000), ("s", 1_000_000), ("ms", 1000)] where micros % scale == 0 {
            return "\(micros / scale)\(suffix)"
        }
        return "\(micros)us"
    }

    /// Bytes as a user writes them, in the largest binary unit that divides them: `16MiB`, `256`.
    public static func sizeText(_ bytes: Int) -> String {
        guard bytes != 0 else { return "0" }
        for (suffix, scale) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes % scale == 0 {
            return "\(bytes / scale)\(suffix)"
        }
        return "\(bytes)"
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
