#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "net/http_srv.h"
#include "net/stream.h"
#include "net/tls.h"
#include "net/ws.h"
#include "testutil.h"

/* ---- Shared test state ---- */

struct ctx {
  uv_loop_t loop;
  struct http_srv *srv;
  int port;
  int stopped;
  /* server side */
  int s_requests, s_upgrades, s_open, s_msgs, s_close;
  int s_close_code;
  char s_close_reason[128];
  struct ws *s_ws;
  size_t s_max_queued;
  int s_send_err;
  uv_timer_t flood;
  int flooding;
  /* client side */
  struct ws *c_ws;
  int c_open, c_msgs, c_close, c_text, c_binary;
  int c_close_code;
  char c_close_reason[128];
  size_t c_last_len;
  int c_cert;
  /* raw clients */
  int raw_close;
  uint64_t raw_closed_at[5];
  char raw_rx[5][256];
  size_t raw_rx_len[5];
  /* the test body's hook after client events */
  void (*after_msg)(struct ctx *t, enum ws_type ty, const uint8_t *p, size_t n);
};

static struct ctx T;

static void stop_done(void *data) {
  struct ctx *t = data;
  t->stopped++;
}

static void stop_server(struct ctx *t) {
  if (t->srv) http_srv_stop(t->srv, stop_done, t);
  t->srv = NULL;
}

/* Server websocket: echo, and a few commands. */
static void s_on_open(struct ws *w, void *data) {
  struct ctx *t = data;
  t->s_open++;
  t->s_ws = w;
}

static void flood_cb(uv_timer_t *tm) {
  struct ctx *t = tm->data;
  static uint8_t big[1 << 20];
  for (int i = 0; i < 4 && t->flooding; i++) {
    size_t q = ws_queued(t->s_ws);
    if (q > t->s_max_queued) t->s_max_queued = q;
    int r = ws_send(t->s_ws, WS_BINARY, big, sizeof big);
    if (r != 0) {
      t->s_send_err = r;
      t->flooding = 0;
    }
  }
  if (!t->flooding) uv_close((uv_handle_t *)&t->flood, NULL);
}

static void s_on_message(struct ws *w, enum ws_type ty, const uint8_t *p,
                         size_t n, void *data) {
  struct ctx *t = data;
  t->s_msgs++;
  if (ty == WS_TEXT && n == 8 && memcmp(p, "close-me", 8) == 0) {
    ws_close(w, 4001, "bye from server");
    /* Closing is idempotent and sending after it is refused. */
    ws_close(w, 1000, "again");
    assert_int_equal(ws_send(w, WS_TEXT, "x", 1), MESH_E_CLOSED);
    return;
  }
  if (ty == WS_TEXT && n == 5 && memcmp(p, "flood", 5) == 0) {
    uv_timer_init(&t->loop, &t->flood);
    t->flood.data = t;
    t->flooding = 1;
    uv_timer_start(&t->flood, flood_cb, 1, 1);
    return;
  }
  assert_int_equal(ws_send(w, ty, p, n), 0);
}

static void s_on_close(struct ws *w, int code, const char *reason, void *data) {
  (void)w;
  struct ctx *t = data;
  t->s_close++;
  t->s_close_code = code;
  snprintf(t->s_close_reason, sizeof t->s_close_reason, "%s", reason);
  t->s_ws = NULL;
}

static const struct ws_cbs s_cbs = {s_on_open, s_on_message, NULL, s_on_close};

static void on_request(struct http_conn *c, const struct http_req *req,
                       void *data) {
  struct ctx *t = data;
  t->s_requests++;
  assert_non_null(req->peer);
  if (strcmp(req->path, "/ws") == 0) {
    assert_string_equal(req->query, "x=1");
    assert_non_null(http_req_header(req, "sec-websocket-key"));
    struct ws *w = http_upgrade_ws(c, req, &s_cbs, t);
    assert_non_null(w);
    t->s_upgrades++;
    return;
  }
  const char *body = "not here";
  assert_int_equal(
      http_respond(c, 404, "X-Test: 1\r\n", "text/plain", body, strlen(body)),
      0);
  assert_int_equal(http_respond(c, 200, NULL, NULL, NULL, 0),
                   MESH_E_PROTO_STATE);
}

