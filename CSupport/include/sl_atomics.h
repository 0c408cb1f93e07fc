#ifndef SL_ATOMICS_H
#define SL_ATOMICS_H
// C11 atomics on plain memory: the lock-free rings and per-worker counters keep their words in
// raw, cache-line-padded memory that Swift's Atomic<T> (an inline, non-copyable value) cannot
// lay out. static inline so they compile into the caller (one mov on x86-64).
#include <stdint.h>
#include <stdatomic.h>

static inline uint64_t sl_load_acquire(const uint64_t *p) { return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_acquire); }
static inline uint64_t sl_load_relaxed(const uint64_t *p) { return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed); }
static inline void sl_store_release(uint64_t *p, uint64_t v) { atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release); }
static inline void sl_store_relaxed(uint64_t *p, uint64_t v) { atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_relaxed); }
static inline uint64_t sl_exchange(uint64_t *p, uint64_t v) { return atomic_exchange_explicit((_Atomic uint64_t *)p, v, memory_order_seq_cst); }
static inline void sl_store_seq_cst(uint64_t *p, uint64_t v) { atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_seq_cst); }
static inline uint64_t sl_load_seq_cst(const uint64_t *p) { return atomic_load_explicit((_Atomic uint64_t *)p, memory_order_seq_cst); }
static inline void sl_fence_seq_cst(void) { atomic_thread_fence(memory_order_seq_cst); }
static inline int sl_compare_exchange(uint64_t *p, uint64_t expected, uint64_t desired) {
    return atomic_compare_exchange_strong_explicit((_Atomic uint64_t *)p, &expected, desired, memory_order_acq_rel, memory_order_acquire);
}
static inline uint64_t sl_fetch_add(uint64_t *p, uint64_t v) { return atomic_fetch_add_explicit((_Atomic uint64_t *)p, v, memory_order_relaxed); }
/// A spin-wait hint to the CPU (PAUSE on x86, YIELD on arm64).
static inline void sl_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}
#endif
