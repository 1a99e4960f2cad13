/*
 * js_https_test.c - require('https').download against a real TLS server on
 * loopback (net/stream): the certificate must be the control channel's (or
 * servertlshash's), the body is streamed to the file with its SHA-384, and
 * every failure (certificate, status, size, hash, truncation, silence,
 * stopped core) reaches the callback or nobody, and leaves no file.
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
#include <sys/stat.h>
#include <unistd.h>

#include "../js/harness.h"
#include "base/enc.h"
#include "crypto/hash.h"
#include "net/stream.h"
#include "net/tls.h"
#include "testutil.h"

static SSL_CTX *srv_ctx;
static X509 *srv_cert;
static uv_tcp_t listener;
static int port;
static char *response; /* what the server answers (malloc'd), NULL: hangs */
static size_t response_len;
static int requests;
static int dribble; /* the server writes its answer one byte at a time */
static char last_request[1024];
static const char *dir;
static struct stream_group conns;

static void srv_read(struct stream *s, const uint8_t *p, size_t n, void *d) {
  (void)d;
  size_t have = strlen(last_request);
  snprintf(last_request + have, sizeof last_request - have, "%.*s", (int)n,
           (const char *)p);
  if (!strstr(last_request, "\r\n\r\n")) return;
  requests++;
  if (!response) return; /* silent */
  if (dribble)
    for (size_t i = 0; i < response_len; i++) stream_write(s, response + i, 1);
  else
    stream_write(s, response, response_len);
  stream_close_after_flush(s, 0, 1000);
}

static void srv_close(struct stream *s, int r, void *d) {
  (void)s;
  (void)r;
  (void)d;
}

static const struct stream_cbs srv_cbs = {.on_read = srv_read,
                                          .on_close = srv_close};

static void on_conn(uv_stream_t *l, int status) {
  assert_int_equal(status, 0);
  struct stream *s;
  assert_int_equal(stream_new(l->loop, srv_ctx, &srv_cbs, NULL, &conns, &s), 0);
  if (stream_accept(s, l) != 0) stream_close(s, 0);
}

static void respond(const char *head, size_t body_len, char fill) {
  free(response);
  size_t hl = strlen(head);
  response_len = hl + body_len;
  response = malloc(response_len + 1);
  memcpy(response, head, hl);
  memset(response + hl, fill, body_len);
}

static int setup(void **state) {
  (void)state;
  jh_setup();
  EVP_PKEY *key;
  X509 *x = tu_self_signed("js-https-test", &key);
  srv_ctx = tls_server_ctx_new(x, key);
  srv_cert = x;
  EVP_PKEY_free(key);
  memset(&conns, 0, sizeof conns);
  uv_tcp_init(&jh_loop, &listener);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  assert_int_equal(uv_tcp_bind(&listener, (struct sockaddr *)&sa, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&listener, 8, on_conn), 0);
  int len = sizeof sa;
  uv_tcp_getsockname(&listener, (struct sockaddr *)&sa, &len);
  port = ntohs(sa.sin_port);
  char url[64];
  snprintf(url, sizeof url, "wss://127.0.0.1:%d/agent.ashx", port);
  jh_agent.cfg.urls[0] = strdup(url);
  jh_agent.cfg.n_servers = 1;
  jh_agent.tls = tls_client_ctx_new();
  assert_int_equal(hash_cert(srv_cert, jh_agent.server_cert_hash), 0);
  jh_agent.has_server_cert_hash = 1;
  response = NULL;
  requests = 0;
  dribble = 0;
  last_request[0] = 0;
  dir = tu_tmpdir();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  js_stop(&jh_agent);
  stream_group_stop(&conns);
  uv_close((uv_handle_t *)&listener, NULL);
  jh_teardown();
  free(jh_agent.cfg.urls[0]);
  SSL_CTX_free(jh_agent.tls);
  SSL_CTX_free(srv_ctx);
  X509_free(srv_cert);
  free(response);
  tu_rmdir_r(dir);
  return 0;
}

/* Runs a core that downloads url (JS expression) with options (JS) into
 * dir/out and reports {action:'dl', err, code, size, sha384}. */
