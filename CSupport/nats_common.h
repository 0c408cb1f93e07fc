// What the nats publisher and consumer share: connection options and the last error. Private to
// CSupport (not in include/).
#ifndef SL_NATS_COMMON_H
#define SL_NATS_COMMON_H
#include <nats/nats.h>
#include <pthread.h>
#include <semaphore.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

// The last error of a publisher or consumer: written by its threads (and libnats' callbacks),
// read by the worker only when `sequence` grew (once per new error, never per event).
typedef struct sl_nats_error {
    pthread_mutex_t lock;
    char text[512];
    _Atomic uint64_t sequence;
    _Atomic uint64_t count;
} sl_nats_error;

static inline int64_t sl_nats_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sl_nats_error_init(sl_nats_error *e);
void sl_nats_error_destroy(sl_nats_error *e);
// Records an error (counted); the text is formatted like printf.
void sl_nats_error_set(sl_nats_error *e, const char *format, ...) __attribute__((format(printf, 2, 3)));
void sl_nats_error_copy(sl_nats_error *e, char *buffer, size_t length);

// Options for a connection to `servers` (comma-separated) that never gives up: it keeps trying
// the first connection and every reconnection, forever. `closure` gets the callbacks:
// `reconnected` also for the first connection when it was made in the background; `closed`
// once the connection is closed (libnats runs a connection's callbacks in order on one thread,
// so after `closed` none of them runs again).
natsStatus sl_nats_options(natsOptions **out, const char *servers, const char *name, int64_t reconnect_wait_ms,
                           natsConnectionHandler disconnected, natsConnectionHandler reconnected,
                           natsConnectionHandler closed, void *closure);

// Waits on `semaphore` for at most `ms` milliseconds (EINTR is waited through).
void sl_nats_wait_ms(sem_t *semaphore, int64_t ms);
#endif
