import Testing

@testable import SluiceCore

/// The mask core on its own: plain bytes in, caller buffers out.
@Suite struct MaskerTests {
    /// Masks `subject` with `patterns`; nil when nothing matched.
    func masked(_ subject: [UInt8], _ patterns: [String], replacement: String = "*", capacity: Int = 256) throws -> [UInt8]? {
        let regexes = try patterns.map { try PCRERegex.compile($0) }
        let matchers = UnsafeMutablePointer<Unmanaged<RegexMatcher>>.allocate(capacity: regexes.count)
        for (i, r) in regexes.enumerated() { (matchers + i).initialize(to: .passRetained(RegexMatcher(r))) }
        let a = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        let b = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 1)
        defer {
            for i in 0..<regexes.count { matchers[i].release() }
            matchers.deallocate(); a.deallocate(); b.deallocate()
        }
        let text = Array(replacement.utf8)
        return try text.withUnsafeBytes { r in
            try subject.withUnsafeBytes { s in
                switch Masker(matchers: matchers, matcherCount: regexes.count, replacement: r, hashes: false).mask(s, buffers: (a, b), capacity: capacity) {
                case .unchanged: return nil
                case .masked(let out): return Array(out)
                case .overflow: throw MaskerTestError.overflow
                case .failed: throw MaskerTestError.failed
                }
            }
        }
    }

    enum MaskerTestError: Error { case overflow, failed }

    @Test func invalidUTF8IsMatchedByteByByte() throws {
        // 0xFF starts no character: the subject is searched in byte mode, `.` takes one byte.
        #expect(try masked([0x61, 0xFF, 0x62], ["[^a]"]) == Array("a**".utf8))
        #expect(try masked([0xFF, 0xFE], ["x*"]) == [42, 0xFF, 42, 0xFE, 42], "an empty match moves one byte on")
    }

    @Test func validUTF8IsMatchedCharacterByCharacter() throws {
        #expect(try masked(Array("éa".utf8), ["."]) == Array("**".utf8))
    }

    @Test func aResultPastTheBuffersIsAnOverflowNotACut() throws {
        #expect(throws: MaskerTestError.overflow) { try masked(Array("aaaa".utf8), ["a"], replacement: "0123456789", capacity: 32) }
    }

    @Test func aSearchPCRE2GivesUpOnIsAFailure() throws {
        // Catastrophic backtracking on a long subject reaches PCRE2's match limit.
        let subject = Array(repeating: UInt8(ascii: "a"), count: 40) + [UInt8(ascii: "b")]
        #expect(throws: MaskerTestError.failed) { try masked(subject, ["^(a+)+$"]) }
    }
}
