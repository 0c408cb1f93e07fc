// The nats input's durable pull consumer. Two threads of ours make every libnats call: the
// fetcher (pull requests and the messages they bring) and the acker (acknowledgements, progress
// acks).
// The fetcher keeps pull requests outstanding all the time, up to two batches ahead of the
// worker, so JetStream always has a request to fill: libnats' natsSubscription_Fetch asks for
// one batch and waits for it, and the server sat idle for a round trip per batch (a C program
// pulling continuously drained a stream 1.4x as fast as its fetch loop on this machine). So the
// pull requests are ours: published to the consumer's next-message subject with a private inbox
// as their reply subject, each for at most `batch` messages, expiring after `fetch_wait_ms`.
// JetStream ends a request that expired or that it gave up on with a status message saying how
// many messages it did not deliver (Nats-Pending-Messages). They share with the worker one ring of fetched messages and four counters that only
// grow: released ≤ acknowledged ≤ taken ≤ fetched ≤ released + window.
//   fetched       the fetcher filled the ring up to here (release store; the worker loads it)
//   taken         the worker framed messages up to here into events
//   acknowledged  every output acknowledged the events of messages up to here (in order)
//   released      the acker acknowledged them to JetStream and freed them
// The worker never waits and never takes a lock: it loads `fetched`, reads entries, stores
// `taken` and `acknowledged`, and posts a semaphore once per turn when it acknowledged more.
#include "sl_nats.h"
#include "nats_common.h"
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

enum {
    longest_fetch_sleep_ms = 100,
    setup_retry_ms = 1000,
    longest_ack_sleep_ms = 100,
    // Messages received but not yet announced to the worker wait at most this long for the next
    // one before the worker is woken: one wake per group of messages, not per message.
    gather_ms = 1,
    // Pull requests that neither brought a message nor ended with a status this long after they
    // expired are taken as lost (a reconnection, a new consumer leader) and asked again.
    lost_request_grace_ms = 1000,
};

typedef struct entry {
    natsMsg *msg;
    sl_nats_message message;
    _Atomic int64_t touched_ms;  // delivered, or its last progress ack (the acker's)
} entry;

struct sl_nats_consumer {
    sl_nats_consumer_options options;
    char *servers, *stream, *consumer, *filter, *name;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;       // on `inbox`, where every pull request's messages arrive
    natsInbox *inbox;
    char *next_subject;          // $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
    // The fetcher's own: messages asked for and neither delivered nor ended by a status, and
    // when the last message or status arrived.
    int64_t outstanding;
    int64_t last_heard_ms;
    _Atomic int reconnected;     // the connection was made again: requests in flight were lost
    entry *ring;
    uint64_t mask;
    _Atomic uint64_t fetched, taken, acknowledged, released;
    pthread_t fetcher, acker;
    int fetcher_started, acker_started;
    sem_t ack_wake;
    // Posted when the worker took messages or the acker released some: the fetcher may fetch.
    sem_t fetch_wake;
    sem_t closed;
    _Atomic int stopping;
    _Atomic int fetcher_done;
    _Atomic uint64_t connected, redelivered, acked, progress_acks;
    sl_nats_error error;
};

static void wake_worker(sl_nats_consumer *c) {
    uint64_t one = 1;
    ssize_t n = write(c->options.wake_fd, &one, sizeof one);
    (void)n;
}

static void on_disconnected(natsConnection *nc, void *closure) {
    (void)nc;
    sl_nats_consumer *c = closure;
    atomic_store(&c->connected, 0);
    sl_nats_error_set(&c->error, "disconnected from the NATS server; reconnecting");
}

static void on_reconnected(natsConnection *nc, void *closure) {
    (void)nc;
    sl_nats_consumer *c = closure;
    atomic_store(&c->reconnected, 1);
    atomic_store(&c->connected, 1);
}

static void on_closed(natsConnection *nc, void *closure) {
    (void)nc;
    sl_nats_consumer *c = closure;
    sem_post(&c->closed);
}

