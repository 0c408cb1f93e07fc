// Vector kernels of the JSON scanner (see sl_json.h). Each function checks once for AVX2 and
// otherwise hands the work back to the Swift code, which has a baseline (SSE2) path of its own.
#include "sl_json.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

#define SL_AVX2 __attribute__((target("avx2,bmi,popcnt")))

static int avx2_support = -1;

static inline int has_avx2(void) {
    int s = __atomic_load_n(&avx2_support, __ATOMIC_RELAXED);
    if (__builtin_expect(s < 0, 0)) {
        __builtin_cpu_init();
        s = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") ? 1 : 0;
        __atomic_store_n(&avx2_support, s, __ATOMIC_RELAXED);
    }
    return s;
}

// MARK: - Strings

static const uint64_t even_bits = 0x5555555555555555ULL;

/// The bytes a backslash escapes, given the backslashes of a window that no backslash before it
/// escapes into: the byte after each run of odd length. A run's parity follows from where it
/// starts and where it ends: adding a run's first bit to the run carries to the byte after it.
/// Bit 32 (for a 32-byte window) is set when the window's last byte escapes the next one.
static inline uint64_t escaped_bytes(uint64_t backslashes) {
    uint64_t starts = backslashes & ~(backslashes << 1);
    uint64_t ends_of_even_starts = (backslashes + (starts & even_bits)) & ~backslashes;
    uint64_t ends_of_odd_starts = (backslashes + (starts & ~even_bits)) & ~backslashes;
    return (ends_of_even_starts & ~even_bits) | (ends_of_odd_starts & even_bits);
}

/// Bit i set when byte i may follow a backslash without more checks: '"', '\\', '/', 'b', 'f',
/// 'n', 'r', 't' ('u' needs its four hex digits: the Swift code checks it). One bit per high
/// nibble (2, 5, 6, 7) in one table, the low nibbles each admits in the other: a byte is in the
/// set when its two lookups share a bit.
SL_AVX2 static inline uint32_t simple_escape_bytes(__m256i v) {
    const __m256i by_low = _mm256_setr_epi8(
        0, 0, 1 | 4 | 8, 0, 8, 0, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1,
        0, 0, 1 | 4 | 8, 0, 8, 0, 4, 0, 0, 0, 0, 0, 2, 0, 4, 1);
    const __m256i by_high = _mm256_setr_epi8(
        0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 1, 0, 0, 2, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256i low = _mm256_shuffle_epi8(by_low, _mm256_and_si256(v, nibble));
    __m256i high = _mm256_shuffle_epi8(by_high, _mm256_and_si256(_mm256_srli_epi16(v, 4), nibble));
    __m256i none = _mm256_cmpeq_epi8(_mm256_and_si256(low, high), _mm256_setzero_si256());
    return ~(uint32_t)_mm256_movemask_epi8(none);
}

/// Quotes and bytes below 0x20.
SL_AVX2 static inline uint32_t quote_or_control_bytes(__m256i v) {
    __m256i control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1F)), v);
    return (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('"')), control));
}

/// The same over 64 bytes; `*escapes_next` is set when the last byte escapes the one after it.
static inline uint64_t escaped_bytes_64(uint64_t backslashes, uint64_t *escapes_next) {
    uint64_t starts = backslashes & ~(backslashes << 1);
    uint64_t even_sum, odd_sum;
    __builtin_add_overflow(backslashes, starts & even_bits, &even_sum);
    // Bit 64 is even: a run reaching it escapes it when it started on an odd bit.
    *escapes_next = __builtin_add_overflow(backslashes, starts & ~even_bits, &odd_sum);
    return (even_sum & ~backslashes & ~even_bits) | (odd_sum & ~backslashes & even_bits);
}

static inline int is_hex(uint8_t c) {
    return (uint8_t)(c - '0') < 10 || (uint8_t)((c | 0x20) - 'a') < 6;
}

