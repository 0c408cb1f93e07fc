#ifndef SL_NATS_H
#define SL_NATS_H
// NATS JetStream through libnats, for the nats output and input. libnats runs threads of its
// own (socket reader, flusher, one delivery thread per subscription) and blocks in its calls,
// so each object here adds one thread of ours that makes those calls; the worker only stores
// into and loads from plain memory (hand-off words, counters, a ring of fetched messages) and
// reads an eventfd through its io_uring. In C because the library's callbacks are C function
// pointers running on the library's threads.
#include <stddef.h>
#include <stdint.h>

// ---- Publisher (the nats output: one per worker and output) ----

// A buffer of message records, as the worker's batcher writes them: for each message
// u16 subject length, u16 id length, u32 payload length (native byte order), then the subject,
// the payload and the id (Nats-Msg-Id; it holds a hash of the payload, so it comes after it).
enum { SL_NATS_RECORD_HEADER_BYTES = 8, SL_NATS_SLOTS = 2, SL_NATS_MAX_SUBJECT_BYTES = 256, SL_NATS_MAX_ID_BYTES = 128 };

typedef struct sl_nats_publisher sl_nats_publisher;

typedef struct sl_nats_publisher_options {
    const char *servers;        // nats://HOST:PORT, comma-separated
    const char *stream;         // sent as Nats-Expected-Stream: the server refuses other streams
    const char *name;           // connection name, seen in the server's monitoring
    int window;                 // messages published and not yet acknowledged, at most
    int max_messages;           // messages one hand-off holds, at most (the batch size)
    int64_t ack_timeout_ms;     // messages without a PubAck this long after the last are published again
    int64_t retry_ms;           // after an error answer, the wait before publishing again
    int64_t reconnect_wait_ms;  // between reconnection attempts
    int wake_fd;                // eventfd written when a hand-off is confirmed
    const char *create_subjects; // when not NULL: create the stream if it is missing, taking these subjects (comma-separated)
    int replicas;               // its replicas when created
} sl_nats_publisher_options;

// Counters the publisher keeps (monotonic; the worker turns their growth into metrics).
typedef struct sl_nats_publisher_stats {
    uint64_t acknowledged;      // messages JetStream acknowledged (the first PubAck of each)
    uint64_t republished;       // messages published again (no PubAck in time, a reconnect, an error answer)
    uint64_t errors;            // error answers (no stream for the subject, JetStream errors) and failed publishes
    uint64_t error_sequence;    // grows with every new `last_error`
    uint64_t connected;         // 1 while connected
    uint64_t max_payload;       // the server's max_payload (0 before the first connection)
} sl_nats_publisher_stats;

// Starts the publisher thread, which connects (and keeps reconnecting) in the background; NULL
// with `error` filled when something cannot be set up at all.
sl_nats_publisher *sl_nats_publisher_start(const sl_nats_publisher_options *options, char *error, size_t error_length);
// Worker: hands `bytes` of records in `records` (at most `max_messages` of them) over as slot
// `slot` (0 or 1), whose last hand-off must be confirmed. The memory stays the caller's and
// unchanged until confirmed. Returns the hand-off's generation (no bytes: confirmed at once).
uint64_t sl_nats_publisher_hand_off(sl_nats_publisher *publisher, int slot, const void *records, size_t bytes);
// Worker: whether every message of hand-off `generation` in `slot` has its PubAck.
int sl_nats_publisher_confirmed(sl_nats_publisher *publisher, int slot, uint64_t generation);
void sl_nats_publisher_stats_read(sl_nats_publisher *publisher, sl_nats_publisher_stats *stats);
// The last error's text (copied; for logs, read when `error_sequence` grows).
void sl_nats_publisher_last_error(sl_nats_publisher *publisher, char *buffer, size_t length);
// Stops the thread, flushes and closes the connection, frees everything.
void sl_nats_publisher_stop(sl_nats_publisher *publisher);

// ---- Consumer (the nats input: one durable pull consumer per input) ----

typedef struct sl_nats_consumer sl_nats_consumer;

typedef struct sl_nats_consumer_options {
    const char *servers;
    const char *stream;
    const char *consumer;       // the durable consumer's name; created when missing
    const char *filter;         // its filter subject when it is created (NULL or empty: the whole stream)
    const char *name;
    int batch;                  // messages asked for per fetch, at most
    int window;                 // messages fetched and not yet acknowledged, at most (a power of two)
    int64_t ack_wait_ms;        // the consumer's ack_wait when it is created; progress acks at half of it
    int64_t fetch_wait_ms;      // how long one fetch waits for messages
    int64_t reconnect_wait_ms;
    int wake_fd;                // eventfd written when messages were fetched
} sl_nats_consumer_options;

typedef struct sl_nats_consumer_stats {
    uint64_t fetched;           // messages fetched
    uint64_t redelivered;       // of them, delivered before (JetStream's delivery count over 1)
    uint64_t acked;             // messages acknowledged to JetStream
    uint64_t progress_acks;     // +WPI sent for messages held longer than half of ack_wait
    uint64_t errors;
    uint64_t error_sequence;
    uint64_t connected;
} sl_nats_consumer_stats;

// One fetched message as the worker sees it.
typedef struct sl_nats_message {
    const void *data;
    uint32_t length;
    uint64_t stream_sequence;
} sl_nats_message;

sl_nats_consumer *sl_nats_consumer_start(const sl_nats_consumer_options *options, char *error, size_t error_length);
// Worker: messages fetched so far (a count; message i is in the ring while i < fetched).
uint64_t sl_nats_consumer_fetched(sl_nats_consumer *consumer);
// Worker: message `index` (< fetched, not yet released).
sl_nats_message sl_nats_consumer_message(sl_nats_consumer *consumer, uint64_t index);
// Worker: it has taken messages below `taken` (framed them into events): fetching goes on.
void sl_nats_consumer_set_taken(sl_nats_consumer *consumer, uint64_t taken);
// Worker: messages below `acknowledged` went through every output: they are acknowledged to
// JetStream (by the consumer's thread, soon after).
void sl_nats_consumer_set_acknowledged(sl_nats_consumer *consumer, uint64_t acknowledged);
void sl_nats_consumer_stats_read(sl_nats_consumer *consumer, sl_nats_consumer_stats *stats);
void sl_nats_consumer_last_error(sl_nats_consumer *consumer, char *buffer, size_t length);
// Stops fetching, acknowledges what was acknowledged, gives the rest back (NAK: redelivered at
// once, to another puller if there is one), flushes, closes, frees.
void sl_nats_consumer_stop(sl_nats_consumer *consumer);

#endif
