import Testing

@testable import SluiceCore

// MARK: - Helpers

private func matcher(_ pattern: String) throws -> RegexMatcher { RegexMatcher(try PCRERegex.compile(pattern)) }

private func result(_ pattern: String, _ subject: [UInt8]) throws -> RegexMatchResult {
    let m = try matcher(pattern)
    return subject.withUnsafeBytes { m.match($0) }
}

private func result(_ pattern: String, _ subject: String) throws -> RegexMatchResult {
    try result(pattern, Array(subject.utf8))
}

/// The compile error for `pattern`, or nil when it compiles.
private func compileError(_ pattern: String) -> RegexError? {
    do {
        _ = try PCRERegex.compile(pattern)
        return nil
    } catch {
        return error
    }
}

// MARK: - Tests

@Suite struct RegexTests {
    @Test func aPatternMatchesAnywhereInTheSubjectAndNotWhenAbsent() throws {
        #expect(try result("error|warn", "level=error msg=disk") == .matched)
        #expect(try result("error|warn", "level=info msg=ok") == .notMatched)
        let m = try matcher("error|warn")
        #expect(Array("a warning".utf8).withUnsafeBytes { m.matches($0) })
        #expect(!Array("all good".utf8).withUnsafeBytes { m.matches($0) })
    }

    @Test func anchorsTieTheMatchToTheStartAndEndOfTheSubject() throws {
        #expect(try result("^GET ", "GET /index.html") == .matched)
        #expect(try result("^GET ", "xGET /index.html") == .notMatched)
        #expect(try result(#"\.json$"#, "/api/v1.json") == .matched)
        #expect(try result(#"\.json$"#, "/api/v1.json?x=1") == .notMatched)
        // One subject is one line: `$` also matches before a final newline, `^` not after it.
        #expect(try result("^ok$", "ok\n") == .matched)
        #expect(try result("^b", "a\nb") == .notMatched)
    }

    @Test func inlineCaseInsensitiveFlagFoldsAsciiAndOtherLetters() throws {
        #expect(try result("(?i)error", "ERROR: disk full") == .matched)
        #expect(try result("error", "ERROR: disk full") == .notMatched)
        // UTF mode: É and é are one character each and fold to each other.
        #expect(try result("(?i)^café$", "CAFÉ") == .matched)
        #expect(try result("^caf.$", "café") == .matched)
    }

    @Test func invalidUTF8InTheSubjectIsMatchedByteByByteAndNeverAnError() throws {
        let around: [UInt8] = [0xFF, 0xFE] + Array(" error ".utf8) + [0xC3]
        #expect(try result("error", around) == .matched)
        // `.` and a negated class match any one byte, an invalid one too, and `\xff` is the byte.
        #expect(try result("^a.b$", [0x61, 0xFF, 0x62]) == .matched)
        #expect(try result("^a[^x]b$", [0x61, 0xFF, 0x62]) == .matched)
        #expect(try result("^.*$", Array("abc".utf8) + [0x80]) == .matched)
        #expect(try result(#"^a\xffb$"#, [0x61, 0xFF, 0x62]) == .matched)
        let m = try matcher("a.b")
        let subject: [UInt8] = [0x61, 0xFF, 0x62] + Array("axb".utf8)
        #expect(subject.withUnsafeBytes { m.match($0) } == .matched)
        #expect(m.capture(0) == 0..<3)
        // The whole subject is bytes then: the two bytes of a valid é are two items for `.`.
        #expect(try result("^.$", "é") == .matched)
        #expect(try result("^..$", Array("é".utf8) + [0xFF]) == .notMatched)
        #expect(try result("^...$", Array("é".utf8) + [0xFF]) == .matched)
        #expect(try result("^é", Array("é".utf8) + [0xFF]) == .matched)
        // A truncated sequence, an overlong encoding and a surrogate are invalid too.
        for bad: [UInt8] in [[0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80]] {
            #expect(try result("^x.+y$", [0x78] + bad + [0x79]) == .matched)
            #expect(try result("^x.{\(bad.count)}y$", [0x78] + bad + [0x79]) == .matched)
            #expect(try result("z", [0x78] + bad + [0x79]) == .notMatched)
        }
    }

