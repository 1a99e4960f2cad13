#include "net/tls.h"

#include <openssl/buffer.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"

/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are
 * OpenSSL's defaults, which are all AEAD. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

static SSL_CTX *ctx_common(const SSL_METHOD *m) {
  SSL_CTX *c = SSL_CTX_new(m);
  if (!c) return NULL;
  if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(c, TLS12_CIPHERS) != 1) {
    SSL_CTX_free(c);
    return NULL;
  }
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                             SSL_OP_NO_COMPRESSION |
                             SSL_OP_CIPHER_SERVER_PREFERENCE);
  /* Memory BIOs never block; let SSL_write accept buffers that move. */
  SSL_CTX_set_mode(
      c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  return c;
}

SSL_CTX *tls_server_ctx_new(X509 *cert, EVP_PKEY *key) {
  SSL_CTX *c = ctx_common(TLS_server_method());
  if (!c) return NULL;
  /* No resumption: no session cache, and no TLS 1.3 tickets, which would
   * cost a write and memory on every connection for nothing. */
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(c, 0);
  if (SSL_CTX_use_certificate(c, cert) != 1 ||
      SSL_CTX_use_PrivateKey(c, key) != 1 ||
      SSL_CTX_check_private_key(c) != 1) {
    SSL_CTX_free(c);
    return NULL;
  }
  return c;
}

SSL_CTX *tls_client_ctx_new(void) {
  SSL_CTX *c = ctx_common(TLS_client_method());
  if (!c) return NULL;
  SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
  return c;
}

int tls_pump_init(struct tls_pump *t, SSL_CTX *ctx, int server,
                  const char *sni) {
  memset(t, 0, sizeof *t);
  t->ssl = SSL_new(ctx);
  if (!t->ssl) return MESH_E_NOMEM;
  t->rbio = BIO_new(BIO_s_mem());
  t->wbio = BIO_new(BIO_s_mem());
  if (!t->rbio || !t->wbio) {
    BIO_free(t->rbio);
    BIO_free(t->wbio);
    SSL_free(t->ssl);
    t->ssl = NULL;
    return MESH_E_NOMEM;
  }
  /* An empty read BIO means "want more", not EOF. */
  BIO_set_mem_eof_return(t->rbio, -1);
  SSL_set_bio(t->ssl, t->rbio, t->wbio);
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    SSL_set_connect_state(t->ssl);
    if (sni && SSL_set_tlsext_host_name(t->ssl, sni) != 1) {
      tls_pump_cleanup(t);
      return MESH_E_CRYPTO;
    }
  }
  return 0;
}

void tls_pump_cleanup(struct tls_pump *t) {
  SSL_free(t->ssl); /* frees both BIOs */
  t->ssl = NULL;
}

int tls_pump_feed(struct tls_pump *t, const uint8_t *p, size_t n) {
  while (n > 0) {
    int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
    int w = BIO_write(t->rbio, p, chunk);
    if (w <= 0) return MESH_E_NOMEM;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Formats the first queued OpenSSL error and clears the queue. */
static void why_ssl(int err, char *why, size_t whylen) {
  unsigned long e = ERR_get_error();
  if (e)
    ERR_error_string_n(e, why, whylen);
  else
    snprintf(why, whylen, "ssl error %d", err);
  ERR_clear_error();
}

int tls_pump_handshake(struct tls_pump *t, char *why, size_t whylen) {
  if (t->established) return 0;
  ERR_clear_error();
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->established = 1;
    return 0;
  }
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return MESH_E_INCOMPLETE;
  why_ssl(e, why, whylen);
  return MESH_E_CRYPTO;
}

ssize_t tls_pump_read(struct tls_pump *t, uint8_t *out, size_t cap, char *why,
                      size_t whylen) {
  /* With nothing buffered anywhere, calling SSL_read would only allocate
   * its 16 KB record buffer to find no record: with
   * SSL_MODE_RELEASE_BUFFERS that buffer is otherwise freed after each
   * record, and an idle connection then holds none. */
  if (BIO_ctrl_pending(t->rbio) == 0 && !SSL_has_pending(t->ssl))
    return MESH_E_INCOMPLETE;
  ERR_clear_error();
  int n = SSL_read(t->ssl, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
  if (n > 0) return n;
  int e = SSL_get_error(t->ssl, n);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
    return MESH_E_INCOMPLETE;
  if (e == SSL_ERROR_ZERO_RETURN) return MESH_E_CLOSED;
  why_ssl(e, why, whylen);
  return MESH_E_CRYPTO;
}

int tls_pump_write(struct tls_pump *t, const void *p, size_t n) {
  const uint8_t *b = p;
  ERR_clear_error();
  while (n > 0) {
    int chunk = n > INT32_MAX ? INT32_MAX : (int)n;
    int w = SSL_write(t->ssl, b, chunk);
    if (w <= 0) {
      ERR_clear_error();
      return MESH_E_CRYPTO;
    }
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

void tls_pump_shutdown(struct tls_pump *t) {
  if (t->established) SSL_shutdown(t->ssl);
  ERR_clear_error();
}

/* A memory BIO keeps the largest buffer it ever held (the handshake's
 * few KB): an empty one that grew is swapped for a fresh one. */
static BIO *fresh_if_grown(BIO *b) {
  BUF_MEM *m = NULL;
  if (BIO_get_mem_ptr(b, &m) != 1 || !m || m->length != 0 || m->max <= 1024)
    return NULL;
  BIO *n = BIO_new(BIO_s_mem());
  if (n) BIO_set_mem_eof_return(n, -1);
  return n;
}

void tls_pump_release(struct tls_pump *t) {
  if (!t->ssl) return;
  /* With SSL_MODE_RELEASE_BUFFERS, OpenSSL 3.0 frees its record buffers
   * itself once they are empty (net_mem_test measures it); this call
   * costs nothing then, catches a buffer a version might keep, and fails
   * harmlessly while one is in use. What grows here is the BIOs. */
  SSL_free_buffers(t->ssl);
  BIO *r = fresh_if_grown(t->rbio), *w = fresh_if_grown(t->wbio);
  if (r) {
    SSL_set0_rbio(t->ssl, r); /* frees the old one */
    t->rbio = r;
  }
  if (w) {
    SSL_set0_wbio(t->ssl, w);
    t->wbio = w;
  }
}

size_t tls_pump_pending(const struct tls_pump *t) {
  return BIO_ctrl_pending(t->wbio);
}

size_t tls_pump_take(struct tls_pump *t, uint8_t *out, size_t cap) {
  int n = BIO_read(t->wbio, out, cap > INT32_MAX ? INT32_MAX : (int)cap);
  return n > 0 ? (size_t)n : 0;
}
