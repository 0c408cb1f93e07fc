// The nats output's publisher: JetStream's asynchronous publish done by hand over core NATS,
// so that every PubAck names the message it answers. Each message goes out with a reply
// subject `<inbox>.<slot>.<generation>.<index>`; JetStream answers there with a PubAck (or an
// error), which one subscription on `<inbox>.>` receives on libnats' delivery thread.
//
// Threads: the worker hands a buffer of records over (`hand_off`: plain stores and a semaphore
// post, once per batch) and later loads whether it is confirmed; the publisher thread (ours)
// makes every libnats call that publishes; libnats' delivery thread runs `on_reply`, which marks
// messages acknowledged and, when a hand-off is complete, stores its generation in `confirmed`
// and writes the worker's eventfd. No lock is shared with the worker.
#include "sl_nats.h"
#include "nats_common.h"
#include <errno.h>
#include <semaphore.h>
#include <stdlib.h>
#include <unistd.h>

enum {
    max_subject_bytes = SL_NATS_MAX_SUBJECT_BYTES,
    max_id_bytes = SL_NATS_MAX_ID_BYTES,
    max_reply_bytes = 128,
    longest_sleep_ms = 100,
};

typedef struct pub_slot {
    // The worker's hand-off: written before `handed` is stored (release).
    const uint8_t *records;
    size_t bytes;
    // Its messages (the publisher thread counts them when it accepts the hand-off).
    _Atomic uint32_t count;
    _Atomic uint64_t handed;
    // The generation every message of which JetStream acknowledged (the delivery thread, or the
    // worker for an empty hand-off).
    _Atomic uint64_t confirmed;
    // The hand-off the publisher thread accepted; PubAcks of other generations are late
    // duplicates of confirmed hand-offs and change nothing.
    _Atomic uint64_t generation;
    uint32_t *starts;
    // Per message: the generation its first PubAck came in. Never reset: an older generation's
    // value simply differs from the current one.
    _Atomic uint64_t *acked;
    _Atomic uint32_t acked_count;
    // Publisher thread only.
    uint32_t next;
    uint32_t sent;
    int64_t last_publish_ms;
    // The delivery thread's last PubAck, and after an error answer when to publish again.
    _Atomic int64_t last_ack_ms;
    _Atomic int64_t retry_at_ms;
} pub_slot;

struct sl_nats_publisher {
    sl_nats_publisher_options options;
    char *servers, *stream, *name, *create_subjects;
    int stream_ready;  // the stream exists (or is not ours to create)
    int64_t next_stream_check_ms;
    natsConnection *nc;
    natsSubscription *sub;
    char inbox[64];
    size_t inbox_length;
    pub_slot slots[SL_NATS_SLOTS];
    sem_t wake;
    sem_t sub_done;
    int sub_done_ready;
    sem_t closed;
    _Atomic int stopping;
    _Atomic int reconnected;
    // The publisher thread waits for room in the window: PubAcks wake it once `wake_room`
    // messages of room came (not each PubAck: a wake per message cost a context switch per
    // message, and with the window not the limit — both hand-offs published — it had nothing
    // to do; perf/README.md, nats).
    _Atomic int window_stalled;
    uint64_t wake_room;
    pthread_t thread;
    int thread_started;
    // Window accounting: first publications and first PubAcks.
    _Atomic uint64_t sent_first;
    _Atomic uint64_t acknowledged;
    _Atomic uint64_t republished;
    _Atomic uint64_t connected;
    _Atomic uint64_t max_payload;
    sl_nats_error error;
    // The worker's: generations of its hand-offs (one counter for both slots: their order).
    uint64_t last_generation;
    char scratch[max_subject_bytes + max_id_bytes + max_reply_bytes + 3];
};

static void wake_worker(sl_nats_publisher *p) {
    uint64_t one = 1;
    ssize_t n = write(p->options.wake_fd, &one, sizeof one);
    (void)n;  // EAGAIN: the counter is already non-zero, the worker wakes anyway
}

