#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "net/http_parse.h"
#include "testutil.h"

/* A vector: input, expected result of one-piece feeding (bytes consumed or
 * an error), and for errors the HTTP status. */
struct vec {
  const char *name;
  const char *in;
  size_t len;   /* 0: strlen(in) */
  ssize_t want; /* -1: whole input consumed; else an error code */
  int status;
  const char *method, *path, *query, *body;
};

static const struct vec vecs[] = {
    {"get with query", "GET /a/b?x=1&y=2 HTTP/1.1\r\nHost: h\r\n\r\n", 0, -1, 0,
     "GET", "/a/b", "x=1&y=2", NULL},
    {"get no query", "GET / HTTP/1.1\r\nhost: h\r\n\r\n", 0, -1, 0, "GET", "/",
     "", NULL},
    {"fragment dropped", "GET /p?q#frag HTTP/1.1\r\n\r\n", 0, -1, 0, "GET",
     "/p", "q", NULL},
    {"post body",
     "POST /api HTTP/1.1\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello",
     0, -1, 0, "POST", "/api", "", "hello"},
    {"chunked body",
     "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde"
     "\r\n0\r\n\r\n",
     0, -1, 0, "POST", "/c", "", "abcde"},
    {"upgrade",
     "GET /agent.ashx HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: "
     "Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
     "Sec-WebSocket-Version: 13\r\n\r\n",
     0, -1, 0, "GET", "/agent.ashx", "", NULL},
    {"bad method", "G@T / HTTP/1.1\r\n\r\n", 0, MESH_E_MALFORMED, 400, NULL,
     NULL, NULL, NULL},
    {"bad version", "GET / HTTP/x.1\r\n\r\n", 0, MESH_E_MALFORMED, 400, NULL,
     NULL, NULL, NULL},
    {"bad header", "GET / HTTP/1.1\r\nBad\x01Header: x\r\n\r\n", 0,
     MESH_E_MALFORMED, 400, NULL, NULL, NULL, NULL},
    {"body too large by length",
     "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 0, MESH_E_TOO_LARGE,
     413, NULL, NULL, NULL, NULL},
    {"cl and te",
     "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     0, MESH_E_MALFORMED, 400, NULL, NULL, NULL, NULL},
};

static void check_done(const struct http_parse *hp, const struct vec *v) {
  assert_string_equal(http_parse_method(hp), v->method);
  assert_string_equal(http_parse_path(hp), v->path);
  assert_string_equal(http_parse_query(hp), v->query);
  size_t bl;
  const uint8_t *b = http_parse_body(hp, &bl);
  if (v->body) {
    assert_int_equal(bl, strlen(v->body));
    assert_memory_equal(b, v->body, bl);
  } else {
    assert_int_equal(bl, 0);
  }
}

static size_t vlen(const struct vec *v) {
  return v->len ? v->len : strlen(v->in);
}

static void table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    const struct vec *v = &vecs[i];
    size_t n = vlen(v);
    struct http_parse hp;
    http_parse_init(&hp, HTTP_PARSE_REQUEST);
    uint8_t *g = tu_guard_copy(v->in, n);
    ssize_t r = http_parse_feed(&hp, g, n);
    if (v->want == -1) {
      if (r != (ssize_t)n) fail_msg("%s: got %zd", v->name, r);
      check_done(&hp, v);
    } else {
      if (r != v->want) fail_msg("%s: got %zd", v->name, r);
      assert_int_equal(http_parse_status(&hp), v->status);
    }
    tu_guard_free(g, n);
    http_parse_cleanup(&hp);
  }
}

/* Every valid vector fed one byte at a time, and truncated at every length
 * (each prefix must be INCOMPLETE, never an error). */
