/*
 * rtc_dtls_test.c - the DTLS server against a real OpenSSL DTLS client in
 * the same process, over an in-memory "network" that can reorder,
 * duplicate and drop datagrams, on a real uv loop (retransmissions come
 * from the module's timer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/rtc_dtls.h"
#include "base/err.h"
#include "testutil.h"

#define MSGS 20

struct dgram {
  struct dgram *next;
  size_t no; /* its number in its direction, from 0 */
  size_t n;
  uint8_t p[];
};

struct queue {
  struct dgram *head, **tail;
  size_t sent; /* datagrams ever queued */
};

enum free_in { FREE_NONE, FREE_SEND, FREE_CONNECTED, FREE_DATA, FREE_CLOSED };

struct net {
  uv_loop_t loop;
  uv_timer_t tick;
  struct rtc_dtls *srv;
  SSL_CTX *cctx;
  SSL *cli;
  BIO *crd, *cwr; /* the client's memory BIOs */
  struct queue to_srv, to_cli;
  /* the network's behaviour */
  int reverse, dup;
  size_t drop_cli_first;              /* server datagrams 0..n-1 lost */
  size_t drop_srv_from, drop_srv_end; /* client datagrams [from, end) lost */
  int deliver_cli;                    /* 0: the client vanished */
  enum free_in free_in;
  /* what happened */
  int connected, closed, closed_err, after_free, cli_done, cli_failed;
  int cli_closed, cli_wrote, echo;
  int garbage; /* once connected, feed forged records */
  int pack;    /* the client sends each flight as one datagram */
  /* Client datagrams holding records of both epochs, and how many records
   * the largest of them held. */
  size_t mixed_dgrams, mixed_records;
  const char *why;
  size_t max_dgram, srv_dgrams;
  int srv_got[MSGS], cli_got[MSGS];
  int (*done)(struct net *n);
  int finished;
  uint64_t started, closed_at;
};

static void q_push(struct queue *q, const uint8_t *p, size_t n) {
  struct dgram *g = malloc(sizeof *g + n);
  assert_non_null(g);
  g->next = NULL;
  g->no = q->sent;
  g->n = n;
  memcpy(g->p, p, n);
  *q->tail = g;
  q->tail = &g->next;
  q->sent++;
}

/* Takes every queued datagram, in order, as a list. */
static struct dgram *q_take(struct queue *q) {
  struct dgram *h = q->head;
  q->head = NULL;
  q->tail = &q->head;
  return h;
}

static void q_clear(struct queue *q) {
  for (struct dgram *g = q_take(q), *x; g; g = x) {
    x = g->next;
    free(g);
  }
}

/* Server callbacks. After a free no callback may come. */
static void srv_send(struct rtc_dtls *d, const uint8_t *p, size_t n,
                     void *data) {
  struct net *t = data;
  (void)d;
  if (!t->srv) t->after_free++;
  if (n > t->max_dgram) t->max_dgram = n;
  t->srv_dgrams++;
  q_push(&t->to_cli, p, n);
  if (t->free_in == FREE_SEND && t->srv) {
    rtc_dtls_free(t->srv);
    t->srv = NULL;
  }
}

static void srv_connected(struct rtc_dtls *d, void *data) {
  struct net *t = data;
  (void)d;
  if (!t->srv) t->after_free++;
  t->connected++;
  if (t->free_in == FREE_CONNECTED) {
    rtc_dtls_free(t->srv);
    t->srv = NULL;
  }
}

static void srv_data(struct rtc_dtls *d, const uint8_t *p, size_t n,
                     void *data) {
  struct net *t = data;
  unsigned i;
  if (!t->srv) t->after_free++;
  assert_int_equal(n, 8);
  assert_int_equal(sscanf((const char *)p, "msg-%03u", &i), 1);
  assert_true(i < MSGS);
  t->srv_got[i]++;
  if (t->echo) assert_int_equal(rtc_dtls_send(d, p, n), 0);
  if (t->free_in == FREE_DATA) {
    rtc_dtls_free(t->srv);
    t->srv = NULL;
  }
}

static void srv_closed(struct rtc_dtls *d, int err, const char *why,
                       void *data) {
  struct net *t = data;
  (void)d;
  if (!t->srv) t->after_free++;
  t->closed++;
  t->closed_at = uv_now(&t->loop);
  t->closed_err = err;
  t->why = why;
  if (t->free_in == FREE_CLOSED) {
    rtc_dtls_free(t->srv);
    t->srv = NULL;
  }
}

