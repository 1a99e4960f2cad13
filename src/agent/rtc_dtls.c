/*
 * rtc_dtls.c - DTLS 1.2 server over datagrams handed in and out.
 *
 * OpenSSL sees one BIO of our own (not a memory BIO): a memory BIO is a
 * byte stream and would merge the records of a flight into one blob, while
 * DTLS needs each record written to stay one datagram (each is at most the
 * MTU) and each datagram read to stay one packet. Our BIO's write hands
 * the record straight to the send callback; its read returns the datagram
 * rtc_dtls_input is feeding, once.
 *
 * Reentrancy: the send callback runs inside OpenSSL, so no OpenSSL call on
 * this object may start from it (in_ssl guards that). Any callback may
 * free the object: rtc_dtls_free only marks it (freeing), mutes the BIO
 * and closes the timer; the SSL and the memory go in the timer's close
 * callback on a later loop turn, so the code unwinding back out of a
 * callback still finds its object, sees freeing and stops.
 */
#include "agent/rtc_dtls.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "crypto/cert.h"

/* What browsers offer, strongest first: our certificate is ECDSA, so only
 * ECDHE-ECDSA suites can be chosen. AES-GCM first (every browser offers
 * it), CBC ones kept for older Firefox builds. */
#define RTC_DTLS_CIPHERS                                              \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"      \
  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-" \
  "AES256-SHA"
#define RTC_DTLS_GROUPS "X25519:P-256:P-384"
/* Retransmission: first after 400 ms (OpenSSL's default is 1 s; a lost
 * packet on a fresh path is common), doubling up to 6.4 s. Within the 30 s
 * deadline that is 8 retransmissions, below OpenSSL's limit of 12. */
#define RTC_DTLS_RTX_FIRST_US 400000u
#define RTC_DTLS_RTX_MAX_US 6400000u
/* A record's overhead with the heaviest suite we allow (CBC: header 13,
 * IV 16, MAC 20, padding up to 16): what rtc_dtls_data_mtu assumes
 * before the cipher is known. */
#define RTC_DTLS_MAX_OVERHEAD 65
#define RTC_DTLS_MAX_RECORD 16384

struct rtc_dtls {
  uv_timer_t timer; /* retransmission and the handshake deadline */
  uv_loop_t *loop;
  SSL *ssl;
  struct rtc_dtls_cbs cbs;
  void *data;
  uint8_t peer_fp[RTC_DTLS_FP_LEN];
  uint64_t deadline;   /* loop time by which the handshake must be done */
  const uint8_t *in_p; /* the datagram being fed, until read */
  size_t in_n;
  int in_ssl;      /* inside an OpenSSL call on ssl */
  int connected;   /* on_connected was reported */
  int closed;      /* on_closed was reported */
  int freeing;     /* rtc_dtls_free was called */
  int muted;       /* the BIO drops writes (after free) */
  int fp_mismatch; /* the verify callback refused the peer's cert */
  int alert;       /* a fatal alert the peer sent, or -1 */
  uint8_t rbuf[RTC_DTLS_MAX_RECORD];
};

/* Process-wide: our certificate and the context using it. Made on the
 * loop thread on first use and kept until exit (OpenSSL frees the key,
 * wiping it, if anyone ever frees the context). */
static struct {
  SSL_CTX *ctx;
  BIO_METHOD *bio;
  char fp_text[RTC_DTLS_FP_TEXT];
} g;

static int fp_of(X509 *c, uint8_t out[RTC_DTLS_FP_LEN]) {
  unsigned len = 0;
  if (!c || X509_digest(c, EVP_sha256(), out, &len) != 1 ||
      len != RTC_DTLS_FP_LEN)
    return MESH_E_CRYPTO;
  return 0;
}

static int fp_matches(X509 *c, const uint8_t want[RTC_DTLS_FP_LEN]) {
  uint8_t got[RTC_DTLS_FP_LEN];
  return fp_of(c, got) == 0 && CRYPTO_memcmp(got, want, sizeof got) == 0;
}

/* The peer's certificate is self-signed, so chain checks fail by design;
 * what makes it trusted is its fingerprint. Refusing here (rather than
 * after the handshake) makes OpenSSL send bad_certificate before its
 * Finished, so the browser never believes it is connected. */
static int verify_cb(int ok, X509_STORE_CTX *x) {
  (void)ok;
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  struct rtc_dtls *d = ssl ? SSL_get_app_data(ssl) : NULL;
  if (d && fp_matches(X509_STORE_CTX_get0_cert(x), d->peer_fp)) return 1;
  if (d) d->fp_mismatch = 1;
  X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
  return 0;
}

