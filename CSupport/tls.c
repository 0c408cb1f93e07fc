#include "sl_tls.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct sl_tls {
    SSL *ssl;
    /// Received ciphertext lent for one call, and how much of it OpenSSL took.
    const unsigned char *in;
    size_t in_length;
    size_t in_used;
    /// Ciphertext waiting to be sent: `out_length` bytes from `out_start` (allocated on the
    /// first write: a handshake that never starts costs none).
    unsigned char *out;
    size_t out_capacity;
    size_t out_start;
    size_t out_length;
};

/// OpenSSL's reason for the oldest error of this thread's queue, which it empties.
static void take_reason(char *out, size_t capacity) {
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {}
    if (capacity == 0) return;
    const char *reason = first ? ERR_reason_error_string(first) : NULL;
    if (reason) snprintf(out, capacity, "%s", reason);
    else if (first) ERR_error_string_n(first, out, capacity);
    else snprintf(out, capacity, "unknown error");
}

/// The file must be readable: OpenSSL's own message for a missing file is less clear.
static int readable(const char *path, char *error, size_t capacity) {
    FILE *f = fopen(path, "r");
    if (f) { fclose(f); return 1; }
    snprintf(error, capacity, "'%s': %s", path, strerror(errno));
    return 0;
}

sl_tls_context *sl_tls_context_create(const char *cert, const char *key, const char *ca, int min_version,
                                      int *failed, char *error, size_t error_capacity) {
    char reason[256];
    ERR_clear_error();
    *failed = SL_TLS_CERT;
    if (!readable(cert, error, error_capacity)) return NULL;
    *failed = SL_TLS_KEY;
    if (!readable(key, error, error_capacity)) return NULL;
    *failed = SL_TLS_CA;
    if (ca && !readable(ca, error, error_capacity)) return NULL;
    *failed = SL_TLS_CERT;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        take_reason(reason, sizeof reason);
        snprintf(error, error_capacity, "cannot make a TLS context: %s", reason);
        return NULL;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        take_reason(reason, sizeof reason);
        snprintf(error, error_capacity, "'%s' is not a usable PEM certificate chain: %s", cert, reason);
        goto fail;
    }
    *failed = SL_TLS_KEY;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        int mismatch = ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH;
        take_reason(reason, sizeof reason);
        if (mismatch) snprintf(error, error_capacity, "'%s' is not the private key of the certificate in tls-cert '%s': %s", key, cert, reason);
        else snprintf(error, error_capacity, "'%s' is not a usable PEM private key: %s", key, reason);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        take_reason(reason, sizeof reason);
        snprintf(error, error_capacity, "'%s' is not the private key of the certificate in tls-cert '%s': %s", key, cert, reason);
        goto fail;
    }
    *failed = SL_TLS_CA;
    if (ca) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (!names || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            if (names) sk_X509_NAME_pop_free(names, X509_NAME_free);
            take_reason(reason, sizeof reason);
            snprintf(error, error_capacity, "'%s' holds no usable PEM CA certificate: %s", ca, reason);
            goto fail;
        }
        // The CAs are named in the CertificateRequest, so clients pick the right certificate.
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    SSL_CTX_set_min_proto_version(ctx, min_version >= 13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    // No renegotiation (a client could make the server redo handshakes at will); no session
    // cache (shared state locked across workers) and no tickets: after its handshake a server
    // that only reads writes nothing, so a sender that never reads and closes is not answered
    // with a reset that would drop what it still had to send.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    // Answers are written in parts as the output buffer empties, from a buffer that may grow.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Records are read from the received bytes as far as they go, not header and body apart.
    SSL_CTX_set_read_ahead(ctx, 1);
    return (sl_tls_context *)ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void sl_tls_context_free(sl_tls_context *context) {
    SSL_CTX_free((SSL_CTX *)context);
}

/// The BIO OpenSSL reads ciphertext from and writes it to: reads copy from the received bytes
/// handed to the current call (so OpenSSL takes them straight from the ring's receive buffer
/// into its record buffer: no buffer of ours in between), writes append to the session's
/// output buffer, from where the ring sends them in place.
static BIO_METHOD *ring_method;
static pthread_once_t ring_method_once = PTHREAD_ONCE_INIT;

static int ring_read(BIO *bio, char *buffer, size_t length, size_t *read) {
    sl_tls *s = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    size_t available = s->in_length - s->in_used;
    if (available == 0) {
        BIO_set_retry_read(bio);
        *read = 0;
        return 0;
    }
    size_t n = length < available ? length : available;
    memcpy(buffer, s->in + s->in_used, n);
    s->in_used += n;
    *read = n;
    return 1;
}

static int ring_write(BIO *bio, const char *data, size_t length, size_t *written) {
    sl_tls *s = BIO_get_data(bio);
    BIO_clear_retry_flags(bio);
    if (!s->out) {
        s->out = OPENSSL_malloc(s->out_capacity);
        if (!s->out) return 0;
    }
    size_t room = s->out_capacity - s->out_start - s->out_length;
    if (room == 0) {
        BIO_set_retry_write(bio);
        *written = 0;
        return 0;
    }
    size_t n = length < room ? length : room;
    memcpy(s->out + s->out_start + s->out_length, data, n);
    s->out_length += n;
    *written = n;
    return 1;
}

static long ring_ctrl(BIO *bio, int command, long number, void *pointer) {
    (void)number;
    (void)pointer;
    sl_tls *s = BIO_get_data(bio);
    switch (command) {
    case BIO_CTRL_FLUSH: return 1;  // the ring sends the output when the session is done
    case BIO_CTRL_PENDING: return s ? (long)(s->in_length - s->in_used) : 0;
    case BIO_CTRL_WPENDING: return s ? (long)s->out_length : 0;
    default: return 0;
    }
}

static int ring_create(BIO *bio) {
    BIO_set_init(bio, 1);
    return 1;
}

static void make_ring_method(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "sluice ring");
    if (!m) return;
    BIO_meth_set_read_ex(m, ring_read);
    BIO_meth_set_write_ex(m, ring_write);
    BIO_meth_set_ctrl(m, ring_ctrl);
    BIO_meth_set_create(m, ring_create);
    ring_method = m;
}