static void start_server(struct ctx *t, SSL_CTX *tls) {
  struct http_srv_config cfg = {"127.0.0.1", 0, tls, on_request, t};
  assert_int_equal(http_srv_start(&t->loop, &cfg, &t->srv), 0);
  t->port = http_srv_port(t->srv);
  assert_true(t->port > 0);
}

static void setup_loop(struct ctx *t) {
  memset(t, 0, sizeof *t);
  assert_int_equal(uv_loop_init(&t->loop), 0);
}

static void finish_loop(struct ctx *t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&t->loop), 0);
}

/* ---- Client websocket ---- */

static void c_on_open(struct ws *w, void *data) {
  struct ctx *t = data;
  t->c_open++;
  t->c_cert = ws_peer_cert(w) != NULL;
}

static void c_on_message(struct ws *w, enum ws_type ty, const uint8_t *p,
                         size_t n, void *data) {
  (void)w;
  struct ctx *t = data;
  t->c_msgs++;
  if (ty == WS_TEXT) t->c_text++;
  if (ty == WS_BINARY) t->c_binary++;
  t->c_last_len = n;
  if (t->after_msg) t->after_msg(t, ty, p, n);
}

static void c_on_close(struct ws *w, int code, const char *reason, void *data) {
  (void)w;
  struct ctx *t = data;
  t->c_close++;
  t->c_close_code = code;
  snprintf(t->c_close_reason, sizeof t->c_close_reason, "%s", reason);
  t->c_ws = NULL;
  stop_server(t);
}

static const struct ws_cbs c_cbs = {c_on_open, c_on_message, NULL, c_on_close};

static void connect_client(struct ctx *t, const char *scheme) {
  char url[128];
  snprintf(url, sizeof url, "%s://127.0.0.1:%d/ws?x=1", scheme, t->port);
  assert_int_equal(
      ws_connect(&t->loop, url, tu_cli_ctx, 5000, &c_cbs, t, &t->c_ws), 0);
}

/* ---- Test: echo text, binary and a large message, then server close ---- */

static uint8_t *large;
#define LARGE_LEN (3 * 1024 * 1024 + 17)

static void echo_after(struct ctx *t, enum ws_type ty, const uint8_t *p,
                       size_t n) {
  if (t->c_msgs == 1) {
    assert_int_equal(ty, WS_TEXT);
    assert_int_equal(n, 5);
    assert_memory_equal(p, "hello", 5);
  } else if (t->c_msgs == 2) {
    assert_int_equal(ty, WS_BINARY);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "\x00\x01\x02", 3);
  } else if (t->c_msgs == 3) {
    assert_int_equal(ty, WS_BINARY);
    assert_int_equal(n, LARGE_LEN);
    assert_memory_equal(p, large, LARGE_LEN);
    assert_int_equal(ws_send(t->c_ws, WS_TEXT, "close-me", 8), 0);
  }
}

static void echo_open(struct ws *w, void *data) {
  c_on_open(w, data);
  assert_int_equal(ws_send(w, WS_TEXT, "hello", 5), 0);
  assert_int_equal(ws_send(w, WS_BINARY, "\x00\x01\x02", 3), 0);
  assert_int_equal(ws_send(w, WS_BINARY, large, LARGE_LEN), 0);
  assert_int_equal(ws_send(w, WS_BINARY, large, MESH_WS_MAX_MESSAGE + 1),
                   MESH_E_TOO_LARGE);
}