static void info_cb(const SSL *ssl, int where, int ret) {
  struct rtc_dtls *d = SSL_get_app_data(ssl);
  /* SSL_CB_READ_ALERT shares its SSL_CB_ALERT bit with write alerts. */
  if (d && (where & SSL_CB_ALERT) && (where & SSL_CB_READ) &&
      (ret >> 8) == SSL3_AL_FATAL)
    d->alert = ret & 0xff;
}

static unsigned int timer_cb(SSL *ssl, unsigned int prev_us) {
  (void)ssl;
  if (prev_us == 0) return RTC_DTLS_RTX_FIRST_US;
  return prev_us >= RTC_DTLS_RTX_MAX_US / 2 ? RTC_DTLS_RTX_MAX_US : prev_us * 2;
}

static int bio_write(BIO *b, const char *p, int n) {
  struct rtc_dtls *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (n <= 0) return 0;
  if (!d->muted) d->cbs.send(d, (const uint8_t *)p, (size_t)n, d->data);
  return n; /* a datagram lost on the way is DTLS's business, not ours */
}

static int bio_read(BIO *b, char *p, int n) {
  struct rtc_dtls *d = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  if (!d->in_p || n <= 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  /* A datagram larger than OpenSSL's buffer is cut: its tail would not
   * parse as records anyway. */
  size_t k = d->in_n < (size_t)n ? d->in_n : (size_t)n;
  memcpy(p, d->in_p, k);
  d->in_p = NULL;
  return (int)k;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b, (void)num, (void)ptr;
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU: /* not asked: SSL_OP_NO_QUERY_MTU */
      return RTC_DTLS_MTU;
    default: /* pending bytes, MTU overhead, peer address: none */
      return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int make_ctx(void) {
  struct ident id = {0};
  uint8_t fp[RTC_DTLS_FP_LEN];
  static const char hex[] = "0123456789ABCDEF";
  int r;
  if ((r = ident_new_root("WebRTC", IDENT_EC_P256, &id)) != 0) return r;
  r = MESH_E_CRYPTO;
  SSL_CTX *ctx = SSL_CTX_new(DTLS_server_method());
  BIO_METHOD *bm =
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rtc_dtls");
  if (!ctx || !bm || !BIO_meth_set_write(bm, bio_write) ||
      !BIO_meth_set_read(bm, bio_read) || !BIO_meth_set_ctrl(bm, bio_ctrl) ||
      !BIO_meth_set_create(bm, bio_create) ||
      !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
      !SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION) ||
      SSL_CTX_use_certificate(ctx, id.cert) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, id.key) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1 ||
      SSL_CTX_set_cipher_list(ctx, RTC_DTLS_CIPHERS) != 1 ||
      SSL_CTX_set1_groups_list(ctx, RTC_DTLS_GROUPS) != 1 ||
      fp_of(id.cert, fp) != 0)
    goto out;
  /* No resumption: a resumed session would skip the certificate, and so
   * the fingerprint check. No renegotiation either. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET |
                               SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     verify_cb);
  SSL_CTX_set_info_callback(ctx, info_cb);
  for (size_t i = 0; i < RTC_DTLS_FP_LEN; i++) {
    g.fp_text[3 * i] = hex[fp[i] >> 4];
    g.fp_text[3 * i + 1] = hex[fp[i] & 15];
    g.fp_text[3 * i + 2] = i + 1 < RTC_DTLS_FP_LEN ? ':' : '\0';
  }
  g.ctx = ctx;
  g.bio = bm;
  ctx = NULL;
  bm = NULL;
  r = 0;
out:
  SSL_CTX_free(ctx); /* the context holds its own references */
  BIO_meth_free(bm);
  ident_cleanup(&id);
  ERR_clear_error();
  return r;
}

static int global_init(void) { return g.ctx ? 0 : make_ctx(); }

int rtc_dtls_fingerprint(char out[RTC_DTLS_FP_TEXT]) {
  int r = global_init();
  if (r == 0) memcpy(out, g.fp_text, RTC_DTLS_FP_TEXT);
  return r;
}

static void finish(struct rtc_dtls *d, int err, const char *why) {
  if (d->closed || d->freeing) return;
  d->closed = 1;
  uv_timer_stop(&d->timer);
  log_warn("event=dtls_closed err=%d reason=\"%s\"", err, why);
  d->cbs.on_closed(d, err, why, d->data);
}

/* After a failed handshake or read: says why, in the words of the alert
 * the peer sent or the error OpenSSL found, then reports it. */