sl_tls *sl_tls_create(sl_tls_context *context, size_t output_bytes) {
    pthread_once(&ring_method_once, make_ring_method);
    if (!ring_method) return NULL;
    sl_tls *s = OPENSSL_zalloc(sizeof(*s));
    if (!s) return NULL;
    s->out_capacity = output_bytes;
    s->ssl = SSL_new((SSL_CTX *)context);
    BIO *bio = s->ssl ? BIO_new(ring_method) : NULL;
    if (!bio) {
        SSL_free(s->ssl);
        OPENSSL_free(s);
        ERR_clear_error();
        return NULL;
    }
    BIO_set_data(bio, s);
    SSL_set_bio(s->ssl, bio, bio);  // the SSL owns the BIO
    SSL_set_accept_state(s->ssl);
    return s;
}

void sl_tls_free(sl_tls *s) {
    if (!s) return;
    SSL_free(s->ssl);
    OPENSSL_free(s->out);
    OPENSSL_free(s);
}

static int status_of(sl_tls *s, int result) {
    switch (SSL_get_error(s->ssl, result)) {
    case SSL_ERROR_WANT_READ: return SL_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return SL_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return SL_TLS_CLOSED;
    default: return SL_TLS_FAILED;  // the reason stays in the error queue for sl_tls_take_error
    }
}

/// Lends `length` received bytes at `data` to the BIO for one call.
static void lend(sl_tls *s, const void *data, size_t length) {
    s->in = data;
    s->in_length = data ? length : 0;
    s->in_used = 0;
}

static size_t take_back(sl_tls *s) {
    size_t used = s->in_used;
    lend(s, NULL, 0);
    return used;
}

int sl_tls_handshake(sl_tls *s, const void *ciphertext, size_t length, size_t *used) {
    lend(s, ciphertext, length);
    int r = SSL_do_handshake(s->ssl);
    *used = take_back(s);
    return r == 1 ? SL_TLS_OK : status_of(s, r);
}

int sl_tls_read(sl_tls *s, const void *ciphertext, size_t length, size_t *used, void *out, size_t capacity, size_t *made) {
    *made = 0;
    lend(s, ciphertext, length);
    int r = SSL_read_ex(s->ssl, out, capacity, made);
    *used = take_back(s);
    return r == 1 ? SL_TLS_OK : status_of(s, r);
}

int sl_tls_write(sl_tls *s, const void *data, size_t length, size_t *used) {
    *used = 0;
    if (length == 0) return SL_TLS_OK;
    int r = SSL_write_ex(s->ssl, data, length, used);
    return r == 1 ? SL_TLS_OK : status_of(s, r);
}

void sl_tls_shutdown(sl_tls *s) {
    // Only our close_notify is sent; the peer's is not waited for (RFC 8446 6.1 allows it).
    if (SSL_is_init_finished(s->ssl)) SSL_shutdown(s->ssl);
    ERR_clear_error();
}

size_t sl_tls_output(sl_tls *s, const void **bytes) {
    *bytes = s->out_length ? s->out + s->out_start : NULL;
    return s->out_length;
}

void sl_tls_output_sent(sl_tls *s, size_t count) {
    if (count > s->out_length) count = s->out_length;
    s->out_start += count;
    s->out_length -= count;
    // No send is in flight now: what is left moves to the front, making room at the end.
    if (s->out_length == 0) s->out_start = 0;
    else if (s->out_start > 0) {
        memmove(s->out, s->out + s->out_start, s->out_length);
        s->out_start = 0;
    }
}

size_t sl_tls_take_error(const sl_tls *s, char *out, size_t capacity) {
    if (capacity == 0) return 0;
    take_reason(out, capacity);
    long verify = s ? SSL_get_verify_result(s->ssl) : X509_V_OK;
    size_t length = strlen(out);
    if (verify != X509_V_OK && length + 3 < capacity) {
        snprintf(out + length, capacity - length, " (%s)", X509_verify_cert_error_string(verify));
        length = strlen(out);
    }
    return length;
}
