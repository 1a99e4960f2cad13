#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "testutil.h"

/* The first delay is in [MIN, MAX); each next in [t, 2t); never past the
 * cap window; and random values really spread the delays (jitter). */
static void backoff_bounds_and_jitter(void **state) {
  (void)state;
  for (int run = 0; run < 200; run++) {
    uint64_t t = agent_backoff_next(0, tu_rand());
    assert_true(t >= MESH_BACKOFF_FIRST_MIN_MS &&
                t < MESH_BACKOFF_FIRST_MAX_MS);
    for (int i = 0; i < 40; i++) {
      uint64_t n = agent_backoff_next(t, tu_rand());
      if (t < MESH_BACKOFF_CAP_MIN_MS && n < MESH_BACKOFF_CAP_MIN_MS) {
        assert_true(n >= t && n < 2 * t);
      } else {
        assert_true(n >= MESH_BACKOFF_CAP_MIN_MS &&
                    n < MESH_BACKOFF_CAP_MAX_MS);
      }
      t = n;
    }
    assert_true(t >= MESH_BACKOFF_CAP_MIN_MS); /* reaches the cap */
  }
  /* Two agents with different random draws return at different times. */
  assert_int_not_equal(agent_backoff_next(0, 1), agent_backoff_next(0, 700));
}

static void coreless_replies(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 256);
  const uint8_t hash_q[4] = {0, 12, 0, 5};
  assert_int_equal(agent_coreless_reply(hash_q, 4, &b), 1);
  assert_int_equal(b.len, 52);
  assert_int_equal(b.data[1], 12);
  assert_int_equal(b.data[3], 5); /* the request id is echoed */
  for (size_t i = 4; i < 52; i++) assert_int_equal(b.data[i], 0);
  buf_reset(&b);
  const uint8_t core_q[4] = {0, 11, 0, 0}, core_push[6] = {0, 10, 0, 0, 1, 2};
  assert_int_equal(agent_coreless_reply(core_q, 4, &b), 1);
  assert_int_equal(b.len, 4);
  buf_reset(&b);
  assert_int_equal(agent_coreless_reply(core_push, 6, &b), 1);
  assert_int_equal(b.len, 4);
  assert_int_equal(b.data[1], 11);
  buf_reset(&b);
  const uint8_t ok[4] = {0, 16, 0, 0}, shrt[3] = {0, 12, 0};
  assert_int_equal(agent_coreless_reply(ok, 4, &b), 0);
  assert_int_equal(agent_coreless_reply(shrt, 3, &b), 0);
  assert_int_equal(b.len, 0);
  buf_cleanup(&b);
}

static int load(const char *dir, const char *text, struct agent_config *c) {
  char path[512];
  snprintf(path, sizeof path, "%s/test.msh", dir);
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  return agent_config_load(path, c);
}

#define ID96                                                         \
  "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF" \
  "00112233445566778899AABBCCDDEEFF"

static void config_files(void **state) {
  (void)state;
  const char *dir = tu_tmpdir();
  struct agent_config c;
  assert_int_equal(load(dir,
                        "\r\nMeshName=G\r\nMeshType=2\r\nMeshID=0x" ID96 "\r\n"
                        "ServerID=" ID96 "\r\nMeshServer=wss://h:1/agent.ashx,"
                        " wss://k:2/agent.ashx\r\nServerID=" ID96 "," ID96
                        "\r\nAgentCapabilities=0x00000020\r\n"
                        "controlChannelIdleTimeout=30\r\n",
                        &c),
                   0);
  assert_int_equal(c.n_servers, 2);
  assert_string_equal(c.urls[1], "wss://k:2/agent.ashx");
  assert_int_equal(c.server_ids[1][15], 0xFF);
  assert_int_equal(c.mesh_id[1], 0x11);
  assert_int_equal(c.caps_extra, 0x20);
  assert_int_equal(c.idle_ms, 30000);
  assert_string_equal(c.mesh_name, "G");
  assert_int_equal(c.server_is_meshd, 0); /* a stock server's .msh */
  agent_config_cleanup(&c);

  /* Only meshd's exact product line enables cores and self-update. */
  const char *base = "MeshID=0x" ID96 "\nMeshServer=wss://h/a\nServerID=" ID96;
  char text[512];
  snprintf(text, sizeof text, "%s\nServerProduct=meshd\r\n", base);
  assert_int_equal(load(dir, text, &c), 0);
  assert_int_equal(c.server_is_meshd, 1);
  agent_config_cleanup(&c);
  snprintf(text, sizeof text, "%s\nServerProduct=MeshCentral\n", base);
  assert_int_equal(load(dir, text, &c), 0);
  assert_int_equal(c.server_is_meshd, 0);
  agent_config_cleanup(&c);

  /* What is required, and what must match. */
  const char *bad[] = {
      "MeshID=0x" ID96 "\nServerID=" ID96 "\n",    /* no server */
      "MeshID=0x" ID96 "\nMeshServer=wss://h/a\n", /* no ServerID */
      "MeshID=0x" ID96 "\nMeshServer=wss://h/a,wss://k/a\nServerID=" ID96,
      "MeshID=0x" ID96 "\nMeshServer=https://h/a\nServerID=" ID96,
      "MeshID=0x" ID96 "\nMeshServer=local\nServerID=" ID96,
      "MeshID=0x00\nMeshServer=wss://h/a\nServerID=" ID96,
      "MeshServer=wss://h/a\nServerID=ABC\nMeshID=0x" ID96,
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    assert_true(load(dir, bad[i], &c) < 0);
  char missing[512];
  snprintf(missing, sizeof missing, "%s/none.msh", dir);
  assert_int_equal(agent_config_load(missing, &c), MESH_E_NOT_FOUND);
  tu_rmdir_r(dir);
}

/* The identity is made once, kept 0600, and the same on the next start. */
static void identity_persists(void **state) {
  (void)state;
  const char *d = tu_tmpdir();
  char dir[256], path[512];
  snprintf(dir, sizeof dir, "%s", d);
  snprintf(path, sizeof path, "%s/meshagent.db", dir);
  struct agent_db *db;
  struct ident a = {0}, b = {0};
  int created;
  assert_int_equal(agent_db_open(path, &db), 0);
  assert_int_equal(agent_db_identity(db, &a, &created), 0);
  assert_true(created);
  assert_int_equal(agent_db_set(db, "ServerTlsCertHash", "x", 1), 0);
  agent_db_close(db);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(agent_db_open(path, &db), 0);
  assert_int_equal(agent_db_identity(db, &b, &created), 0);
  assert_false(created);
  assert_int_equal(X509_cmp(a.cert, b.cert), 0);
  assert_int_equal(EVP_PKEY_eq(a.key, b.key), 1);
  uint8_t *v;
  size_t n;
  assert_int_equal(agent_db_get(db, "ServerTlsCertHash", &v, &n), 0);
  assert_int_equal(n, 1);
  free(v);
  assert_int_equal(agent_db_get(db, "absent", &v, &n), MESH_E_NOT_FOUND);
  /* An empty value is stored and read back as empty (not as absent). */
  assert_int_equal(agent_db_set(db, "empty", NULL, 0), 0);
  assert_int_equal(agent_db_get(db, "empty", &v, &n), 0);
  assert_int_equal(n, 0);
  assert_non_null(v);
  free(v);
  agent_db_close(db);
  ident_cleanup(&a);
  ident_cleanup(&b);
  tu_rmdir_r(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(backoff_bounds_and_jitter),
      cmocka_unit_test(coreless_replies),
      cmocka_unit_test(config_files),
      cmocka_unit_test(identity_persists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