static void note_connected(sl_nats_publisher *p, natsConnection *nc) {
    atomic_store(&p->max_payload, (uint64_t)natsConnection_GetMaxPayload(nc));
    atomic_store(&p->connected, 1);
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    sl_nats_publisher *p = closure;
    atomic_store(&p->connected, 0);
    sl_nats_error_set(&p->error, "disconnected from the NATS server; reconnecting (events are held until PubAcks come)");
}

static void on_reconnected(natsConnection *nc, void *closure) {
    sl_nats_publisher *p = closure;
    note_connected(p, nc);
    atomic_store(&p->reconnected, 1);
    sem_post(&p->wake);
}

static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    sl_nats_publisher *p = closure;
    sem_post(&p->closed);
}

static void on_sub_complete(void *closure) {
    sl_nats_publisher *p = closure;
    sem_post(&p->sub_done);
}

// The text of `"description":"…"` in a JetStream error answer, or the whole answer.
static void describe_error(const char *data, int length, char *out, size_t out_length) {
    const char *key = "\"description\":\"";
    size_t key_length = strlen(key);
    for (int i = 0; i + (int)key_length < length; i++) {
        if (memcmp(data + i, key, key_length) != 0) continue;
        int start = i + (int)key_length, end = start;
        while (end < length && data[end] != '"') end++;
        snprintf(out, out_length, "%.*s", end - start, data + start);
        return;
    }
    snprintf(out, out_length, "%.*s", length > 200 ? 200 : length, data);
}

static int contains(const char *data, int length, const char *needle) {
    size_t n = strlen(needle);
    for (int i = 0; i + (int)n <= length; i++) {
        if (memcmp(data + i, needle, n) == 0) return 1;
    }
    return 0;
}

// Messages published and not acknowledged yet.
static uint64_t window_outstanding(sl_nats_publisher *p) { return atomic_load(&p->sent_first) - atomic_load(&p->acknowledged); }

// The window is full: the publisher thread is to sleep until a PubAck makes room. False when a
// PubAck came meanwhile (the flag is stored before the window is looked at again, so a PubAck
// after that look sees it and wakes the thread).
static int window_stall(sl_nats_publisher *p) {
    atomic_store(&p->window_stalled, 1);
    if (window_outstanding(p) >= (uint64_t)p->options.window) return 1;
    atomic_store(&p->window_stalled, 0);
    return 0;
}

// A PubAck or an error answer for message `<inbox>.<slot>.<generation>.<index>`.
static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
    (void)nc;
    (void)sub;
    sl_nats_publisher *p = closure;
    const char *subject = natsMsg_GetSubject(msg);
    char *end = NULL;
    unsigned long slot_index = strtoul(subject + p->inbox_length + 1, &end, 10);
    uint64_t generation = end && *end == '.' ? strtoull(end + 1, &end, 10) : 0;
    unsigned long index = end && *end == '.' ? strtoul(end + 1, &end, 10) : 0;
    if (slot_index >= SL_NATS_SLOTS || generation == 0 || index >= (unsigned long)p->options.max_messages) goto done;
    pub_slot *s = &p->slots[slot_index];
    if (atomic_load_explicit(&s->generation, memory_order_acquire) != generation) goto done;
    const char *data = natsMsg_GetData(msg);
    int length = natsMsg_GetDataLength(msg);
    int64_t now = sl_nats_now_ms();
    if (natsMsg_IsNoResponders(msg) || contains(data, length, "\"error\"") || !contains(data, length, "\"seq\"")) {
        char reason[300];
        if (natsMsg_IsNoResponders(msg)) {
            snprintf(reason, sizeof reason, "no responders: no JetStream stream takes the subject (is stream %s created, with this subject?)",
                     p->stream ? p->stream : "");
        } else {
            describe_error(data, length, reason, sizeof reason);
        }
        sl_nats_error_set(&p->error, "JetStream refused a message: %s; publishing it again in %lld ms", reason,
                          (long long)p->options.retry_ms);
        int64_t at = now + p->options.retry_ms;
        atomic_store(&s->retry_at_ms, at);
        goto done;
    }
    if (atomic_exchange(&s->acked[index], generation) == generation) goto done;  // a duplicate
    atomic_store(&s->last_ack_ms, now);
    atomic_fetch_add(&p->acknowledged, 1);
    uint32_t acked = atomic_fetch_add(&s->acked_count, 1) + 1;
    if (acked == atomic_load_explicit(&s->count, memory_order_relaxed)) {
        atomic_store_explicit(&s->confirmed, generation, memory_order_release);
        wake_worker(p);
    }
    // After `acknowledged` grew (seq_cst, against the stall's store then load of it).
    if (atomic_load(&p->window_stalled) && window_outstanding(p) + p->wake_room <= (uint64_t)p->options.window
        && atomic_exchange(&p->window_stalled, 0)) {
        sem_post(&p->wake);
    }
