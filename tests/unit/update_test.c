/*
 * update_test.c - meshagent's native self-update (agent/update.c) driven
 * with commands 12/13/14 as meshd sends them, on a real loop, for a
 * "binary" in a scratch folder: what is written, what is refused and
 * cleaned up, the self-test, the swap, the trial and its rollback. The
 * agent has no connection here (replies and reports go nowhere).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/update.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "crypto/hash.h"
#include "proto/cc.h"
#include "testutil.h"

struct fx {
  uv_loop_t loop;
  struct agent a;
  char dir[256], exe[512], part[520], old[520];
};

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

/* The file's contents (static buffer), or NULL when it does not exist. */
static const char *read_file(const char *path) {
  static char b[4096];
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  size_t n = fread(b, 1, sizeof b - 1, f);
  fclose(f);
  b[n] = 0;
  return b;
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

static void agent_init(struct fx *f, struct agent *a, int meshd) {
  char db[600];
  memset(a, 0, sizeof *a);
  a->loop = &f->loop;
  a->cfg.server_is_meshd = meshd;
  uv_timer_init(&f->loop, &a->retry);
  snprintf(db, sizeof db, "%s/meshagent.db", f->dir);
  assert_int_equal(agent_db_open(db, &a->db), 0);
  assert_int_equal(agent_update_start_at(a, f->exe), 0);
}

static void agent_done(struct agent *a) {
  if (!a->stopping) agent_stop(a);
}

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  snprintf(f->dir, sizeof f->dir, "%s", tu_tmpdir());
  snprintf(f->exe, sizeof f->exe, "%s/meshagent", f->dir);
  snprintf(f->part, sizeof f->part, "%s.update", f->exe);
  snprintf(f->old, sizeof f->old, "%s.old", f->exe);
  write_file(f->exe, "binary A\n", 0700);
  agent_init(f, &f->a, 1);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  agent_done(&f->a);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  agent_db_close(f->a.db);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  tu_rmdir_r(f->dir);
  free(f);
  return 0;
}

/* Runs the loop until cond(f) or 10 s. */
static int spin(struct fx *f, int (*cond)(struct fx *f)) {
  for (int i = 0; i < 10000; i++) {
    if (cond(f)) return 1;
    uv_run(&f->loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  return cond(f);
}

static int send_cmd(struct agent *a, uint16_t cmd, uint16_t req,
                    const void *body, size_t len) {
  struct buf b;
  buf_init(&b, len + 4);
  assert_int_equal(cc_put_request(&b, cmd, req, body, len), 0);
  int r = agent_update_command(a, b.data, b.len);
  buf_cleanup(&b);
  return r;
}

static size_t part_size(struct fx *f) {
  struct stat st;
  return stat(f->part, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}
static int no_part(struct fx *f) { return !exists(f->part); }
static int restarting(struct fx *f) { return f->a.restart; }
static size_t want_size;
/* The file has want_size bytes and they are acknowledged. */
static int part_is(struct fx *f) {
  return part_size(f) == want_size && agent_update_received(&f->a) == want_size;
}

/* Sends text as a whole update: start, one block, end with hash. */
static void offer(struct fx *f, const char *text, const uint8_t *hash) {
  uint8_t h[48];
  if (!hash) {
    hash_sha384(text, strlen(text), h);
    hash = h;
  }
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0), 1);
  assert_int_equal(
      send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, text, strlen(text)), 1);
  want_size = strlen(text);
  assert_true(spin(f, part_is));
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE, 0, hash, 48), 1);
}

/* Blocks are appended in order; a wrong final hash removes the file and
 * leaves the binary alone. */
static void blocks_then_wrong_hash(void **state) {
  struct fx *f = *state;
  uint8_t block[3000], zero[48] = {0};
  memset(block, 'x', sizeof block);
  /* No transfer: a block is ignored (not acked, nothing written). */
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, block, 10), 1);
  assert_false(exists(f->part));
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0), 1);
  struct stat st;
  assert_int_equal(stat(f->part, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0700);
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, block, 1000), 1);
  want_size = 1000;
  assert_true(spin(f, part_is));
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, block, 2000), 1);
  want_size = 3000;
  assert_true(spin(f, part_is));
  assert_int_equal(send_cmd(&f->a, CC_AGENT_UPDATE, 0, zero, 48), 1);
  assert_true(spin(f, no_part));
  assert_string_equal(read_file(f->exe), "binary A\n");
  assert_false(exists(f->old));
  assert_int_equal(f->a.restart, 0);
}

/* Each of these ends the transfer and removes the partial file. */
static void bad_sequences_drop(void **state) {
  struct fx *f = *state;
  static uint8_t big[MESH_UPDATE_BLOCK + 1];
  uint8_t five[5] = {0};
  /* A block over the limit. */
  send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0);
  assert_true(exists(f->part));
  send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, big, sizeof big);
  assert_false(exists(f->part));
  /* A 13 that is neither start nor end. */
  send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0);
  send_cmd(&f->a, CC_AGENT_UPDATE, 0, five, sizeof five);
  assert_false(exists(f->part));
  /* A second block before the first was written and acked. */
  send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0);
  send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, big, 100);
  send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, big, 100);
  assert_true(spin(f, no_part));
  /* The connection goes mid-transfer. */
  send_cmd(&f->a, CC_AGENT_UPDATE, 0, NULL, 0);
  send_cmd(&f->a, CC_AGENT_UPDATE_BLOCK, 1, big, 100);
  want_size = 100;
  assert_true(spin(f, part_is));
  agent_update_disconnected(&f->a);
  assert_false(exists(f->part));
  /* Short and empty messages are not update commands. */
  static const uint8_t shrt[3] = {0, 13, 0};
  assert_int_equal(agent_update_command(&f->a, shrt, sizeof shrt), 0);
  assert_string_equal(read_file(f->exe), "binary A\n");
}