static const struct rtc_dtls_cbs cbs = {srv_send, srv_connected, srv_data,
                                        srv_closed};

/* The client's output, split into one datagram per record (13-byte
 * header, epoch at offset 3, length at offset 11), or with t->pack all
 * that it wrote at once in one datagram: Chrome sends its second flight
 * (Certificate, ClientKeyExchange, CertificateVerify, ChangeCipherSpec and
 * the epoch-1 Finished) that way. */
static void cli_flush(struct net *t) {
  uint8_t buf[4096];
  int k;
  while ((k = BIO_read(t->cwr, buf, sizeof buf)) > 0) {
    size_t off = 0, records = 0;
    int epochs = 0; /* bit e: a record of epoch e */
    while (off + 13 <= (size_t)k) {
      size_t len = 13 + ((size_t)buf[off + 11] << 8 | buf[off + 12]);
      assert_true(off + len <= (size_t)k);
      epochs |= 1 << (buf[off + 4] & 1);
      records++;
      if (!t->pack) q_push(&t->to_srv, buf + off, len);
      off += len;
    }
    assert_int_equal(off, (size_t)k);
    if (!t->pack) continue;
    assert_true(k < (int)sizeof buf); /* not cut at the buffer's end */
    q_push(&t->to_srv, buf, (size_t)k);
    if (epochs == 3) {
      t->mixed_dgrams++;
      if (records > t->mixed_records) t->mixed_records = records;
    }
  }
}

static void cli_pump(struct net *t) {
  if (!t->cli_done && !t->cli_failed) {
    ERR_clear_error();
    int r = SSL_do_handshake(t->cli);
    if (r == 1)
      t->cli_done = 1;
    else if (SSL_get_error(t->cli, r) != SSL_ERROR_WANT_READ)
      t->cli_failed = 1;
  }
  if (t->cli_done && !t->cli_closed) {
    uint8_t buf[256];
    int k;
    unsigned i;
    ERR_clear_error();
    while ((k = SSL_read(t->cli, buf, sizeof buf - 1)) > 0) {
      buf[k] = 0;
      assert_int_equal(sscanf((char *)buf, "msg-%03u", &i), 1);
      assert_true(i < MSGS);
      t->cli_got[i]++;
    }
    if (SSL_get_error(t->cli, k) == SSL_ERROR_ZERO_RETURN) t->cli_closed = 1;
  }
  ERR_clear_error();
  cli_flush(t);
}

static struct dgram *reverse(struct dgram *g) {
  struct dgram *r = NULL;
  while (g) {
    struct dgram *x = g->next;
    g->next = r;
    r = g;
    g = x;
  }
  return r;
}

static void finish_test(struct net *t) {
  if (t->finished) return;
  t->finished = 1;
  if (t->srv) rtc_dtls_free(t->srv);
  t->srv = NULL;
  uv_close((uv_handle_t *)&t->tick, NULL);
}

/* Whether the network loses datagram number no (in send order) of a
 * direction. */
static int lost(size_t no, size_t from, size_t end) {
  return no >= from && no < end;
}

/* Every 2 ms: carry what each side sent, per the network's behaviour, and
 * run the client's own timer. */
static void on_tick(uv_timer_t *h) {
  struct net *t = h->data;
  struct dgram *g = q_take(&t->to_srv);
  if (t->reverse) g = reverse(g);
  for (struct dgram *x; g; g = x) {
    x = g->next;
    if (t->srv && !lost(g->no, t->drop_srv_from, t->drop_srv_end)) {
      for (int k = 0; k < (t->dup ? 2 : 1) && t->srv; k++) {
        int r = rtc_dtls_input(t->srv, g->p, g->n);
        assert_true(r == 0 || r == MESH_E_CLOSED);
      }
    }
    free(g);
  }
  g = q_take(&t->to_cli);
  if (t->reverse) g = reverse(g);
  for (struct dgram *x; g; g = x) {
    x = g->next;
    if (t->deliver_cli && !lost(g->no, 0, t->drop_cli_first)) {
      for (int k = 0; k < (t->dup ? 2 : 1); k++) {
        BIO_write(t->crd, g->p, (int)g->n);
        cli_pump(t);
      }
    }
    free(g);
  }
  if (t->deliver_cli) {
    ERR_clear_error();
    DTLSv1_handle_timeout(t->cli);
    cli_pump(t);
  }
  if (t->done(t) ||
      uv_now(&t->loop) - t->started > 20000) /* the test fails below */
    finish_test(t);
}

