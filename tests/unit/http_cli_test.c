/*
 * http_cli_test.c - the small HTTPS client (net/http_cli) and the client
 * extras of ws_connect_ex (extra headers, certificate verification before
 * anything is sent), against a real http_srv on loopback.
 */
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

#include "base/buf.h"
#include "base/err.h"
#include "net/http_cli.h"
#include "net/http_srv.h"
#include "net/tls.h"
#include "net/ws.h"
#include "testutil.h"

/* ---- URL parsing ---- */

static void parse_url(void **state) {
  (void)state;
  static const struct {
    const char *url;
    int tls, v6, port;
    const char *host, *target;
  } good[] = {
      {"https://h", 1, 0, 443, "h", "/"},
      {"https://h:4443/api/login", 1, 0, 4443, "h", "/api/login"},
      {"http://127.0.0.1/x?y=1#frag", 0, 0, 80, "127.0.0.1", "/x?y=1"},
      {"wss://[::1]:9/c", 1, 1, 9, "::1", "/c"},
      {"ws://h?q", 0, 0, 80, "h", "/?q"},
      {"https://mesh.example.com:65535", 1, 0, 65535, "mesh.example.com", "/"},
  };
  static const char *const bad[] = {
      "ftp://h/",     "https://",        "https:///x",     "https://h:0/",
      "https://h:x/", "https://h:70000", "https://h:-1",   "https://u@h/",
      "https://[::1", "https://h/a b",   "https://h\x01/", "https://h:1x/",
      "h:443",        "https://h:+5/",
  };
  struct http_cli_url u;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    assert_int_equal(http_cli_parse_url(good[i].url, &u), 0);
    assert_int_equal(u.tls, good[i].tls);
    assert_int_equal(u.host_is_v6, good[i].v6);
    assert_int_equal(u.port, good[i].port);
    assert_string_equal(u.host, good[i].host);
    assert_string_equal(u.target, good[i].target);
  }
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(http_cli_parse_url(bad[i], &u), MESH_E_INVALID);
  /* A target one past the limit. */
  char *big = malloc(MESH_HTTP_MAX_URL + 32);
  strcpy(big, "https://h/");
  memset(big + 10, 'a', MESH_HTTP_MAX_URL);
  big[10 + MESH_HTTP_MAX_URL] = 0;
  assert_int_equal(http_cli_parse_url(big, &u), MESH_E_INVALID);
  big[9 + MESH_HTTP_MAX_URL] = 0;
  assert_int_equal(http_cli_parse_url(big, &u), 0);
  free(big);
}

static void header_lines(void **state) {
  (void)state;
  assert_true(ws_header_lines_valid(""));
  assert_true(ws_header_lines_valid("Cookie: a=b\r\n"));
  assert_true(ws_header_lines_valid("A: 1\r\nB:\t2\r\nX-Y:\r\n"));
  assert_false(ws_header_lines_valid("Cookie: a=b"));
  assert_false(ws_header_lines_valid("Cookie: a=b\n"));
  assert_false(ws_header_lines_valid(": a\r\n"));
  assert_false(ws_header_lines_valid("A b: c\r\n"));
  assert_false(ws_header_lines_valid("A: b\r\nc\r\n"));
  assert_false(ws_header_lines_valid("A: b\rX: y\r\n"));
  assert_false(ws_header_lines_valid("A: b\x01\r\n"));
  assert_false(ws_header_lines_valid("A: b\x7f\r\n"));
  struct buf b;
  char key[WS_KEY_LEN + 1];
  buf_init(&b, 4096);
  assert_int_equal(ws_client_request_ex(&b, "h", "/p", "Cookie: c=1\r\n", key),
                   0);
  assert_int_equal(strlen(key), WS_KEY_LEN);
  const char *tail = "\r\nCookie: c=1\r\n\r\n";
  assert_true(b.len > strlen(tail));
  assert_memory_equal(b.data + b.len - strlen(tail), tail, strlen(tail));
  buf_cleanup(&b);
}

