#ifndef SL_COMPRESS_H
#define SL_COMPRESS_H
// Request-body compression for the HTTP outputs: zlib's deflateInit2 is a macro and its
// z_stream a struct with allocator callbacks, which Swift cannot call or fill cheaply, so the
// shim keeps one compressor per output (its memory allocated once) behind an opaque handle.
#include <stddef.h>

/// One output's compressor: gzip (zlib, `level` 1...9) or zstd (`level` 1...19), its state
/// allocated here once and reused for every request. `kind`: 1 gzip, 2 zstd. NULL when out of
/// memory.
typedef struct sl_compressor sl_compressor;
sl_compressor *sl_compressor_create(int kind, int level);
/// The largest compressed size of `length` input bytes (size the output buffer with it).
size_t sl_compressor_bound(const sl_compressor *c, size_t length);
/// Compresses `length` bytes at `input` into `output` (room for `capacity`) as one whole gzip
/// member or zstd frame; returns the compressed size, or -1 on an error (never partial).
long sl_compressor_compress(sl_compressor *c, const void *input, size_t length, void *output, size_t capacity);
void sl_compressor_free(sl_compressor *c);
#endif