SL_AVX2 static inline uint64_t equal_bytes_64(__m256i a, __m256i b, char c) {
    __m256i v = _mm256_set1_epi8(c);
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, v))
        | (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, v)) << 32;
}

SL_AVX2 static uint64_t string_scan_avx2(const uint8_t *p, size_t available) {
    const uint8_t *q = p, *end = p + available;
    uint64_t skipped_escape = 0;
    const __m256i quote = _mm256_set1_epi8('"'), backslash = _mm256_set1_epi8('\\'), control_max = _mm256_set1_epi8(0x1F);
    // 64 bytes per step. Plain windows (long messages) cost one test; any other window is worked
    // out without a branch per escape, and ends the loop when it holds a stop: most strings end
    // in their first window, so these branches are well predicted, where one on "any backslash
    // here?" would not be.
    while (end - q >= 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)q), b = _mm256_loadu_si256((const __m256i *)(q + 32));
        __m256i backslash_a = _mm256_cmpeq_epi8(a, backslash), backslash_b = _mm256_cmpeq_epi8(b, backslash);
        __m256i stop_a = _mm256_or_si256(_mm256_cmpeq_epi8(a, quote), _mm256_cmpeq_epi8(_mm256_min_epu8(a, control_max), a));
        __m256i stop_b = _mm256_or_si256(_mm256_cmpeq_epi8(b, quote), _mm256_cmpeq_epi8(_mm256_min_epu8(b, control_max), b));
        __m256i any = _mm256_or_si256(_mm256_or_si256(backslash_a, backslash_b), _mm256_or_si256(stop_a, stop_b));
        if (_mm256_testz_si256(any, any)) {
            q += 64;
            continue;
        }
        uint64_t backslashes = (uint64_t)(uint32_t)_mm256_movemask_epi8(backslash_a) | (uint64_t)(uint32_t)_mm256_movemask_epi8(backslash_b) << 32;
        uint64_t stops = (uint64_t)(uint32_t)_mm256_movemask_epi8(stop_a) | (uint64_t)(uint32_t)_mm256_movemask_epi8(stop_b) << 32;
        uint64_t escapes_next;
        uint64_t escaped = escaped_bytes_64(backslashes, &escapes_next);
        uint64_t simple = (uint64_t)simple_escape_bytes(a) | (uint64_t)simple_escape_bytes(b) << 32;
        uint64_t unusual = escaped & ~simple;
        size_t advance = 64 - (size_t)escapes_next;
        uint64_t unicode = unusual & equal_bytes_64(a, b, 'u');
        if (__builtin_expect(unicode != 0, 0)) {
            // \uXXXX: valid with four hex digits, which hold no stop; the next window starts
            // after the last of them.
            unusual &= ~unicode;
            do {
                size_t at = (size_t)__builtin_ctzll(unicode);
                unicode &= unicode - 1;
                if ((size_t)(end - q) < at + 5 || !is_hex(q[at + 1]) || !is_hex(q[at + 2]) || !is_hex(q[at + 3])
                    || !is_hex(q[at + 4])) {
                    unusual |= 1ULL << at;
                } else if (at + 5 > advance) {
                    advance = at + 5;
                }
            } while (unicode);
        }
        uint64_t all_stops = (stops & ~escaped) | unusual >> 1;
        if (all_stops) {
            unsigned at = (unsigned)__builtin_ctzll(all_stops);
            if (backslashes & ((1ULL << at) - 1)) skipped_escape = SL_JSON_SKIPPED_ESCAPE;
            return (uint64_t)(q - p + at) | skipped_escape;
        }
        // A backslash in the last byte that escapes the next one is not skipped: it starts the
        // next window, so no window ever starts on an escaped byte.
        if (backslashes & ~(escapes_next << 63)) skipped_escape = SL_JSON_SKIPPED_ESCAPE;
        q += advance;
    }
    // The last 32 to 63 bytes: 32-byte windows (\u escapes are left to the caller).
    while (end - q >= 32) {
        __m256i v = _mm256_loadu_si256((const __m256i *)q);
        uint32_t backslashes = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\\')));
        uint64_t escaped = escaped_bytes(backslashes);
        uint32_t unusual = (uint32_t)escaped & ~simple_escape_bytes(v);
        uint32_t all_stops = (quote_or_control_bytes(v) & ~(uint32_t)escaped) | unusual >> 1;
        if (all_stops) {
            unsigned at = (unsigned)__builtin_ctz(all_stops);
            if (backslashes & ((1U << at) - 1)) skipped_escape = SL_JSON_SKIPPED_ESCAPE;
            return (uint64_t)(q - p + at) | skipped_escape;
        }
        if (backslashes & ~((uint32_t)(escaped >> 32) << 31)) skipped_escape = SL_JSON_SKIPPED_ESCAPE;
        q += 32 - (escaped >> 32);
    }
    return (uint64_t)(q - p) | skipped_escape;
}