// Sleeps `ms`, waking early when the consumer stops.
static void nap(sl_nats_consumer *c, int64_t ms) {
    while (ms > 0 && !atomic_load(&c->stopping)) {
        int64_t step = ms < 50 ? ms : 50;
        struct timespec t = {.tv_sec = 0, .tv_nsec = step * 1000000};
        nanosleep(&t, NULL);
        ms -= step;
    }
}

// Finds the durable consumer or creates it (explicit acks, ack_wait, the filter), then subscribes
// to the inbox its messages will come to.
static natsStatus set_up_consumer(sl_nats_consumer *c) {
    jsConsumerInfo *info = NULL;
    jsErrCode code = 0;
    natsStatus s = js_GetConsumerInfo(&info, c->js, c->stream, c->consumer, NULL, &code);
    if (s == NATS_NOT_FOUND && code != JSStreamNotFoundErr) {
        jsConsumerConfig config;
        jsConsumerConfig_Init(&config);
        config.Durable = c->consumer;
        config.AckPolicy = js_AckExplicit;
        config.AckWait = c->options.ack_wait_ms * 1000000;
        config.DeliverPolicy = js_DeliverAll;
        config.MaxAckPending = -1;  // each puller bounds itself (its window)
        if (c->filter) config.FilterSubject = c->filter;
        s = js_AddConsumer(&info, c->js, c->stream, &config, NULL, &code);
    }
    if (s != NATS_OK) {
        if (code == JSStreamNotFoundErr) {
            sl_nats_error_set(&c->error, "stream %s not found; trying again", c->stream);
        } else {
            sl_nats_error_set(&c->error, "cannot find or create consumer %s on stream %s: %s (JetStream error %d); trying again",
                              c->consumer, c->stream, nats_GetLastError(NULL), (int)code);
        }
        jsConsumerInfo_Destroy(info);
        return s;
    }
    jsConsumerInfo_Destroy(info);
    s = natsConnection_SubscribeSync(&c->sub, c->nc, c->inbox);
    // What arrives is bounded by what was asked for, and that by the window.
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(c->sub, -1, -1);
    if (s != NATS_OK) {
        sl_nats_error_set(&c->error, "cannot subscribe to %s for consumer %s: %s; trying again", c->inbox, c->consumer,
                          nats_GetLastError(NULL));
        natsSubscription_Destroy(c->sub);
        c->sub = NULL;
    }
    c->outstanding = 0;
    return s;
}

// Drops the subscription: the next turn sets the consumer up again.
static void forget_consumer(sl_nats_consumer *c) {
    natsSubscription_Destroy(c->sub);
    c->sub = NULL;
    c->outstanding = 0;
}

// The stream sequence and delivery count from a JetStream message's reply subject,
// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>` (or the
// longer form with domain and account hash first): what natsMsg_GetMetaData gives, without its
// allocations. 0 when the subject has neither form.
static int parse_ack_subject(const char *reply, uint64_t *sequence, uint64_t *delivered) {
    if (reply == NULL || strncmp(reply, "$JS.ACK.", 8) != 0) return 0;
    const char *tokens[16];
    int count = 0;
    for (const char *p = reply; count < 16; count++) {
        tokens[count] = p;
        p = strchr(p, '.');
        if (p == NULL) {
            count++;
            break;
        }
        p++;
    }
    int first = count == 9 ? 4 : count >= 11 ? 6 : -1;
    if (first < 0) return 0;
    *delivered = strtoull(tokens[first], NULL, 10);
    *sequence = strtoull(tokens[first + 1], NULL, 10);
    return 1;
}

// Asks for messages while the worker has less than two batches fetched or coming and the window
// has room, in requests of one batch (or of what room is left, when nothing else is coming).
static void ask(sl_nats_consumer *c, uint64_t fetched) {
    int64_t batch = c->options.batch;
    // Requests made while disconnected would all go out at the reconnection, on top of new ones.
    while (atomic_load(&c->connected)) {
        int64_t ahead = (int64_t)(fetched - atomic_load(&c->taken));
        int64_t room = (int64_t)c->options.window - (int64_t)(fetched - atomic_load(&c->released)) - c->outstanding;
        int64_t n = 2 * batch - ahead - c->outstanding;
        if (n > batch) n = batch;
        if (n > room) n = room;
        if (n <= 0 || (n < (batch + 1) / 2 && c->outstanding > 0)) return;
        char request[96];
        int length = snprintf(request, sizeof request, "{\"batch\":%lld,\"expires\":%lld}", (long long)n,
                              (long long)c->options.fetch_wait_ms * 1000000);
        natsStatus s = natsConnection_PublishRequest(c->nc, c->next_subject, c->inbox, request, length);
        if (s != NATS_OK) {
            sl_nats_error_set(&c->error, "pull request to consumer %s not sent: %s; trying again", c->consumer, natsStatus_GetText(s));
            return;
        }
        if (c->outstanding == 0) c->last_heard_ms = sl_nats_now_ms();
        c->outstanding += n;
    }
}

