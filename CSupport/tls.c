#include "sl_tls.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct sl_tls {
    SSL *ssl;
    /// Our end of the BIO pair: ciphertext written here reaches the SSL, and what the SSL
    /// writes is read (in place) from here.
    BIO *network;
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
    return (sl_tls_context *)ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void sl_tls_context_free(sl_tls_context *context) {
    SSL_CTX_free((SSL_CTX *)context);
}

sl_tls *sl_tls_create(sl_tls_context *context, size_t buffer_bytes) {
    sl_tls *s = OPENSSL_zalloc(sizeof(*s));
    if (!s) return NULL;
    s->ssl = SSL_new((SSL_CTX *)context);
    BIO *internal = NULL;
    if (!s->ssl || BIO_new_bio_pair(&internal, buffer_bytes, &s->network, buffer_bytes) != 1) {
        SSL_free(s->ssl);
        OPENSSL_free(s);
        ERR_clear_error();
        return NULL;
    }
    SSL_set_bio(s->ssl, internal, internal);
    SSL_set_accept_state(s->ssl);
    return s;
}

void sl_tls_free(sl_tls *s) {
    if (!s) return;
    SSL_free(s->ssl);  // frees the internal end of the pair too
    BIO_free(s->network);
    OPENSSL_free(s);
}

size_t sl_tls_feed(sl_tls *s, const void *data, size_t length) {
    size_t room = BIO_ctrl_get_write_guarantee(s->network);
    if (room == 0 || length == 0) return 0;
    int n = BIO_write(s->network, data, (int)(length < room ? length : room));
    return n > 0 ? (size_t)n : 0;
}

static int status_of(sl_tls *s, int result) {
    switch (SSL_get_error(s->ssl, result)) {
    case SSL_ERROR_WANT_READ: return SL_TLS_WANT_READ;
    case SSL_ERROR_WANT_WRITE: return SL_TLS_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN: return SL_TLS_CLOSED;
    default: return SL_TLS_FAILED;  // the reason stays in the error queue for sl_tls_take_error
    }
}

int sl_tls_handshake(sl_tls *s) {
    int r = SSL_do_handshake(s->ssl);
    return r == 1 ? SL_TLS_OK : status_of(s, r);
}

int sl_tls_read(sl_tls *s, void *out, size_t capacity, size_t *made) {
    *made = 0;
    int r = SSL_read_ex(s->ssl, out, capacity, made);
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
    char *start = NULL;
    int n = BIO_nread0(s->network, &start);
    if (n <= 0) {
        BIO_clear_retry_flags(s->network);
        *bytes = NULL;
        return 0;
    }
    *bytes = start;
    return (size_t)n;
}

void sl_tls_output_sent(sl_tls *s, size_t count) {
    char *start = NULL;
    if (count > 0) BIO_nread(s->network, &start, (int)count);
}

const char *sl_tls_version(const sl_tls *s) {
    return SSL_get_version(s->ssl);
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