uint64_t sl_json_string_scan(const uint8_t *p, size_t available) {
    if (!has_avx2()) return 0;
    return string_scan_avx2(p, available);
}

// MARK: - UTF-8

// Lookup-table validation: each byte is classified by three 16-entry tables, indexed by the
// previous byte's high nibble, its low nibble, and the current byte's high nibble; every bit of
// a table entry names one kind of error, and a pair of bytes is in error when all three lookups
// share a bit. What two bytes cannot tell (a third or fourth byte of a sequence) is checked
// against the bytes two and three back.
enum {
    TOO_SHORT = 1 << 0,       // a lead byte followed by a lead or ASCII
    TOO_LONG = 1 << 1,        // ASCII followed by a continuation
    OVERLONG_3 = 1 << 2,      // E0 followed by 80...9F
    TOO_LARGE = 1 << 3,       // F4 followed by 90...BF, or F5...FF followed by 90...BF
    SURROGATE = 1 << 4,       // ED followed by A0...BF
    OVERLONG_2 = 1 << 5,      // C0 or C1 followed by a continuation
    TOO_LARGE_1000 = 1 << 6,  // F5...FF followed by 80...8F
    OVERLONG_4 = 1 << 6,      // F0 followed by 80...8F
    TWO_CONTS = 1 << 7,       // a continuation followed by a continuation (valid only in 3- and 4-byte forms)
    CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS,
};

SL_AVX2 static inline __m256i table16(uint8_t a0, uint8_t a1, uint8_t a2, uint8_t a3, uint8_t a4, uint8_t a5, uint8_t a6, uint8_t a7,
                                      uint8_t a8, uint8_t a9, uint8_t a10, uint8_t a11, uint8_t a12, uint8_t a13, uint8_t a14, uint8_t a15) {
#define B(x) (char)(x)
    return _mm256_setr_epi8(B(a0), B(a1), B(a2), B(a3), B(a4), B(a5), B(a6), B(a7), B(a8), B(a9), B(a10), B(a11), B(a12), B(a13), B(a14), B(a15),
                            B(a0), B(a1), B(a2), B(a3), B(a4), B(a5), B(a6), B(a7), B(a8), B(a9), B(a10), B(a11), B(a12), B(a13), B(a14), B(a15));
#undef B
}