static void download(const char *url, const char *options) {
  char src[2048];
  snprintf(src, sizeof src,
           "require('https').download(%s, '%s/out', %s, function(e, r) {"
           "  require('MeshAgent').SendCommand({action: 'dl',"
           "    err: e ? String(e) : null, code: e ? e.code : null,"
           "    status: e ? e.status : null,"
           "    size: r ? r.size : null, sha384: r ? r.sha384 : null});"
           "});",
           url, dir, options);
  assert_int_equal(jh_start(src), 0);
  assert_true(jh_run_until("dl", 10000));
}

static int out_exists(void) {
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/out", dir);
  return access(p, F_OK) == 0;
}

static void test_download_ok(void **state) {
  (void)state;
  size_t n = 300 * 1000; /* several TLS records and reads */
  respond("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n", n, 'b');
  download("'*/agents/x?id=6'", "{mode: 448}");
  assert_null(jh_str("dl", 0, "err"));
  json_t *m = jh_find("dl", 0);
  assert_int_equal(json_integer_value(json_object_get(m, "size")),
                   (json_int_t)n);
  uint8_t h[48];
  char hex[97];
  hash_sha384(response + response_len - n, n, h);
  enc_hex(h, sizeof h, hex, 0);
  assert_string_equal(jh_str("dl", 0, "sha384"), hex);
  char p[PATH_MAX];
  snprintf(p, sizeof p, "%s/out", dir);
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(st.st_size, (off_t)n);
  assert_int_equal(st.st_mode & 0777, 0700);
  /* The request: the control channel's host and port, the path asked. */
  char want[128];
  snprintf(want, sizeof want,
           "GET /agents/x?id=6 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n", port);
  assert_non_null(strstr(last_request, want));
}

static void test_expected_hash(void **state) {
  (void)state;
  respond("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", 10, 'z');
  uint8_t h[48];
  char hex[97], opts[200];
  hash_sha384(response + response_len - 10, 10, h);
  enc_hex(h, sizeof h, hex, 1);
  snprintf(opts, sizeof opts, "{sha384: '%s'}", hex);
  download("'*/f'", opts);
  assert_null(jh_str("dl", 0, "err"));
  assert_true(out_exists());
  /* One bit off: EHASH, and no file. */
  hex[95] = hex[95] == '0' ? '1' : '0';
  snprintf(opts, sizeof opts, "{sha384: '%s'}", hex);
  json_array_clear(jh_sent);
  download("'*/f'", opts);
  assert_string_equal(jh_str("dl", 0, "code"), "EHASH");
  assert_false(out_exists());
}

static void test_chunked_and_eof_bodies(void **state) {
  (void)state;
  const char *chunked =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  respond(chunked, 0, 0);
  download("'*/c'", "{}");
  assert_null(jh_str("dl", 0, "err"));
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("dl", 0), "size")), 11);
  json_array_clear(jh_sent);
  respond("HTTP/1.0 200 OK\r\n\r\n", 1234, 'e'); /* ends at EOF */
  download("'*/e'", "{}");
  assert_null(jh_str("dl", 0, "err"));
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("dl", 0), "size")), 1234);
}

static void test_answer_in_one_byte_records(void **state) {
  (void)state;
  /* Every byte its own TLS record: the status line, headers, chunk sizes
   * and body all arrive cut at every possible place. */
  dribble = 1;
  respond(
      "HTTP/1.1 200 OK\r\nServer: x\r\nTransfer-Encoding: chunked\r\n"
      "\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
      0, 0);
  download("'*/d'", "{}");
  assert_null(jh_str("dl", 0, "err"));
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("dl", 0), "size")), 19);
  json_array_clear(jh_sent);
  respond("HTTP/1.1 200 OK\r\nContent-Length: 700\r\n\r\n", 700, 'q');
  download("'*/d'", "{}");
  assert_null(jh_str("dl", 0, "err"));
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("dl", 0), "size")), 700);
}

