/*
 * net_mem_test.c - what an idle connection keeps in memory.
 *
 * An idle relay tunnel is two TLS WebSockets, so the buffers a connection
 * holds between messages are paid twice per tunnel and thousands of times
 * per server. These tests count the memory itself instead of trusting
 * comments: OpenSSL's allocations through CRYPTO_set_mem_functions (set
 * before anything else runs), and wslay's frame contexts by defining
 * wslay_frame_context_init/free in this program, which the linker then
 * prefers to libwslay's (the real ones are reached with RTLD_NEXT); the
 * server's heap trims are counted the same way through malloc_trim.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "base/err.h"
#include "net/http_srv.h"
#include "net/stream.h"
#include "net/tls.h"
#include "net/ws_session.h"
#include "testutil.h"

/* ---- Counting OpenSSL's heap ---- */

/* Each block carries its size in front (16 bytes keep the alignment). */
#define HDR 16
static size_t ossl_live;

static void *count_malloc(size_t n, const char *file, int line) {
  (void)file;
  (void)line;
  uint8_t *p = malloc(HDR + n);
  if (!p) return NULL;
  memcpy(p, &n, sizeof n);
  ossl_live += n;
  return p + HDR;
}

static void count_free(void *q, const char *file, int line) {
  (void)file;
  (void)line;
  if (!q) return;
  uint8_t *p = (uint8_t *)q - HDR;
  size_t n;
  memcpy(&n, p, sizeof n);
  ossl_live -= n;
  free(p);
}

static void *count_realloc(void *q, size_t n, const char *file, int line) {
  if (!q) return count_malloc(n, file, line);
  if (n == 0) {
    count_free(q, file, line);
    return NULL;
  }
  uint8_t *p = (uint8_t *)q - HDR;
  size_t old;
  memcpy(&old, p, sizeof old);
  uint8_t *np = realloc(p, HDR + n);
  if (!np) return NULL;
  memcpy(np, &n, sizeof n);
  ossl_live = ossl_live - old + n;
  return np + HDR;
}

/* ---- Counting wslay frame contexts ---- */

static int wslay_live;

int wslay_frame_context_init(wslay_frame_context_ptr *ctx,
                             const struct wslay_frame_callbacks *callbacks,
                             void *user_data) {
  int (*real)(wslay_frame_context_ptr *, const struct wslay_frame_callbacks *,
              void *);
  *(void **)&real = dlsym(RTLD_NEXT, "wslay_frame_context_init");
  int r = real(ctx, callbacks, user_data);
  if (r == 0) wslay_live++;
  return r;
}

void wslay_frame_context_free(wslay_frame_context_ptr ctx) {
  void (*real)(wslay_frame_context_ptr);
  *(void **)&real = dlsym(RTLD_NEXT, "wslay_frame_context_free");
  if (ctx) wslay_live--;
  real(ctx);
}

/* ---- ws_session: no parse buffer between frames ---- */

struct rx {
  int n;
  size_t len;
  uint8_t data[70000];
};

static void on_msg(struct ws_session *s, enum ws_type t, const uint8_t *p,
                   size_t n, void *data) {
  (void)s;
  (void)t;
  struct rx *rx = data;
  rx->n++;
  rx->len = n;
  memcpy(rx->data, p, n);
}

/* The frames `from` queued, taken out of its output buffer. */
static uint8_t *take_out(struct ws_session *from, size_t *n) {
  struct buf *o = ws_session_out(from);
  *n = o->len;
  uint8_t *p = malloc(o->len);
  memcpy(p, o->data, o->len);
  buf_reset(o);
  return p;
}

/* One message of n bytes from a session of role `from` to its opposite,
 * fed split at every offset in the header and around the payload: the
 * receiver holds a frame context exactly while a frame is incomplete, and
 * the message arrives whole either way. */
