/*
 * update_bins_test.c - the agent binaries meshd holds (server/agent_bins.c):
 * found per architecture under DATA/agents/<id>/meshagent, hashed without
 * an embedded .msh, cached until the file changes, and kept alive for an
 * update that holds a reference while the file is replaced.
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
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/msh.h"
#include "crypto/hash.h"
#include "server/srv.h"
#include "server/update.h"
#include "testutil.h"

static void put(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void bins(void **state) {
  (void)state;
  struct srv s;
  char dir[300], path[400];
  memset(&s, 0, sizeof s);
  snprintf(dir, sizeof dir, "%s", tu_tmpdir());
  s.cfg.data_dir = dir;
  struct agent_bin *b = NULL, *b2 = NULL, *b3 = NULL;
  assert_int_equal(agent_bins_get(&s, 0, &b), MESH_E_NOT_FOUND);
  assert_int_equal(agent_bins_get(&s, 7, &b), MESH_E_NOT_FOUND);
  assert_int_equal(agent_bins_get(&s, 70000, &b), MESH_E_NOT_FOUND);
  assert_null(b);

  /* A downloaded binary (with some group's .msh) placed by an admin. */
  snprintf(path, sizeof path, "%s/agents", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/agents/7", dir);
  mkdir(path, 0700);
  snprintf(path, sizeof path, "%s/agents/7/meshagent", dir);
  struct buf f;
  buf_init(&f, 1 << 20);
  assert_int_equal(buf_put(&f,
                           "\x7f"
                           "ELF binary seven",
                           17),
                   0);
  assert_int_equal(msh_embed(&f, "MeshName=secret group\r\n", 23), 0);
  put(path, f.data, f.len);
  uint8_t h[48];
  hash_sha384(f.data, 17, h);
  assert_int_equal(agent_bins_get(&s, 7, &b), 0);
  assert_int_equal(b->arch, 7);
  assert_int_equal(b->len, 17); /* the .msh is not part of it */
  assert_memory_equal(b->data,
                      "\x7f"
                      "ELF binary seven",
                      17);
  assert_memory_equal(b->hash, h, 48);

  /* Unchanged file: the same object. */
  assert_int_equal(agent_bins_get(&s, 7, &b2), 0);
  assert_ptr_equal(b, b2);
  agent_bin_unref(b2);

  /* Replaced (other size): a new object; the old reference still holds
   * the old bytes, as an update in progress needs. */
  put(path,
      "\x7f"
      "ELF binary seven, v2",
      21);
  assert_int_equal(agent_bins_get(&s, 7, &b3), 0);
  assert_ptr_not_equal(b, b3);
  assert_int_equal(b3->len, 21);
  assert_memory_equal(b->data,
                      "\x7f"
                      "ELF binary seven",
                      17);
  agent_bin_unref(b);
  agent_bin_unref(b3);

  /* Gone: not found any more. */
  unlink(path);
  assert_int_equal(agent_bins_get(&s, 7, &b), MESH_E_NOT_FOUND);
  agent_bins_cleanup(&s);
  assert_null(s.bins);
  buf_cleanup(&f);
  tu_rmdir_r(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(bins)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