static void fail_ssl(struct rtc_dtls *d) {
  unsigned long e = ERR_peek_last_error();
  if (d->fp_mismatch) {
    finish(d, MESH_E_AUTH,
           "DTLS: peer certificate does not match the offer's fingerprint");
  } else if (d->alert >= 0) {
    log_info("event=dtls_alert alert=\"%s\"",
             SSL_alert_desc_string_long(d->alert));
    finish(d, MESH_E_PROTO_STATE, "DTLS: the peer sent a fatal alert");
  } else if (ERR_GET_REASON(e) == SSL_R_READ_TIMEOUT_EXPIRED) {
    finish(d, MESH_E_TIMEOUT, "DTLS: too many retransmissions");
  } else {
    const char *s = ERR_reason_error_string(e);
    log_info("event=dtls_error error=\"%s\"", s ? s : "unknown");
    finish(d, MESH_E_PROTO_STATE, "DTLS: handshake or record error");
  }
  ERR_clear_error();
}

static void on_timer(uv_timer_t *t);

/* Points the timer at the next retransmission or the handshake deadline,
 * whichever comes first. */
static void arm(struct rtc_dtls *d) {
  struct timeval tv;
  uint64_t now = uv_now(d->loop), due = UINT64_MAX;
  if (DTLSv1_get_timeout(d->ssl, &tv) == 1)
    due =
        now + (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
  if (!d->connected && d->deadline < due) due = d->deadline;
  if (due == UINT64_MAX)
    uv_timer_stop(&d->timer);
  else
    uv_timer_start(&d->timer, on_timer, due > now ? due - now : 0, 0);
}

/* Runs the handshake, then reads what application data there is. */
static int pump(struct rtc_dtls *d) {
  int k, e;
  if (!d->connected) {
    ERR_clear_error();
    d->in_ssl = 1;
    k = SSL_do_handshake(d->ssl);
    d->in_ssl = 0;
    if (d->freeing) return MESH_E_CLOSED;
    if (k != 1) {
      e = SSL_get_error(d->ssl, k);
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
        fail_ssl(d);
        return MESH_E_CLOSED;
      }
      ERR_clear_error();
      arm(d);
      return 0;
    }
    /* The verify callback saw this certificate already; checking the
     * one the session holds as well costs one hash. */
    if (!fp_matches(SSL_get0_peer_certificate(d->ssl), d->peer_fp)) {
      finish(d, MESH_E_AUTH,
             "DTLS: peer certificate does not match the offer's fingerprint");
      return MESH_E_CLOSED;
    }
    d->connected = 1;
    arm(d);
    log_info("event=dtls_connected cipher=%s", SSL_get_cipher_name(d->ssl));
    d->cbs.on_connected(d, d->data);
    if (d->freeing || d->closed) return MESH_E_CLOSED;
  }
  for (;;) {
    ERR_clear_error();
    d->in_ssl = 1;
    k = SSL_read(d->ssl, d->rbuf, sizeof d->rbuf);
    d->in_ssl = 0;
    if (d->freeing) return MESH_E_CLOSED;
    if (k > 0) {
      d->cbs.on_data(d, d->rbuf, (size_t)k, d->data);
      if (d->freeing || d->closed) return MESH_E_CLOSED;
      continue;
    }
    e = SSL_get_error(d->ssl, k);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN)
      finish(d, MESH_E_CLOSED, "DTLS: the peer closed the connection");
    else
      fail_ssl(d);
    return MESH_E_CLOSED;
  }
  ERR_clear_error();
  arm(d);
  return 0;
}

static void on_timer(uv_timer_t *t) {
  struct rtc_dtls *d = (struct rtc_dtls *)t;
  if (d->freeing || d->closed) return;
  if (!d->connected && uv_now(d->loop) >= d->deadline) {
    finish(d, MESH_E_TIMEOUT, "DTLS: no handshake within the deadline");
    return;
  }
  ERR_clear_error();
  d->in_ssl = 1;
  int k = DTLSv1_handle_timeout(d->ssl);
  d->in_ssl = 0;
  if (d->freeing) return;
  if (k < 0) {
    fail_ssl(d);
    return;
  }
  ERR_clear_error();
  arm(d);
}

int rtc_dtls_new(uv_loop_t *loop, const uint8_t peer_fp[RTC_DTLS_FP_LEN],
                 uint64_t handshake_ms, const struct rtc_dtls_cbs *cbs,
                 void *data, struct rtc_dtls **out) {
  struct rtc_dtls *d;
  BIO *bio;
  int r;
  if (out) *out = NULL;
  if (!loop || !peer_fp || !cbs || !out || !cbs->send || !cbs->on_connected ||
      !cbs->on_data || !cbs->on_closed || handshake_ms == 0)
    return MESH_E_INVALID;
  if ((r = global_init()) != 0) return r;
  if (!(d = calloc(1, sizeof *d))) return MESH_E_NOMEM;
  d->loop = loop;
  d->cbs = *cbs;
  d->data = data;
  d->alert = -1;
  memcpy(d->peer_fp, peer_fp, RTC_DTLS_FP_LEN);
  if (!(d->ssl = SSL_new(g.ctx)) || !(bio = BIO_new(g.bio))) {
    SSL_free(d->ssl);
    free(d);
    ERR_clear_error();
    return MESH_E_NOMEM;
  }
  BIO_set_data(bio, d);
  SSL_set_bio(d->ssl, bio, bio); /* one reference, held by ssl */
  SSL_set_app_data(d->ssl, d);
  SSL_set_accept_state(d->ssl);
  DTLS_set_link_mtu(d->ssl, RTC_DTLS_MTU);
  DTLS_set_timer_cb(d->ssl, timer_cb);
  uv_timer_init(loop, &d->timer);
  d->deadline = uv_now(loop) + handshake_ms;
  uv_timer_start(&d->timer, on_timer, handshake_ms, 0);
  *out = d;
  return 0;
}

