/*
 * msh_text_test.c - the .msh builder shared by `meshd agent-config` and
 * GET /meshsettings: the stock layout byte for byte, what the agent's
 * parser reads back, and the refusals.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/msh.h"
#include "server/db.h"
#include "server/msh_text.h"
#include "server/store.h"
#include "testutil.h"

struct fx {
  char dir[256];
  struct store *st;
  struct srv_keys keys; /* only the key hash behind ServerID is set */
  struct store_group g;
};

static int setup(void **state) {
  static struct fx f;
  char path[512];
  memset(&f, 0, sizeof f);
  snprintf(f.dir, sizeof f.dir, "%s", tu_tmpdir());
  snprintf(path, sizeof path, "%s/meshd.db", f.dir);
  if (store_open(path, &f.st) != 0) return -1;
  for (int i = 0; i < CC_HASH_LEN; i++) f.keys.cc[0].key_hash[i] = (uint8_t)i;
  if (store_group_create(f.st, "Office", NULL, NULL, NULL, &f.g) != 0)
    return -1;
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  store_group_cleanup(&f->g);
  store_close(f->st);
  tu_rmdir_r(f->dir);
  return 0;
}

/* "000102...2F": the ServerID of the fixture's key hash. */
static void fixture_sid(char out[97]) {
  uint8_t h[CC_HASH_LEN];
  for (int i = 0; i < CC_HASH_LEN; i++) h[i] = (uint8_t)i;
  enc_hex(h, CC_HASH_LEN, out, 1);
}

static void stock_layout(void **state) {
  struct fx *f = *state;
  struct buf b;
  uint8_t raw[48];
  char want[1024], hex[97], sid[97];
  buf_init(&b, MSH_TEXT_MAX);
  assert_int_equal(srv_msh_text(f->st, &f->keys, f->g.id,
                                "wss://h.example:4443/agent.ashx", &b),
                   0);
  assert_int_equal(enc_unb64(f->g.id, strlen(f->g.id), raw, sizeof raw), 48);
  enc_hex(raw, 48, hex, 1);
  fixture_sid(sid);
  snprintf(want, sizeof want,
           "\r\nMeshName=Office\r\nMeshType=2\r\nMeshID=0x%s\r\n"
           "ServerID=%s\r\nMeshServer=wss://h.example:4443/agent.ashx\r\n"
           "ServerProduct=meshd\r\n",
           hex, sid);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.data, want, b.len);

  /* And the agent's own parser reads it back. */
  struct msh m;
  uint8_t id[48];
  size_t n;
  char s[128];
  assert_int_equal(msh_parse((const char *)b.data, b.len, &m), 0);
  assert_int_equal(m.n, 6);
  assert_int_equal(msh_get_hex(&m, "MeshID", id, sizeof id, &n), 0);
  assert_int_equal(n, 48);
  assert_memory_equal(id, raw, 48);
  assert_int_equal(msh_get_str(&m, "ServerID", s, sizeof s), 0);
  assert_string_equal(s, sid);
  buf_cleanup(&b);
}

/* A group name is user input: a CR/LF in it must not start a line. */
static void name_cannot_add_lines(void **state) {
  struct fx *f = *state;
  struct store_group g;
  struct buf b;
  struct msh m;
  char s[128];
  buf_init(&b, MSH_TEXT_MAX);
  assert_int_equal(
      store_group_create(f->st, "A\r\nMeshServer=wss://evil/x\r\n\tB", NULL,
                         NULL, NULL, &g),
      0);
  assert_int_equal(
      srv_msh_text(f->st, &f->keys, g.id, "wss://good/agent.ashx", &b), 0);
  assert_int_equal(msh_parse((const char *)b.data, b.len, &m), 0);
  assert_int_equal(m.n, 6);
  assert_int_equal(msh_get_str(&m, "MeshServer", s, sizeof s), 0);
  assert_string_equal(s, "wss://good/agent.ashx");
  assert_int_equal(msh_get_str(&m, "MeshName", s, sizeof s), 0);
  assert_string_equal(s, "A  MeshServer=wss://evil/x   B");
  store_group_cleanup(&g);
  buf_cleanup(&b);
}

static void refusals_leave_out_unchanged(void **state) {
  struct fx *f = *state;
  struct buf b;
  buf_init(&b, MSH_TEXT_MAX);
  assert_int_equal(buf_put(&b, "x", 1), 0);
  assert_int_equal(
      srv_msh_text(f->st, &f->keys, "nosuchgroup", "wss://h/a", &b),
      MESH_E_NOT_FOUND);
  static const char *bad_urls[] = {"", "wss://h/a\r\nX=1", "wss://h /a",
                                   "wss://h/a\x7f"};
  for (size_t i = 0; i < sizeof bad_urls / sizeof *bad_urls; i++)
    assert_int_equal(srv_msh_text(f->st, &f->keys, f->g.id, bad_urls[i], &b),
                     MESH_E_INVALID);
  assert_int_equal(b.len, 1);
  buf_cleanup(&b);

  /* Too small a buffer: an error, and nothing partial appended. */
  buf_init(&b, 100);
  assert_int_equal(buf_put(&b, "x", 1), 0);
  assert_int_equal(srv_msh_text(f->st, &f->keys, f->g.id, "wss://h/a", &b),
                   MESH_E_TOO_LARGE);
  assert_int_equal(b.len, 1);
  buf_cleanup(&b);
}

/* An id that is not 48 bytes of base64 has no MeshID to write. */
static void legacy_id(void **state) {
  struct fx *f = *state;
  struct buf b;
  buf_init(&b, MSH_TEXT_MAX);
  assert_int_equal(db_exec(store_db(f->st),
                           "INSERT INTO groups(id,name,type,created) "
                           "VALUES('short','Old',2,0)"),
                   0);
  assert_int_equal(srv_msh_text(f->st, &f->keys, "short", "wss://h/a", &b),
                   MESH_E_MALFORMED);
  assert_int_equal(b.len, 0);
  buf_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stock_layout),
      cmocka_unit_test(name_cannot_add_lines),
      cmocka_unit_test(refusals_leave_out_unchanged),
      cmocka_unit_test(legacy_id),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