static void split_everywhere(enum ws_role from, size_t n) {
  static uint8_t msg[70000];
  for (size_t i = 0; i < n; i++) msg[i] = (uint8_t)(i * 7 + 1);
  struct rx *rx = calloc(1, sizeof *rx);
  struct ws_session *tx, *rcv;
  enum ws_role to = from == WS_ROLE_CLIENT ? WS_ROLE_SERVER : WS_ROLE_CLIENT;
  assert_int_equal(ws_session_new(from, NULL, NULL, &tx), 0);
  assert_int_equal(ws_session_new(to, on_msg, rx, &rcv), 0);
  assert_int_equal(wslay_live, 0);
  assert_int_equal(ws_session_send(tx, WS_BINARY, msg, n), 0);
  size_t len;
  uint8_t *wire = take_out(tx, &len);
  size_t cuts[] = {1, 2, 3, 4, 5, 6, 7, 9, 13, 15, len / 2, len - 1};
  for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
    size_t k = cuts[c];
    if (k == 0 || k >= len) continue;
    rx->n = 0;
    assert_int_equal(ws_session_feed(rcv, wire, k), 0);
    assert_int_equal(wslay_live, 1);
    assert_int_equal(rx->n, 0);
    /* Never much more than what has arrived. */
    assert_true(ws_session_reassembly_cap(rcv) <= 64 * 1024 ||
                ws_session_reassembly_cap(rcv) <= 2 * k);
    assert_int_equal(ws_session_feed(rcv, wire + k, len - k), 0);
    assert_int_equal(wslay_live, 0);
    assert_int_equal(rx->n, 1);
    /* Whatever was kept for the next message goes when told. */
    ws_session_release_input(rcv);
    assert_int_equal(ws_session_reassembly_cap(rcv), 0);
    assert_int_equal(rx->len, n);
    assert_memory_equal(rx->data, msg, n);
  }
  /* Byte at a time. */
  rx->n = 0;
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(ws_session_feed(rcv, wire + i, 1), 0);
    assert_int_equal(wslay_live, i + 1 < len ? 1 : 0);
  }
  assert_int_equal(rx->n, 1);
  assert_memory_equal(rx->data, msg, n);
  /* Reassembled (it never came whole): kept for the next message. */
  if (n > 1) assert_true(ws_session_reassembly_cap(rcv) >= n);
  ws_session_release_input(rcv);
  assert_int_equal(ws_session_reassembly_cap(rcv), 0);
  free(wire);
  ws_session_free(tx);
  ws_session_free(rcv);
  free(rx);
}

/* Payload lengths in each header form: 7-bit, 16-bit, 64-bit. */
static void ws_split_frames(void **state) {
  (void)state;
  size_t sizes[] = {0, 1, 125, 126, 4096, 65535, 65536, 66000};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    split_everywhere(WS_ROLE_CLIENT, sizes[i]);
    split_everywhere(WS_ROLE_SERVER, sizes[i]);
  }
}

/* Several frames in one feed: a context only if the last is cut short;
 * a ping inside a fragmented message does not keep one either. */
static void ws_frame_runs(void **state) {
  (void)state;
  struct rx *rx = calloc(1, sizeof *rx);
  struct ws_session *cli, *srv;
  assert_int_equal(ws_session_new(WS_ROLE_CLIENT, NULL, NULL, &cli), 0);
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, on_msg, rx, &srv), 0);
  ws_session_set_fragment(cli, 10);
  assert_int_equal(
      ws_session_send(cli, WS_TEXT, "abcdefghijklmnopqrstuvwxy", 25), 0);
  size_t n1, n2;
  uint8_t *a = take_out(cli, &n1); /* three frames */
  assert_int_equal(ws_session_ping(cli, "p", 1), 0);
  uint8_t *b = take_out(cli, &n2);
  /* First fragment, then the ping, then the rest. */
  size_t first = 2 + 4 + 10;
  assert_int_equal(ws_session_feed(srv, a, first), 0);
  assert_int_equal(wslay_live, 0);
  assert_int_equal(ws_session_feed(srv, b, n2), 0);
  assert_int_equal(wslay_live, 0);
  /* Idle between fragments: the first fragment stays. */
  ws_session_release_input(srv);
  assert_true(ws_session_reassembly_cap(srv) >= 10);
  assert_int_equal(ws_session_feed(srv, a + first, n1 - first - 3), 0);
  assert_int_equal(wslay_live, 1);
  assert_int_equal(rx->n, 0);
  assert_int_equal(ws_session_feed(srv, a + n1 - 3, 3), 0);
  assert_int_equal(wslay_live, 0);
  assert_int_equal(rx->n, 1);
  assert_int_equal(rx->len, 25);
  assert_memory_equal(rx->data, "abcdefghijklmnopqrstuvwxy", 25);
  free(a);
  free(b);
  /* A close frame ends reading: nothing is kept after it, even when
   * bytes follow it in the same feed. */
  assert_int_equal(ws_session_close(cli, 1000, "bye"), 0);
  a = take_out(cli, &n1);
  uint8_t twice[64];
  memcpy(twice, a, n1);
  memcpy(twice + n1, a, 3);
  assert_int_equal(ws_session_feed(srv, twice, n1 + 3), 0);
  assert_true(ws_session_close_received(srv));
  assert_int_equal(wslay_live, 0);
  free(a);
  ws_session_free(cli);
  ws_session_free(srv);
  free(rx);
}

