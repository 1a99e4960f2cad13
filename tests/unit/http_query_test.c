/* http_query_param: the %-decoding query lookup shared by /meshrelay.ashx
 * and /meshsettings. Vectors, every truncation, and each input placed
 * against a guard page so a read past its NUL faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/http_parse.h"
#include "testutil.h"

struct vec {
  const char *query, *name;
  int want;
  const char *value; /* when want == 0 */
};

static const struct vec vecs[] = {
    {"id=abc", "id", 0, "abc"},
    {"p=1&id=abc&x=y", "id", 0, "abc"},
    {"id=first&id=second", "id", 0, "first"},
    {"id=", "id", 0, ""},
    {"id", "id", 0, ""},
    {"x&id&y", "id", 0, ""},
    {"nodeid=N&id=T", "id", 0, "T"}, /* "nodeid" is not "id" */
    {"idx=1", "id", MESH_E_NOT_FOUND, NULL},
    {"xid=1", "id", MESH_E_NOT_FOUND, NULL},
    {"", "id", MESH_E_NOT_FOUND, NULL},
    {"&&&", "id", MESH_E_NOT_FOUND, NULL},
    {"ID=1", "id", MESH_E_NOT_FOUND, NULL}, /* names are exact */
    {"rauth=a%24b%40c", "rauth", 0, "a$b@c"},
    {"rauth=a%2fb%2Fc", "rauth", 0, "a/b/c"},
    {"v=a+b", "v", 0, "a+b"},
    {"v=%41%42", "v", 0, "AB"},
    {"v=%e2%82%ac", "v", 0, "\xe2\x82\xac"},
    {"v==x", "v", 0, "=x"},
    {"v=%", "v", MESH_E_MALFORMED, NULL},
    {"v=%4", "v", MESH_E_MALFORMED, NULL},
    {"v=%4&w=1", "v", MESH_E_MALFORMED, NULL},
    {"v=%zz", "v", MESH_E_MALFORMED, NULL},
    {"v=%g0", "v", MESH_E_MALFORMED, NULL},
    {"v=a%00b", "v", MESH_E_MALFORMED, NULL},
    {"v=%%41", "v", MESH_E_MALFORMED, NULL},
    /* A malformed other parameter does not matter. */
    {"w=%zz&v=ok", "v", 0, "ok"},
};

static void test_vectors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++) {
    const struct vec *v = &vecs[i];
    size_t n = strlen(v->query) + 1;
    uint8_t *g = tu_guard_copy(v->query, n);
    char out[64];
    memset(out, 'Z', sizeof out);
    int r = http_query_param((const char *)g, v->name, out, sizeof out);
    if (r != v->want) fail_msg("vector %zu (%s): got %d", i, v->query, r);
    if (r == 0)
      assert_string_equal(out, v->value);
    else
      assert_string_equal(out, "");
    tu_guard_free(g, n);
  }
}

/* The value fits exactly, or is one byte too long. */
static void test_capacity(void **state) {
  (void)state;
  char out[4];
  assert_int_equal(http_query_param("id=abc", "id", out, 4), 0);
  assert_string_equal(out, "abc");
  assert_int_equal(http_query_param("id=abcd", "id", out, 4), MESH_E_TOO_LARGE);
  assert_string_equal(out, "");
  /* %-escapes count decoded: 3 escapes are 3 bytes. */
  assert_int_equal(http_query_param("id=%41%42%43", "id", out, 4), 0);
  assert_string_equal(out, "ABC");
  assert_int_equal(http_query_param("id=", "id", out, 1), 0);
  assert_int_equal(http_query_param("id=a", "id", out, 1), MESH_E_TOO_LARGE);
  assert_int_equal(http_query_param("id=a", "id", out, 0), MESH_E_TOO_LARGE);
  assert_int_equal(http_query_param(NULL, "id", out, sizeof out),
                   MESH_E_NOT_FOUND);
}

/* Every prefix of every vector: no fault past the NUL, and the result is
 * one of the documented codes; a value found in a prefix is a prefix of
 * the decoded or raw value. */
static void test_truncations(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof vecs / sizeof *vecs; i++) {
    const char *q = vecs[i].query;
    size_t len = strlen(q);
    for (size_t cut = 0; cut <= len; cut++) {
      char *t = malloc(cut + 1);
      memcpy(t, q, cut);
      t[cut] = 0;
      uint8_t *g = tu_guard_copy(t, cut + 1);
      char out[64];
      int r = http_query_param((const char *)g, vecs[i].name, out, sizeof out);
      assert_true(r == 0 || r == MESH_E_NOT_FOUND || r == MESH_E_MALFORMED);
      if (r == 0) assert_true(strlen(out) <= cut);
      tu_guard_free(g, cut + 1);
      free(t);
    }
  }
}

/* Random bytes and bit flips of the vectors: only documented results,
 * and a success is always NUL-terminated within cap. */
static void test_mutations(void **state) {
  (void)state;
  char q[80], out[16];
  for (int round = 0; round < 20000; round++) {
    const char *base = vecs[round % (sizeof vecs / sizeof *vecs)].query;
    size_t n = strlen(base);
    if (n >= sizeof q) n = sizeof q - 1;
    memcpy(q, base, n);
    q[n] = 0;
    for (int k = 0; k < 3 && n; k++) {
      q[tu_rand() % n] ^= (char)(1u << (tu_rand() % 8));
    }
    for (size_t j = 0; j < n; j++)
      if (!q[j]) q[j] = '%'; /* keep the length */
    int r = http_query_param(q, round & 1 ? "id" : "v", out, sizeof out);
    assert_true(r == 0 || r == MESH_E_NOT_FOUND || r == MESH_E_MALFORMED ||
                r == MESH_E_TOO_LARGE);
    if (r == 0) assert_true(memchr(out, 0, sizeof out) != NULL);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vectors),
      cmocka_unit_test(test_capacity),
      cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