/* ---- A loopback server ---- */

struct ctx {
  uv_loop_t loop;
  struct http_srv *srv;
  int port;
  int requests, upgrades;
  char cookie[64];
  /* client outcome */
  int done, err, status;
  char body[256];
  int verified;
  int c_open, c_close, c_close_code;
  char c_reason[128];
  int refuse; /* the verify callback refuses with this */
  uint8_t want_pin[HTTP_CLI_PIN_LEN];
};

static struct ctx T;

static void on_request(struct http_conn *c, const struct http_req *req,
                       void *data) {
  struct ctx *t = data;
  t->requests++;
  const char *ck = http_req_header(req, "Cookie");
  snprintf(t->cookie, sizeof t->cookie, "%s", ck ? ck : "");
  if (strcmp(req->path, "/ws") == 0) {
    static const struct ws_cbs none = {0};
    struct ws *w = http_upgrade_ws(c, req, &none, t);
    assert_non_null(w);
    t->upgrades++;
    ws_close(w, 4000, "done");
    return;
  }
  if (strcmp(req->path, "/echo") == 0) {
    char out[512];
    int n = snprintf(out, sizeof out, "%s %s %.*s", req->method,
                     http_req_header(req, "Content-Type"), (int)req->body_len,
                     req->body ? (const char *)req->body : "");
    http_respond(c, 201, "X-Test: yes\r\n", "text/plain", out, (size_t)n);
    return;
  }
  http_respond(c, 404, NULL, "text/plain", "no", 2);
}

static void stop_done(void *data) { (void)data; }

static void start(struct ctx *t) {
  memset(t, 0, sizeof *t);
  assert_int_equal(uv_loop_init(&t->loop), 0);
  struct http_srv_config cfg = {"127.0.0.1", 0, tu_srv_ctx, on_request, t};
  assert_int_equal(http_srv_start(&t->loop, &cfg, &t->srv), 0);
  t->port = http_srv_port(t->srv);
  assert_int_equal(http_cli_cert_pin(tu_srv_cert, t->want_pin), 0);
}

static void finish(struct ctx *t) {
  uv_run(&t->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&t->loop), 0);
}

static void stop(struct ctx *t) {
  if (t->srv) http_srv_stop(t->srv, stop_done, t);
  t->srv = NULL;
}

static int verify(X509 *cert, void *data) {
  struct ctx *t = data;
  uint8_t pin[HTTP_CLI_PIN_LEN];
  t->verified++;
  assert_non_null(cert);
  assert_int_equal(http_cli_cert_pin(cert, pin), 0);
  assert_memory_equal(pin, t->want_pin, sizeof pin);
  return t->refuse;
}

static void on_done(int err, const struct http_parse *resp, void *data) {
  struct ctx *t = data;
  t->done++;
  t->err = err;
  if (err == 0) {
    size_t n;
    const uint8_t *b = http_parse_body(resp, &n);
    t->status = http_parse_code(resp);
    snprintf(t->body, sizeof t->body, "%.*s", (int)n, b ? (const char *)b : "");
    assert_string_equal(http_parse_header(resp, "x-test") ?: "yes", "yes");
  } else {
    assert_null(resp);
  }
  stop(t);
}

static void request(struct ctx *t, const char *path,
                    const struct http_cli_req *rq) {
  char url[128];
  snprintf(url, sizeof url, "https://127.0.0.1:%d%s", t->port, path);
  assert_int_equal(
      http_cli_request(&t->loop, url, tu_cli_ctx, rq, on_done, t, NULL), 0);
}

