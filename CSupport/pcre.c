#define PCRE2_CODE_UNIT_WIDTH 8
#include "sl_pcre.h"
#include <pcre2.h>
#include <stdlib.h>

// A compiled pattern is PCRE2's own object, cast: no wrapper allocation and no extra indirection.
static pcre2_code *code_of(const sl_pcre_code *code) { return (pcre2_code *)code; }

// JIT code exists for the pattern: pcre2_jit_compile also succeeds without it under (*NO_JIT).
static int uses_jit(const sl_pcre_code *code) {
    size_t jit_bytes = 0;
    return pcre2_pattern_info(code_of(code), PCRE2_INFO_JITSIZE, &jit_bytes) == 0 && jit_bytes > 0;
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
    // character, not two bytes); PCRE2_MATCH_INVALID_UTF so a subject with invalid sequences is
    // still searched (they act as barriers no match crosses) instead of failing with a UTF error,
    // with no validation pass per event. \C (one code unit) is refused: it could split a
    // character and leave the matcher inside a sequence.
    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    int error = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, length, options, &error, &offset, NULL);
    if (!code) {
        copy_message(error, message, message_capacity);
        *error_offset = offset;
        return NULL;
    }
    return (sl_pcre_code *)code;
}

int sl_pcre_jit_compile(sl_pcre_code *code) {
    if (pcre2_jit_compile(code_of(code), PCRE2_JIT_COMPLETE) != 0) return 0;
    return uses_jit(code);
}

uint32_t sl_pcre_capture_count(const sl_pcre_code *code) {
    uint32_t count = 0;
    pcre2_pattern_info(code_of(code), PCRE2_INFO_CAPTURECOUNT, &count);
    return count;
}

int sl_pcre_group_number(const sl_pcre_code *code, const char *name) {
    return pcre2_substring_number_from_name(code_of(code), (PCRE2_SPTR)name);
}

void sl_pcre_code_free(sl_pcre_code *code) { pcre2_code_free(code_of(code)); }

sl_pcre_match_state *sl_pcre_match_state_create(const sl_pcre_code *code, size_t jit_stack_max_bytes) {
    sl_pcre_match_state *state = calloc(1, sizeof(*state));
    if (!state) return NULL;
    state->data = pcre2_match_data_create_from_pattern(code_of(code), NULL);
    if (!state->data) goto fail;
    if (uses_jit(code)) {
        // A JIT stack of its own rather than PCRE2's default 32 KiB of the worker's stack, which
        // common patterns exhaust on subjects of a few KiB (RegexMatcher.defaultJITStackMaxBytes).
        // sljit maps the maximum once and grows by moving a pointer: a match never allocates.
        size_t start = jit_stack_max_bytes < SL_PCRE_JIT_STACK_START_BYTES
            ? jit_stack_max_bytes : SL_PCRE_JIT_STACK_START_BYTES;
        state->jit_stack = pcre2_jit_stack_create(start, jit_stack_max_bytes, NULL);
        state->context = pcre2_match_context_create(NULL);
        if (!state->jit_stack || !state->context) goto fail;
        pcre2_jit_stack_assign(state->context, NULL, state->jit_stack);
    }
    // Without JIT, PCRE2 (10.41+) allocates the interpreter's first frames block at the first
    // match with this match data and keeps it there: one match now moves that allocation to the
    // worker's start instead of its first event.
    pcre2_match(code_of(code), (PCRE2_SPTR)"", 0, 0, 0, state->data, state->context);
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

int sl_pcre_match(const sl_pcre_code *code, const void *subject, size_t length, sl_pcre_match_state *state) {
    // PCRE2 before 10.43 refuses a NULL subject even when it is empty.
    PCRE2_SPTR bytes = subject ? (PCRE2_SPTR)subject : (PCRE2_SPTR)"";
    int rc = pcre2_match(code_of(code), bytes, length, 0, 0, state->data, state->context);
    return rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

void sl_pcre_error_message(int error, char *buffer, size_t capacity) { copy_message(error, buffer, capacity); }
