#define PCRE2_CODE_UNIT_WIDTH 8
#include "sl_pcre.h"
#include "sl_json.h"
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

// One pattern compiled twice, because PCRE2_MATCH_INVALID_UTF (which would let one UTF code
// search invalid subjects) gives wrong JIT code in PCRE2 10.42: `^\S`, `^\W`, `^\D` fail on a
// subject starting with a multi-byte character. Plain PCRE2_UTF is correct with JIT but rejects
// an invalid subject with a UTF-8 error, so such a subject is searched again in byte mode.
struct sl_pcre_code {
    // PCRE2_UTF: for subjects that are valid UTF-8, matched character by character.
    pcre2_code *characters;
    // Without UTF: for subjects that are not, matched byte by byte; NULL when the pattern does
    // not compile without UTF (`\x{100}`, `(*UTF)`), and then an invalid subject matches nothing.
    pcre2_code *bytes;
};

// JIT code exists for the pattern: pcre2_jit_compile also succeeds without it under (*NO_JIT).
static int uses_jit(const pcre2_code *code) {
    size_t jit_bytes = 0;
    return pcre2_pattern_info(code, PCRE2_INFO_JITSIZE, &jit_bytes) == 0 && jit_bytes > 0;
}

static uint32_t capture_count(const pcre2_code *code) {
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    return count;
}

struct sl_pcre_match_state {
    pcre2_match_data *data;
    // NULL without JIT: the interpreter needs no JIT stack, and default limits.
    pcre2_match_context *context;
    pcre2_jit_stack *jit_stack;
};

/// Size of a new JIT stack, before it grows; PCRE2's own default on the machine stack.
#define SL_PCRE_JIT_STACK_START_BYTES (32 * 1024)

static void copy_message(int error, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    // PCRE2 truncates a long message with its NUL, but writes nothing for an unknown code.
    buffer[0] = 0;
    pcre2_get_error_message(error, (PCRE2_UCHAR *)buffer, capacity);
}

sl_pcre_code *sl_pcre_compile(const char *pattern, size_t length, char *message, size_t message_capacity,
                              size_t *error_offset) {
    // UTF mode, so `.`, classes and (?i) work on characters of valid UTF-8 log text (é is one
    // character, not two bytes). \C (one code unit) is refused: it could split a character.
    // Errors are reported from this compile: it is the pattern's meaning for valid text.
    int error = 0;
    PCRE2_SIZE offset = 0;
    uint32_t utf_options = PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C;
    pcre2_code *characters =
        pcre2_compile((PCRE2_SPTR)pattern, length, utf_options, &error, &offset, NULL);
    if (!characters) {
        copy_message(error, message, message_capacity);
        *error_offset = offset;
        return NULL;
    }
    sl_pcre_code *code = calloc(1, sizeof(*code));
    if (!code) {
        pcre2_code_free(characters);
        copy_message(PCRE2_ERROR_NOMEMORY, message, message_capacity);
        *error_offset = 0;
        return NULL;
    }
    code->characters = characters;
    // Byte mode for invalid subjects: the pattern's UTF-8 literals still match their own bytes,
    // `.` and classes see single bytes. PCRE2_NEVER_UTF so a `(*UTF)` in the pattern cannot turn
    // this code back into one that rejects invalid subjects; a pattern this compile refuses
    // keeps only the UTF code.
    uint32_t byte_options = PCRE2_NEVER_UTF | PCRE2_NEVER_BACKSLASH_C;
    code->bytes = pcre2_compile((PCRE2_SPTR)pattern, length, byte_options, &error, &offset, NULL);
    // One match data serves both codes, so they must have the same groups (the same ovector and
    // interpreter frames); checked in release builds too, once per pattern.
    if (code->bytes && capture_count(code->bytes) != capture_count(code->characters)) {
        fputs("sl_pcre_compile: byte-mode code has other capture groups than the UTF code\n", stderr);
        abort();
    }
    return code;
}

int sl_pcre_jit_compile(sl_pcre_code *code) {
    // A code JIT cannot compile is matched by the interpreter with the same match data.
    if (code->bytes) pcre2_jit_compile(code->bytes, PCRE2_JIT_COMPLETE);
    if (pcre2_jit_compile(code->characters, PCRE2_JIT_COMPLETE) != 0) return 0;
    return uses_jit(code->characters);
}

uint32_t sl_pcre_capture_count(const sl_pcre_code *code) { return capture_count(code->characters); }

int sl_pcre_group_number(const sl_pcre_code *code, const char *name) {
    return pcre2_substring_number_from_name(code->characters, (PCRE2_SPTR)name);
}

void sl_pcre_code_free(sl_pcre_code *code) {
    if (!code) return;
    pcre2_code_free(code->characters);
    pcre2_code_free(code->bytes);
    free(code);
}