static void net_init(struct net *t, const uint8_t fp[RTC_DTLS_FP_LEN],
                     uint64_t handshake_ms, int (*done)(struct net *)) {
  EVP_PKEY *key;
  X509 *cert = tu_self_signed("browser", &key);
  uint8_t own[RTC_DTLS_FP_LEN];
  unsigned len;
  memset(t, 0, sizeof *t);
  t->to_srv.tail = &t->to_srv.head;
  t->to_cli.tail = &t->to_cli.head;
  t->deliver_cli = 1;
  t->done = done;
  assert_int_equal(uv_loop_init(&t->loop), 0);
  assert_int_equal(uv_timer_init(&t->loop, &t->tick), 0);
  t->tick.data = t;
  /* The browser's side: its own self-signed certificate, the suites a
   * browser offers, and a short retransmission timer. */
  t->cctx = SSL_CTX_new(DTLS_client_method());
  assert_non_null(t->cctx);
  assert_int_equal(SSL_CTX_use_certificate(t->cctx, cert), 1);
  assert_int_equal(SSL_CTX_use_PrivateKey(t->cctx, key), 1);
  assert_int_equal(
      SSL_CTX_set_cipher_list(t->cctx,
                              "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-"
                              "GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-AES128-SHA"),
      1);
  SSL_CTX_set_verify(t->cctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_options(t->cctx, SSL_OP_NO_QUERY_MTU);
  t->cli = SSL_new(t->cctx);
  t->crd = BIO_new(BIO_s_mem());
  t->cwr = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(t->crd, -1);
  BIO_set_mem_eof_return(t->cwr, -1);
  SSL_set_bio(t->cli, t->crd, t->cwr);
  SSL_set_connect_state(t->cli);
  DTLS_set_link_mtu(t->cli, 1200);
  if (!fp) {
    assert_int_equal(X509_digest(cert, EVP_sha256(), own, &len), 1);
    fp = own;
  }
  assert_int_equal(rtc_dtls_new(&t->loop, fp, handshake_ms, &cbs, t, &t->srv),
                   0);
  X509_free(cert);
  EVP_PKEY_free(key);
  t->started = uv_now(&t->loop);
  cli_pump(t); /* the ClientHello */
  assert_int_equal(uv_timer_start(&t->tick, on_tick, 2, 2), 0);
}

static void net_run(struct net *t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
  assert_true(t->finished);
  assert_int_equal(t->after_free, 0);
  assert_int_equal(uv_loop_close(&t->loop), 0); /* no handle left */
  q_clear(&t->to_srv);
  q_clear(&t->to_cli);
  SSL_free(t->cli);
  SSL_CTX_free(t->cctx);
}

/* Records with random bodies and sequence numbers: they fail authentication and
 * must be dropped without harm to the connection. */
static void feed_forged_records(struct net *t) {
  uint8_t r[200];
  for (size_t i = 0; i < 2 * (sizeof r - 13) && t->srv; i++) {
    /* Every body length, then random ones. */
    size_t n = 13 + (i < sizeof r - 13 ? i : tu_rand() % (sizeof r - 13));
    for (size_t k = 0; k < n; k++) r[k] = (uint8_t)tu_rand();
    /* Content types 20..23 of epochs 0 (plaintext, the handshake's) and 1
     * (encrypted, the current one). */
    memcpy(r, "\x17\xfe\xfd\x00\x01", 5);
    r[0] = (uint8_t)(20 + i % 4);
    r[4] = (uint8_t)(i / 4 % 2);
    r[11] = (uint8_t)((n - 13) >> 8);
    r[12] = (uint8_t)(n - 13);
    assert_int_equal(rtc_dtls_input(t->srv, r, n), 0);
  }
}

/* Once both sides are up the client sends MSGS messages (once). */
static void client_sends(struct net *t) {
  if (!t->cli_done || t->cli_wrote) return;
  t->cli_wrote = 1;
  if (t->garbage) feed_forged_records(t);
  for (unsigned i = 0; i < MSGS; i++) {
    char m[9];
    snprintf(m, sizeof m, "msg-%03u", i);
    assert_int_equal(SSL_write(t->cli, m, 8), 8);
  }
  cli_flush(t);
}

static int all_once(const int *got) {
  for (int i = 0; i < MSGS; i++)
    if (got[i] != 1) return 0;
  return 1;
}

static int done_echo(struct net *t) {
  client_sends(t);
  return all_once(t->srv_got) && all_once(t->cli_got);
}

static void check_server_cert(struct net *t) {
  char text[RTC_DTLS_FP_TEXT], want[RTC_DTLS_FP_TEXT];
  uint8_t fp[32];
  unsigned len;
  X509 *c = SSL_get0_peer_certificate(t->cli);
  assert_non_null(c);
  assert_int_equal(X509_digest(c, EVP_sha256(), fp, &len), 1);
  for (int i = 0; i < 32; i++)
    snprintf(text + 3 * i, 4, i < 31 ? "%02X:" : "%02X", fp[i]);
  assert_int_equal(rtc_dtls_fingerprint(want), 0);
  assert_string_equal(text, want);
  EVP_PKEY *pk = X509_get0_pubkey(c);
  assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
}

static void handshake_and_data(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, RTC_DTLS_HANDSHAKE_MS, done_echo);
  assert_int_equal(rtc_dtls_send(t.srv, (const uint8_t *)"x", 1),
                   MESH_E_PROTO_STATE);
  assert_int_equal(rtc_dtls_data_mtu(t.srv), 1200 - 65);
  t.echo = 1;
  t.garbage = 1;
  uv_run(&t.loop, UV_RUN_DEFAULT);
  assert_true(t.finished);
  assert_int_equal(t.connected, 1);
  assert_true(t.cli_done);
  assert_int_equal(t.closed, 0);
  assert_true(all_once(t.srv_got));
  assert_true(all_once(t.cli_got));
  assert_true(t.max_dgram <= RTC_DTLS_MTU);
  assert_string_equal(SSL_get_cipher_name(t.cli),
                      "ECDHE-ECDSA-AES128-GCM-SHA256");
  check_server_cert(&t);
  /* finish_test freed the server while connected: close_notify went out
   * (the loop ended before it was carried; carry it now). */
  struct dgram *g = q_take(&t.to_cli);
  assert_non_null(g);
  for (struct dgram *x; g; g = x) {
    x = g->next;
    BIO_write(t.crd, g->p, (int)g->n);
    free(g);
  }
  cli_pump(&t);
  assert_true(t.cli_closed);
  net_run(&t);
}