static void post_json(void **state) {
  (void)state;
  struct ctx *t = &T;
  start(t);
  struct http_cli_req rq = {.method = "POST",
                            .headers = "Cookie: s=1\r\n",
                            .content_type = "application/json",
                            .body = "{\"a\":1}",
                            .body_len = 7,
                            .timeout_ms = 5000,
                            .verify = verify,
                            .verify_data = t};
  request(t, "/echo", &rq);
  finish(t);
  assert_int_equal(t->done, 1);
  assert_int_equal(t->err, 0);
  assert_int_equal(t->verified, 1);
  assert_int_equal(t->status, 201);
  assert_string_equal(t->body, "POST application/json {\"a\":1}");
  assert_string_equal(t->cookie, "s=1");
}

static void get_404(void **state) {
  (void)state;
  struct ctx *t = &T;
  start(t);
  struct http_cli_req rq = {.method = "GET"};
  request(t, "/nothing", &rq);
  finish(t);
  assert_int_equal(t->err, 0);
  assert_int_equal(t->status, 404);
  assert_string_equal(t->body, "no");
}

/* A refused certificate: the request never reaches the server. */
static void refused_cert(void **state) {
  (void)state;
  struct ctx *t = &T;
  start(t);
  t->refuse = MESH_E_AUTH;
  struct http_cli_req rq = {.method = "POST",
                            .body = "secret",
                            .body_len = 6,
                            .verify = verify,
                            .verify_data = t};
  request(t, "/echo", &rq);
  finish(t);
  assert_int_equal(t->done, 1);
  assert_int_equal(t->verified, 1);
  assert_int_equal(t->err, MESH_E_AUTH);
  assert_int_equal(t->requests, 0);
}

static void bad_args(void **state) {
  (void)state;
  struct ctx *t = &T;
  start(t);
  struct http_cli *c = (struct http_cli *)1;
  struct http_cli_req rq = {.method = "GET"};
  assert_int_equal(
      http_cli_request(&t->loop, "https://h/", NULL, &rq, on_done, t, &c),
      MESH_E_INVALID);
  assert_null(c);
  rq.method = "get";
  assert_int_equal(
      http_cli_request(&t->loop, "https://h/", tu_cli_ctx, &rq, on_done, t, &c),
      MESH_E_INVALID);
  rq.method = "GET";
  rq.headers = "X: 1\r\nInjected\r\n";
  assert_int_equal(
      http_cli_request(&t->loop, "https://h/", tu_cli_ctx, &rq, on_done, t, &c),
      MESH_E_INVALID);
  rq.headers = NULL;
  rq.content_type = "a\r\nX: y";
  assert_int_equal(
      http_cli_request(&t->loop, "https://h/", tu_cli_ctx, &rq, on_done, t, &c),
      MESH_E_INVALID);
  rq.content_type = NULL;
  rq.body = "x";
  rq.body_len = MESH_HTTP_MAX_BODY + 1;
  assert_int_equal(
      http_cli_request(&t->loop, "https://h/", tu_cli_ctx, &rq, on_done, t, &c),
      MESH_E_TOO_LARGE);
  assert_int_equal(t->done, 0);
  stop(t);
  finish(t);
}

/* A port nobody listens on, and one that accepts TCP but never speaks
 * TLS (a timeout); and a cancel. */
static int free_port(uv_loop_t *loop) {
  uv_tcp_t tmp;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_init(loop, &tmp);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&tmp, (struct sockaddr *)&a, 0), 0);
  uv_tcp_getsockname(&tmp, (struct sockaddr *)&ss, &len);
  uv_close((uv_handle_t *)&tmp, NULL);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_silent_conn(uv_stream_t *l, int status) {
  (void)l;
  (void)status; /* left in the backlog: TCP is up, nobody answers */
}

