/*
 * tls.h - OpenSSL contexts and a memory-BIO pump for TLS over libuv.
 *
 * The pump is sans-I/O: ciphertext received from the socket goes in with
 * tls_pump_feed(), ciphertext to send comes out of tls_pump_take(), and
 * plaintext moves through tls_pump_read()/tls_pump_write(). The stream
 * module glues it to a uv_tcp_t.
 */
#ifndef MESH_NET_TLS_H
#define MESH_NET_TLS_H

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A server context: TLS 1.2 and 1.3, ECDHE with AEAD ciphers only, no
 * session tickets, no renegotiation, no compression. cert and key are
 * borrowed (the context takes its own references). Returns a new context
 * (SSL_CTX_free) or NULL if OpenSSL refused (for example a key that does
 * not match the certificate). */
SSL_CTX *tls_server_ctx_new(X509 *cert, EVP_PKEY *key);

/* A client context with the same protocol floor and NO certificate
 * verification: the control-channel protocol proves the server inside the
 * WebSocket (spec 2.1). Returns a new context or NULL. */
SSL_CTX *tls_client_ctx_new(void);

struct tls_pump {
  SSL *ssl;
  BIO *rbio; /* network -> SSL, owned by ssl */
  BIO *wbio; /* SSL -> network, owned by ssl */
  int established;
};

/* Sets up one connection on ctx (borrowed; SSL_new takes a reference).
 * server selects the role; sni (borrowed, may be NULL) is sent by clients.
 * Returns 0, MESH_E_NOMEM or MESH_E_CRYPTO (nothing to clean up then). */
int tls_pump_init(struct tls_pump *t, SSL_CTX *ctx, int server,
                  const char *sni);
void tls_pump_cleanup(struct tls_pump *t);

/* Hands n received ciphertext bytes (borrowed) to OpenSSL. 0 or
 * MESH_E_NOMEM. */
int tls_pump_feed(struct tls_pump *t, const uint8_t *p, size_t n);
/* Advances the handshake. Returns 0 once established (t->established is
 * then set), MESH_E_INCOMPLETE while more input is needed, MESH_E_CRYPTO
 * when the peer is not speaking TLS or the handshake failed; the OpenSSL
 * reason is written to why (at least 128 bytes), which the caller logs. */
int tls_pump_handshake(struct tls_pump *t, char *why, size_t whylen);
/* Reads decrypted bytes into out. Returns the count (> 0),
 * MESH_E_INCOMPLETE when none are available, MESH_E_CLOSED after the peer's
 * close_notify, or MESH_E_CRYPTO (reason in why). */
ssize_t tls_pump_read(struct tls_pump *t, uint8_t *out, size_t cap, char *why,
                      size_t whylen);
/* Encrypts all n bytes (borrowed). 0 or MESH_E_CRYPTO. */
int tls_pump_write(struct tls_pump *t, const void *p, size_t n);
/* Queues close_notify. */
void tls_pump_shutdown(struct tls_pump *t);
/* Frees OpenSSL's record buffers (16 KB or more each) when nothing is in
 * them: call when the connection goes idle. They come back on demand. */
void tls_pump_release(struct tls_pump *t);
/* Ciphertext waiting to go out, and a way to move it: tls_pump_take()
 * copies up to cap bytes into out and returns how many. */
size_t tls_pump_pending(const struct tls_pump *t);
size_t tls_pump_take(struct tls_pump *t, uint8_t *out, size_t cap);

#endif
