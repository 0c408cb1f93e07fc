#ifndef SL_NUMA_H
#define SL_NUMA_H
// libnuma access: node discovery and node-local allocation for the event pool's slabs.
#include <stddef.h>

/// 1 when the kernel and libnuma report NUMA support, else 0 (why C: libnuma is a C API).
int sl_numa_available(void);
/// The NUMA node of `cpu`, or 0 without NUMA.
int sl_numa_node_of_cpu(int cpu);
/// Highest node number, or 0 without NUMA.
int sl_numa_max_node(void);
/// Allocates `bytes` on `node` (libnuma), or NULL.
void *sl_numa_alloc_onnode(size_t bytes, int node);
void sl_numa_free(void *memory, size_t bytes);
/// Anonymous private mapping, asking for transparent huge pages when `huge`; NULL on failure.
void *sl_map_anonymous(size_t bytes, int huge);
void sl_unmap(void *memory, size_t bytes);
/// Locks the memory in RAM; 0 or -errno.
int sl_lock_memory(void *memory, size_t bytes);
#endif
