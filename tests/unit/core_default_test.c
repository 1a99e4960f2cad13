/* meshd's default core (cores/meshcore.js) in the agent's runtime, with
 * SendCommand captured (tests/js/harness.h): what it reports at start
 * and on "core is stable", and that bad requests are not errors of the
 * core. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "../js/harness.h"
#include "testutil.h"

static char core_path[PATH_MAX];

static int setup(void **state) {
  (void)state;
  jh_setup();
  char *src = tu_read_file(core_path, NULL);
  int r = jh_start(src);
  free(src);
  assert_int_equal(r, 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  jh_teardown();
  return 0;
}

static void deliver(const char *json) {
  js_deliver_command(&jh_agent, (const uint8_t *)json, strlen(json));
}

/* coreinfo at once: version, an OS description, the host name. */
static void coreinfo_at_start(void **state) {
  (void)state;
  assert_int_equal(jh_count("coreinfo"), 1);
  assert_string_equal(jh_str("coreinfo", 0, "value"), "meshd-core/1");
  const char *os = jh_str("coreinfo", 0, "osdesc");
  assert_non_null(os);
  assert_true(strlen(os) > 0 && !strchr(os, '"') && !strchr(os, '\n'));
  assert_non_null(jh_str("coreinfo", 0, "name"));
  assert_int_equal(jh_count("coreerror"), 0);
}

/* serverInfo: coreinfo again and netinfo with the loopback interface in
 * the stock netif2 shape. */
static void server_info_reports(void **state) {
  (void)state;
  deliver("{\"action\":\"serverInfo\",\"server\":\"meshd\"}");
  assert_int_equal(jh_count("coreinfo"), 2);
  assert_true(jh_run_until("netinfo", 10000));
  json_t *lo =
      json_object_get(json_object_get(jh_find("netinfo", 0), "netif2"), "lo");
  assert_true(json_is_array(lo) && json_array_size(lo) >= 1);
  json_t *v4 = NULL, *a;
  size_t i;
  json_array_foreach(lo, i, a) {
    const char *family = json_string_value(json_object_get(a, "family"));
    if (family && !strcmp(family, "IPv4")) v4 = a;
  }
  assert_non_null(v4);
  assert_string_equal(json_string_value(json_object_get(v4, "address")),
                      "127.0.0.1");
  assert_string_equal(json_string_value(json_object_get(v4, "netmask")),
                      "255.0.0.0");
  assert_int_equal(jh_count("coreerror"), 0);
}

/* Malformed tunnel requests, unknown actions and odd messages: nothing
 * sent, no error reported, no tunnel opened. */
static void bad_requests_are_not_errors(void **state) {
  (void)state;
  static const char *const bad[] = {
      "{\"action\":\"msg\",\"type\":\"tunnel\"}",
      "{\"action\":\"msg\",\"type\":\"tunnel\",\"value\":5}",
      "{\"action\":\"msg\",\"type\":\"tunnel\",\"value\":\"*/x\"}",
      "{\"action\":\"msg\",\"type\":7}",
      "{\"action\":\"msg\"}",
      "{\"action\":42}",
      "{\"action\":\"nosuch\"}",
      "{}",
  };
  size_t before = json_array_size(jh_sent);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) deliver(bad[i]);
  uv_run(&jh_loop, UV_RUN_NOWAIT);
  assert_int_equal(json_array_size(jh_sent), before);
  assert_int_equal(jh_agent.n_tunnels, 0);
  assert_true(js_running(&jh_agent));
}

int main(void) {
  char here[PATH_MAX];
  snprintf(here, sizeof here, "%s", __FILE__);
  snprintf(core_path, sizeof core_path, "%s/../../cores/meshcore.js",
           dirname(here));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(coreinfo_at_start, setup, teardown),
      cmocka_unit_test_setup_teardown(server_info_reports, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_requests_are_not_errors, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