sl_pcre_match_state *sl_pcre_match_state_create(const sl_pcre_code *code, size_t jit_stack_max_bytes) {
    sl_pcre_match_state *state = calloc(1, sizeof(*state));
    if (!state) return NULL;
    // From the UTF code; the byte-mode code has the same groups (sl_pcre_compile checks).
    state->data = pcre2_match_data_create_from_pattern(code->characters, NULL);
    if (!state->data) goto fail;
    if (uses_jit(code->characters) || (code->bytes && uses_jit(code->bytes))) {
        // A JIT stack of its own rather than PCRE2's default 32 KiB of the worker's stack, which
        // common patterns exhaust on subjects of a few KiB (RegexMatcher.defaultJITStackMaxBytes).
        // sljit maps the maximum once and grows by moving a pointer: a match never allocates.
        // Both codes use it, one match at a time.
        size_t start = jit_stack_max_bytes < SL_PCRE_JIT_STACK_START_BYTES
            ? jit_stack_max_bytes : SL_PCRE_JIT_STACK_START_BYTES;
        state->jit_stack = pcre2_jit_stack_create(start, jit_stack_max_bytes, NULL);
        state->context = pcre2_match_context_create(NULL);
        if (!state->jit_stack || !state->context) goto fail;
        pcre2_jit_stack_assign(state->context, NULL, state->jit_stack);
    }
    // Without JIT, PCRE2 (10.41+) allocates the interpreter's first frames block at the first
    // match with this match data and keeps it there: one match per code now moves that
    // allocation to the worker's start instead of its first event (or first invalid one).
    pcre2_match(code->characters, (PCRE2_SPTR)"", 0, 0, 0, state->data, state->context);
    if (code->bytes) pcre2_match(code->bytes, (PCRE2_SPTR)"", 0, 0, 0, state->data, state->context);
    return state;
fail:
    sl_pcre_match_state_free(state);
    return NULL;
}

size_t *sl_pcre_ovector(sl_pcre_match_state *state) { return pcre2_get_ovector_pointer(state->data); }

void sl_pcre_match_state_free(sl_pcre_match_state *state) {
    if (!state) return;
    pcre2_match_data_free(state->data);
    pcre2_match_context_free(state->context);
    pcre2_jit_stack_free(state->jit_stack);
    free(state);
}

// A UTF-8 validity error from pcre2_match: the subject is not valid UTF-8 (ERR1 is -3, ERR21 -23).
static int is_utf8_error(int rc) { return rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21; }

// PCRE2_NO_UTF_CHECK when the AVX2 check (sl_json.h) finds the subject valid UTF-8, else 0 and
// PCRE2 checks it itself. PCRE2's check reads a character per step and cost a masked log message
// as many instructions as the match; the AVX2 one takes 32 bytes per step and judges by the same
// rules (RFC 3629), so which code matches is the same. Matching invalid UTF-8 unchecked would be
// undefined behaviour: only a subject found valid skips PCRE2's check. Below
// VECTOR_UTF_CHECK_MIN_BYTES PCRE2's check is left alone (the AVX2 one copies a short subject
// into padded blocks, as much work as PCRE2 reading a few characters).
enum { VECTOR_UTF_CHECK_MIN_BYTES = 32 };

static uint32_t utf_check_option(PCRE2_SPTR bytes, size_t length) {
    return length >= VECTOR_UTF_CHECK_MIN_BYTES && sl_utf8_check(bytes, length) == 1 ? PCRE2_NO_UTF_CHECK : 0;
}

int sl_pcre_match(const sl_pcre_code *code, const void *subject, size_t length, sl_pcre_match_state *state) {
    // PCRE2 before 10.43 refuses a NULL subject even when it is empty.
    PCRE2_SPTR bytes = subject ? (PCRE2_SPTR)subject : (PCRE2_SPTR)"";
    // The UTF check is the one pass per subject that decides between the codes.
    int rc = pcre2_match(code->characters, bytes, length, 0, utf_check_option(bytes, length), state->data, state->context);
    if (is_utf8_error(rc)) {
        if (!code->bytes) return 0;
        rc = pcre2_match(code->bytes, bytes, length, 0, 0, state->data, state->context);
    }
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

int sl_pcre_match_from(const sl_pcre_code *code, const void *subject, size_t length, size_t start, int *subject_kind,
                       sl_pcre_match_state *state) {
    PCRE2_SPTR bytes = subject ? (PCRE2_SPTR)subject : (PCRE2_SPTR)"";
    if (*subject_kind == 0) {
        // First search of this subject: all of it is checked once (from offset 0 PCRE2's check
        // covers the whole subject whatever `start` is).
        int rc = pcre2_match(code->characters, bytes, length, start, utf_check_option(bytes, length), state->data, state->context);
        if (!is_utf8_error(rc)) {
            *subject_kind = 1;
            return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
        }
        *subject_kind = 2;
    }
    int rc;
    if (*subject_kind == 1) {
        // Checked valid by the first search; `start` is a character boundary (the caller's
        // promise), so skipping the check is defined behaviour and keeps repeated searches linear.
        rc = pcre2_match(code->characters, bytes, length, start, PCRE2_NO_UTF_CHECK, state->data, state->context);
    } else {
        if (!code->bytes) return 0;
        rc = pcre2_match(code->bytes, bytes, length, start, 0, state->data, state->context);
    }
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

int sl_pcre_name_count(const sl_pcre_code *code) {
    uint32_t count = 0;
    pcre2_pattern_info(code->characters, PCRE2_INFO_NAMECOUNT, &count);
    return (int)count;
}

const char *sl_pcre_name_entry(const sl_pcre_code *code, int index, int *group) {
    uint32_t count = 0, entry_size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(code->characters, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(code->characters, PCRE2_INFO_NAMEENTRYSIZE, &entry_size);
    pcre2_pattern_info(code->characters, PCRE2_INFO_NAMETABLE, &table);
    if (index < 0 || (uint32_t)index >= count || !table) return NULL;
    PCRE2_SPTR entry = table + (size_t)index * entry_size;
    // Each entry: the group number in two bytes (most significant first), then the NUL-ended name.
    *group = (entry[0] << 8) | entry[1];
    return (const char *)(entry + 2);
}

void sl_pcre_error_message(int error, char *buffer, size_t capacity) { copy_message(error, buffer, capacity); }