/* A frame that announces 4 MiB and brings a few bytes gets a reassembly
 * buffer of at most 64 KiB, which grows only as the bytes come. */
static void ws_announced_not_sent(void **state) {
  (void)state;
  struct rx *rx = calloc(1, sizeof *rx);
  struct ws_session *srv;
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, on_msg, rx, &srv), 0);
  uint8_t f[14 + 100] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0,
                         0x40, 0,          0, 0, 0, 0, 0};
  assert_int_equal(ws_session_feed(srv, f, sizeof f), 0);
  assert_true(ws_session_reassembly_cap(srv) > 0);
  assert_true(ws_session_reassembly_cap(srv) <= 64 * 1024);
  static uint8_t more[100 * 1024];
  assert_int_equal(ws_session_feed(srv, more, sizeof more), 0);
  assert_true(ws_session_reassembly_cap(srv) >= 100 * 1024 + 100);
  assert_true(ws_session_reassembly_cap(srv) <= 256 * 1024);
  assert_int_equal(rx->n, 0);
  ws_session_free(srv);
  free(rx);
}

/* A protocol error mid-frame frees the context at once; so does freeing
 * a session that holds one. */
static void ws_failure_and_free(void **state) {
  (void)state;
  struct ws_session *srv;
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, NULL, NULL, &srv), 0);
  static const uint8_t unmasked[] = {0x82, 0x05, 'a', 'b'};
  assert_int_equal(ws_session_feed(srv, unmasked, sizeof unmasked),
                   MESH_E_MALFORMED);
  assert_int_equal(wslay_live, 0);
  ws_session_free(srv);
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, NULL, NULL, &srv), 0);
  static const uint8_t half[] = {0x82, 0x85, 1, 2};
  assert_int_equal(ws_session_feed(srv, half, sizeof half), 0);
  assert_int_equal(wslay_live, 1);
  ws_session_free(srv);
  assert_int_equal(wslay_live, 0);
}

/* ---- tls_pump: no record buffers on an idle connection ---- */

/* Moves all ciphertext from a to b. */
static void shuttle(struct tls_pump *a, struct tls_pump *b) {
  static uint8_t tmp[256 * 1024];
  size_t n;
  while ((n = tls_pump_take(a, tmp, sizeof tmp)) > 0)
    assert_int_equal(tls_pump_feed(b, tmp, n), 0);
}

/* Reads all plaintext p has; returns how much. */
static size_t drain(struct tls_pump *p) {
  static uint8_t tmp[64 * 1024];
  char why[256];
  size_t total = 0;
  ssize_t n;
  while ((n = tls_pump_read(p, tmp, sizeof tmp, why, sizeof why)) > 0)
    total += (size_t)n;
  assert_int_equal(n, MESH_E_INCOMPLETE);
  return total;
}

/* Sends n bytes from a to b, as stream.c does: write, move the
 * ciphertext, read it all, release both sides. */
static void send_and_release(struct tls_pump *a, struct tls_pump *b, size_t n,
                             int release) {
  static uint8_t msg[256 * 1024];
  memset(msg, 'm', n);
  assert_int_equal(tls_pump_write(a, msg, n), 0);
  shuttle(a, b);
  assert_int_equal(drain(b), n);
  if (release) {
    tls_pump_release(a);
    tls_pump_release(b);
  }
}