static int done_closed(struct net *t) {
  client_sends(t);
  if (all_once(t->srv_got) && all_once(t->cli_got) && !t->cli_closed) {
    t->cli_closed = 1;
    assert_int_equal(SSL_shutdown(t->cli), 0); /* close_notify */
    cli_flush(t);
  }
  return t->closed > 0;
}

/* Every batch arrives in reverse order and twice, and the first flight of
 * each side is lost: the handshake still completes (server
 * retransmission from its uv timer), every message arrives exactly once,
 * and the client's close_notify closes the server. */
static void lossy_network(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, RTC_DTLS_HANDSHAKE_MS, done_closed);
  t.reverse = 1;
  t.dup = 1;
  t.echo = 1;
  t.drop_cli_first = 2;                    /* ServerHello, Certificate */
  t.drop_srv_from = 1, t.drop_srv_end = 3; /* client Certificate, CKE */
  net_run(&t);
  assert_int_equal(t.connected, 1);
  assert_int_equal(t.closed, 1);
  assert_int_equal(t.closed_err, MESH_E_CLOSED);
  assert_non_null(strstr(t.why, "closed"));
  assert_true(all_once(t.srv_got));
  assert_true(all_once(t.cli_got));
  assert_true(t.max_dgram <= RTC_DTLS_MTU);
  /* More than one handshake and the echoes: the lost ones were sent
   * again. */
  assert_true(t.srv_dgrams > 5 + 2 + MSGS);
}

static int done_echo_or_closed(struct net *t) {
  return done_echo(t) || t->closed;
}

