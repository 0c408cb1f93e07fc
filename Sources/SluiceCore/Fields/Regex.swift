import CSupport

// PCRE2 regular expressions for conditions and extraction: a pattern is compiled (and
// JIT-compiled) once at configuration time and shared by every worker; each worker matches
// through its own `RegexMatcher`, which allocates nothing per event.
//
// Subjects are bytes, not Strings, and may not be valid UTF-8. A subject that is valid UTF-8 is
// matched character by character (the pattern compiled in UTF mode: `.`, classes and `(?i)` see
// `é` as one character); a subject that is not is matched byte by byte (the same pattern
// compiled without UTF: `.` and `[^x]` match any one byte, `\xff` the byte 0xFF, a literal `é`
// its two bytes, `(?i)` folds ASCII only). Invalid UTF-8 is never an error. A pattern that does
// not compile without UTF (`\x{100}`, `(*UTF)`) matches no invalid subject. PCRE2's
// PCRE2_MATCH_INVALID_UTF would keep one code for both, but its JIT code in PCRE2 10.42 fails
// `^\S`, `^\W`, `^\D` on a subject starting with a multi-byte character.

/// Why a pattern did not compile: PCRE2's message and where in the pattern it found the error.
public struct RegexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2's message, e.g. "missing closing parenthesis".
    public let message: String
    /// 0-based offset of the error in the pattern, in Unicode scalars (what a user counts).
    public let offset: Int
    /// The same offset in UTF-8 bytes, as PCRE2 reports it.
    public let byteOffset: Int

    /// Reads as the tail of a config error: `if-regex: bad pattern at offset 3: …`.
    public var description: String { "bad pattern at offset \(offset): \(message)" }
}

/// A compiled PCRE2 pattern, shared read-only by every worker (PCRE2 allows concurrent matches
/// on one compiled code, JIT code included, each with its own match data); a class so the code
/// is freed once, when the last configuration or matcher holding it goes away.
public final class PCRERegex: @unchecked Sendable {
    /// Longest PCRE2 compile message kept (PCRE2's own are under 120 bytes).
    static let maxErrorMessageBytes = 256

    public let pattern: String
    /// True when matches of valid UTF-8 run PCRE2's JIT code; false when this build or CPU has no
    /// JIT (or the pattern says `(*NO_JIT)`) and matching falls back to the slower interpreter.
    public let usesJIT: Bool
    /// Capture groups in the pattern, not counting group 0 (the whole match).
    public let captureCount: Int
    let code: OpaquePointer

    private init(pattern: String, code: OpaquePointer) {
        self.pattern = pattern
        self.code = code
        // JIT-compiled here, before `self` can reach another thread: the code is read-only after.
        usesJIT = sl_pcre_jit_compile(code) == 1
        captureCount = Int(sl_pcre_capture_count(code))
    }

    deinit { sl_pcre_code_free(code) }

    /// Compiles `pattern` for matching log bytes; a configuration-time call (it allocates).
    public static func compile(_ pattern: String) throws(RegexError) -> PCRERegex {
        var contiguous = pattern
        var errorOffset = 0
        var message = [CChar](repeating: 0, count: maxErrorMessageBytes)
        let code = contiguous.withUTF8 { utf8 in
            message.withUnsafeMutableBufferPointer { m in
                utf8.withMemoryRebound(to: CChar.self) { p in
                    sl_pcre_compile(p.baseAddress, p.count, m.baseAddress, m.count, &errorOffset)
                }
            }
        }
        guard let code else {
            precondition(errorOffset <= pattern.utf8.count, "PCRE2 error offset past the pattern")
            let prefix = String(decoding: pattern.utf8.prefix(errorOffset), as: UTF8.self)
            throw RegexError(message: text(of: message), offset: prefix.unicodeScalars.count, byteOffset: errorOffset)
        }
        return PCRERegex(pattern: pattern, code: code)
    }

    /// The number of the capture group called `name`, or nil when no group, or more than one
    /// (`(?J)`), has that name; resolve names once at configuration time, then read captures by
    /// number per event.
    public func groupNumber(named name: String) -> Int? {
        let n = sl_pcre_group_number(code, name)
        return n > 0 ? Int(n) : nil
    }

    /// Every named group with its number, in name order (PCRE2's name table); a configuration-
    /// time call. A name used twice (`(?J)`) appears once per group.
    public var namedGroups: [(name: String, number: Int)] {
        (0..<Int(sl_pcre_name_count(code))).compactMap { i in
            var group: Int32 = 0
            guard let name = sl_pcre_name_entry(code, Int32(i), &group) else { return nil }
            return (String(cString: name), Int(group))
        }
    }
}

/// Why one match stopped without an answer: PCRE2 hit a limit (match steps, depth, heap, or the
/// matcher's JIT stack) on this subject. The event's outcome is the caller's choice; `matches`
/// counts it as no match.
public struct RegexMatchFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2's negative error code, e.g. -47 (PCRE2_ERROR_MATCHLIMIT).
    public let code: Int32

    /// PCRE2's message for the code; builds a String, so for logs, not for the event path.
    public var description: String {
        var buffer = [CChar](repeating: 0, count: PCRERegex.maxErrorMessageBytes)
        buffer.withUnsafeMutableBufferPointer { sl_pcre_error_message(code, $0.baseAddress, $0.count) }
        return text(of: buffer)
    }
}

