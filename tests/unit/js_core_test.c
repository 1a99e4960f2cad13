/*
 * js_core_test.c - the runtime's modules tested from JavaScript: every
 * tests/js/NAME_test.js runs as a core (tests/js/harness.js in front) on a
 * real loop, and each of its tests reports through SendCommand. One cmocka
 * test per file; a failing JS test prints its name and message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "../js/harness.h"
#include "testutil.h"

static char js_dir[PATH_MAX];

static void run_file(void **state) {
  const char *name = *state;
  char path[PATH_MAX + 64];
  size_t hl, tl;
  snprintf(path, sizeof path, "%s/harness.js", js_dir);
  char *harness = tu_read_file(path, &hl);
  snprintf(path, sizeof path, "%s/%s", js_dir, name);
  char *test = tu_read_file(path, &tl);
  const char *tmp = tu_tmpdir();
  size_t cap = hl + tl + strlen(tmp) + 64;
  char *src = malloc(cap);
  assert_non_null(src);
  snprintf(src, cap, "var TEST_TMP = '%s';\n%s\n%s", tmp, harness, test);
  free(harness);
  free(test);

  jh_setup();
  int r = jh_start(src);
  free(src);
  assert_int_equal(r, 0);
  int finished = jh_run_until("done", 60000);
  size_t i, failed = 0;
  json_t *m;
  json_array_foreach(jh_sent, i, m) {
    const char *a = json_string_value(json_object_get(m, "action"));
    if (!strcmp(a, "test") && !json_is_true(json_object_get(m, "ok"))) {
      failed++;
      print_error("%s: %s: %s\n", name,
                  json_string_value(json_object_get(m, "name")),
                  json_string_value(json_object_get(m, "msg")));
    } else if (!strcmp(a, "coreerror")) {
      failed++;
      print_error("%s: core error: %s\n", name,
                  json_string_value(json_object_get(m, "msg")));
    }
  }
  size_t ran = jh_count("test");
  jh_teardown();
  tu_rmdir_r(tmp);
  assert_true(finished);
  assert_int_equal(failed, 0);
  assert_true(ran > 0);
  print_message("%s: %zu tests passed\n", name, ran);
}

int main(void) {
  char here[PATH_MAX];
  snprintf(here, sizeof here, "%s", __FILE__);
  snprintf(js_dir, sizeof js_dir, "%s/../js", dirname(here));
  static char names[32][NAME_MAX + 1];
  struct CMUnitTest tests[32];
  size_t n = 0;
  DIR *d = opendir(js_dir);
  if (!d) {
    fprintf(stderr, "js_core_test: no %s\n", js_dir);
    return 1;
  }
  struct dirent *e;
  while ((e = readdir(d)) && n < 32) {
    size_t l = strlen(e->d_name);
    if (l < 9 || strcmp(e->d_name + l - 8, "_test.js")) continue;
    snprintf(names[n], sizeof names[n], "%s", e->d_name);
    tests[n] = (struct CMUnitTest){names[n], run_file, NULL, NULL, names[n]};
    n++;
  }
  closedir(d);
  if (n == 0) {
    fprintf(stderr, "js_core_test: no tests in %s\n", js_dir);
    return 1;
  }
  return _cmocka_run_group_tests("js_core", tests, n, NULL, NULL);
}