/* Whether OpenSSL may see this datagram. OpenSSL 3.0 ends the whole
 * connection (SSL_ERROR_SYSCALL, empty error queue) on an encrypted
 * record too short to hold the cipher's nonce and tag, so anyone able to
 * put a 14-byte datagram on the path could cut a session; such records,
 * and encrypted ones before a cipher is chosen, are dropped here. A
 * datagram whose records do not tile it exactly is dropped too: OpenSSL
 * would discard it anyway. */
static int datagram_ok(const struct rtc_dtls *d, const uint8_t *p, size_t n) {
  while (n > 0) {
    if (n < 13) return 0;
    size_t len = (size_t)p[11] << 8 | p[12];
    int epoch = p[3] << 8 | p[4];
    if (len > n - 13) return 0;
    if (epoch != 0) {
      /* During the handshake the cipher chosen is still pending: a
       * browser sends its Finished in the datagram of its whole flight. */
      const SSL_CIPHER *c = SSL_get_current_cipher(d->ssl);
      if (!c) c = SSL_get_pending_cipher(d->ssl);
      size_t min;
      if (!c) return 0;
      if (SSL_CIPHER_get_cipher_nid(c) == NID_chacha20_poly1305)
        min = 16; /* tag */
      else if (SSL_CIPHER_is_aead(c))
        min = 24; /* explicit nonce and tag */
      else
        min = 48; /* IV and a block holding MAC and padding */
      if (len < min) return 0;
    }
    p += 13 + len;
    n -= 13 + len;
  }
  return 1;
}

int rtc_dtls_input(struct rtc_dtls *d, const uint8_t *p, size_t n) {
  if (!d || d->freeing || d->closed) return MESH_E_CLOSED;
  if (d->in_ssl) return MESH_E_PROTO_STATE;
  /* RFC 7983 demultiplexing: DTLS records start with 20..63. */
  if (!p || n == 0 || p[0] < 20 || p[0] > 63 || !datagram_ok(d, p, n)) return 0;
  d->in_p = p;
  d->in_n = n;
  int r = pump(d);
  d->in_p = NULL; /* never keep the caller's pointer */
  return r;
}

int rtc_dtls_send(struct rtc_dtls *d, const uint8_t *p, size_t n) {
  if (!d || d->freeing || d->closed) return MESH_E_CLOSED;
  if (d->in_ssl || !d->connected) return MESH_E_PROTO_STATE;
  if (!p || n == 0) return MESH_E_INVALID;
  if (n > RTC_DTLS_MAX_RECORD) return MESH_E_TOO_LARGE;
  ERR_clear_error();
  d->in_ssl = 1;
  int k = SSL_write(d->ssl, p, (int)n);
  d->in_ssl = 0;
  if (d->freeing) return MESH_E_CLOSED;
  if (k != (int)n) {
    fail_ssl(d);
    return MESH_E_CRYPTO;
  }
  return 0;
}

size_t rtc_dtls_data_mtu(const struct rtc_dtls *d) {
  size_t m = d && d->connected ? DTLS_get_data_mtu(d->ssl) : 0;
  return m ? m : RTC_DTLS_MTU - RTC_DTLS_MAX_OVERHEAD;
}

static void on_close(uv_handle_t *h) {
  struct rtc_dtls *d = (struct rtc_dtls *)h;
  SSL_free(d->ssl); /* frees the BIO; OpenSSL wipes the session keys */
  free(d);
}

void rtc_dtls_free(struct rtc_dtls *d) {
  if (!d || d->freeing) return;
  d->freeing = 1;
  if (d->connected && !d->closed && !d->in_ssl) {
    /* close_notify, so the browser's channel ends now rather than by its
     * consent timeout. The send callback may call us again: freeing is
     * already set. */
    ERR_clear_error();
    d->in_ssl = 1;
    (void)SSL_shutdown(d->ssl);
    d->in_ssl = 0;
    ERR_clear_error();
  }
  d->muted = 1;
  uv_timer_stop(&d->timer);
  uv_close((uv_handle_t *)&d->timer, on_close);
}