static void echo(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  large = malloc(MESH_WS_MAX_MESSAGE + 1);
  for (size_t i = 0; i < LARGE_LEN; i++) large[i] = (uint8_t)(i * 7);
  start_server(t, tu_srv_ctx);
  t->after_msg = echo_after;
  static const struct ws_cbs cbs = {echo_open, c_on_message, NULL, c_on_close};
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws?x=1", t->port);
  assert_int_equal(
      ws_connect(&t->loop, url, tu_cli_ctx, 5000, &cbs, t, &t->c_ws), 0);
  finish_loop(t);
  assert_int_equal(t->c_open, 1);
  assert_int_equal(t->c_cert, 1);
  assert_int_equal(t->c_msgs, 3);
  assert_int_equal(t->c_text, 1);
  assert_int_equal(t->c_binary, 2);
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 4001);
  assert_string_equal(t->c_close_reason, "bye from server");
  assert_int_equal(t->s_requests, 1);
  assert_int_equal(t->s_upgrades, 1);
  assert_int_equal(t->s_open, 1);
  assert_int_equal(t->s_msgs, 4);
  assert_int_equal(t->s_close, 1);
  assert_int_equal(t->s_close_code, 4001);
  assert_int_equal(t->stopped, 1);
  free(large);
}

/* ---- Test: connecting to a closed port ---- */

static void closed_port(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  /* Find a port nobody listens on. */
  uv_tcp_t tmp;
  struct sockaddr_in a;
  uv_tcp_init(&t->loop, &tmp);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&tmp, (struct sockaddr *)&a, 0), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&tmp, (struct sockaddr *)&ss, &len);
  t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&tmp, NULL);
  connect_client(t, "wss");
  /* Malformed URLs fail synchronously with no callback. */
  struct ws *w = (struct ws *)1;
  assert_int_equal(
      ws_connect(&t->loop, "http://x/", tu_cli_ctx, 100, &c_cbs, t, &w),
      MESH_E_INVALID);
  assert_null(w);
  assert_int_equal(ws_connect(&t->loop, "wss://x/", NULL, 100, &c_cbs, t, &w),
                   MESH_E_INVALID);
  assert_int_equal(ws_connect(&t->loop, "ws://[::1/", NULL, 100, &c_cbs, t, &w),
                   MESH_E_INVALID);
  finish_loop(t);
  assert_int_equal(t->c_open, 0);
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1006);
  assert_non_null(strstr(t->c_close_reason, "refused"));
}

/* ---- Raw clients built on struct stream ---- */

struct raw {
  struct ctx *t;
  int idx;
  const char *send;
  size_t send_len;
};

static void raw_on_connect(struct stream *s, void *data) {
  struct raw *r = data;
  if (r->send_len) assert_int_equal(stream_write(s, r->send, r->send_len), 0);
}

static void raw_on_read(struct stream *s, const uint8_t *p, size_t n,
                        void *data) {
  (void)s;
  struct raw *r = data;
  size_t *l = &r->t->raw_rx_len[r->idx];
  size_t room = sizeof r->t->raw_rx[0] - 1 - *l;
  if (n > room) n = room;
  memcpy(r->t->raw_rx[r->idx] + *l, p, n);
  *l += n;
}

static void raw_on_close(struct stream *s, int reason, void *data) {
  (void)reason;
  struct raw *r = data;
  r->t->raw_close++;
  r->t->raw_closed_at[r->idx] = uv_now(stream_loop(s));
}

static const struct stream_cbs raw_cbs = {
    raw_on_connect, raw_on_read, NULL, NULL, NULL, raw_on_close};

static void raw_connect(struct ctx *t, struct raw *r, SSL_CTX *tls) {
  struct stream *s;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", t->port, &a);
  assert_int_equal(stream_new(&t->loop, tls, &raw_cbs, r, NULL, &s), 0);
  assert_int_equal(stream_connect(s, (struct sockaddr *)&a, NULL, "test"), 0);
}

/* ---- Test: 404, garbage on the TLS port, slow headers; a websocket client
 * keeps working throughout ---- */

static uv_timer_t later;

static void misc_after(struct ctx *t, enum ws_type ty, const uint8_t *p,
                       size_t n) {
  (void)ty;
  (void)p;
  (void)n;
  if (t->c_msgs == 1) ws_close(t->c_ws, 1000, "done");
}

