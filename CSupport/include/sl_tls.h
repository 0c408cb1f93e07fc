#ifndef SL_TLS_H
#define SL_TLS_H
// TLS for the stream inputs (tcp, syslog over TCP, http), OpenSSL driven over a BIO pair so
// every byte still moves through the worker's io_uring: received ciphertext is fed in, plaintext
// read out, and the ciphertext OpenSSL produces (handshake, answers, alerts) is sent from the
// pair's own buffer. Why C: OpenSSL's setters are macros over SSL_CTX_ctrl, its error queue is
// thread-local state, and its types stay out of Swift behind two opaque handles.
#include <stddef.h>

/// One listener's server configuration (an SSL_CTX): built once at start, shared read-only by
/// every worker (SSL_new from several threads at once is safe).
typedef struct sl_tls_context sl_tls_context;
/// One connection's session (an SSL and the network end of its BIO pair).
typedef struct sl_tls sl_tls;

enum {
    SL_TLS_OK = 0,
    /// More ciphertext is needed (feed what was received, or wait for more).
    SL_TLS_WANT_READ = 1,
    /// The outgoing ciphertext buffer is full: send it (`sl_tls_output`) and call again.
    SL_TLS_WANT_WRITE = 2,
    /// The peer sent close_notify: no more plaintext.
    SL_TLS_CLOSED = 3,
    /// A protocol error (bad handshake, certificate refused, bad record); the session is dead.
    SL_TLS_FAILED = 4,
};

/// Which file `sl_tls_context_create` could not use.
enum { SL_TLS_CERT = 0, SL_TLS_KEY = 1, SL_TLS_CA = 2 };

/// A server context from PEM files: `cert` (the chain, leaf first) and `key` (its private key,
/// checked to match), `ca` (NULL: no client certificates; otherwise clients must present one
/// signed by these CAs), `min_version` 12 or 13. NULL on failure, with the file that failed in
/// `*failed` and a sentence naming it with OpenSSL's reason in `error`.
sl_tls_context *sl_tls_context_create(const char *cert, const char *key, const char *ca, int min_version,
                                      int *failed, char *error, size_t error_capacity);
void sl_tls_context_free(sl_tls_context *context);

/// A server session whose two BIO pair buffers hold `buffer_bytes` each (allocated by OpenSSL
/// on first use). NULL when out of memory.
sl_tls *sl_tls_create(sl_tls_context *context, size_t buffer_bytes);
void sl_tls_free(sl_tls *session);
/// Hands received ciphertext to the session; returns how much it took (less when its buffer
/// is full: feed the rest once it read some).
size_t sl_tls_feed(sl_tls *session, const void *data, size_t length);
/// Drives the handshake: SL_TLS_OK once it is complete.
int sl_tls_handshake(sl_tls *session);
/// Decrypts up to `capacity` bytes into `out` (`*made`: how many, with SL_TLS_OK).
int sl_tls_read(sl_tls *session, void *out, size_t capacity, size_t *made);
/// Encrypts up to `length` bytes (`*used`: how many were taken, with SL_TLS_OK); the
/// ciphertext waits in the session's output.
int sl_tls_write(sl_tls *session, const void *data, size_t length, size_t *used);
/// Queues a close_notify alert in the output (the connection is about to close).
void sl_tls_shutdown(sl_tls *session);
/// The ciphertext waiting to be sent, in place (a contiguous part of it): its start in
/// `*bytes`, its length returned. It stays valid and in place until `sl_tls_output_sent`.
size_t sl_tls_output(sl_tls *session, const void **bytes);
/// `count` bytes of the output went out.
void sl_tls_output_sent(sl_tls *session, size_t count);
/// The protocol version negotiated ("TLSv1.3").
const char *sl_tls_version(const sl_tls *session);
/// Why the last call of this thread failed (OpenSSL's reason, and the certificate check's when
/// `session` refused one), copied into `out`; clears the thread's error queue. Returns the
/// length written.
size_t sl_tls_take_error(const sl_tls *session, char *out, size_t capacity);

#endif