/* The client's second flight arrives as one datagram, as Chrome sends it:
 * its Finished, under the cipher still pending on the server, must not be
 * dropped with the rest (it was: no handshake with Chrome completed). The
 * handshake completes without any retransmission, and data flows both
 * ways. */
static void whole_flight_in_one_datagram(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, 5000, done_echo_or_closed);
  t.pack = 1;
  t.echo = 1;
  net_run(&t);
  assert_int_equal(t.closed, 0);
  assert_int_equal(t.connected, 1);
  assert_true(t.cli_done);
  assert_true(all_once(t.srv_got));
  assert_true(all_once(t.cli_got));
  /* The flight was one datagram: Certificate, ClientKeyExchange,
   * CertificateVerify, ChangeCipherSpec (epoch 0) and Finished (1). */
  assert_int_equal(t.mixed_dgrams, 1);
  assert_int_equal(t.mixed_records, 5);
  /* ClientHello, the flight, the 20 messages: nothing sent twice. */
  assert_int_equal(t.to_srv.sent, 3);
  /* The server's flight (5 records) once, its Finished flight, then the
   * 20 echoes. */
  assert_true(t.srv_dgrams <= 5 + 2 + MSGS);
}

static int done_connected_or_closed(struct net *t) {
  return (t->connected && t->cli_done) || t->closed || t->free_in != FREE_NONE;
}

/* The server's first flight (five records) is lost entirely, and the
 * server's timer (400 ms) resends it before the client's (1 s) would
 * resend the ClientHello. */
static void retransmits_lost_flight(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, RTC_DTLS_HANDSHAKE_MS, done_connected_or_closed);
  t.drop_cli_first = 5;
  net_run(&t);
  assert_int_equal(t.connected, 1);
  assert_true(t.cli_done);
  assert_true(t.srv_dgrams > 5 + 5); /* the flight again, then the last */
}

static uint8_t wrong_fp[RTC_DTLS_FP_LEN] = {1, 2, 3};

static void refuses_wrong_fingerprint(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, wrong_fp, RTC_DTLS_HANDSHAKE_MS, done_connected_or_closed);
  net_run(&t);
  assert_int_equal(t.connected, 0);
  assert_int_equal(t.closed, 1);
  assert_int_equal(t.closed_err, MESH_E_AUTH);
  assert_non_null(strstr(t.why, "fingerprint"));
  assert_false(t.cli_done);
}

static int done_timeout(struct net *t) { return t->closed > 0; }

/* The client sends its ClientHello and vanishes: the server retransmits,
 * then gives up at the deadline. */
static void times_out_without_client(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, 1500, done_timeout);
  t.deliver_cli = 0;
  uint64_t t0 = uv_now(&t.loop);
  net_run(&t);
  assert_int_equal(t.closed, 1);
  assert_int_equal(t.closed_err, MESH_E_TIMEOUT);
  assert_non_null(strstr(t.why, "deadline"));
  uint64_t took = t.closed_at - t0;
  if (took < 1500 || took > 5000)
    fail_msg("timed out after %llu ms", (unsigned long long)took);
  assert_true(t.srv_dgrams > 4); /* the flight, and again after 400 ms */
}

/* Garbage and every truncation of the real ClientHello first: all
 * ignored, and then the real handshake succeeds. */
static void ignores_garbage_and_truncated_hello(void **state) {
  (void)state;
  static struct net t;
  net_init(&t, NULL, RTC_DTLS_HANDSHAKE_MS, done_echo);
  t.echo = 1;
  struct dgram *hello = t.to_srv.head;
  assert_non_null(hello);
  uint8_t junk[1500];
  for (int i = 0; i < 300; i++) {
    size_t n = tu_rand() % sizeof junk;
    for (size_t k = 0; k < n; k++) junk[k] = (uint8_t)tu_rand();
    if (i % 2 && n) junk[0] = (uint8_t)(20 + tu_rand() % 44);
    if (i % 3 == 0 && n > 3) memcpy(junk, "\x16\xfe\xfd", 3);
    assert_int_equal(rtc_dtls_input(t.srv, junk, n), 0);
  }
  for (size_t cut = 0; cut < hello->n; cut++)
    assert_int_equal(rtc_dtls_input(t.srv, hello->p, cut), 0);
  assert_int_equal(t.closed, 0);
  assert_int_equal(t.srv_dgrams, 0); /* nothing answered */
  net_run(&t);
  assert_int_equal(t.connected, 1);
  assert_int_equal(t.closed, 0);
  assert_true(all_once(t.srv_got));
}