/// Error bits (nonzero bytes) for the 32 bytes at `p`, given the 3 bytes before them.
SL_AVX2 static inline __m256i utf8_errors(const uint8_t *p) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    __m256i current = _mm256_loadu_si256((const __m256i *)p);
    __m256i prev1 = _mm256_loadu_si256((const __m256i *)(p - 1));
    __m256i prev2 = _mm256_loadu_si256((const __m256i *)(p - 2));
    __m256i prev3 = _mm256_loadu_si256((const __m256i *)(p - 3));
    const __m256i first_high = table16(
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        TWO_CONTS, TWO_CONTS, TWO_CONTS, TWO_CONTS,
        TOO_SHORT | OVERLONG_2, TOO_SHORT, TOO_SHORT | OVERLONG_3 | SURROGATE,
        TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
    const __m256i first_low = table16(
        CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4, CARRY | OVERLONG_2, CARRY, CARRY,
        CARRY | TOO_LARGE, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE, CARRY | TOO_LARGE | TOO_LARGE_1000,
        CARRY | TOO_LARGE | TOO_LARGE_1000);
    const __m256i second_high = table16(
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        (TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4),
        (TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE),
        (TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE),
        (TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE),
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);
    __m256i special = _mm256_and_si256(
        _mm256_and_si256(_mm256_shuffle_epi8(first_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nibble)),
                         _mm256_shuffle_epi8(first_low, _mm256_and_si256(prev1, nibble))),
        _mm256_shuffle_epi8(second_high, _mm256_and_si256(_mm256_srli_epi16(current, 4), nibble)));
    // A third byte (two after E0...FF) or fourth (three after F0...FF) must be a continuation
    // after a continuation: exactly the pairs marked TWO_CONTS.
    __m256i third = _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xE0 - 0x80)));
    __m256i fourth = _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xF0 - 0x80)));
    __m256i must_follow = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8((char)0x80));
    return _mm256_xor_si256(must_follow, special);
}

/// `count` (at most 32) bytes at `p` with `before` (at most 3) bytes before them, checked in a
/// zeroed copy: zero is ASCII, so nothing is required before the text. At the end of the text
/// (`last`), three more zeros are checked: a sequence it cuts meets ASCII, which shows as TOO_SHORT.
SL_AVX2 static inline __m256i utf8_padded_errors(const uint8_t *p, size_t count, size_t before, int last) {
    uint8_t copy[3 + 32 + 3] = {0};
    memcpy(copy + 3 - before, p - before, before + count);
    __m256i errors = utf8_errors(copy + 3);
    return last ? _mm256_or_si256(errors, utf8_errors(copy + 6)) : errors;
}

SL_AVX2 static int utf8_check_avx2(const uint8_t *text, size_t length) {
    const uint8_t *p = text, *end = text + length;
    size_t head = length < 32 ? length : 32;
    __m256i errors = utf8_padded_errors(p, head, 0, 0);
    p += head;
    while (end - p >= 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)p), b = _mm256_loadu_si256((const __m256i *)(p + 32));
        // ASCII needs no look when no sequence started in the three bytes before it is unfinished.
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0 && p[-1] < 0xC0 && p[-2] < 0xE0 && p[-3] < 0xF0) {
            p += 64;
            continue;
        }
        errors = _mm256_or_si256(errors, _mm256_or_si256(utf8_errors(p), utf8_errors(p + 32)));
        p += 64;
    }
    if (end - p >= 32) {
        errors = _mm256_or_si256(errors, utf8_errors(p));
        p += 32;
    }
    if (length >= 64) {
        // The last bytes again with the 32 before them (checking a byte twice changes nothing),
        // without a copy; a sequence the end cuts is a lead byte too close to the end.
        if (p < end) errors = _mm256_or_si256(errors, utf8_errors(end - 32));
        if (end[-1] >= 0xC0 || end[-2] >= 0xE0 || end[-3] >= 0xF0) return 0;
    } else {
        size_t before = (size_t)(p - text) < 3 ? (size_t)(p - text) : 3;
        errors = _mm256_or_si256(errors, utf8_padded_errors(p, (size_t)(end - p), before, 1));
    }
    return _mm256_testz_si256(errors, errors);
}

int sl_utf8_check(const uint8_t *text, size_t length) {
    if (!has_avx2()) return -1;
    if (length == 0) return 1;
    return utf8_check_avx2(text, length);
}

#else

uint64_t sl_json_string_scan(const uint8_t *p, size_t available) {
    (void)p;
    (void)available;
    return 0;
}

int sl_utf8_check(const uint8_t *text, size_t length) {
    (void)text;
    (void)length;
    return -1;
}
#endif
