#define _GNU_SOURCE
#include "sl_cpu.h"
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <time.h>
#include <sys/signalfd.h>

int sl_allowed_cpus(int *out, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < max; cpu++) if (CPU_ISSET(cpu, &set)) out[n++] = cpu;
    return n;
}

int sl_pin_current_thread(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    return rc == 0 ? 0 : -rc;
}

static void control_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGINT); sigaddset(set, SIGTERM); sigaddset(set, SIGHUP); sigaddset(set, SIGPIPE);
}

int sl_block_control_signals(void) {
    sigset_t set;
    control_set(&set);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    return rc == 0 ? 0 : -rc;
}

int sl_wait_control_signal(int timeout_millis) {
    sigset_t set;
    control_set(&set);
    sigdelset(&set, SIGPIPE);
    struct timespec ts = { .tv_sec = timeout_millis / 1000, .tv_nsec = (long)(timeout_millis % 1000) * 1000000L };
    int sig = sigtimedwait(&set, NULL, &ts);
    return sig < 0 ? 0 : sig;
}

int sl_control_signal_fd(void) {
    sigset_t set;
    control_set(&set);
    sigdelset(&set, SIGPIPE);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}
