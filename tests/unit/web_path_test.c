/*
 * web_path_test.c - srv_web_path_ok(): which request paths may name a
 * file of the web app. A table of good and bad paths; every bad one must
 * be refused however it is spelled.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "server/srv_web.h"

static const char *const good[] = {
    "/",
    "/index.html",
    "/app.js",
    "/app.css",
    "/favicon.svg",
    "/a",
    "/vendor/xterm/xterm.mjs",
    "/fonts/Noto-Sans_Regular.woff2",
    "/app.js.map",
    "/a.b.c",
    "/under_score-dash.JSON",
    "/1/2/3/4/5/6/7/8.js", /* 8 components: the most allowed */
};

static const char *const bad[] = {
    "",
    "index.html", /* not absolute */
    "//",
    "//etc/passwd",
    "/a//b.js",
    "/..",
    "/../etc/passwd",
    "/../../etc/passwd",
    "/a/../b.js",
    "/a/..",
    "/..a.js",   /* any "..": also refused */
    "/a..b.js",  /* any "..": also refused */
    "/%2e%2e/x", /* never decoded, and '%' is refused */
    "/%2E%2E%2Fetc%2Fpasswd",
    "/a%00.js",
    "/a\\b.js",
    "/..\\..\\etc\\passwd",
    "/.",
    "/.git/config", /* hidden components */
    "/.env",
    "/a/.hidden.js",
    "/dir/",   /* no folder listings */
    "/a b.js", /* space */
    "/a?b.js", /* query never reaches here, but refuse '?' */
    "/a#b.js",
    "/a:b.js",
    "/a;b.js",
    "/a\tb.js",
    "/a\r\nb.js",
    "/caf\xc3\xa9.js", /* non-ASCII */
    "/~user.js",
    "/1/2/3/4/5/6/7/8/9.js", /* 9 components: too deep */
};

static void good_paths(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    if (!srv_web_path_ok(good[i])) fail_msg("refused good path %s", good[i]);
  }
}

static void bad_paths(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (srv_web_path_ok(bad[i])) fail_msg("accepted bad path %s", bad[i]);
  }
  assert_false(srv_web_path_ok(NULL));
}

/* Every byte value that is not in [A-Za-z0-9._/-] is refused wherever it
 * stands in an otherwise good path. */
static void every_other_byte(void **state) {
  (void)state;
  char p[16];
  for (int ch = 1; ch < 256; ch++) {
    int allowed = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
                  ch == '-' || ch == '/';
    if (allowed) continue;
    for (int pos = 1; pos < 7; pos++) {
      snprintf(p, sizeof p, "/abcdef.js");
      p[pos] = (char)ch;
      if (srv_web_path_ok(p)) fail_msg("accepted byte 0x%02x at %d", ch, pos);
    }
  }
}

static void length_limit(void **state) {
  (void)state;
  char p[SRV_WEB_MAX_PATH + 2];
  memset(p, 'a', sizeof p);
  p[0] = '/';
  p[SRV_WEB_MAX_PATH] = '\0'; /* exactly the limit */
  assert_true(srv_web_path_ok(p));
  p[SRV_WEB_MAX_PATH] = 'a';
  p[SRV_WEB_MAX_PATH + 1] = '\0'; /* one past it */
  assert_false(srv_web_path_ok(p));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_paths),
      cmocka_unit_test(bad_paths),
      cmocka_unit_test(every_other_byte),
      cmocka_unit_test(length_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
