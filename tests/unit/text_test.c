#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/text.h"
#include "testutil.h"

static void check(const char *in, const char *want, size_t replaced) {
  char buf[64];
  snprintf(buf, sizeof buf, "%s", in);
  assert_int_equal(text_clean(buf), replaced);
  assert_string_equal(buf, want);
}

static void vectors(void **state) {
  (void)state;
  check("plain name", "plain name", 0);
  check("tab\there", "tab?here", 1);
  check("esc\x1b[31mred", "esc?[31mred", 1);
  check("del\x7f", "del?", 1);
  check("caf\xc3\xa9", "caf\xc3\xa9", 0);           /* é */
  check("\xe2\x82\xac", "\xe2\x82\xac", 0);         /* € */
  check("\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 0); /* emoji */
  check("\xc0\xaf", "??", 2);                       /* overlong / */
  check("\xe0\x80\xaf", "???", 3);                  /* overlong */
  check("\xed\xa0\x80", "???", 3);                  /* surrogate */
  check("\xf4\x90\x80\x80", "????", 4);             /* > U+10FFFF */
  check("\xc3", "?", 1);                            /* cut short */
  check("\xe2\x82", "??", 2);
  check("\x80x", "?x", 1); /* stray */
  check("<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>", 0);
}

/* Random bytes always come out as valid UTF-8 without controls. */
static void random_bytes(void **state) {
  (void)state;
  for (int round = 0; round < 20000; round++) {
    char buf[33];
    size_t n = tu_rand() % 32;
    for (size_t i = 0; i < n; i++) {
      buf[i] = (char)(tu_rand() % 255 + 1);
    }
    buf[n] = 0;
    text_clean(buf);
    assert_int_equal(text_clean(buf), 0); /* idempotent: now clean */
    assert_int_equal(strlen(buf), n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(vectors),
                                     cmocka_unit_test(random_bytes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