done:
    natsMsg_Destroy(msg);
}

// Takes the worker's new hand-offs: where each record starts, and a fresh count.
static void accept_hand_offs(sl_nats_publisher *p) {
    for (int i = 0; i < SL_NATS_SLOTS; i++) {
        pub_slot *s = &p->slots[i];
        uint64_t handed = atomic_load_explicit(&s->handed, memory_order_acquire);
        if (handed == atomic_load_explicit(&s->generation, memory_order_relaxed)) continue;
        uint32_t count = 0;
        size_t offset = 0;
        while (offset + SL_NATS_RECORD_HEADER_BYTES <= s->bytes && count < (uint32_t)p->options.max_messages) {
            s->starts[count++] = (uint32_t)offset;
            uint16_t subject_length, id_length;
            uint32_t payload_length;
            memcpy(&subject_length, s->records + offset, 2);
            memcpy(&id_length, s->records + offset + 2, 2);
            memcpy(&payload_length, s->records + offset + 4, 4);
            offset += SL_NATS_RECORD_HEADER_BYTES + subject_length + id_length + payload_length;
        }
        atomic_store_explicit(&s->count, count, memory_order_relaxed);
        s->next = 0;
        s->sent = 0;
        s->last_publish_ms = sl_nats_now_ms();
        atomic_store(&s->retry_at_ms, 0);
        atomic_store(&s->acked_count, 0);
        atomic_store_explicit(&s->generation, handed, memory_order_release);
    }
}

static natsStatus publish_one(sl_nats_publisher *p, int slot_index, pub_slot *s, uint64_t generation, uint32_t index) {
    const uint8_t *record = s->records + s->starts[index];
    uint16_t subject_length, id_length;
    uint32_t payload_length;
    memcpy(&subject_length, record, 2);
    memcpy(&id_length, record + 2, 2);
    memcpy(&payload_length, record + 4, 4);
    if (subject_length > max_subject_bytes || id_length > max_id_bytes) return NATS_INVALID_ARG;
    char *subject = p->scratch;
    memcpy(subject, record + SL_NATS_RECORD_HEADER_BYTES, subject_length);
    subject[subject_length] = 0;
    const char *payload = (const char *)record + SL_NATS_RECORD_HEADER_BYTES + subject_length;
    char *id = subject + subject_length + 1;
    memcpy(id, payload + payload_length, id_length);
    id[id_length] = 0;
    char *reply = id + id_length + 1;
    snprintf(reply, max_reply_bytes, "%s.%d.%llu.%u", p->inbox, slot_index, (unsigned long long)generation, index);
    natsMsg *msg = NULL;
    natsStatus status = natsMsg_Create(&msg, subject, reply, payload, (int)payload_length);
    if (status == NATS_OK && id_length > 0) status = natsMsgHeader_Set(msg, "Nats-Msg-Id", id);
    if (status == NATS_OK && p->stream) status = natsMsgHeader_Set(msg, "Nats-Expected-Stream", p->stream);
    if (status == NATS_OK) status = natsConnection_PublishMsg(p->nc, msg);
    natsMsg_Destroy(msg);
    return status;
}

