/*
 * meshctl_store_test.c - meshctl's session file (cli/store.c): pin text
 * forms, save/load round trip, modes, and refusal of damaged or
 * world-readable files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "cli/cli.h"
#include "testutil.h"

static void pins(void **state) {
  (void)state;
  uint8_t pin[HTTP_CLI_PIN_LEN], back[HTTP_CLI_PIN_LEN];
  char text[96];
  for (size_t i = 0; i < sizeof pin; i++) pin[i] = (uint8_t)(i * 37 + 1);
  mc_pin_format(pin, text);
  assert_int_equal(strlen(text), 95);
  assert_int_equal(mc_pin_parse(text, back), 0);
  assert_memory_equal(pin, back, sizeof pin);
  /* Without colons, lower case, with a prefix. */
  char plain[80] = "sha256:";
  for (size_t i = 0, k = 7; text[i]; i++)
    if (text[i] != ':') plain[k++] = (char)(text[i] | 0x20);
  memset(back, 0, sizeof back);
  assert_int_equal(mc_pin_parse(plain, back), 0);
  assert_memory_equal(pin, back, sizeof pin);
  static const char *const bad[] = {
      "",
      "00",
      "sha256:",
      "zz" /* not hex */,
      "0102030405060708091011121314151617181920212223242526272829303132ff",
      "010203040506070809101112131415161718192021222324252627282930313",
      "0:102030405060708091011121314151617181920212223242526272829303132",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memset(back, 0xAA, sizeof back);
    assert_int_equal(mc_pin_parse(bad[i], back), MESH_E_INVALID);
    assert_int_equal(back[0], 0xAA); /* untouched on error */
  }
}

static char path[1024];

static void write_file(const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

static void round_trip(void **state) {
  (void)state;
  const char *dir = tu_tmpdir();
  char cfg[600];
  struct stat st;
  snprintf(cfg, sizeof cfg, "%s/cfg", dir);
  setenv("XDG_CONFIG_HOME", cfg, 1);
  assert_int_equal(mc_session_path(path, sizeof path, 0), 0);
  struct mc_session s, t;
  assert_int_equal(mc_session_load(&t), MESH_E_NOT_FOUND);
  memset(&s, 0, sizeof s);
  snprintf(s.url, sizeof s.url, "https://127.0.0.1:4443");
  snprintf(s.user, sizeof s.user, "admin");
  snprintf(s.token, sizeof s.token, "abc-DEF_123");
  for (size_t i = 0; i < sizeof s.pin; i++) s.pin[i] = (uint8_t)i;
  assert_int_equal(mc_session_save(&s), 0);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  char d[1024];
  assert_int_equal(mc_session_path(d, sizeof d, 1), 0);
  assert_int_equal(stat(d, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_int_equal(mc_session_load(&t), 0);
  assert_string_equal(t.url, s.url);
  assert_string_equal(t.user, s.user);
  assert_string_equal(t.token, s.token);
  assert_memory_equal(t.pin, s.pin, sizeof s.pin);
  mc_session_wipe(&t);
  assert_int_equal(t.token[0], 0);

  /* Readable by others: refused. */
  chmod(path, 0640);
  assert_int_equal(mc_session_load(&t), MESH_E_DENIED);
  chmod(path, 0600);

  /* Damaged files: each is refused, nothing half-loaded. */
  static const char *const bad[] = {
      "",
      "url=https://h:1\npin=00\ntoken=x\n",
      "url=http://h:1\npin=000102030405060708090a0b0c0d0e0f101112131415161718"
      "191a1b1c1d1e1f\ntoken=x\n",
      "url=https://h:1\npin=000102030405060708090a0b0c0d0e0f10111213141516171"
      "8191a1b1c1d1e1f\ntoken=bad token\n",
      "pin=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "token=x\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(bad[i], 0600);
    assert_int_equal(mc_session_load(&t), MESH_E_MALFORMED);
    assert_int_equal(t.token[0], 0);
  }
  write_file(
      "user=bob\nurl=https://h:1\nother=ignored\n"
      "pin=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
      "token=x",
      0600);
  assert_int_equal(mc_session_load(&t), 0);
  assert_string_equal(t.user, "bob");
  assert_string_equal(t.token, "x");

  assert_int_equal(mc_session_delete(), 0);
  assert_int_equal(mc_session_delete(), 0);
  assert_int_equal(mc_session_load(&t), MESH_E_NOT_FOUND);
  tu_rmdir_r(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pins),
      cmocka_unit_test(round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