static void misc_check(uv_timer_t *tm) {
  struct ctx *t = tm->data;
  /* By now the garbage and slow clients are gone; the ws still works. */
  assert_int_equal(t->raw_close, 4);
  assert_int_equal(ws_send(t->c_ws, WS_TEXT, "still here", 10), 0);
  uv_close((uv_handle_t *)tm, NULL);
}

static void misc(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  start_server(t, tu_srv_ctx);
  http_srv_set_deadlines(t->srv, 300, 200, 0);
  t->after_msg = misc_after;
  connect_client(t, "wss");
  static const char get[] = "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";
  static const char junk[] =
      "\x16\x03\x01\x00\x05hello this is not TLS at all\r\n";
  static const char slow[] = "GET /slow HTTP/1.1\r\nHost: x\r\nX-Partial: ";
  struct raw r404 = {t, 0, get, sizeof get - 1};
  struct raw rjunk = {t, 1, junk, sizeof junk - 1};
  struct raw rslow = {t, 2, slow, sizeof slow - 1};
  struct raw rsilent = {t, 3, NULL, 0};
  static const char bad[] = "GET /x HTTP/1.1\r\nBad\x01Name: y\r\n\r\n";
  struct raw rbad = {t, 4, bad, sizeof bad - 1};
  raw_connect(t, &rbad, tu_cli_ctx);
  raw_connect(t, &r404, tu_cli_ctx);
  raw_connect(t, &rjunk, NULL);
  raw_connect(t, &rslow, tu_cli_ctx);
  raw_connect(t, &rsilent, NULL);
  uint64_t t0 = uv_now(&t->loop);
  uv_timer_init(&t->loop, &later);
  later.data = t;
  uv_timer_start(&later, misc_check, 700, 0);
  finish_loop(t);
  /* 404 over TLS, kept alive until the server stopped. */
  assert_memory_equal(t->raw_rx[0], "HTTP/1.1 404 Not Found\r\n", 24);
  assert_non_null(strstr(t->raw_rx[0], "X-Test: 1\r\n"));
  assert_non_null(strstr(t->raw_rx[0], "Connection: keep-alive\r\n"));
  assert_non_null(strstr(t->raw_rx[0], "\r\n\r\nnot here"));
  /* Junk: closed at once, with nothing but (maybe) a TLS alert. */
  assert_true(t->raw_closed_at[1] - t0 < 250);
  /* Slow headers: closed by the 200 ms deadline after TLS. */
  assert_true(t->raw_closed_at[2] - t0 >= 190);
  assert_true(t->raw_closed_at[2] - t0 < 650);
  /* Silent TCP: closed by the 300 ms handshake deadline. */
  assert_true(t->raw_closed_at[3] - t0 >= 290);
  assert_int_equal(t->raw_rx_len[3], 0);
  /* Bad HTTP: a 400 reply, then the connection is closed. */
  assert_memory_equal(t->raw_rx[4], "HTTP/1.1 400 Bad Request\r\n", 26);
  assert_non_null(strstr(t->raw_rx[4], "Connection: close\r\n"));
  assert_true(t->raw_closed_at[4] - t0 < 250);
  assert_int_equal(t->raw_close, 5);
  assert_int_equal(t->s_requests, 2); /* the 404 and the upgrade */
  assert_int_equal(t->c_open, 1);
  assert_int_equal(t->c_msgs, 1);
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1000);
  assert_int_equal(t->s_close, 1);
  assert_int_equal(t->s_close_code, 1000);
  assert_int_equal(t->stopped, 1);
}

/* ---- Test: back-pressure against a client that stopped reading ---- */

static void bp_open(struct ws *w, void *data) {
  c_on_open(w, data);
  assert_int_equal(ws_send(w, WS_TEXT, "flood", 5), 0);
  ws_pause(w);
}

static void bp_resume(uv_timer_t *tm) {
  struct ctx *t = tm->data;
  if (t->s_close == 0) return; /* the server is still flooding */
  uv_close((uv_handle_t *)tm, NULL);
  ws_resume(t->c_ws);
}

