#ifndef SL_TLS_H
#define SL_TLS_H
// TLS for the stream inputs (tcp, syslog over TCP, http), OpenSSL driven through a BIO of our
// own so every byte still moves through the worker's io_uring: each call lends OpenSSL the
// received ciphertext (it copies what it needs into its record buffer), plaintext is read out,
// and the ciphertext OpenSSL produces (handshake, answers, alerts) waits in the session's output
// buffer, sent from there by the ring. Why C: OpenSSL's setters are macros over SSL_CTX_ctrl, a
// BIO method is a table of C callbacks, its error queue is thread-local state, and its types
// stay out of Swift behind two opaque handles.
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

/// A server session whose outgoing ciphertext waits in a buffer of `output_bytes` (allocated on
/// its first write). NULL when out of memory.
sl_tls *sl_tls_create(sl_tls_context *context, size_t output_bytes);
void sl_tls_free(sl_tls *session);
/// Drives the handshake with the received bytes at `ciphertext` (`length`, may be 0), of which
/// it takes `*used`: SL_TLS_OK once the handshake is complete.
int sl_tls_handshake(sl_tls *session, const void *ciphertext, size_t length, size_t *used);
/// Decrypts up to `capacity` bytes into `out` (`*made`: how many, with SL_TLS_OK), taking
/// `*used` of the received bytes at `ciphertext` (`length`, may be 0). OpenSSL keeps what it
/// took of a record not yet complete.
int sl_tls_read(sl_tls *session, const void *ciphertext, size_t length, size_t *used, void *out, size_t capacity, size_t *made);
/// Encrypts up to `length` bytes (`*used`: how many were taken, with SL_TLS_OK); the
/// ciphertext waits in the session's output.
int sl_tls_write(sl_tls *session, const void *data, size_t length, size_t *used);
/// Queues a close_notify alert in the output (the connection is about to close).
void sl_tls_shutdown(sl_tls *session);
/// The ciphertext waiting to be sent, in place: its start in `*bytes`, its length returned. It
/// stays where it is until `sl_tls_output_sent` (writes meanwhile append after it).
size_t sl_tls_output(sl_tls *session, const void **bytes);
/// `count` bytes of the output went out; call with no send in flight (the rest moves to the
/// front of the buffer).
void sl_tls_output_sent(sl_tls *session, size_t count);
/// Why the last call of this thread failed (OpenSSL's reason, and the certificate check's when
/// `session` refused one), copied into `out`; clears the thread's error queue. Returns the
/// length written.
size_t sl_tls_take_error(const sl_tls *session, char *out, size_t capacity);

#endif
