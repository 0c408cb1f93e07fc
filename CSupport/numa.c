#include "sl_numa.h"
#include <numa.h>
#include <errno.h>
#include <sys/mman.h>

int sl_numa_available(void) { return numa_available() >= 0 ? 1 : 0; }
int sl_numa_node_of_cpu(int cpu) { if (numa_available() < 0) return 0; int n = numa_node_of_cpu(cpu); return n < 0 ? 0 : n; }
int sl_numa_max_node(void) { return numa_available() < 0 ? 0 : numa_max_node(); }
void *sl_numa_alloc_onnode(size_t bytes, int node) { return numa_alloc_onnode(bytes, node); }
void sl_numa_free(void *m, size_t bytes) { numa_free(m, bytes); }
void *sl_map_anonymous(size_t bytes, int huge) {
    void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (m == MAP_FAILED) return NULL;
    if (huge) madvise(m, bytes, MADV_HUGEPAGE);
    return m;
}
void sl_unmap(void *m, size_t bytes) { munmap(m, bytes); }
int sl_lock_memory(void *m, size_t bytes) { return mlock(m, bytes) == 0 ? 0 : -errno; }
