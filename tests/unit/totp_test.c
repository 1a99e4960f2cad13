/* totp_test.c - RFC 6238 appendix B vectors (SHA-1) and the ±1 window. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "crypto/totp.h"

static const uint8_t key[] = "12345678901234567890";
#define KEYLEN 20

static void rfc6238_vectors(void **state) {
  (void)state;
  static const struct {
    uint64_t t;
    uint32_t eight, six;
  } v[] = {
      {59, 94287082, 287082},         {1111111109, 7081804, 81804},
      {1111111111, 14050471, 50471},  {1234567890, 89005924, 5924},
      {2000000000, 69279037, 279037}, {20000000000ull, 65353130, 353130},
  };
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    assert_int_equal(totp_at(key, KEYLEN, v[i].t, 8), v[i].eight);
    assert_int_equal(totp_at(key, KEYLEN, v[i].t, 6), v[i].six);
  }
}

static void verify_window(void **state) {
  (void)state;
  const uint64_t t = 1111111109; /* step 37037036 */
  char code[8];
  snprintf(code, sizeof code, "%06u", totp_at(key, KEYLEN, t, 6));
  assert_string_equal(code, "081804");
  assert_int_equal(totp_verify(key, KEYLEN, t, code, NULL), 0);
  /* One step either side is accepted, two are not. */
  uint64_t step;
  assert_int_equal(totp_verify(key, KEYLEN, t + 30, code, &step), 0);
  assert_int_equal(step, t / 30); /* the code's own step, not now's */
  assert_int_equal(totp_verify(key, KEYLEN, t - 30, code, NULL), 0);
  assert_int_equal(totp_verify(key, KEYLEN, t + 60, code, NULL), MESH_E_AUTH);
  assert_int_equal(totp_verify(key, KEYLEN, t - 60, code, NULL), MESH_E_AUTH);
  assert_int_equal(totp_verify(key, KEYLEN, t, "081805", NULL), MESH_E_AUTH);
  /* A code without its leading zero is the same code (stock meshctrl
   * sends --token as a number); only decimal digits, at most six. */
  assert_int_equal(totp_verify(key, KEYLEN, t, "81804", NULL), 0);
  assert_int_equal(totp_verify(key, KEYLEN, t, "81805", NULL), MESH_E_AUTH);
  assert_int_equal(totp_verify(key, KEYLEN, t, "0818040", NULL),
                   MESH_E_INVALID);
  assert_int_equal(totp_verify(key, KEYLEN, t, "08180a", NULL), MESH_E_INVALID);
  assert_int_equal(totp_verify(key, KEYLEN, t, "", NULL), MESH_E_INVALID);
  assert_int_equal(totp_verify(key, KEYLEN, t, NULL, NULL), MESH_E_INVALID);
  /* Near time zero there is no step before. */
  snprintf(code, sizeof code, "%06u", totp_at(key, KEYLEN, 0, 6));
  assert_int_equal(totp_verify(key, KEYLEN, 5, code, NULL), 0);
}

static void base32(void **state) {
  (void)state;
  char out[TOTP_B32_LEN];
  /* RFC 4648 §10 vectors, without padding. */
  assert_int_equal(totp_base32((const uint8_t *)"foobar", 6, out, sizeof out),
                   0);
  assert_string_equal(out, "MZXW6YTBOI");
  assert_int_equal(totp_base32((const uint8_t *)"f", 1, out, sizeof out), 0);
  assert_string_equal(out, "MY");
  assert_int_equal(totp_base32(key, KEYLEN, out, sizeof out), 0);
  assert_string_equal(out, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
  assert_int_equal(totp_base32(key, KEYLEN, out, 32), MESH_E_TOO_LARGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc6238_vectors),
      cmocka_unit_test(verify_window),
      cmocka_unit_test(base32),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
