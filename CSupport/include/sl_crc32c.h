#ifndef SL_CRC32C_H
#define SL_CRC32C_H
// CRC32C (Castagnoli) for the disk buffer's records: SSE4.2's CRC32 instruction when the CPU has
// it (about 8 bytes a cycle), a table-driven version otherwise (why C: Swift has no access to the
// `_mm_crc32_u64` intrinsic, and the runtime CPU check is a compiler builtin).
#include <stdint.h>
#include <stddef.h>

/// Continues `crc` (0 to start) over `length` bytes; the result is the finished CRC (the
/// initial and final inversions are inside, so calls chain: crc(a ++ b) == crc(crc(a), b)).
uint32_t sl_crc32c(uint32_t crc, const void *data, size_t length);
/// The two implementations, for tests that compare them (the hardware one only where
/// `sl_crc32c_has_hardware()` is true).
uint32_t sl_crc32c_table(uint32_t crc, const void *data, size_t length);
uint32_t sl_crc32c_hardware(uint32_t crc, const void *data, size_t length);
/// 1 when the CPU has SSE4.2 (the instruction `sl_crc32c` uses), else 0.
int sl_crc32c_has_hardware(void);
#endif
