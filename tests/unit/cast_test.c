/* asciicast v2 lines of terminal recordings (proto/cast.h): UTF-8
 * split across messages, every split point, invalid bytes, bounds, and
 * the terminal size messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/cast.h"
#include "testutil.h"

/* The "o" texts of all lines in b, concatenated. */
static char *outputs(const struct buf *b) {
  size_t cap = b->len + 1, n = 0;
  char *all = calloc(1, cap);
  const char *p = (const char *)b->data, *end = p + b->len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    assert_non_null(nl);
    json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);
    assert_true(json_is_array(j));
    assert_true(json_is_real(json_array_get(j, 0)));
    assert_string_equal(json_string_value(json_array_get(j, 1)), "o");
    const char *t = json_string_value(json_array_get(j, 2));
    size_t tl = strlen(t);
    assert_true(n + tl < cap + 64);
    memcpy(all + n, t, tl);
    n += tl;
    json_decref(j);
    p = nl + 1;
  }
  all[n] = 0;
  return all;
}

static void test_header_resize(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 4096);
  assert_int_equal(cast_header(&b, 100, 30, 1700000000), 0);
  assert_int_equal(cast_resize(&b, 1.5, 120, 40), 0);
  const char want[] =
      "{\"version\":2,\"width\":100,\"height\":30,\"timestamp\":1700000000}\n"
      "[1.5,\"r\",\"120x40\"]\n";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.data, want, sizeof want - 1);
  buf_cleanup(&b);
}

/* "aé€😀" cut at every point into two messages gives the same text. */
static void test_utf8_every_split(void **state) {
  (void)state;
  const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
  size_t n = sizeof text - 1;
  for (size_t cut = 0; cut <= n; cut++) {
    struct buf b;
    struct cast_utf8 st = {{0}, 0};
    buf_init(&b, 4096);
    assert_int_equal(cast_output(&b, 0.1, &st, (const uint8_t *)text, cut), 0);
    assert_int_equal(
        cast_output(&b, 0.2, &st, (const uint8_t *)text + cut, n - cut), 0);
    assert_int_equal(st.n, 0);
    char *all = outputs(&b);
    assert_string_equal(all, text);
    free(all);
    buf_cleanup(&b);
  }
  /* One byte at a time. */
  struct buf b;
  struct cast_utf8 st = {{0}, 0};
  buf_init(&b, 65536);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(cast_output(&b, 0.1, &st, (const uint8_t *)text + i, 1),
                     0);
  char *all = outputs(&b);
  assert_string_equal(all, text);
  free(all);
  buf_cleanup(&b);
}

static void test_invalid(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } v[] = {
      {"\xff", "\xef\xbf\xbd"},
      {"a\x80z", "a\xef\xbf\xbdz"},
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
      {"\xe2\x82x", "\xef\xbf\xbd\xef\xbf\xbdx"}, /* cut by an ASCII byte */
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    struct buf b;
    struct cast_utf8 st = {{0}, 0};
    buf_init(&b, 4096);
    assert_int_equal(
        cast_output(&b, 0, &st, (const uint8_t *)v[i].in, strlen(v[i].in)), 0);
    char *all = outputs(&b);
    assert_string_equal(all, v[i].out);
    free(all);
    buf_cleanup(&b);
  }
  /* Only an incomplete character: no line, the bytes carried. */
  struct buf b;
  struct cast_utf8 st = {{0}, 0};
  buf_init(&b, 4096);
  assert_int_equal(cast_output(&b, 0, &st, (const uint8_t *)"\xf0\x9f", 2), 0);
  assert_int_equal(b.len, 0);
  assert_int_equal(st.n, 2);
  buf_cleanup(&b);
}

/* Random bytes: every line is valid JSON with valid UTF-8, whatever the
 * input; the carry never exceeds 3 bytes. */
static void test_random(void **state) {
  (void)state;
  uint8_t in[64];
  struct cast_utf8 st = {{0}, 0};
  for (int round = 0; round < 3000; round++) {
    struct buf b;
    buf_init(&b, 65536);
    size_t n = tu_rand() % sizeof in;
    for (size_t i = 0; i < n; i++) in[i] = (uint8_t)tu_rand();
    assert_int_equal(cast_output(&b, 1.0, &st, in, n), 0);
    assert_true(st.n <= 3);
    char *all = outputs(&b); /* jansson refuses invalid UTF-8 */
    free(all);
    buf_cleanup(&b);
  }
}

/* A full buffer: nothing appended, the carry unchanged. */
static void test_bounded(void **state) {
  (void)state;
  struct buf b;
  struct cast_utf8 st = {{0xe2}, 1};
  buf_init(&b, 16);
  uint8_t big[64];
  memset(big, 'x', sizeof big);
  assert_int_equal(cast_output(&b, 1.0, &st, big, sizeof big),
                   MESH_E_TOO_LARGE);
  assert_int_equal(b.len, 0);
  assert_int_equal(st.n, 1);
  assert_int_equal(cast_header(&b, 80, 25, 1700000000), MESH_E_TOO_LARGE);
  assert_int_equal(b.len, 0);
  buf_cleanup(&b);
}

static void test_term_size(void **state) {
  (void)state;
  int c = 0, r = 0, o = -1;
#define TS(s) cast_term_size((const uint8_t *)(s), strlen(s), &c, &r, &o)
  assert_int_equal(
      TS("{\"ctrlChannel\":\"102938\",\"type\":\"termsize\",\"cols\":120,"
         "\"rows\":40}"),
      1);
  assert_int_equal(c, 120);
  assert_int_equal(r, 40);
  assert_int_equal(o, 0);
  assert_int_equal(TS("{\"type\":\"options\",\"cols\":100,\"rows\":30}"), 1);
  assert_int_equal(o, 1);
  assert_int_equal(TS("{\"type\":\"options\"}"), 0);
  assert_int_equal(TS("{\"type\":\"termsize\",\"cols\":0,\"rows\":40}"), 0);
  assert_int_equal(TS("{\"type\":\"termsize\",\"cols\":10001,\"rows\":4}"), 0);
  assert_int_equal(TS("{\"type\":\"termsize\",\"cols\":\"80\",\"rows\":4}"), 0);
  assert_int_equal(TS("{\"type\":\"close\"}"), 0);
  assert_int_equal(TS("1"), 0);
  assert_int_equal(TS("{not json"), 0);
  assert_int_equal(TS(""), 0);
#undef TS
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_header_resize),
      cmocka_unit_test(test_utf8_every_split),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_bounded),
      cmocka_unit_test(test_term_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
