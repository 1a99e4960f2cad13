/* seal_test.c - sealed tokens: round trip, tampering, wrong key, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/seal.h"

static const uint8_t key[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcde";

static void round_trip(void **state) {
  (void)state;
  const char msg[] = "{\"u\":\"user//bob\",\"time\":1700000000}";
  char tok[SEAL_TOKEN_LEN(sizeof msg) + 1], tok2[sizeof tok];
  uint8_t out[64];
  size_t n;
  assert_int_equal(seal_token(key, msg, strlen(msg), tok, sizeof tok), 0);
  assert_int_equal(strlen(tok), SEAL_TOKEN_LEN(strlen(msg)));
  /* URL-safe: no '+', '/' or '=' that a query would mangle... except
   * padding, which the B64MC alphabet keeps; none of +/ in any case. */
  assert_null(strpbrk(tok, "+/&?# "));
  assert_int_equal(seal_open(key, tok, out, sizeof out, &n), 0);
  assert_int_equal(n, strlen(msg));
  assert_memory_equal(out, msg, n);
  /* A fresh IV per token: the same plaintext never seals the same. */
  assert_int_equal(seal_token(key, msg, strlen(msg), tok2, sizeof tok2), 0);
  assert_string_not_equal(tok, tok2);
  /* Empty plaintexts work too. */
  assert_int_equal(seal_token(key, "", 0, tok, sizeof tok), 0);
  assert_int_equal(seal_open(key, tok, out, sizeof out, &n), 0);
  assert_int_equal(n, 0);
}

static void tampering_and_wrong_key(void **state) {
  (void)state;
  const char msg[] = "{\"u\":\"user//bob\"}";
  char tok[SEAL_TOKEN_LEN(sizeof msg) + 1];
  uint8_t out[64], other[SEAL_KEY_LEN];
  size_t n = 99;
  assert_int_equal(seal_token(key, msg, strlen(msg), tok, sizeof tok), 0);
  memcpy(other, key, sizeof other);
  other[5] ^= 1;
  assert_int_equal(seal_open(other, tok, out, sizeof out, &n), MESH_E_AUTH);
  assert_int_equal(n, 0);
  /* Flip each character in turn to another valid one: never accepted. */
  size_t len = strlen(tok);
  for (size_t i = 0; i < len; i++) {
    char saved = tok[i];
    if (saved == '=') continue;
    tok[i] = saved == 'A' ? 'B' : 'A';
    int r = seal_open(key, tok, out, sizeof out, &n);
    assert_true(r == MESH_E_AUTH || r == MESH_E_MALFORMED);
    tok[i] = saved;
  }
  /* Every truncation fails. */
  for (size_t cut = 0; cut < len; cut++) {
    char t[sizeof tok];
    memcpy(t, tok, cut);
    t[cut] = 0;
    assert_true(seal_open(key, t, out, sizeof out, &n) < 0);
  }
  assert_int_equal(seal_open(key, "not a token!", out, sizeof out, &n),
                   MESH_E_MALFORMED);
  assert_int_equal(seal_open(key, tok, out, sizeof out, &n), 0);
}

static void bounds(void **state) {
  (void)state;
  static uint8_t big[SEAL_MAX_PLAIN + 1];
  static char tok[SEAL_TOKEN_LEN(SEAL_MAX_PLAIN + 1) + 1];
  uint8_t small[4];
  size_t n;
  assert_int_equal(seal_token(key, big, sizeof big, tok, sizeof tok),
                   MESH_E_TOO_LARGE);
  assert_int_equal(seal_token(key, big, 10, tok, SEAL_TOKEN_LEN(10)),
                   MESH_E_TOO_LARGE);
  assert_int_equal(seal_token(key, big, SEAL_MAX_PLAIN, tok,
                              SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1),
                   0);
  assert_int_equal(seal_open(key, tok, small, sizeof small, &n),
                   MESH_E_TOO_LARGE);
  /* A token longer than any sealed one is refused before decoding. */
  memset(tok, 'A', sizeof tok - 1);
  tok[sizeof tok - 1] = 0;
  assert_int_equal(seal_open(key, tok, big, sizeof big, &n), MESH_E_TOO_LARGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip),
      cmocka_unit_test(tampering_and_wrong_key),
      cmocka_unit_test(bounds),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