static void partial(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    const struct vec *v = &vecs[i];
    if (v->want != -1) continue;
    size_t n = vlen(v);
    struct http_parse hp;
    http_parse_init(&hp, HTTP_PARSE_REQUEST);
    for (size_t k = 0; k < n; k++) {
      uint8_t *g = tu_guard_copy(v->in + k, 1);
      ssize_t r = http_parse_feed(&hp, g, 1);
      tu_guard_free(g, 1);
      if (k + 1 < n) {
        if (r != MESH_E_INCOMPLETE) fail_msg("%s byte %zu: %zd", v->name, k, r);
      } else {
        assert_int_equal(r, 1);
      }
    }
    check_done(&hp, v);
    http_parse_cleanup(&hp);
    for (size_t t = 0; t < n; t++) {
      http_parse_init(&hp, HTTP_PARSE_REQUEST);
      uint8_t *g = tu_guard_copy(v->in, t);
      ssize_t r = http_parse_feed(&hp, g, t);
      if (t == 0) r = MESH_E_INCOMPLETE; /* n == 0 means EOF, not data */
      if (r != MESH_E_INCOMPLETE) fail_msg("%s cut %zu: %zd", v->name, t, r);
      /* The rest completes the message. */
      uint8_t *g2 = tu_guard_copy(v->in + t, n - t);
      assert_int_equal(http_parse_feed(&hp, g2, n - t), (ssize_t)(n - t));
      check_done(&hp, v);
      tu_guard_free(g, t);
      tu_guard_free(g2, n - t);
      http_parse_cleanup(&hp);
    }
  }
}

static void headers_case_insensitive(void **state) {
  (void)state;
  const char *in =
      "GET / HTTP/1.1\r\nX-Thing: one\r\nx-thing: two\r\n"
      "Empty:\r\nSEC-websocket-KEY: k\r\n\r\n";
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_REQUEST);
  assert_int_equal(http_parse_feed(&hp, (const uint8_t *)in, strlen(in)),
                   (ssize_t)strlen(in));
  assert_string_equal(http_parse_header(&hp, "x-THING"), "one");
  assert_string_equal(http_parse_header(&hp, "Sec-WebSocket-Key"), "k");
  assert_string_equal(http_parse_header(&hp, "empty"), "");
  assert_null(http_parse_header(&hp, "absent"));
  assert_int_equal(http_parse_nheaders(&hp), 4);
  assert_string_equal(http_parse_header_name(&hp, 1), "x-thing");
  assert_int_equal(http_parse_keep_alive(&hp), 1);
  assert_int_equal(http_parse_upgrade(&hp), 0);
  http_parse_cleanup(&hp);
}

static void pipelined(void **state) {
  (void)state;
  const char *a = "GET /one HTTP/1.1\r\n\r\n";
  const char *b = "POST /two?z HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
  char in[256];
  snprintf(in, sizeof in, "%s%s", a, b);
  size_t n = strlen(in);
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_REQUEST);
  ssize_t r = http_parse_feed(&hp, (const uint8_t *)in, n);
  assert_int_equal(r, (ssize_t)strlen(a));
  assert_string_equal(http_parse_path(&hp), "/one");
  assert_int_equal(http_parse_feed(&hp, (const uint8_t *)in + r, n - (size_t)r),
                   MESH_E_PROTO_STATE);
  http_parse_next(&hp);
  assert_int_equal(http_parse_feed(&hp, (const uint8_t *)in + r, n - (size_t)r),
                   (ssize_t)strlen(b));
  assert_string_equal(http_parse_method(&hp), "POST");
  assert_string_equal(http_parse_query(&hp), "z");
  http_parse_cleanup(&hp);
}

/* Builds "GET <url> HTTP/1.1\r\n" + headers so that the whole header block
 * is exactly total bytes long, using nhdr headers. */