/// A message PCRE2 wrote into `buffer`, up to its NUL.
private func text(of buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The outcome of one search.
public enum RegexMatchResult: Sendable, Equatable {
    case matched
    case notMatched
    case failed(RegexMatchFailure)
}

/// One worker's matcher for one `PCRERegex`: PCRE2's match data (the capture offsets and, without
/// JIT, the interpreter's frames) and its JIT stack, made when the worker's actions are set up
/// and freed by `deinit` when they are dropped (a pipeline retired by a reload deinitializes its
/// actions). A class so that a copy of the action holding it shares it rather than freeing it
/// twice; make one per worker (`forWorker()`), never share one.
///
/// Invariants of the event path (`matches`, `match`, `capture`): no allocation (no String, no
/// Array, no Foundation; JIT matching uses the match data and the JIT stack reserved here), no
/// locks, one thread at a time. Without JIT (`regex.usesJIT` false) the interpreter's frames
/// block is allocated here too, but a subject that needs more than its 20 KiB makes PCRE2 grow it
/// during that match (kept for later matches).
public final class RegexMatcher: @unchecked Sendable {
    /// Largest JIT stack a matcher may grow to. Measured (PCRE2 10.42, x86_64): a quoted-string
    /// pattern `"(?:[^"\\]|\\.)*"` or `^(\w+\s?)*$` takes 30-40 bytes of JIT stack per subject
    /// byte, so 8 MiB lets them through subjects of about 200 KB; a deeper match fails with
    /// "JIT stack limit reached". Address space reserved per matcher; pages become resident only
    /// as deep matches touch them.
    public static let defaultJITStackMaxBytes = 8 << 20

    /// Held so the compiled code outlives every matcher made from it.
    public let regex: PCRERegex
    let code: OpaquePointer
    let state: OpaquePointer
    /// PCRE2's ovector inside the match data: (start, end) byte offsets per group, at a fixed
    /// address for the matcher's life, so captures are read without a call into C.
    let ovector: UnsafeMutablePointer<Int>
    /// Groups in the pattern plus group 0, copied from the regex for the capture bounds check.
    let groupCount: Int
    /// Groups the last match set (group 0 included); 0 after a search that did not match, so
    /// captures never read a stale ovector.
    private(set) var setGroups = 0

    public init(_ regex: PCRERegex, jitStackMaxBytes: Int = RegexMatcher.defaultJITStackMaxBytes) {
        precondition(jitStackMaxBytes > 0, "a JIT stack needs room")
        self.regex = regex
        code = regex.code
        guard let state = sl_pcre_match_state_create(regex.code, jitStackMaxBytes) else {
            fatalError("out of memory for PCRE2 match data")
        }
        self.state = state
        ovector = sl_pcre_ovector(state)
        groupCount = regex.captureCount + 1
    }

    deinit { sl_pcre_match_state_free(state) }

    /// Searches `bytes` for the pattern; on a match, `capture(_:)` tells where each group is.
    public func match(_ bytes: UnsafeRawBufferPointer) -> RegexMatchResult {
        let rc = search(bytes)
        if rc > 0 { return .matched }
        return rc == 0 ? .notMatched : .failed(RegexMatchFailure(code: rc))
    }

    /// True when the pattern matches somewhere in `bytes`; a search PCRE2 gave up on (a limit
    /// reached) counts as no match.
    @inline(__always) public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool { search(bytes) > 0 }

    /// PCRE2's answer: groups set (> 0), 0 for no match, or a negative error code.
    @inline(__always) func search(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        let rc = sl_pcre_match(code, bytes.baseAddress, bytes.count, state)
        assert(rc <= Int32(groupCount), "PCRE2 set more groups than the pattern has")
        setGroups = max(Int(rc), 0)
        return rc
    }

    /// Searches `bytes` from byte `start` on (`^` and lookbehinds still see the whole subject),
    /// for finding every match of one subject in turn: `subjectKind` starts at 0 for a new
    /// subject and the first search sets it (the UTF-8 check runs once per subject, so a
    /// subject with many matches is scanned in linear time). For a valid UTF-8 subject `start`
    /// must be a character boundary: the end of an earlier match, or a whole character past it.
    @inline(__always) public func match(_ bytes: UnsafeRawBufferPointer, from start: Int, subjectKind: inout Int32) -> RegexMatchResult {
        precondition(start >= 0 && start <= bytes.count, "search start outside the subject")
        let rc = sl_pcre_match_from(code, bytes.baseAddress, bytes.count, start, &subjectKind, state)
        assert(rc <= Int32(groupCount), "PCRE2 set more groups than the pattern has")
        setGroups = max(Int(rc), 0)
        if rc > 0 { return .matched }
        return rc == 0 ? .notMatched : .failed(RegexMatchFailure(code: rc))
    }

    /// Where group `group` (0: the whole match) matched in the last subject, as byte offsets;
    /// nil when the last search did not match or the group took no part in the match.
    @inline(__always) public func capture(_ group: Int) -> Range<Int>? {
        precondition(group >= 0 && group < groupCount, "capture group out of range")
        guard group < setGroups else { return nil }
        let start = ovector[2 * group]
        let end = ovector[2 * group + 1]
        // PCRE2_UNSET is (size_t)-1, which reads as -1 through Int.
        guard start >= 0 else { return nil }
        assert(start <= end, "PCRE2 capture ends before it starts")
        return start..<end
    }
}
