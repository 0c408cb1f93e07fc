#ifndef SL_ZLIB_H
#define SL_ZLIB_H
// zlib's inflate for request bodies sent with Content-Encoding: gzip (or deflate): inflateInit2
// is a macro Swift cannot call, so the shim owns the z_stream and exposes an opaque handle.
#include <stddef.h>

typedef struct sl_inflater sl_inflater;

/// A decompressor for gzip or zlib streams (detected from the header), or NULL when out of memory.
sl_inflater *sl_inflater_create(void);
/// Ready for a new stream (the next request, or the next member of a multi-member gzip body).
void sl_inflater_reset(sl_inflater *inflater);
void sl_inflater_destroy(sl_inflater *inflater);
/// Decompresses from `input` (`input_length` bytes) into `output` (`output_capacity` bytes),
/// storing the bytes used and made. Returns 0 while the stream goes on, 1 at its end, -1 when
/// the data is not a valid stream (why C: the z_stream's pointers stay out of Swift).
int sl_inflate(sl_inflater *inflater, const void *input, size_t input_length, size_t *input_used,
               void *output, size_t output_capacity, size_t *output_made);

#endif
