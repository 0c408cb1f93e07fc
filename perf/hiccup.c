// How often this machine takes the CPU away from a running thread, and for how long: one thread
// per CPU (pinned) reads the clock in a tight loop for SECONDS and records every gap between two
// reads longer than THRESHOLD_US. A gap is time the thread was not running (the kernel's own
// work, or the hypervisor running something else on this vCPU); no program on this machine can
// answer faster than its gaps. Prints per CPU: gaps, total gap time, the longest, and the gaps
// per second above 100 us / 500 us / 1 ms.
//
//   hiccup [SECONDS=10] [THRESHOLD_US=20]
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double seconds = 10;
static uint64_t threshold = 20000;

struct result { int cpu; uint64_t gaps, total, longest, over100, over500, over1000; };

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *spin(void *arg) {
    struct result *r = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(r->cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9), last = start;
    for (;;) {
        uint64_t t = now_ns();
        uint64_t gap = t - last;
        if (gap > threshold) {
            r->gaps++;
            r->total += gap;
            if (gap > r->longest) r->longest = gap;
            if (gap > 100000) r->over100++;
            if (gap > 500000) r->over500++;
            if (gap > 1000000) r->over1000++;
        }
        last = t;
        if (t >= end) break;
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1) seconds = atof(argv[1]);
    if (argc > 2) threshold = (uint64_t)atol(argv[2]) * 1000;
    int cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    struct result r[256] = {0};
    pthread_t t[256];
    for (int i = 0; i < cpus && i < 256; i++) { r[i].cpu = i; pthread_create(&t[i], NULL, spin, &r[i]); }
    for (int i = 0; i < cpus && i < 256; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < cpus && i < 256; i++)
        printf("cpu %d: %llu gaps > %llu us, %.1f ms in all (%.2f%%), longest %.0f us; per second: %.1f > 100 us, %.1f > 500 us, %.1f > 1 ms\n",
               r[i].cpu, (unsigned long long)r[i].gaps, (unsigned long long)(threshold / 1000), r[i].total / 1e6, r[i].total / (seconds * 1e7),
               r[i].longest / 1e3, r[i].over100 / seconds, r[i].over500 / seconds, r[i].over1000 / seconds);
    return 0;
}
