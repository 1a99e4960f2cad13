/* The agent's core state machine (src/agent/core.c) on a real database
 * and runtime, without a connection: what is stored and what runs after
 * each server command (spec §6.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/core.h"
#include "agent/js/js.h"
#include "base/log.h"
#include "crypto/hash.h"
#include "proto/cc.h"
#include "testutil.h"

struct fixture {
  uv_loop_t loop;
  struct agent a;
  char dir[256], db[300];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  log_set_level(LOG_ERROR);
  snprintf(f->dir, sizeof f->dir, "%s", tu_tmpdir());
  snprintf(f->db, sizeof f->db, "%s/agent.db", f->dir);
  uv_loop_init(&f->loop);
  f->a.loop = &f->loop;
  assert_int_equal(agent_db_open(f->db, &f->a.db), 0);
  assert_int_equal(core_init(&f->a), 0);
  *state = f;
  return 0;
}

/* Stops the core and lets the loop close its handles. */
static void stop(struct fixture *f) {
  core_stop(&f->a);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_null(f->a.core);
}

static int teardown(void **state) {
  struct fixture *f = *state;
  if (f->a.core) stop(f);
  agent_db_close(f->a.db);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tu_rmdir_r(f->dir);
  free(f);
  return 0;
}

/* Command 10 carrying js (hash of the blob, or a wrong one). */
static size_t install_msg(uint8_t *out, size_t cap, const char *js, int bad) {
  size_t n = strlen(js), len = 4 + n;
  assert_true(52 + len <= cap);
  const uint8_t head[4] = {0, CC_CORE_MODULE, 0, 0};
  memcpy(out, head, 4);
  memset(out + 52, 0, 4);
  memcpy(out + 56, js, n);
  hash_sha384(out + 52, len, out + 4);
  if (bad) out[4] ^= 1;
  return 52 + len;
}

static size_t stored_len(struct fixture *f) {
  uint8_t *v = NULL;
  size_t n = 0;
  if (agent_db_get(f->a.db, CORE_DB_KEY, &v, &n) != 0) n = 0;
  free(v);
  return n > CORE_HEADER ? n : 0; /* the header alone: none */
}

static const char good[] = "var t = setInterval(function() {}, 100000);";
static const uint8_t clear[] = {0, CC_CORE_MODULE, 0, 0};
static const uint8_t coreok[] = {0, CC_CORE_OK, 0, 0};
static const uint8_t query[] = {0, CC_CORE_MODULE_HASH, 0, 0};

static void install_runs_and_stores(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  assert_false(js_running(&f->a));
  assert_int_equal(core_on_command(&f->a, m, n), 1);
  assert_true(js_running(&f->a));
  assert_int_equal(stored_len(f), 4 + strlen(good));
  /* Server JSON now goes to the core. */
  const char json[] = "{\"action\":\"serverInfo\"}";
  assert_int_equal(core_on_json(&f->a, (const uint8_t *)json, strlen(json)), 1);
  /* A query and CoreOk change nothing. */
  assert_int_equal(core_on_command(&f->a, query, sizeof query), 1);
  assert_int_equal(core_on_command(&f->a, coreok, sizeof coreok), 1);
  assert_true(js_running(&f->a));
}

static void wrong_hash_deletes(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  assert_true(js_running(&f->a));
  n = install_msg(m, sizeof m, "var other = 1;", 1);
  assert_int_equal(core_on_command(&f->a, m, n), 1);
  assert_false(js_running(&f->a));
  assert_int_equal(stored_len(f), 0);
  const char json[] = "{\"action\":\"msg\"}";
  assert_int_equal(core_on_json(&f->a, (const uint8_t *)json, strlen(json)),
                   0); /* the agent handles it natively */
}

static void clear_deletes(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  assert_int_equal(core_on_command(&f->a, clear, sizeof clear), 1);
  assert_false(js_running(&f->a));
  assert_int_equal(stored_len(f), 0);
  /* Lengths 5..52 are ignored; the agent hash is not a core command. */
  uint8_t shortm[20] = {0, CC_CORE_MODULE, 0, 0, 1};
  assert_int_equal(core_on_command(&f->a, shortm, sizeof shortm), 0);
  const uint8_t h[] = {0, CC_AGENT_HASH, 0, 0};
  assert_int_equal(core_on_command(&f->a, h, sizeof h), 0);
}

/* At start a stored core waits; CoreOk runs it. */
static void stored_core_waits_for_coreok(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  stop(f);
  assert_false(js_running(&f->a));
  assert_int_equal(core_init(&f->a), 0);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_false(js_running(&f->a));
  assert_int_equal(core_on_command(&f->a, coreok, sizeof coreok), 1);
  assert_true(js_running(&f->a));
  /* The same core again is not restarted, nor stored twice. */
  assert_int_equal(core_on_command(&f->a, m, n), 1);
  assert_true(js_running(&f->a));
}

/* A stored core changed under the agent (after its hash was read at
 * start) is deleted, not run. */
static void changed_core_is_deleted(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  stop(f);
  assert_int_equal(core_init(&f->a), 0);
  m[60] ^= 1; /* a byte of the stored JavaScript */
  assert_int_equal(agent_db_set(f->a.db, CORE_DB_KEY, m + 52, n - 52), 0);
  core_on_command(&f->a, coreok, sizeof coreok);
  assert_false(js_running(&f->a));
  assert_int_equal(stored_len(f), 0);
}

/* Without CoreOk a stored core runs anyway once the wait is over (60 s;
 * shortened here). */
static void stored_core_runs_after_wait(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  stop(f);
  assert_int_equal(core_init(&f->a), 0);
  core_set_wait_ms(&f->a, 50);
  uint64_t t0 = uv_hrtime();
  while (!js_running(&f->a) && (uv_hrtime() - t0) < 5000000000ull)
    uv_run(&f->loop, UV_RUN_ONCE);
  assert_true(js_running(&f->a));
  assert_true((uv_hrtime() - t0) >= 40000000ull); /* not before the wait */
  /* A late CoreOk is a no-op. */
  assert_int_equal(core_on_command(&f->a, coreok, sizeof coreok), 1);
  assert_true(js_running(&f->a));
}

/* A core that does not compile is stored (its hash is right) but does
 * not run; the agent carries on. */
static void bad_script_does_not_run(void **state) {
  struct fixture *f = *state;
  uint8_t m[512];
  size_t n = install_msg(m, sizeof m, "function (", 0);
  assert_int_equal(core_on_command(&f->a, m, n), 1);
  assert_false(js_running(&f->a));
  assert_int_equal(stored_len(f), 4 + strlen("function ("));
  n = install_msg(m, sizeof m, good, 0);
  core_on_command(&f->a, m, n);
  assert_true(js_running(&f->a));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(install_runs_and_stores, setup, teardown),
      cmocka_unit_test_setup_teardown(wrong_hash_deletes, setup, teardown),
      cmocka_unit_test_setup_teardown(clear_deletes, setup, teardown),
      cmocka_unit_test_setup_teardown(stored_core_waits_for_coreok, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(changed_core_is_deleted, setup, teardown),
      cmocka_unit_test_setup_teardown(stored_core_runs_after_wait, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(bad_script_does_not_run, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