static void backpressure(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  start_server(t, tu_srv_ctx);
  static const struct ws_cbs cbs = {bp_open, c_on_message, NULL, c_on_close};
  char url[128];
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws?x=1", t->port);
  assert_int_equal(
      ws_connect(&t->loop, url, tu_cli_ctx, 5000, &cbs, t, &t->c_ws), 0);
  uv_timer_init(&t->loop, &later);
  later.data = t;
  uv_timer_start(&later, bp_resume, 50, 50);
  finish_loop(t);
  assert_int_equal(t->s_send_err, MESH_E_TOO_LARGE);
  assert_true(t->s_max_queued <= MESH_STREAM_HARD_LIMIT);
  assert_true(t->s_max_queued > MESH_STREAM_HARD_LIMIT - (2u << 20));
  assert_int_equal(t->s_close, 1);
  assert_int_equal(t->s_close_code, 1006);
  assert_string_equal(t->s_close_reason, "output queue over hard limit");
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1006);
  assert_int_equal(t->stopped, 1);
}

/* ---- Test: keep-alive pings hold an idle-timed connection open; then the
 * idle timeout closes a silent one ---- */

static void ka_server_open(struct ws *w, void *data) {
  s_on_open(w, data);
  ws_set_idle_timeout(w, 150);
}

static const struct ws_cbs ka_s_cbs = {ka_server_open, s_on_message, NULL,
                                       s_on_close};

static void ka_request(struct http_conn *c, const struct http_req *req,
                       void *data) {
  struct ctx *t = data;
  t->s_requests++;
  assert_non_null(http_upgrade_ws(c, req, &ka_s_cbs, t));
}

static void ka_close(uv_timer_t *tm) {
  struct ctx *t = tm->data;
  uv_close((uv_handle_t *)tm, NULL);
  assert_int_equal(t->s_close, 0);
  /* Stop pinging: the server's idle timeout takes over. */
  ws_set_keepalive(t->c_ws, 0, 0);
}

static void keepalive(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  struct http_srv_config cfg = {"127.0.0.1", 0, NULL, ka_request, t};
  assert_int_equal(http_srv_start(&t->loop, &cfg, &t->srv), 0);
  t->port = http_srv_port(t->srv);
  connect_client(t, "ws");
  ws_set_keepalive(t->c_ws, 40, 100);
  uv_timer_init(&t->loop, &later);
  later.data = t;
  uv_timer_start(&later, ka_close, 500, 0);
  finish_loop(t);
  assert_int_equal(t->c_open, 1);
  assert_int_equal(t->s_close, 1);
  assert_int_equal(t->s_close_code, 1001);
  assert_string_equal(t->s_close_reason, "idle timeout");
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1001);
  assert_string_equal(t->c_close_reason, "idle timeout");
  assert_int_equal(t->stopped, 1);
}

/* ---- Test: stopping the server closes upgraded websockets with 1001 ---- */

static void stop_after_open(struct ws *w, void *data) {
  c_on_open(w, data);
  stop_server(data);
}

static void server_stop(void **state) {
  (void)state;
  struct ctx *t = &T;
  setup_loop(t);
  start_server(t, NULL);
  static const struct ws_cbs cbs = {stop_after_open, c_on_message, NULL,
                                    c_on_close};
  char url[128];
  snprintf(url, sizeof url, "ws://localhost:%d/ws?x=1", t->port);
  assert_int_equal(ws_connect(&t->loop, url, NULL, 5000, &cbs, t, &t->c_ws), 0);
  finish_loop(t);
  assert_int_equal(t->c_open, 1);
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1001);
  assert_string_equal(t->c_close_reason, "server shutting down");
  assert_int_equal(t->s_close, 1);
  assert_int_equal(t->stopped, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(echo),      cmocka_unit_test(closed_port),
      cmocka_unit_test(misc),      cmocka_unit_test(backpressure),
      cmocka_unit_test(keepalive), cmocka_unit_test(server_stop),
  };
  return cmocka_run_group_tests(tests, tu_tls_setup, tu_tls_teardown);
}
