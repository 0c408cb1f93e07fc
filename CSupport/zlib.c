#include "sl_zlib.h"
#include <stdlib.h>
#include <zlib.h>

struct sl_inflater {
    z_stream stream;
};

sl_inflater *sl_inflater_create(void) {
    sl_inflater *inflater = calloc(1, sizeof(sl_inflater));
    if (!inflater) return NULL;
    // 15 + 32: the largest window, gzip or zlib header detected automatically.
    if (inflateInit2(&inflater->stream, 15 + 32) != Z_OK) {
        free(inflater);
        return NULL;
    }
    return inflater;
}

void sl_inflater_reset(sl_inflater *inflater) { inflateReset(&inflater->stream); }

void sl_inflater_destroy(sl_inflater *inflater) {
    if (!inflater) return;
    inflateEnd(&inflater->stream);
    free(inflater);
}

int sl_inflate(sl_inflater *inflater, const void *input, size_t input_length, size_t *input_used,
               void *output, size_t output_capacity, size_t *output_made) {
    z_stream *s = &inflater->stream;
    // uInt counts: callers pass at most a receive buffer and an inflate buffer, far below 4 GiB.
    s->next_in = (Bytef *)input;
    s->avail_in = (uInt)input_length;
    s->next_out = (Bytef *)output;
    s->avail_out = (uInt)output_capacity;
    int r = inflate(s, Z_NO_FLUSH);
    *input_used = input_length - s->avail_in;
    *output_made = output_capacity - s->avail_out;
    if (r == Z_STREAM_END) return 1;
    // Z_BUF_ERROR: no progress possible with these buffers (more input is needed).
    if (r == Z_OK || r == Z_BUF_ERROR) return 0;
    return -1;
}