static char *make_req(size_t url_len, size_t nhdr, size_t total) {
  char *s = malloc(total + 1);
  size_t o = 0;
  o += (size_t)sprintf(s, "GET /");
  memset(s + o, 'u', url_len - 1);
  o += url_len - 1;
  o += (size_t)sprintf(s + o, " HTTP/1.1\r\n");
  for (size_t i = 0; i < nhdr; i++) {
    size_t left = total - o - 2; /* room for the final CRLF */
    size_t remaining = nhdr - i;
    size_t line = remaining == 1 ? left : 8;
    /* "hNN: v\r\n" with padding in the value */
    int k = sprintf(s + o, "h%zu: ", i);
    size_t pad = line - (size_t)k - 2;
    memset(s + o + k, 'v', pad);
    memcpy(s + o + (size_t)k + pad, "\r\n", 2);
    o += line;
  }
  memcpy(s + o, "\r\n", 2);
  o += 2;
  assert_int_equal(o, total);
  s[o] = 0;
  return s;
}

static ssize_t parse_whole(const char *s, size_t n, int *status) {
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_REQUEST);
  uint8_t *g = tu_guard_copy(s, n);
  ssize_t r = http_parse_feed(&hp, g, n);
  *status = http_parse_status(&hp);
  tu_guard_free(g, n);
  http_parse_cleanup(&hp);
  return r;
}

static ssize_t parse_bytewise(const char *s, size_t n, int *status) {
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_REQUEST);
  ssize_t r = MESH_E_INCOMPLETE;
  for (size_t i = 0; i < n && r == MESH_E_INCOMPLETE; i++)
    r = http_parse_feed(&hp, (const uint8_t *)s + i, 1);
  *status = http_parse_status(&hp);
  http_parse_cleanup(&hp);
  return r;
}

static void limits(void **state) {
  (void)state;
  int st;
  /* Header bytes: exactly at the limit, then one past. */
  for (int past = 0; past <= 1; past++) {
    size_t total = MESH_HTTP_MAX_HEADER_BYTES + (size_t)past;
    char *s = make_req(10, 4, total);
    ssize_t r = parse_whole(s, total, &st);
    ssize_t rb = parse_bytewise(s, total, &st);
    if (!past) {
      assert_int_equal(r, (ssize_t)total);
      assert_int_equal(rb, 1);
    } else {
      assert_int_equal(r, MESH_E_TOO_LARGE);
      assert_int_equal(rb, MESH_E_TOO_LARGE);
      assert_int_equal(st, 431);
    }
    free(s);
  }
  /* Header count. */
  for (int past = 0; past <= 1; past++) {
    size_t nh = MESH_HTTP_MAX_HEADERS + (size_t)past;
    size_t total = 5 + 11 + nh * 8 + 2 + 4;
    char *s = make_req(5, nh, total);
    ssize_t r = parse_whole(s, total, &st);
    if (!past) {
      assert_int_equal(r, (ssize_t)total);
    } else {
      assert_int_equal(r, MESH_E_TOO_LARGE);
      assert_int_equal(st, 431);
    }
    free(s);
  }
  /* URL length. */
  for (int past = 0; past <= 1; past++) {
    size_t ul = MESH_HTTP_MAX_URL + (size_t)past;
    size_t total = 4 + ul + 11 + 2;
    char *s = make_req(ul, 0, total);
    ssize_t r = parse_whole(s, total, &st);
    ssize_t rb = parse_bytewise(s, total, &st);
    if (!past) {
      assert_int_equal(r, (ssize_t)total);
      assert_int_equal(rb, 1);
    } else {
      assert_int_equal(r, MESH_E_TOO_LARGE);
      assert_int_equal(rb, MESH_E_TOO_LARGE);
      assert_int_equal(st, 414);
    }
    free(s);
  }
  /* Body: Content-Length at the limit, and chunked one past it. */
  {
    size_t bl = MESH_HTTP_MAX_BODY;
    char head[128];
    int h = snprintf(head, sizeof head,
                     "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", bl);
    char *s = malloc((size_t)h + bl);
    memcpy(s, head, (size_t)h);
    memset(s + h, 'b', bl);
    assert_int_equal(parse_whole(s, (size_t)h + bl, &st),
                     (ssize_t)h + (ssize_t)bl);
    free(s);
    /* Chunked: one chunk of MAX, then one more byte. */
    char *c = malloc(bl + 256);
    size_t o = (size_t)sprintf(c,
                               "POST / HTTP/1.1\r\nTransfer-Encoding: "
                               "chunked\r\n\r\n%zx\r\n",
                               bl);
    memset(c + o, 'b', bl);
    o += bl;
    size_t ok_len = o + (size_t)sprintf(c + o, "\r\n0\r\n\r\n");
    assert_int_equal(parse_whole(c, ok_len, &st), (ssize_t)ok_len);
    o += (size_t)sprintf(c + o, "\r\n1\r\nx\r\n0\r\n\r\n");
    assert_int_equal(parse_whole(c, o, &st), MESH_E_TOO_LARGE);
    assert_int_equal(st, 413);
    free(c);
  }
}

