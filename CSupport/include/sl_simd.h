#ifndef SL_SIMD_H
#define SL_SIMD_H
// Byte-vector to bit-mask: Swift's SIMD types have no movemask, and the lane-by-lane loop Swift
// can write compiles to dozens of shuffles; here it is one PMOVMSKB (SSE2, the x86-64 baseline).
// static inline so it compiles into the caller.
#include <stdint.h>

typedef uint8_t sl_u8x16 __attribute__((ext_vector_type(16)));

/// Bit i is the high bit of byte i of `v`.
static inline uint32_t sl_movemask_u8x16(sl_u8x16 v) {
#if defined(__x86_64__)
    return (uint32_t)__builtin_ia32_pmovmskb128((char __attribute__((vector_size(16))))v);
#else
    uint32_t mask = 0;
    for (int i = 0; i < 16; i++) mask |= (uint32_t)(v[i] >> 7) << i;
    return mask;
#endif
}
#endif