    @Test func longSubjectsAreJudgedValidOrInvalidAsShortOnesAre() throws {
        // From 32 bytes on, the vector check decides whether PCRE2 checks a subject itself: the
        // same subjects must still be matched by character or by byte.
        let text = Array(String(repeating: "пé日😀a", count: 8).utf8)  // 96 bytes, 40 characters
        #expect(try result("^.{40}$", text) == .matched)
        #expect(try result("^.{41}", text) == .notMatched)
        let m = try matcher("日")
        var kind: Int32 = 0
        #expect(text.withUnsafeBytes { m.match($0, from: 0, subjectKind: &kind) } == .matched)
        #expect(kind == 1, "valid UTF-8")
        let pad = Array(String(repeating: "a", count: 40).utf8)
        // A stray byte, a truncated sequence, an overlong form, a surrogate, above U+10FFFF.
        for bad: [UInt8] in [[0xFF], [0xE2, 0x82], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80]] {
            for subject in [bad + pad, pad + bad + pad, pad + bad] {
                #expect(try result("^.{\(subject.count)}$", subject) == .matched, "byte mode: \(bad)")
                let a = try matcher("a")
                var k: Int32 = 0
                #expect(subject.withUnsafeBytes { a.match($0, from: 0, subjectKind: &k) } == .matched)
                #expect(k == 2, "invalid UTF-8: \(bad)")
            }
        }
    }

    @Test func aPatternThatNeedsUTFMatchesNoInvalidSubject() throws {
        // A code point above 0xFF has no byte-mode meaning; `(*UTF)` asks for UTF mode only.
        for pattern in [#"\x{100}|a"#, "(*UTF)a"] {
            #expect(try result(pattern, "a") == .matched)
            #expect(try result(pattern, [0x61, 0xFF]) == .notMatched)
        }
    }

    @Test func jitCodeMatchesMultiByteCharactersAsTheInterpreterDoes() throws {
        // PCRE2 10.42's JIT with PCRE2_MATCH_INVALID_UTF failed the negated escapes here.
        let patterns = [#"^\S"#, #"^\W"#, #"^\D"#, "^[^a]", "(?i)^ПОЛЬ", "^.", #"^\S+ \S+$"#]
        let subjects = ["пользователь x", "日本語 ログ", "😀 ok", "ПОЛЬЗОВАТЕЛЬ"]
        for pattern in patterns {
            let jit = RegexMatcher(try PCRERegex.compile(pattern))
            let interpreter = RegexMatcher(try PCRERegex.compile("(*NO_JIT)" + pattern))
            #expect(!interpreter.regex.usesJIT)
            for subject in subjects {
                let bytes = Array(subject.utf8)
                let expected = bytes.withUnsafeBytes { interpreter.match($0) }
                #expect(bytes.withUnsafeBytes { jit.match($0) } == expected, "\(pattern) on \(subject)")
                #expect(jit.capture(0) == interpreter.capture(0), "\(pattern) on \(subject)")
            }
        }
        // And the interpreter's answers are the ones UTF mode promises.
        #expect(try result(#"^\S"#, "пользователь x") == .matched)
        #expect(try result(#"^\W"#, "日本語 ログ") == .matched)
        #expect(try result(#"^\D"#, "😀 ok") == .matched)
        #expect(try result("(?i)^ПОЛЬ", "пользователь x") == .matched)
        #expect(try result(#"^\S+ \S+$"#, "日本語 ログ") == .matched)
    }

    @Test func aBadPatternReportsPCREsMessageAndTheOffsetOfTheError() {
        let error = compileError("(ab")
        #expect(error == RegexError(message: "missing closing parenthesis", offset: 3, byteOffset: 3))
        #expect(error?.description == "bad pattern at offset 3: missing closing parenthesis")
        #expect(compileError("a{2,1}")?.message == "numbers out of order in {} quantifier")
        // The offset counts characters; PCRE2's own counts bytes.
        let wide = compileError("é(ab")
        #expect(wide?.offset == 4)
        #expect(wide?.byteOffset == 5)
        // \C could split a UTF-8 sequence, so it is refused.
        #expect(compileError(#"a\Cb"#) != nil)
    }

    @Test func capturesAreFoundByNumberAndByName() throws {
        let regex = try PCRERegex.compile(#"^(?<method>[A-Z]+) (?<path>\S+)( HTTP/(\d\.\d))?"#)
        #expect(regex.captureCount == 4)
        #expect(regex.groupNumber(named: "method") == 1)
        #expect(regex.groupNumber(named: "path") == 2)
        #expect(regex.groupNumber(named: "status") == nil)
        let m = RegexMatcher(regex)
        #expect(Array("GET /index.html".utf8).withUnsafeBytes { m.matches($0) })
        #expect(m.capture(0) == 0..<15)
        #expect(m.capture(1) == 0..<3)
        #expect(m.capture(2) == 4..<15)
        // Groups that took no part in the match have no range.
        #expect(m.capture(3) == nil)
        #expect(m.capture(4) == nil)
        #expect(Array("POST /a HTTP/1.1".utf8).withUnsafeBytes { m.matches($0) })
        #expect(m.capture(4) == 13..<16)
        // After a search that failed, no capture of the previous match is left.
        #expect(!Array("get /".utf8).withUnsafeBytes { m.matches($0) })
        #expect(m.capture(0) == nil)
        #expect(m.capture(1) == nil)
    }

    @Test func aDuplicatedGroupNameHasNoSingleNumber() throws {
        let regex = try PCRERegex.compile("(?J)(?<n>a)|(?<n>b)")
        #expect(regex.groupNumber(named: "n") == nil)
    }

    @Test func anEmptySubjectMatchesOnlyPatternsThatAcceptNothing() throws {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        #expect(try matcher("^$").match(empty) == .matched)
        #expect(try matcher("a*").match(empty) == .matched)
        #expect(try matcher("a").match(empty) == .notMatched)
    }

    @Test func aLongSubjectIsSearchedToItsEnd() throws {
        let subject = [UInt8](repeating: 0x61, count: 100_000) + Array("needle".utf8)
        let m = try matcher("need(le)")
        #expect(subject.withUnsafeBytes { m.matches($0) })
        #expect(m.capture(0) == 100_000..<100_006)
        #expect(m.capture(1) == 100_004..<100_006)
        #expect(try result("^a+needle$", subject) == .matched)
        #expect(try result("^a+haystack$", subject) == .notMatched)
    }

    @Test func aBacktrackingPatternOverALongSubjectFitsTheJITStack() throws {
        // About 35 bytes of JIT stack per subject byte: far past PCRE2's default 32 KiB.
        let quoted = [0x22] + [UInt8](repeating: 0x61, count: 100_000) + [0x22]
        let pattern = #""(?:[^"\\]|\\.)*""#
        let m = try matcher(pattern)
        #expect(quoted.withUnsafeBytes { m.match($0) } == .matched)
        #expect(m.capture(0) == 0..<100_002)
        let small = RegexMatcher(try PCRERegex.compile(pattern), jitStackMaxBytes: 32 << 10)
        let outcome = quoted.withUnsafeBytes { small.match($0) }
        #expect(outcome == .failed(RegexMatchFailure(code: -46)))
        if case .failed(let failure) = outcome { #expect(failure.description == "JIT stack limit reached") }
    }

    @Test func aSearchThatHitsAPCRELimitFailsWithItsReasonAndCountsAsNoMatch() throws {
        let m = try matcher("(*LIMIT_MATCH=1000)^(a+)+$")
        let subject = Array(String(repeating: "a", count: 40).utf8) + [0x21]
        let outcome = subject.withUnsafeBytes { m.match($0) }
        guard case .failed(let failure) = outcome else {
            Issue.record("expected a failure, got \(outcome)")
            return
        }
        #expect(failure.description == "match limit exceeded")
        #expect(!subject.withUnsafeBytes { m.matches($0) })
    }

    @Test func patternsAreJITCompiledOnThisMachine() throws {
        #if arch(x86_64) || arch(arm64)
            #expect(try PCRERegex.compile("a+b").usesJIT)
        #endif
    }

    @Test func withoutJITTheInterpreterGivesTheSameAnswers() throws {
        let regex = try PCRERegex.compile("(*NO_JIT)(?<word>a.b)")
        #expect(!regex.usesJIT)
        let m = RegexMatcher(regex)
        let subject: [UInt8] = [0x61, 0xFF, 0x62] + Array("axb".utf8)
        #expect(subject.withUnsafeBytes { m.match($0) } == .matched)
        #expect(m.capture(regex.groupNumber(named: "word")!) == 0..<3)
        #expect(Array("é axb".utf8).withUnsafeBytes { m.match($0) } == .matched)
        #expect(m.capture(1) == 3..<6)
        #expect(try matcher("(*NO_JIT)^$").match(UnsafeRawBufferPointer(start: nil, count: 0)) == .matched)
    }

    @Test func matchersOfOneRegexKeepTheirOwnCaptures() throws {
        let regex = try PCRERegex.compile("id=(\\d+)")
        let first = RegexMatcher(regex)
        let second = RegexMatcher(regex)
        #expect(Array("id=12".utf8).withUnsafeBytes { first.matches($0) })
        #expect(Array("x id=345".utf8).withUnsafeBytes { second.matches($0) })
        #expect(first.capture(1) == 3..<5)
        #expect(second.capture(1) == 5..<8)
    }

    @Test func aMatcherKeepsItsRegexAliveAndBothAreFreedWithTheLastReference() throws {
        var regex: PCRERegex? = try PCRERegex.compile("x")
        weak let weakRegex = regex
        var m: RegexMatcher? = RegexMatcher(regex!)
        weak let weakMatcher = m
        regex = nil
        #expect(weakRegex != nil)
        #expect(Array("x".utf8).withUnsafeBytes { m!.matches($0) })
        m = nil
        #expect(weakMatcher == nil)
        #expect(weakRegex == nil)
    }
}