/* A ClientHello whose record length is made to fit its cut body: OpenSSL
 * may refuse it or wait for the rest; either way one on_closed comes,
 * at the latest at the (short) deadline. */
static void truncated_hello_with_consistent_length(void **state) {
  (void)state;
  for (size_t cut = 14; cut < 160; cut += 7) {
    static struct net t;
    net_init(&t, NULL, 300, done_timeout);
    t.deliver_cli = 0;
    struct dgram *hello = q_take(&t.to_srv);
    assert_true(cut < hello->n);
    uint8_t buf[1500];
    memcpy(buf, hello->p, cut);
    buf[11] = (uint8_t)((cut - 13) >> 8);
    buf[12] = (uint8_t)(cut - 13);
    int r = rtc_dtls_input(t.srv, buf, cut);
    assert_true(r == 0 || r == MESH_E_CLOSED);
    free(hello);
    net_run(&t);
    assert_int_equal(t.closed, 1);
    assert_true(t.closed_err == MESH_E_TIMEOUT ||
                t.closed_err == MESH_E_PROTO_STATE);
    assert_non_null(t.why);
  }
}

static void frees_from_callbacks(void **state) {
  (void)state;
  static const enum free_in modes[] = {FREE_SEND, FREE_CONNECTED, FREE_DATA,
                                       FREE_CLOSED};
  for (size_t i = 0; i < 4; i++) {
    static struct net t;
    net_init(&t, modes[i] == FREE_CLOSED ? wrong_fp : NULL,
             RTC_DTLS_HANDSHAKE_MS, done_connected_or_closed);
    t.free_in = modes[i];
    t.echo = 1;
    /* Never done by itself: the test ends it after the free. */
    t.done = modes[i] == FREE_DATA ? done_echo : done_timeout;
    /* Run until the server freed itself, then a little longer: no
     * callback may follow the free (net_run checks after_free). */
    while (t.srv) uv_run(&t.loop, UV_RUN_ONCE);
    uint64_t t0 = uv_now(&t.loop);
    while (uv_now(&t.loop) - t0 < 50) uv_run(&t.loop, UV_RUN_ONCE);
    finish_test(&t);
    net_run(&t);
    if (modes[i] == FREE_SEND) {
      /* The rest of the first flight was muted. */
      assert_int_equal(t.srv_dgrams, 1);
      assert_int_equal(t.connected, 0);
    }
    if (modes[i] == FREE_CONNECTED) assert_int_equal(t.connected, 1);
    if (modes[i] == FREE_DATA) {
      int got = 0;
      for (int k = 0; k < MSGS; k++) got += t.srv_got[k];
      assert_int_equal(got, 1);
    }
    if (modes[i] == FREE_CLOSED) assert_int_equal(t.closed, 1);
  }
}

static void refuses_bad_arguments(void **state) {
  (void)state;
  uv_loop_t loop;
  struct rtc_dtls *d = (void *)1;
  struct rtc_dtls_cbs none = cbs;
  none.on_data = NULL;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(rtc_dtls_new(&loop, wrong_fp, 0, &cbs, NULL, &d),
                   MESH_E_INVALID);
  assert_null(d);
  assert_int_equal(rtc_dtls_new(&loop, wrong_fp, 1, &none, NULL, &d),
                   MESH_E_INVALID);
  assert_int_equal(rtc_dtls_new(NULL, wrong_fp, 1, &cbs, NULL, &d),
                   MESH_E_INVALID);
  assert_int_equal(rtc_dtls_input(NULL, wrong_fp, 1), MESH_E_CLOSED);
  rtc_dtls_free(NULL);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(handshake_and_data),
      cmocka_unit_test(lossy_network),
      cmocka_unit_test(whole_flight_in_one_datagram),
      cmocka_unit_test(retransmits_lost_flight),
      cmocka_unit_test(refuses_wrong_fingerprint),
      cmocka_unit_test(times_out_without_client),
      cmocka_unit_test(ignores_garbage_and_truncated_hello),
      cmocka_unit_test(truncated_hello_with_consistent_length),
      cmocka_unit_test(frees_from_callbacks),
      cmocka_unit_test(refuses_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