static void unreachable(void **state) {
  (void)state;
  struct ctx *t = &T;
  start(t);
  stop(t);
  t->port = free_port(&t->loop);
  struct http_cli_req rq = {.method = "GET", .timeout_ms = 5000};
  request(t, "/", &rq);
  finish(t);
  assert_int_equal(t->done, 1);
  assert_int_equal(t->err, UV_ECONNREFUSED);

  memset(t, 0, sizeof *t);
  assert_int_equal(uv_loop_init(&t->loop), 0);
  uv_tcp_t l;
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_init(&t->loop, &l);
  uv_ip4_addr("127.0.0.1", 0, &a);
  assert_int_equal(uv_tcp_bind(&l, (struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&l, 4, on_silent_conn), 0);
  uv_tcp_getsockname(&l, (struct sockaddr *)&ss, &len);
  t->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  rq.timeout_ms = 200;
  request(t, "/", &rq);
  char url[128];
  struct http_cli *c;
  snprintf(url, sizeof url, "https://127.0.0.1:%d/", t->port);
  struct ctx t2;
  memset(&t2, 0, sizeof t2);
  rq.timeout_ms = 5000;
  assert_int_equal(
      http_cli_request(&t->loop, url, tu_cli_ctx, &rq, on_done, &t2, &c), 0);
  http_cli_cancel(c);
  while (t->done == 0) uv_run(&t->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&l, NULL);
  finish(t);
  assert_int_equal(t->err, MESH_E_TIMEOUT);
  assert_int_equal(t2.done, 1);
  assert_int_equal(t2.err, MESH_E_CLOSED);
}

/* ---- ws_connect_ex ---- */

static void c_open(struct ws *w, void *data) {
  (void)w;
  ((struct ctx *)data)->c_open++;
}

static void c_close(struct ws *w, int code, const char *reason, void *data) {
  (void)w;
  struct ctx *t = data;
  t->c_close++;
  t->c_close_code = code;
  snprintf(t->c_reason, sizeof t->c_reason, "%s", reason);
  stop(t);
}

static const struct ws_cbs c_cbs = {c_open, NULL, NULL, c_close};

static void ws_opts(void **state) {
  (void)state;
  struct ctx *t = &T;
  char url[128];
  struct ws *w;
  start(t);
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", t->port);
  struct ws_connect_opts o = {.connect_timeout_ms = 5000,
                              .headers = "Cookie: meshd_session=abc\r\n",
                              .verify = verify,
                              .verify_data = t};
  assert_int_equal(ws_connect_ex(&t->loop, url, tu_cli_ctx, &o, &c_cbs, t, &w),
                   0);
  finish(t);
  assert_int_equal(t->verified, 1);
  assert_int_equal(t->c_open, 1);
  assert_int_equal(t->upgrades, 1);
  assert_string_equal(t->cookie, "meshd_session=abc");
  assert_int_equal(t->c_close_code, 4000);

  /* Refused: no upgrade request at all reaches the server. */
  start(t);
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/ws", t->port);
  t->refuse = MESH_E_AUTH;
  assert_int_equal(ws_connect_ex(&t->loop, url, tu_cli_ctx, &o, &c_cbs, t, &w),
                   0);
  finish(t);
  assert_int_equal(t->verified, 1);
  assert_int_equal(t->c_open, 0);
  assert_int_equal(t->c_close, 1);
  assert_int_equal(t->c_close_code, 1006);
  assert_string_equal(t->c_reason, WS_REASON_CERT_REFUSED);
  assert_int_equal(t->requests, 0);

  /* Bad header lines are refused up front. */
  start(t);
  o.headers = "Cookie: a\r\n\r\nGET / HTTP/1.1\r\n";
  w = (struct ws *)1;
  assert_int_equal(ws_connect_ex(&t->loop, url, tu_cli_ctx, &o, &c_cbs, t, &w),
                   MESH_E_INVALID);
  assert_null(w);
  stop(t);
  finish(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_url),    cmocka_unit_test(header_lines),
      cmocka_unit_test(post_json),    cmocka_unit_test(get_404),
      cmocka_unit_test(refused_cert), cmocka_unit_test(bad_args),
      cmocka_unit_test(unreachable),  cmocka_unit_test(ws_opts),
  };
  return cmocka_run_group_tests(tests, tu_tls_setup, tu_tls_teardown);
}