/* A binary whose self-test fails is removed and remembered: offered again,
 * it is refused after its transfer, without another self-test. */
static void selftest_failure_is_remembered(void **state) {
  struct fx *f = *state;
  const char *bad = "#!/bin/sh\necho ran >>\"$0.ran\"\nexit 1\n";
  char ran[600];
  snprintf(ran, sizeof ran, "%s.ran", f->part);
  offer(f, bad, NULL);
  assert_true(spin(f, no_part));
  assert_string_equal(read_file(ran), "ran\n");
  uint8_t *v = NULL, h[48];
  size_t n = 0;
  hash_sha384(bad, strlen(bad), h);
  assert_int_equal(agent_db_get(f->a.db, "UpdateRejected", &v, &n), 0);
  assert_int_equal(n, 48);
  assert_memory_equal(v, h, 48);
  free(v);
  offer(f, bad, NULL);
  assert_true(spin(f, no_part));
  assert_string_equal(read_file(ran), "ran\n"); /* not run again */
  assert_string_equal(read_file(f->exe), "binary A\n");
  assert_int_equal(f->a.restart, 0);
}

/* A binary that passes its self-test (run as <exe>.update self-test --for
 * <exe>) takes the name; the old one is kept as .old and the agent stops
 * to restart. The new start is on trial until it logs in. */
static void install_then_confirm(void **state) {
  struct fx *f = *state;
  char script[1024];
  snprintf(script, sizeof script,
           "#!/bin/sh\n[ \"$1 $2 $3\" = \"self-test --for %s\" ] && exit 0\n"
           "exit 1\n",
           f->exe);
  offer(f, script, NULL);
  assert_true(spin(f, restarting));
  assert_string_equal(read_file(f->exe), script);
  assert_string_equal(read_file(f->old), "binary A\n");
  assert_false(exists(f->part));
  assert_int_equal(access(f->exe, X_OK), 0);
  /* The new binary's start. */
  struct agent b;
  agent_init(f, &b, 1);
  agent_update_authenticated(&b);
  assert_false(exists(f->old));
  assert_string_equal(read_file(f->exe), script);
  agent_done(&b);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  agent_db_close(b.db);
}

/* A new binary that has not logged in within the trial (timed from
 * .old's mtime, so it survives restarts) puts the old one back. */
static void trial_rollback(void **state) {
  struct fx *f = *state;
  agent_done(&f->a);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  agent_db_close(f->a.db);
  write_file(f->exe, "binary B\n", 0700);
  write_file(f->old, "binary A\n", 0700);
  struct timespec t[2];
  clock_gettime(CLOCK_REALTIME, &t[0]);
  t[0].tv_sec -= MESH_UPDATE_TRIAL_MS / 1000 + 5;
  t[1] = t[0];
  assert_int_equal(utimensat(AT_FDCWD, f->old, t, 0), 0);
  agent_init(f, &f->a, 1);
  assert_true(spin(f, restarting));
  assert_string_equal(read_file(f->exe), "binary A\n");
  assert_false(exists(f->old));
  uint8_t *v = NULL, h[48];
  size_t n = 0;
  hash_sha384("binary B\n", 9, h);
  assert_int_equal(agent_db_get(f->a.db, "UpdateRejected", &v, &n), 0);
  assert_memory_equal(v, h, 48);
  free(v);
}

/* The recovery core's way in: a downloaded file handed over by hash. */
static void install_api(void **state) {
  struct fx *f = *state;
  uint8_t h[48];
  const char *ok = "#!/bin/sh\nexit 0\n";
  hash_sha384(ok, strlen(ok), h);
  assert_string_equal(agent_update_path(&f->a), f->part);
  /* No file there yet. */
  assert_int_equal(agent_update_install(&f->a, h), 0);
  assert_false(exists(f->part));
  /* A file with another hash. */
  write_file(f->part, "something else", 0600);
  assert_int_equal(agent_update_install(&f->a, h), 0);
  assert_true(spin(f, no_part));
  assert_int_equal(f->a.restart, 0);
  /* The right one. */
  write_file(f->part, ok, 0600);
  assert_int_equal(agent_update_install(&f->a, h), 0);
  assert_int_equal(agent_update_install(&f->a, h), MESH_E_PROTO_STATE);
  assert_true(spin(f, restarting));
  assert_string_equal(read_file(f->exe), ok);
}

/* Against a stock server (no ServerProduct=meshd) nothing is handled
 * here: the agent's core-less replies answer 12 with zeros. */
static void stock_server_untouched(void **state) {
  struct fx *f = *state;
  struct agent s;
  agent_init(f, &s, 0);
  assert_int_equal(send_cmd(&s, CC_AGENT_HASH, 0, NULL, 0), 0);
  assert_int_equal(send_cmd(&s, CC_AGENT_UPDATE, 0, NULL, 0), 0);
  assert_false(exists(f->part));
  uint8_t h[48] = {0};
  assert_int_equal(agent_update_install(&s, h), MESH_E_INVALID);
  agent_done(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  agent_db_close(s.db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(blocks_then_wrong_hash, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_sequences_drop, setup, teardown),
      cmocka_unit_test_setup_teardown(selftest_failure_is_remembered, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(install_then_confirm, setup, teardown),
      cmocka_unit_test_setup_teardown(trial_rollback, setup, teardown),
      cmocka_unit_test_setup_teardown(install_api, setup, teardown),
      cmocka_unit_test_setup_teardown(stock_server_untouched, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