/* What an established, idle pair of pumps may hold in all: the SSL
 * objects, their sessions, cipher contexts, key shares and BIOs (OpenSSL
 * 3.0.19 counts 15.2 KB for the server, 18.1 KB for the client, which also
 * keeps the server's certificate). One record buffer kept by either side
 * (16 KB and more) breaks it. */
#define IDLE_PAIR_MAX (40 * 1024)

/* A client and a server pump, handshaken in memory. */
static void pump_pair(struct tls_pump *srv, struct tls_pump *cli) {
  char why[256];
  assert_int_equal(tls_pump_init(srv, tu_srv_ctx, 1, NULL), 0);
  assert_int_equal(tls_pump_init(cli, tu_cli_ctx, 0, "meshd-test"), 0);
  for (int i = 0; i < 10 && !(srv->established && cli->established); i++) {
    tls_pump_handshake(cli, why, sizeof why);
    shuttle(cli, srv);
    tls_pump_handshake(srv, why, sizeof why);
    shuttle(srv, cli);
  }
  assert_true(srv->established && cli->established);
}

static void tls_idle_buffers(void **state) {
  (void)state;
  struct tls_pump srv, cli;
  /* The first handshake fills OpenSSL's process-wide caches (algorithm
   * fetches, curve tables): not what a connection holds. */
  pump_pair(&srv, &cli);
  tls_pump_cleanup(&srv);
  tls_pump_cleanup(&cli);
  size_t base = ossl_live;
  pump_pair(&srv, &cli);
  tls_pump_release(&srv);
  tls_pump_release(&cli);
  size_t idle = ossl_live - base;
  print_message("idle pair after the handshake: %zu bytes\n", idle);
  assert_true(idle < IDLE_PAIR_MAX);
  /* A small message each way (the relay's "c", a keystroke), then bulk
   * data: many full records. */
  send_and_release(&srv, &cli, 1, 1);
  send_and_release(&cli, &srv, 1, 1);
  send_and_release(&cli, &srv, 200 * 1024, 1);
  send_and_release(&srv, &cli, 200 * 1024, 1);
  print_message("idle pair after data: %zu bytes\n", ossl_live - base);
  assert_true(ossl_live - base < IDLE_PAIR_MAX);
  /* Control: OpenSSL itself frees its empty record buffers (so a small
   * write needs no release), but after bulk data the memory BIOs keep the
   * largest buffer they held until tls_pump_release swaps them. */
  send_and_release(&srv, &cli, 1000, 0);
  assert_true(ossl_live - base < IDLE_PAIR_MAX);
  send_and_release(&srv, &cli, 200 * 1024, 0);
  assert_true(ossl_live - base >= IDLE_PAIR_MAX + 200 * 1024);
  tls_pump_release(&srv);
  tls_pump_release(&cli);
  assert_true(ossl_live - base < IDLE_PAIR_MAX);
  tls_pump_cleanup(&srv);
  tls_pump_cleanup(&cli);
}

/* ---- http_srv: the heap is trimmed after a burst of handshakes ---- */

static int trims;

int malloc_trim(size_t pad) {
  int (*real)(size_t);
  *(void **)&real = dlsym(RTLD_NEXT, "malloc_trim");
  trims++;
  return real(pad);
}

#define TRIM_MIN 4
#define TRIM_MAX 8
#define TRIM_QUIET_MS 300
#define STEADY_MS 100 /* arrivals closer than TRIM_QUIET_MS */
#define MAX_CLIENTS 16

static struct {
  uv_loop_t loop;
  struct http_srv *srv;
  int port;
  struct stream *cli[MAX_CLIENTS];
  int ncli, connected, closed;
  uv_timer_t step;
  int phase, steady_left;
} tt;

static void t_on_connect(struct stream *st, void *data) {
  (void)st;
  (void)data;
  tt.connected++;
}

static void t_on_read(struct stream *st, const uint8_t *p, size_t n,
                      void *data) {
  (void)st;
  (void)p;
  (void)n;
  (void)data;
}

