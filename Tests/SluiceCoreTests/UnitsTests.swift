import Testing

@testable import SluiceCore

@Suite struct UnitsTests {
    @Test(arguments: [
        ("4096", 4096), ("0", 0), ("64KiB", 65536), ("1MiB", 1 << 20), ("2GiB", 2 << 30), ("2M", 2 << 20), ("3K", 3072),
        ("1G", 1 << 30), ("5KB", 5000), ("2MB", 2_000_000), ("1GB", 1_000_000_000), ("512B", 512), (" 8KiB ", 8192),
    ])
    func bytesParsesSizesWithBinaryAndDecimalSuffixes(text: String, bytes: Int) {
        #expect(Units.bytes(text) == bytes)
    }

    @Test(arguments: ["", "KiB", "-1", "-1KiB", "1.5MiB", "12XB", "ten", "9999999999999999GiB"])
    func bytesRejectsMalformedSizes(text: String) {
        #expect(Units.bytes(text) == nil)
    }

    @Test(arguments: [
        ("500us", 500), ("500µs", 500), ("10ms", 10_000), ("2s", 2_000_000), ("1.5s", 1_500_000), ("1m", 60_000_000),
        ("0ms", 0), ("0", 0), ("0.5ms", 500), (" 3ms ", 3000),
    ])
    func microsParsesDurations(text: String, micros: Int) {
        #expect(Units.micros(text) == micros)
    }

    @Test(arguments: ["", "100", "ms", "-1ms", "fast", "1h", "nans", "infs"])
    func microsRejectsMalformedDurations(text: String) {
        #expect(Units.micros(text) == nil)
    }

    @Test(arguments: ["1e300s", "10000000000000s", "1e20us"])
    func microsRejectsDurationsTooLargeForAnInt(text: String) {
        #expect(Units.micros(text) == nil)
    }
}