// The slots that wait for PubAcks, oldest hand-off first.
static int pending_slots(sl_nats_publisher *p, int order[SL_NATS_SLOTS]) {
    int n = 0;
    for (int i = 0; i < SL_NATS_SLOTS; i++) {
        uint64_t g = atomic_load(&p->slots[i].generation);
        if (g != 0 && atomic_load(&p->slots[i].confirmed) != g) order[n++] = i;
    }
    if (n == 2 && atomic_load(&p->slots[order[0]].generation) > atomic_load(&p->slots[order[1]].generation)) {
        int t = order[0];
        order[0] = order[1];
        order[1] = t;
    }
    return n;
}

// Publishes, in hand-off order, what is due: new messages while the window has room, and the
// unacknowledged ones of a hand-off whose timeout or retry came.
static void publish_due(sl_nats_publisher *p, int64_t now) {
    int order[SL_NATS_SLOTS];
    int n = pending_slots(p, order);
    for (int k = 0; k < n; k++) {
        pub_slot *s = &p->slots[order[k]];
        uint64_t generation = atomic_load(&s->generation);
        uint32_t count = atomic_load(&s->count);
        while (s->next < count) {
            uint32_t i = s->next;
            if (atomic_load_explicit(&s->acked[i], memory_order_relaxed) == generation) {
                s->next++;
                continue;
            }
            int first = i >= s->sent;
            if (first && window_outstanding(p) >= (uint64_t)p->options.window && window_stall(p)) return;
            natsStatus status = publish_one(p, order[k], s, generation, i);
            if (status != NATS_OK) {
                sl_nats_error_set(&p->error, "publish failed: %s; publishing again in %lld ms", natsStatus_GetText(status),
                                  (long long)p->options.retry_ms);
                atomic_store(&s->retry_at_ms, now + p->options.retry_ms);
                return;
            }
            if (first) {
                s->sent = i + 1;
                atomic_fetch_add(&p->sent_first, 1);
            } else {
                atomic_fetch_add(&p->republished, 1);
            }
            s->next++;
            s->last_publish_ms = now;
        }
    }
}

// Hand-offs all published whose PubAcks stopped coming (lost on a connection that broke, a
// leader that changed) or that got an error answer are published again from their start
// (acknowledged messages are skipped; the server drops duplicates by Nats-Msg-Id). Returns
// the next time something is due.
static int64_t restart_overdue(sl_nats_publisher *p, int64_t now, int all) {
    int64_t next = now + longest_sleep_ms;
    int order[SL_NATS_SLOTS];
    int n = pending_slots(p, order);
    for (int k = 0; k < n; k++) {
        pub_slot *s = &p->slots[order[k]];
        int64_t retry_at = atomic_load(&s->retry_at_ms);
        int64_t last = s->last_publish_ms > atomic_load(&s->last_ack_ms) ? s->last_publish_ms : atomic_load(&s->last_ack_ms);
        int64_t timeout_at = last + p->options.ack_timeout_ms;
        int due = all || (retry_at != 0 && now >= retry_at) || (s->next >= atomic_load(&s->count) && now >= timeout_at);
        if (due) {
            s->next = 0;
            s->last_publish_ms = now;
            atomic_store(&s->retry_at_ms, 0);
            continue;
        }
        if (retry_at != 0 && retry_at < next) next = retry_at;
        if (timeout_at < next) next = timeout_at;
    }
    return next;
}

static void connect_and_subscribe(sl_nats_publisher *p) {
    natsOptions *opts = NULL;
    natsStatus s = sl_nats_options(&opts, p->servers, p->name, p->options.reconnect_wait_ms, on_disconnected, on_reconnected,
                                   on_closed, p);
    if (s == NATS_OK) {
        s = natsConnection_Connect(&p->nc, opts);
        if (s == NATS_OK) note_connected(p, p->nc);
        if (s == NATS_NOT_YET_CONNECTED) {
            sl_nats_error_set(&p->error, "cannot connect to %s yet; trying again (events are held until PubAcks come)", p->servers);
            s = NATS_OK;
        }
    }
    natsOptions_Destroy(opts);
    char filter[sizeof p->inbox + 4];
    snprintf(filter, sizeof filter, "%s.>", p->inbox);
    if (s == NATS_OK) s = natsConnection_Subscribe(&p->sub, p->nc, filter, on_reply, p);
    if (s == NATS_OK) {
        // PubAcks of a full window may arrive at once: no pending limit drops them.
        natsSubscription_SetPendingLimits(p->sub, -1, -1);
        natsSubscription_SetOnCompleteCB(p->sub, on_sub_complete, p);
        p->sub_done_ready = 1;
    }
    if (s != NATS_OK) sl_nats_error_set(&p->error, "cannot set up the NATS connection: %s", natsStatus_GetText(s));
}