// A message without data and with a Status header: JetStream ended a pull request (408 expired,
// 409 ended early, 404 nothing to deliver) or has no consumer to answer it (503).
static void on_status(sl_nats_consumer *c, natsMsg *msg, const char *status) {
    const char *pending = NULL, *description = NULL;
    natsMsgHeader_Get(msg, "Description", &description);
    if (natsMsgHeader_Get(msg, "Nats-Pending-Messages", &pending) == NATS_OK) {
        c->outstanding -= strtoll(pending, NULL, 10);
    } else if (strncmp(status, "100", 3) != 0) {
        c->outstanding -= c->outstanding < c->options.batch ? c->outstanding : c->options.batch;
    }
    if (c->outstanding < 0) c->outstanding = 0;
    if (strncmp(status, "503", 3) == 0) {
        sl_nats_error_set(&c->error, "no JetStream consumer %s answers on stream %s; setting it up again", c->consumer, c->stream);
        forget_consumer(c);
    } else if (strncmp(status, "409", 3) == 0) {
        int gone = description != NULL && (strstr(description, "Consumer Deleted") != NULL || strstr(description, "push based") != NULL);
        sl_nats_error_set(&c->error, "consumer %s ended a pull request: %s%s", c->consumer, description ? description : status,
                          gone ? "; setting it up again" : "");
        if (gone) forget_consumer(c);
    }
}

// Puts one delivered message into the ring (it becomes the ring's). Returns 0 when it was a status
// or not a JetStream message (destroyed).
static int take(sl_nats_consumer *c, natsMsg *msg, uint64_t fetched) {
    const char *status = NULL;
    if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
        on_status(c, msg, status);
        natsMsg_Destroy(msg);
        return 0;
    }
    if (c->outstanding > 0) c->outstanding--;
    uint64_t sequence = 0, delivered = 1;
    jsMsgMetaData *meta = NULL;
    if (!parse_ack_subject(natsMsg_GetReply(msg), &sequence, &delivered) && natsMsg_GetMetaData(&meta, msg) == NATS_OK) {
        sequence = meta->Sequence.Stream;
        delivered = meta->NumDelivered;
        jsMsgMetaData_Destroy(meta);
    }
    if (sequence == 0) {
        sl_nats_error_set(&c->error, "a message on the consumer's inbox is not from JetStream (reply subject '%s'); not taken",
                          natsMsg_GetReply(msg) ? natsMsg_GetReply(msg) : "");
        natsMsg_Destroy(msg);
        return 0;
    }
    if (delivered > 1) atomic_fetch_add(&c->redelivered, 1);
    entry *e = &c->ring[fetched & c->mask];
    e->msg = msg;
    e->message.data = natsMsg_GetData(msg);
    e->message.length = (uint32_t)natsMsg_GetDataLength(msg);
    e->message.stream_sequence = sequence;
    atomic_store(&e->touched_ms, sl_nats_now_ms());
    return 1;
}

// Waits until the ring has room for one more message; 0 when the consumer stops meanwhile.
static int wait_for_room(sl_nats_consumer *c, uint64_t fetched) {
    while (fetched - atomic_load(&c->released) >= (uint64_t)c->options.window) {
        if (atomic_load(&c->stopping)) return 0;
        sl_nats_wait_ms(&c->fetch_wake, longest_fetch_sleep_ms);
    }
    return 1;
}