static void test_other_certificate_refused_before_request(void **state) {
  (void)state;
  respond("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", 1, 'x');
  jh_agent.server_cert_hash[0] ^= 1;
  download("'*/f'", "{}");
  assert_string_equal(jh_str("dl", 0, "code"), "ECERT");
  assert_int_equal(requests, 0);
  assert_false(out_exists());
  /* servertlshash naming this certificate lets it through. */
  uint8_t h[48];
  char hex[97], opts[200];
  hash_cert(srv_cert, h);
  enc_hex(h, sizeof h, hex, 0);
  snprintf(opts, sizeof opts, "{servertlshash: '%s'}", hex);
  json_array_clear(jh_sent);
  download("'*/f'", opts);
  assert_null(jh_str("dl", 0, "err"));
}

static void test_failures(void **state) {
  (void)state;
  respond("HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\n", 3, 'n');
  download("'*/f'", "{}");
  assert_string_equal(jh_str("dl", 0, "code"), "EHTTP");
  assert_int_equal(
      json_integer_value(json_object_get(jh_find("dl", 0), "status")), 404);
  assert_false(out_exists());

  json_array_clear(jh_sent);
  respond("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 5000, 'a');
  download("'*/f'", "{maxBytes: 4999}");
  assert_string_equal(jh_str("dl", 0, "code"), "EFBIG");
  assert_false(out_exists());

  json_array_clear(jh_sent);
  respond("HTTP/1.1 200 OK\r\n\r\n", 5000, 'a'); /* EOF body, too big */
  download("'*/f'", "{maxBytes: 100}");
  assert_string_equal(jh_str("dl", 0, "code"), "EFBIG");
  assert_false(out_exists());

  json_array_clear(jh_sent);
  respond("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", 500, 't');
  download("'*/f'", "{}"); /* the server vanishes half-way */
  assert_string_equal(jh_str("dl", 0, "code"), "ECONNRESET");
  assert_false(out_exists());

  json_array_clear(jh_sent);
  respond("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", 0, 0);
  download("'*/f'", "{}");
  assert_string_equal(jh_str("dl", 0, "code"), "EPROTO");
  assert_false(out_exists());

  json_array_clear(jh_sent);
  free(response);
  response = NULL; /* silence */
  download("'*/f'", "{timeoutMs: 200}");
  assert_string_equal(jh_str("dl", 0, "code"), "ETIMEDOUT");
  assert_false(out_exists());

  json_array_clear(jh_sent);
  char url[64];
  snprintf(url, sizeof url, "'https://127.0.0.1:%d/f'", port == 1 ? 2 : 1);
  download(url, "{}");
  assert_string_equal(jh_str("dl", 0, "code"), "ECONNREFUSED");
}

static void test_bad_arguments_throw(void **state) {
  (void)state;
  assert_int_equal(
      jh_start("var h = require('https'), n = 0, f = function() {};"
               "[['http://x/', '/tmp/x', {}, f], ['wss://x/', '/tmp/x', {}, f],"
               " ['*/x', '/tmp/x', {sha384: 'zz'}, f],"
               " ['*/x', '/tmp/x', {servertlshash: '12'}, f],"
               " ['*/x', '/no/such/dir/x', {}, f]].forEach(function(a) {"
               "  try { h.download.apply(null, a); } catch (e) { n++; } });"
               "require('MeshAgent').SendCommand({action: 'n', n: n});"),
      0);
  assert_int_equal(json_integer_value(json_object_get(jh_find("n", 0), "n")),
                   5);
}

static void test_stop_mid_download(void **state) {
  (void)state;
  free(response);
  response = NULL; /* the server never answers */
  char src[512];
  snprintf(src, sizeof src,
           "require('https').download('*/f', '%s/out', {}, function() {"
           "  require('MeshAgent').SendCommand({action: 'called'}); });",
           dir);
  assert_int_equal(jh_start(src), 0);
  while (requests == 0) uv_run(&jh_loop, UV_RUN_ONCE);
  js_stop(&jh_agent);
  for (int i = 0; i < 20; i++) uv_run(&jh_loop, UV_RUN_NOWAIT);
  assert_int_equal(jh_count("called"), 0);
  assert_false(out_exists());
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
      T(test_download_ok),
      T(test_expected_hash),
      T(test_chunked_and_eof_bodies),
      T(test_answer_in_one_byte_records),
      T(test_other_certificate_refused_before_request),
      T(test_failures),
      T(test_bad_arguments_throw),
      T(test_stop_mid_download),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
