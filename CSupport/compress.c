#include "sl_compress.h"
#include <stdlib.h>
#include <zlib.h>
#include <zstd.h>

struct sl_compressor {
    int kind;
    int level;
    z_stream gzip;
    ZSTD_CCtx *zstd;
};

sl_compressor *sl_compressor_create(int kind, int level) {
    sl_compressor *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->kind = kind;
    c->level = level;
    if (kind == 1) {
        // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
        if (deflateInit2(&c->gzip, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(c); return NULL; }
    } else {
        c->zstd = ZSTD_createCCtx();
        if (!c->zstd) { free(c); return NULL; }
        ZSTD_CCtx_setParameter(c->zstd, ZSTD_c_compressionLevel, level);
    }
    return c;
}

size_t sl_compressor_bound(const sl_compressor *c, size_t length) {
    if (c->kind == 1) return deflateBound((z_stream *)&c->gzip, (uLong)length) + 32;
    return ZSTD_compressBound(length);
}

long sl_compressor_compress(sl_compressor *c, const void *input, size_t length, void *output, size_t capacity) {
    if (c->kind == 1) {
        if (deflateReset(&c->gzip) != Z_OK) return -1;
        c->gzip.next_in = (Bytef *)input;
        c->gzip.avail_in = (uInt)length;
        c->gzip.next_out = output;
        c->gzip.avail_out = (uInt)capacity;
        int rc = deflate(&c->gzip, Z_FINISH);
        if (rc != Z_STREAM_END) return -1;
        return (long)(capacity - c->gzip.avail_out);
    }
    size_t n = ZSTD_compress2(c->zstd, output, capacity, input, length);
    if (ZSTD_isError(n)) return -1;
    return (long)n;
}

void sl_compressor_free(sl_compressor *c) {
    if (!c) return;
    if (c->kind == 1) deflateEnd(&c->gzip);
    else ZSTD_freeCCtx(c->zstd);
    free(c);
}