static void *fetcher_main(void *arg) {
    sl_nats_consumer *c = arg;
    uint64_t fetched = atomic_load(&c->fetched);  // only this thread stores it
    uint64_t announced = fetched;                 // the worker was woken for messages up to here
    while (!atomic_load(&c->stopping)) {
        if (c->sub == NULL) {
            if (!atomic_load(&c->connected) || set_up_consumer(c) != NATS_OK) nap(c, setup_retry_ms);
            continue;
        }
        int64_t now = sl_nats_now_ms();
        if (atomic_exchange(&c->reconnected, 0) ||
            (c->outstanding > 0 && now - c->last_heard_ms > c->options.fetch_wait_ms + lost_request_grace_ms)) {
            c->outstanding = 0;
        }
        ask(c, fetched);
        int queued = 0;
        natsSubscription_GetPending(c->sub, &queued, NULL);
        if (c->outstanding == 0 && queued == 0) {
            // Backpressure: nothing asked for while the worker has two batches it did not take
            // yet (its pool is full) or the window is used up by messages not yet acknowledged.
            if (fetched != announced) {
                wake_worker(c);
                announced = fetched;
            }
            sl_nats_wait_ms(&c->fetch_wake, longest_fetch_sleep_ms);
            while (sem_trywait(&c->fetch_wake) == 0) {}
            continue;
        }
        natsMsg *msg = NULL;
        natsStatus s = natsSubscription_NextMsg(&msg, c->sub, fetched != announced ? gather_ms : longest_fetch_sleep_ms);
        if (s == NATS_TIMEOUT) {
            if (fetched != announced) {
                wake_worker(c);
                announced = fetched;
            }
            continue;
        }
        if (s != NATS_OK) {
            sl_nats_error_set(&c->error, "receiving from consumer %s failed: %s; trying again", c->consumer, natsStatus_GetText(s));
            forget_consumer(c);
            nap(c, 250);
            continue;
        }
        c->last_heard_ms = sl_nats_now_ms();
        // This message and those queued behind it, then one announcement for them all.
        natsSubscription_GetPending(c->sub, &queued, NULL);
        for (int i = 0;; i++) {
            if (!wait_for_room(c, fetched)) {
                if (natsMsg_GetReply(msg) != NULL) natsConnection_PublishString(c->nc, natsMsg_GetReply(msg), "-NAK");
                natsMsg_Destroy(msg);
                break;
            }
            if (take(c, msg, fetched)) {
                fetched++;
                atomic_store_explicit(&c->fetched, fetched, memory_order_release);
            }
            if (i >= queued || c->sub == NULL || natsSubscription_NextMsg(&msg, c->sub, 0) != NATS_OK) break;
        }
        if (fetched - announced >= (uint64_t)(c->options.batch + 1) / 2) {
            wake_worker(c);
            announced = fetched;
        }
    }
    if (fetched != announced) wake_worker(c);
    // Messages that the last requests still bring go back to JetStream at once, for another
    // puller, rather than waiting out ack_wait on an inbox nobody reads.
    int64_t until = sl_nats_now_ms() + c->options.fetch_wait_ms + 100;
    while (c->sub != NULL && sl_nats_now_ms() < until) {
        int queued = 0;
        natsSubscription_GetPending(c->sub, &queued, NULL);
        if (c->outstanding <= 0 && queued == 0) break;
        natsMsg *msg = NULL;
        if (natsSubscription_NextMsg(&msg, c->sub, 50) != NATS_OK) continue;
        const char *status = NULL;
        if (natsMsg_GetDataLength(msg) == 0 && natsMsgHeader_Get(msg, "Status", &status) == NATS_OK) {
            on_status(c, msg, status);
        } else {
            c->outstanding--;
            if (natsMsg_GetReply(msg) != NULL) natsConnection_PublishString(c->nc, natsMsg_GetReply(msg), "-NAK");
        }
        natsMsg_Destroy(msg);
    }
    atomic_store(&c->fetcher_done, 1);
    return NULL;
}