// With create_subjects: makes the stream when it is missing (file storage, `replicas`), once
// connected; tried again every retry_ms until it exists.
static void ensure_stream(sl_nats_publisher *p, int64_t now) {
    if (p->stream_ready || now < p->next_stream_check_ms) return;
    p->next_stream_check_ms = now + p->options.retry_ms;
    jsCtx *js = NULL;
    if (natsConnection_JetStream(&js, p->nc, NULL) != NATS_OK) return;
    jsStreamInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetStreamInfo(&info, js, p->stream, NULL, &code);
    if (s == NATS_NOT_FOUND) {
        enum { max_subjects = 16 };
        char *copy = strdup(p->create_subjects);
        const char *subjects[max_subjects];
        int count = 0;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t != NULL && count < max_subjects; t = strtok_r(NULL, ",", &save)) subjects[count++] = t;
        jsStreamConfig config;
        jsStreamConfig_Init(&config);
        config.Name = p->stream;
        config.Subjects = subjects;
        config.SubjectsLen = count;
        config.Storage = js_FileStorage;
        config.Replicas = p->options.replicas;
        s = js_AddStream(&info, js, &config, NULL, &code);
        free(copy);
        if (s != NATS_OK && code != JSStreamNameExistErr) {
            sl_nats_error_set(&p->error, "cannot create stream %s: %s (JetStream error %d); trying again", p->stream,
                              nats_GetLastError(NULL), (int)code);
        } else {
            s = NATS_OK;
        }
    }
    if (s == NATS_OK) p->stream_ready = 1;
    jsStreamInfo_Destroy(info);
    jsCtx_Destroy(js);
}

static void *publisher_main(void *arg) {
    sl_nats_publisher *p = arg;
    connect_and_subscribe(p);
    while (!atomic_load(&p->stopping)) {
        accept_hand_offs(p);
        int64_t now = sl_nats_now_ms();
        int64_t next = restart_overdue(p, now, atomic_exchange(&p->reconnected, 0));
        if (p->sub != NULL && natsConnection_Status(p->nc) == NATS_CONN_STATUS_CONNECTED) {
            ensure_stream(p, now);
            publish_due(p, now);
        }
        int64_t wait_ms = next - sl_nats_now_ms();
        sl_nats_wait_ms(&p->wake, wait_ms < 1 ? 1 : wait_ms);
        while (sem_trywait(&p->wake) == 0) {}
    }
    return NULL;
}

