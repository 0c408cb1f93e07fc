#ifndef SL_JSON_H
#define SL_JSON_H
// Vector kernels of the JSON scanner (CSupport/json.c): Swift cannot spell AVX2 intrinsics nor
// compile one function for AVX2 beside the baseline ones, so the two loops that look at every
// byte of a text live here, with a run-time CPU check. Both are accelerators only: the Swift
// scanner decides every error and its offset itself.
#include <stddef.h>
#include <stdint.h>

/// Set in `sl_json_string_scan`'s result when the bytes it skipped hold an escape.
#define SL_JSON_SKIPPED_ESCAPE (1ULL << 63)

/// From `p`, a position inside a JSON string body that no backslash escapes, skips plain bytes
/// and the escapes \" \\ \/ \b \f \n \r \t, 32 bytes per step; `available` bytes may be read.
/// Returns the offset of the first byte it leaves to the caller: an unescaped quote, a byte below
/// 0x20, the backslash of any other escape (\u or invalid), or a position with fewer than 32
/// bytes left (never one a backslash escapes); ORed with SL_JSON_SKIPPED_ESCAPE when the bytes
/// before it hold an escape.
uint64_t sl_json_string_scan(const uint8_t *p, size_t available);

/// 1 when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
/// U+10FFFF, no truncated sequence), 0 when it is not, -1 when this CPU has no AVX2 (the caller
/// checks by itself). 32 bytes per step; all-ASCII stretches 64 per step.
int sl_utf8_check(const uint8_t *text, size_t length);
#endif