// Acknowledges to JetStream what the worker acknowledged, and sends progress acks for messages
// held longer than half of ack_wait (a slow or retrying output, a full pool) so that JetStream
// does not redeliver them meanwhile.
static void ack_round(sl_nats_consumer *c) {
    uint64_t acknowledged = atomic_load_explicit(&c->acknowledged, memory_order_acquire);
    uint64_t released = atomic_load_explicit(&c->released, memory_order_relaxed);
    uint64_t first = released;
    while (released < acknowledged) {
        entry *e = &c->ring[released & c->mask];
        natsStatus s = natsConnection_PublishString(c->nc, natsMsg_GetReply(e->msg), "+ACK");
        if (s == NATS_OK) {
            atomic_fetch_add(&c->acked, 1);
        } else {
            sl_nats_error_set(&c->error, "acknowledgement not sent (%s): the message will be delivered again", natsStatus_GetText(s));
        }
        natsMsg_Destroy(e->msg);
        e->msg = NULL;
        released++;
        atomic_store_explicit(&c->released, released, memory_order_release);
    }
    if (released != first) sem_post(&c->fetch_wake);  // the window has room again
    int64_t now = sl_nats_now_ms();
    int64_t half = c->options.ack_wait_ms / 2;
    uint64_t fetched = atomic_load_explicit(&c->fetched, memory_order_acquire);
    for (uint64_t i = released; i < fetched; i++) {
        entry *e = &c->ring[i & c->mask];
        if (now - atomic_load(&e->touched_ms) < half) continue;
        if (natsConnection_PublishString(c->nc, natsMsg_GetReply(e->msg), "+WPI") == NATS_OK) atomic_fetch_add(&c->progress_acks, 1);
        atomic_store(&e->touched_ms, now);
    }
}

static void *acker_main(void *arg) {
    sl_nats_consumer *c = arg;
    while (1) {
        int last = atomic_load(&c->fetcher_done);
        ack_round(c);
        if (last) break;
        sl_nats_wait_ms(&c->ack_wake, longest_ack_sleep_ms);
    }
    return NULL;
}

sl_nats_consumer *sl_nats_consumer_start(const sl_nats_consumer_options *options, char *error, size_t error_length) {
    if (options->window <= 0 || (options->window & (options->window - 1)) != 0) {
        snprintf(error, error_length, "the window must be a power of two");
        return NULL;
    }
    sl_nats_consumer *c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(error, error_length, "out of memory");
        return NULL;
    }
    c->options = *options;
    c->servers = strdup(options->servers);
    c->stream = strdup(options->stream);
    c->consumer = strdup(options->consumer);
    c->filter = options->filter && options->filter[0] ? strdup(options->filter) : NULL;
    c->name = strdup(options->name ? options->name : "sluice");
    c->ring = calloc((size_t)options->window, sizeof(entry));
    size_t next_length = strlen(c->stream) + strlen(c->consumer) + 32;
    c->next_subject = malloc(next_length);
    if (c->next_subject != NULL) snprintf(c->next_subject, next_length, "$JS.API.CONSUMER.MSG.NEXT.%s.%s", c->stream, c->consumer);
    c->mask = (uint64_t)options->window - 1;
    sl_nats_error_init(&c->error);
    sem_init(&c->ack_wake, 0, 0);
    sem_init(&c->fetch_wake, 0, 0);
    sem_init(&c->closed, 0, 0);
    if (c->ring == NULL || c->next_subject == NULL || natsInbox_Create(&c->inbox) != NATS_OK) {
        snprintf(error, error_length, "out of memory");
        sl_nats_consumer_stop(c);
        return NULL;
    }
    natsOptions *opts = NULL;
    natsStatus s = sl_nats_options(&opts, c->servers, c->name, options->reconnect_wait_ms, on_disconnected, on_reconnected, on_closed, c);
    if (s == NATS_OK) {
        // Not yet connected: libnats keeps trying in the background (on_reconnected says when).
        s = natsConnection_Connect(&c->nc, opts);
        if (s == NATS_OK) atomic_store(&c->connected, 1);
        if (s == NATS_NOT_YET_CONNECTED) {
            sl_nats_error_set(&c->error, "cannot connect to %s yet; trying again", c->servers);
            s = NATS_OK;
        }
    }
    natsOptions_Destroy(opts);
    if (s == NATS_OK) s = natsConnection_JetStream(&c->js, c->nc, NULL);
    if (s != NATS_OK) {
        snprintf(error, error_length, "cannot set up the NATS connection to %s: %s", c->servers, natsStatus_GetText(s));
        sl_nats_consumer_stop(c);
        return NULL;
    }
    if (pthread_create(&c->acker, NULL, acker_main, c) == 0) c->acker_started = 1;
    if (c->acker_started && pthread_create(&c->fetcher, NULL, fetcher_main, c) == 0) c->fetcher_started = 1;
    if (!c->fetcher_started) {
        snprintf(error, error_length, "cannot start the consumer's threads: %s", strerror(errno));
        atomic_store(&c->fetcher_done, 1);
        sl_nats_consumer_stop(c);
        return NULL;
    }
    return c;
}

