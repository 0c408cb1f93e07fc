#ifndef SL_PCRE_H
#define SL_PCRE_H
// PCRE2 (8-bit) for the pipeline's regular expressions: <pcre2.h> needs PCRE2_CODE_UNIT_WIDTH
// defined before it is included, which Swift cannot do, so the shim includes it and exposes
// opaque handles over pcre2_code and pcre2_match_data.
#include <stddef.h>
#include <stdint.h>

/// A compiled pattern: PCRE2 code in UTF mode for subjects that are valid UTF-8 and, when the
/// pattern allows, in byte mode for subjects that are not; read-only once compiled (and
/// JIT-compiled), so workers share one.
typedef struct sl_pcre_code sl_pcre_code;
/// One worker's state for matching one pattern: PCRE2's match data (the capture offsets and,
/// without JIT, the interpreter's backtracking frames) and the JIT stack; never shared between
/// threads.
typedef struct sl_pcre_match_state sl_pcre_match_state;

/// Compiles `length` bytes of UTF-8 `pattern` for matching log bytes that may not be valid
/// UTF-8: with PCRE2_UTF, and again without it (byte mode) unless the pattern needs UTF (then
/// an invalid subject matches nothing). On error (of the UTF compile) returns NULL, copies
/// PCRE2's message (NUL-terminated, truncated to `message_capacity`) into `message` and stores
/// the byte offset in the pattern where the error was found in *error_offset
/// (why C: PCRE2_CODE_UNIT_WIDTH).
sl_pcre_code *sl_pcre_compile(const char *pattern, size_t length, char *message, size_t message_capacity,
                              size_t *error_offset);
/// JIT-compiles both codes of `code` for complete matches; returns 1 when the UTF code (the one
/// valid subjects use) runs JIT code, 0 when matching falls back to the interpreter (no JIT in
/// this build or CPU, `(*NO_JIT)`, or out of executable memory).
/// Call before `code` is shared (why C: pcre2_jit_compile_8 is reached through the width macro).
int sl_pcre_jit_compile(sl_pcre_code *code);
/// Number of capture groups, not counting group 0 (why C: pcre2_pattern_info_8).
uint32_t sl_pcre_capture_count(const sl_pcre_code *code);
/// The number of the group called `name` (NUL-terminated), or a negative PCRE2 error code when
/// no group has that name or several do (why C: pcre2_substring_number_from_name_8).
int sl_pcre_group_number(const sl_pcre_code *code, const char *name);
/// Frees `code`; every match data made for it must be freed first (why C: pcre2_code_free_8).
void sl_pcre_code_free(sl_pcre_code *code);

/// Match state for `code`: match data with room for every group, its ovector at a fixed address
/// for its whole life, and, when `code` runs JIT code, a JIT stack that may grow to
/// `jit_stack_max_bytes` (reserved address space, pages used only as deep matches touch them);
/// NULL when out of memory (why C: pcre2_match_data_create_from_pattern_8, pcre2_jit_stack_*).
sl_pcre_match_state *sl_pcre_match_state_create(const sl_pcre_code *code, size_t jit_stack_max_bytes);
/// The ovector: pairs of byte offsets (start, end) into the last subject, one pair per group,
/// group 0 first; PCRE2_UNSET ((size_t)-1) for a group that did not take part
/// (why C: pcre2_get_ovector_pointer_8).
size_t *sl_pcre_ovector(sl_pcre_match_state *state);
void sl_pcre_match_state_free(sl_pcre_match_state *state);

/// Searches `length` bytes at `subject` (NULL when `length` is 0) for the first match: by
/// characters when the subject is valid UTF-8 (PCRE2 checks it), else by bytes; returns how many
/// ovector pairs were set (> 0) on a match, 0 when there is none (an invalid subject for a
/// pattern with no byte-mode code included), or a negative PCRE2 error code (a match, depth,
/// heap or JIT stack limit reached; never a UTF-8 error). Allocates nothing with JIT
/// (why C: pcre2_match_8).
int sl_pcre_match(const sl_pcre_code *code, const void *subject, size_t length, sl_pcre_match_state *state);
/// Like `sl_pcre_match`, from byte `start` of the subject (lookbehinds and `^` still see the
/// whole subject), for finding every match of one subject in turn. `*subject_kind` is 0 before
/// the first search of a subject; the call sets it to 1 (valid UTF-8: later searches skip
/// PCRE2's UTF check, so each is linear in what it scans) or 2 (invalid: byte mode). With kind
/// 1, `start` must be a character boundary (the end of an earlier match, or one whole character
/// past it). Allocates nothing with JIT (why C: pcre2_match_8 with a start offset).
int sl_pcre_match_from(const sl_pcre_code *code, const void *subject, size_t length, size_t start, int *subject_kind,
                       sl_pcre_match_state *state);
/// Number of named groups (why C: pcre2_pattern_info_8).
int sl_pcre_name_count(const sl_pcre_code *code);
/// The name of the `index`-th named group (NUL-terminated, owned by `code`) and its number in
/// *group; NULL when `index` is out of range (why C: PCRE2's name table layout).
const char *sl_pcre_name_entry(const sl_pcre_code *code, int index, int *group);
/// PCRE2's message for a negative error code, NUL-terminated in `buffer`
/// (why C: pcre2_get_error_message_8).
void sl_pcre_error_message(int error, char *buffer, size_t capacity);
#endif
