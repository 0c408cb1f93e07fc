#include "nats_common.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

void sl_nats_error_init(sl_nats_error *e) {
    pthread_mutex_init(&e->lock, NULL);
    e->text[0] = 0;
    atomic_init(&e->sequence, 0);
    atomic_init(&e->count, 0);
}

void sl_nats_error_destroy(sl_nats_error *e) { pthread_mutex_destroy(&e->lock); }

void sl_nats_error_set(sl_nats_error *e, const char *format, ...) {
    char text[sizeof e->text];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    atomic_fetch_add(&e->count, 1);
    pthread_mutex_lock(&e->lock);
    // The same error again (a server down for a while) is counted, not announced again.
    int same = strcmp(text, e->text) == 0;
    if (!same) memcpy(e->text, text, sizeof text);
    pthread_mutex_unlock(&e->lock);
    if (!same) atomic_fetch_add_explicit(&e->sequence, 1, memory_order_release);
}

void sl_nats_error_copy(sl_nats_error *e, char *buffer, size_t length) {
    if (length == 0) return;
    pthread_mutex_lock(&e->lock);
    snprintf(buffer, length, "%s", e->text);
    pthread_mutex_unlock(&e->lock);
}

static void ignore_connected(natsConnection *nc, void *closure) {
    (void)nc;
    (void)closure;
}

natsStatus sl_nats_options(natsOptions **out, const char *servers, const char *name, int64_t reconnect_wait_ms,
                           natsConnectionHandler disconnected, natsConnectionHandler reconnected,
                           natsConnectionHandler closed, void *closure) {
    enum { max_servers = 64 };
    char *copy = strdup(servers);
    if (copy == NULL) return NATS_NO_MEMORY;
    const char *list[max_servers];
    int count = 0;
    for (char *save = NULL, *url = strtok_r(copy, ",", &save); url != NULL && count < max_servers; url = strtok_r(NULL, ",", &save)) {
        list[count++] = url;
    }
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetServers(opts, list, count);
    if (s == NATS_OK) s = natsOptions_SetName(opts, name);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, reconnect_wait_ms);
    if (s == NATS_OK) s = natsOptions_SetReconnectJitter(opts, reconnect_wait_ms / 4, reconnect_wait_ms / 4);
    // A server that stops answering without closing its sockets is noticed within seconds.
    if (s == NATS_OK) s = natsOptions_SetPingInterval(opts, 2000);
    if (s == NATS_OK) s = natsOptions_SetMaxPingsOut(opts, 3);
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
    // With a callback the first connect does not block: it goes on in the background.
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, reconnected ? reconnected : ignore_connected, closure);
    if (s == NATS_OK && disconnected) s = natsOptions_SetDisconnectedCB(opts, disconnected, closure);
    if (s == NATS_OK && reconnected) s = natsOptions_SetReconnectedCB(opts, reconnected, closure);
    if (s == NATS_OK && closed) s = natsOptions_SetClosedCB(opts, closed, closure);
    free(copy);
    if (s != NATS_OK) {
        natsOptions_Destroy(opts);
        return s;
    }
    *out = opts;
    return NATS_OK;
}

void sl_nats_wait_ms(sem_t *semaphore, int64_t ms) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += (ms % 1000) * 1000000;
    until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000;
    until.tv_nsec %= 1000000000;
    while (sem_timedwait(semaphore, &until) != 0 && errno == EINTR) {}
}