uint64_t sl_nats_consumer_fetched(sl_nats_consumer *c) { return atomic_load_explicit(&c->fetched, memory_order_acquire); }

sl_nats_message sl_nats_consumer_message(sl_nats_consumer *c, uint64_t index) { return c->ring[index & c->mask].message; }

void sl_nats_consumer_set_taken(sl_nats_consumer *c, uint64_t taken) {
    atomic_store_explicit(&c->taken, taken, memory_order_release);
    sem_post(&c->fetch_wake);  // a futex wake only when the fetcher waits
}

void sl_nats_consumer_set_acknowledged(sl_nats_consumer *c, uint64_t acknowledged) {
    atomic_store_explicit(&c->acknowledged, acknowledged, memory_order_release);
    sem_post(&c->ack_wake);
}

void sl_nats_consumer_stats_read(sl_nats_consumer *c, sl_nats_consumer_stats *stats) {
    stats->fetched = atomic_load_explicit(&c->fetched, memory_order_relaxed);
    stats->redelivered = atomic_load_explicit(&c->redelivered, memory_order_relaxed);
    stats->acked = atomic_load_explicit(&c->acked, memory_order_relaxed);
    stats->progress_acks = atomic_load_explicit(&c->progress_acks, memory_order_relaxed);
    stats->errors = atomic_load_explicit(&c->error.count, memory_order_relaxed);
    stats->error_sequence = atomic_load_explicit(&c->error.sequence, memory_order_acquire);
    stats->connected = atomic_load_explicit(&c->connected, memory_order_relaxed);
}

void sl_nats_consumer_last_error(sl_nats_consumer *c, char *buffer, size_t length) { sl_nats_error_copy(&c->error, buffer, length); }

void sl_nats_consumer_stop(sl_nats_consumer *c) {
    if (c == NULL) return;
    atomic_store(&c->stopping, 1);
    sem_post(&c->fetch_wake);
    if (c->fetcher_started) pthread_join(c->fetcher, NULL);
    atomic_store(&c->fetcher_done, 1);
    if (c->acker_started) {
        sem_post(&c->ack_wake);
        pthread_join(c->acker, NULL);
    }
    // What no output acknowledged goes back to JetStream at once (another puller takes it).
    uint64_t fetched = atomic_load(&c->fetched);
    for (uint64_t i = atomic_load(&c->released); i < fetched; i++) {
        entry *e = &c->ring[i & c->mask];
        natsConnection_PublishString(c->nc, natsMsg_GetReply(e->msg), "-NAK");
        natsMsg_Destroy(e->msg);
    }
    if (c->sub != NULL) natsSubscription_Destroy(c->sub);
    if (c->nc != NULL) {
        natsConnection_FlushTimeout(c->nc, 2000);
        natsConnection_Close(c->nc);
        sl_nats_wait_ms(&c->closed, 5000);
        natsConnection_Destroy(c->nc);
    }
    if (c->js != NULL) jsCtx_Destroy(c->js);
    free(c->ring);
    sem_destroy(&c->ack_wake);
    sem_destroy(&c->fetch_wake);
    sem_destroy(&c->closed);
    sl_nats_error_destroy(&c->error);
    free(c->servers);
    free(c->stream);
    free(c->consumer);
    free(c->filter);
    free(c->name);
    free(c->next_subject);
    natsInbox_Destroy(c->inbox);
    free(c);
}