static void response_101(void **state) {
  (void)state;
  const char *in =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Accept: abc\r\n\r\n"
      "\x81\x02hi";
  size_t n = strlen(in);
  for (size_t k = 0; k < 2; k++) {
    struct http_parse hp;
    http_parse_init(&hp, HTTP_PARSE_RESPONSE);
    ssize_t r;
    if (k == 0) {
      r = http_parse_feed(&hp, (const uint8_t *)in, n);
    } else {
      r = MESH_E_INCOMPLETE;
      size_t i = 0;
      for (; i < n && r == MESH_E_INCOMPLETE; i++)
        r = http_parse_feed(&hp, (const uint8_t *)in + i, 1);
      if (r >= 0) r += (ssize_t)i - 1;
    }
    assert_int_equal(r, (ssize_t)(n - 4));
    assert_int_equal(http_parse_code(&hp), 101);
    assert_int_equal(http_parse_upgrade(&hp), 1);
    assert_string_equal(http_parse_header(&hp, "sec-websocket-accept"), "abc");
    http_parse_cleanup(&hp);
  }
  /* A body that runs to EOF. */
  const char *eof = "HTTP/1.0 404 Not Found\r\n\r\nnope";
  struct http_parse hp;
  http_parse_init(&hp, HTTP_PARSE_RESPONSE);
  assert_int_equal(http_parse_feed(&hp, (const uint8_t *)eof, strlen(eof)),
                   MESH_E_INCOMPLETE);
  assert_int_equal(http_parse_feed(&hp, NULL, 0), 0);
  assert_int_equal(http_parse_code(&hp), 404);
  size_t bl;
  const uint8_t *b = http_parse_body(&hp, &bl);
  assert_int_equal(bl, 4);
  assert_memory_equal(b, "nope", 4);
  http_parse_cleanup(&hp);
}

/* In-test mutation: bit flips and truncations of every vector must give a
 * defined result and never crash (the guard page catches overreads). */
static void mutations(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
    size_t n = vlen(&vecs[i]);
    for (int m = 0; m < 200; m++) {
      uint8_t *g = tu_guard_copy(vecs[i].in, n);
      g[tu_rand() % n] ^= (uint8_t)(1u << (tu_rand() % 8));
      size_t cut = tu_rand() % (n + 1);
      struct http_parse hp;
      http_parse_init(&hp, HTTP_PARSE_REQUEST);
      ssize_t r = http_parse_feed(&hp, g + (n - cut), cut);
      assert_true(r >= 0 || r == MESH_E_INCOMPLETE || r == MESH_E_MALFORMED ||
                  r == MESH_E_TOO_LARGE);
      if (r < 0 && r != MESH_E_INCOMPLETE)
        assert_true(http_parse_status(&hp) >= 400);
      http_parse_cleanup(&hp);
      tu_guard_free(g, n);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(table),
      cmocka_unit_test(partial),
      cmocka_unit_test(headers_case_insensitive),
      cmocka_unit_test(pipelined),
      cmocka_unit_test(limits),
      cmocka_unit_test(response_101),
      cmocka_unit_test(mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
