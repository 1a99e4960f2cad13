#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "testutil.h"

static void hex_roundtrip(void **state) {
  (void)state;
  uint8_t in[3] = {0x00, 0xAB, 0xff}, out[3];
  char h[7];
  enc_hex(in, 3, h, 1);
  assert_string_equal(h, "00ABFF");
  enc_hex(in, 3, h, 0);
  assert_string_equal(h, "00abff");
  assert_int_equal(enc_unhex("00aBFf", 6, out, 3), 0);
  assert_memory_equal(in, out, 3);
  assert_int_equal(enc_unhex("00aBF", 5, out, 3), MESH_E_MALFORMED);
  assert_int_equal(enc_unhex("00aBFg", 6, out, 3), MESH_E_MALFORMED);
}

static void b64mc_uses_at_and_dollar(void **state) {
  (void)state;
  uint8_t in[3] = {0xfb, 0xef, 0xff}; /* all-ones sextets: "+/" region */
  char s[5];
  enc_b64(in, 3, s, 1);
  assert_string_equal(s, "@@$$");
  enc_b64(in, 3, s, 0);
  assert_string_equal(s, "++//");
  uint8_t out[3];
  assert_int_equal(enc_unb64("@@$$", 4, out, 3), 3);
  assert_memory_equal(in, out, 3);
}

static void b64_lengths_and_padding(void **state) {
  (void)state;
  const char *vec[][2] = {{"", ""},
                          {"f", "Zg=="},
                          {"fo", "Zm8="},
                          {"foo", "Zm9v"},
                          {"foob", "Zm9vYg=="},
                          {"fooba", "Zm9vYmE="},
                          {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
    char s[16];
    uint8_t out[8];
    size_t n = strlen(vec[i][0]);
    enc_b64((const uint8_t *)vec[i][0], n, s, 0);
    assert_string_equal(s, vec[i][1]);
    uint8_t *g = tu_guard_copy(s, strlen(s));
    assert_int_equal(enc_unb64((char *)g, strlen(s), out, sizeof out),
                     (ssize_t)n);
    tu_guard_free(g, strlen(s));
    assert_memory_equal(out, vec[i][0], n);
  }
  uint8_t out[2];
  assert_int_equal(enc_unb64("Zm9v", 4, out, 2), MESH_E_TOO_LARGE);
  assert_int_equal(enc_unb64("Z", 1, out, 2), MESH_E_MALFORMED);
  assert_int_equal(enc_unb64("Z!==", 4, out, 2), MESH_E_MALFORMED);
}

static void b64_48_bytes_is_64_chars(void **state) {
  (void)state;
  uint8_t in[48], out[48];
  for (int i = 0; i < 48; i++) in[i] = (uint8_t)(i * 37);
  char s[ENC_B64_LEN(48) + 1];
  enc_b64(in, 48, s, 1);
  assert_int_equal(strlen(s), 64);
  assert_null(strchr(s, '='));
  assert_int_equal(enc_unb64(s, 64, out, 48), 48);
  assert_memory_equal(in, out, 48);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hex_roundtrip),
      cmocka_unit_test(b64mc_uses_at_and_dollar),
      cmocka_unit_test(b64_lengths_and_padding),
      cmocka_unit_test(b64_48_bytes_is_64_chars),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