sl_nats_publisher *sl_nats_publisher_start(const sl_nats_publisher_options *options, char *error, size_t error_length) {
    sl_nats_publisher *p = calloc(1, sizeof *p);
    if (p == NULL) {
        snprintf(error, error_length, "out of memory");
        return NULL;
    }
    p->options = *options;
    p->wake_room = options->window / 16 > 1 ? (uint64_t)options->window / 16 : 1;
    p->servers = strdup(options->servers);
    p->stream = options->stream && options->stream[0] ? strdup(options->stream) : NULL;
    p->name = strdup(options->name ? options->name : "sluice");
    p->create_subjects = options->create_subjects && p->stream ? strdup(options->create_subjects) : NULL;
    p->stream_ready = p->create_subjects == NULL;
    sl_nats_error_init(&p->error);
    sem_init(&p->wake, 0, 0);
    sem_init(&p->sub_done, 0, 0);
    sem_init(&p->closed, 0, 0);
    for (int i = 0; i < SL_NATS_SLOTS; i++) {
        p->slots[i].starts = calloc((size_t)options->max_messages, sizeof(uint32_t));
        p->slots[i].acked = calloc((size_t)options->max_messages, sizeof(_Atomic uint64_t));
        if (p->slots[i].starts == NULL || p->slots[i].acked == NULL) {
            snprintf(error, error_length, "out of memory");
            sl_nats_publisher_stop(p);
            return NULL;
        }
    }
    natsInbox *inbox = NULL;
    natsStatus s = natsInbox_Create(&inbox);
    if (s != NATS_OK) {
        snprintf(error, error_length, "cannot make an inbox: %s", natsStatus_GetText(s));
        sl_nats_publisher_stop(p);
        return NULL;
    }
    snprintf(p->inbox, sizeof p->inbox, "%s", (const char *)inbox);
    p->inbox_length = strlen(p->inbox);
    natsInbox_Destroy(inbox);
    if (pthread_create(&p->thread, NULL, publisher_main, p) != 0) {
        snprintf(error, error_length, "cannot start the publisher thread: %s", strerror(errno));
        sl_nats_publisher_stop(p);
        return NULL;
    }
    p->thread_started = 1;
    return p;
}

uint64_t sl_nats_publisher_hand_off(sl_nats_publisher *p, int slot, const void *records, size_t bytes) {
    pub_slot *s = &p->slots[slot];
    uint64_t generation = ++p->last_generation;
    s->records = records;
    s->bytes = bytes;
    if (bytes == 0) atomic_store_explicit(&s->confirmed, generation, memory_order_release);
    atomic_store_explicit(&s->handed, generation, memory_order_release);
    sem_post(&p->wake);
    return generation;
}

int sl_nats_publisher_confirmed(sl_nats_publisher *p, int slot, uint64_t generation) {
    return atomic_load_explicit(&p->slots[slot].confirmed, memory_order_acquire) == generation;
}

void sl_nats_publisher_stats_read(sl_nats_publisher *p, sl_nats_publisher_stats *stats) {
    stats->acknowledged = atomic_load_explicit(&p->acknowledged, memory_order_relaxed);
    stats->republished = atomic_load_explicit(&p->republished, memory_order_relaxed);
    stats->errors = atomic_load_explicit(&p->error.count, memory_order_relaxed);
    stats->error_sequence = atomic_load_explicit(&p->error.sequence, memory_order_acquire);
    stats->connected = atomic_load_explicit(&p->connected, memory_order_relaxed);
    stats->max_payload = atomic_load_explicit(&p->max_payload, memory_order_relaxed);
}

void sl_nats_publisher_last_error(sl_nats_publisher *p, char *buffer, size_t length) { sl_nats_error_copy(&p->error, buffer, length); }

void sl_nats_publisher_stop(sl_nats_publisher *p) {
    if (p == NULL) return;
    atomic_store(&p->stopping, 1);
    if (p->thread_started) {
        sem_post(&p->wake);
        pthread_join(p->thread, NULL);
    }
    if (p->sub != NULL) {
        // The delivery thread may be inside on_reply: wait until it is done with us.
        natsSubscription_Unsubscribe(p->sub);
        if (p->sub_done_ready) sl_nats_wait_ms(&p->sub_done, 5000);
        natsSubscription_Destroy(p->sub);
    }
    if (p->nc != NULL) {
        // Its callbacks hold `p`: destroyed only once the last of them ran.
        natsConnection_Close(p->nc);
        sl_nats_wait_ms(&p->closed, 5000);
        natsConnection_Destroy(p->nc);
    }
    for (int i = 0; i < SL_NATS_SLOTS; i++) {
        free(p->slots[i].starts);
        free((void *)p->slots[i].acked);
    }
    sem_destroy(&p->wake);
    sem_destroy(&p->sub_done);
    sem_destroy(&p->closed);
    sl_nats_error_destroy(&p->error);
    free(p->servers);
    free(p->stream);
    free(p->name);
    free(p->create_subjects);
    free(p);
}