static void t_on_close(struct stream *st, int reason, void *data) {
  (void)st;
  (void)reason;
  (void)data;
  tt.closed++;
}

static const struct stream_cbs t_cbs = {t_on_connect, t_on_read, NULL,
                                        NULL,         NULL,      t_on_close};

static void t_connect(void) {
  struct sockaddr_in a;
  assert_true(tt.ncli < MAX_CLIENTS);
  uv_ip4_addr("127.0.0.1", tt.port, &a);
  struct stream **s = &tt.cli[tt.ncli++];
  assert_int_equal(stream_new(&tt.loop, tu_cli_ctx, &t_cbs, NULL, NULL, s), 0);
  assert_int_equal(stream_connect(*s, (struct sockaddr *)&a, NULL, "t"), 0);
}

static void t_unused_request(struct http_conn *c, const struct http_req *req,
                             void *data) {
  (void)req;
  (void)data;
  http_respond(c, 404, NULL, NULL, NULL, 0);
}

static void t_step(uv_timer_t *tm) {
  switch (tt.phase++) {
    case 0: /* fewer than TRIM_MIN handshakes: never worth a trim */
      assert_int_equal(tt.connected, TRIM_MIN - 1);
      assert_int_equal(trims, 0);
      t_connect();
      uv_timer_start(tm, t_step, 2 * TRIM_QUIET_MS, 0);
      return;
    case 1: /* the burst reached TRIM_MIN and went quiet: one trim */
      assert_int_equal(tt.connected, TRIM_MIN);
      assert_int_equal(trims, 1);
      tt.steady_left = 10;
      uv_timer_start(tm, t_step, 0, STEADY_MS);
      return;
    case 2: /* steady arrivals, never TRIM_QUIET_MS apart */
      t_connect();
      if (--tt.steady_left > 0) {
        tt.phase = 2;
        return;
      }
      uv_timer_start(tm, t_step, STEADY_MS + 50, 0);
      return;
    case 3:
      /* The quiet period since the last arrival has not passed, yet
       * TRIM_MAX handshakes brought a trim. */
      assert_int_equal(tt.connected, TRIM_MIN + 10);
      assert_int_equal(trims, 2);
      for (int i = 0; i < tt.ncli; i++) stream_close(tt.cli[i], 0);
      http_srv_stop(tt.srv, NULL, NULL);
      uv_close((uv_handle_t *)tm, NULL);
      return;
  }
}

static void heap_trim_after_burst(void **state) {
  (void)state;
  memset(&tt, 0, sizeof tt);
  trims = 0;
  assert_int_equal(uv_loop_init(&tt.loop), 0);
  struct http_srv_config cfg = {"127.0.0.1", 0, tu_srv_ctx, t_unused_request,
                                NULL};
  assert_int_equal(http_srv_start(&tt.loop, &cfg, &tt.srv), 0);
  http_srv_set_heap_trim(tt.srv, TRIM_MIN, TRIM_MAX, TRIM_QUIET_MS);
  tt.port = http_srv_port(tt.srv);
  for (int i = 0; i < TRIM_MIN - 1; i++) t_connect();
  uv_timer_init(&tt.loop, &tt.step);
  uv_timer_start(&tt.step, t_step, 2 * TRIM_QUIET_MS, 0);
  uv_run(&tt.loop, UV_RUN_DEFAULT);
  assert_int_equal(tt.phase, 4);
  assert_int_equal(tt.closed, tt.ncli);
  assert_int_equal(uv_loop_close(&tt.loop), 0);
}

int main(void) {
  /* Before OpenSSL allocates anything: blocks must be freed by the
   * functions that allocated them. */
  if (!CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ws_split_frames),
      cmocka_unit_test(ws_frame_runs),
      cmocka_unit_test(ws_announced_not_sent),
      cmocka_unit_test(ws_failure_and_free),
      cmocka_unit_test(tls_idle_buffers),
      cmocka_unit_test(heap_trim_after_burst),
  };
  return cmocka_run_group_tests(tests, tu_tls_setup, tu_tls_teardown);
}
