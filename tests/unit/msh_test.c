#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/msh.h"
#include "testutil.h"

/* As a stock server writes it: leading empty line, CRLF endings. */
static const char server_msh[] =
    "\r\nMeshName=Office\r\nMeshType=2\r\n"
    "MeshID=0x0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F2"
    "02122232425262728292A2B2C2D2E2F30\r\n"
    "ServerID=ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF012345678"
    "9ABCDEF0123456789ABCDEF0123456789\r\n"
    "MeshServer=wss://127.0.0.1:4443/agent.ashx\r\n";

static void parses_server_output(void **state) {
  (void)state;
  struct msh m;
  char s[128];
  uint8_t id[48];
  size_t n;
  assert_int_equal(msh_parse(server_msh, strlen(server_msh), &m), 0);
  assert_int_equal(m.n, 5);
  assert_int_equal(msh_get_str(&m, "MeshName", s, sizeof s), 0);
  assert_string_equal(s, "Office");
  assert_int_equal(msh_get_str(&m, "MeshServer", s, sizeof s), 0);
  assert_string_equal(s, "wss://127.0.0.1:4443/agent.ashx");
  assert_int_equal(msh_get_hex(&m, "MeshID", id, sizeof id, &n), 0);
  assert_int_equal(n, 48);
  assert_int_equal(id[0], 1);
  assert_int_equal(id[47], 0x30);
  assert_int_equal(msh_get_str(&m, "meshname", s, sizeof s), MESH_E_NOT_FOUND);
  assert_int_equal(msh_get_str(&m, "MeshName", s, 6), MESH_E_TOO_LARGE);
}

static void trims_comments_and_deletes(void **state) {
  (void)state;
  static const char t[] =
      "  # comment=1\n\tkey = a=b  \nnoequals\n=novalue\nx=1\nx=\n"
      "CoreModule=abc\ny=2";
  struct msh m;
  char s[16];
  assert_int_equal(msh_parse(t, strlen(t), &m), 0);
  assert_int_equal(m.n, 2);
  assert_int_equal(msh_get_str(&m, "key", s, sizeof s), 0);
  assert_string_equal(s, "a=b");
  assert_null(msh_find(&m, "x"));
  assert_null(msh_find(&m, "CoreModule"));
  assert_int_equal(msh_get_str(&m, "y", s, sizeof s), 0);
  assert_string_equal(s, "2");
}

static void rejects_bad_hex_and_limits(void **state) {
  (void)state;
  static const char t[] = "a=0x12G4\nb=12\nc=0x123\n";
  struct msh m;
  uint8_t out[4];
  size_t n;
  assert_int_equal(msh_parse(t, strlen(t), &m), 0);
  assert_int_equal(msh_get_hex(&m, "a", out, 4, &n), MESH_E_MALFORMED);
  assert_int_equal(msh_get_hex(&m, "b", out, 4, &n), MESH_E_MALFORMED);
  assert_int_equal(msh_get_hex(&m, "c", out, 4, &n), MESH_E_MALFORMED);
  assert_int_equal(msh_parse("a=\0b", 4, &m), MESH_E_MALFORMED);
  static char big[MESH_MSH_MAX_BYTES + 1];
  memset(big, '#', sizeof big);
  assert_int_equal(msh_parse(big, sizeof big - 1, &m), 0);
  assert_int_equal(msh_parse(big, sizeof big, &m), MESH_E_TOO_LARGE);
  /* One key more than the table holds. */
  static char many[MESH_MSH_MAX_KEYS * 12 + 32];
  size_t off = 0;
  for (int i = 0; i <= MESH_MSH_MAX_KEYS; i++)
    off += (size_t)snprintf(many + off, sizeof many - off, "k%d=v\n", i);
  assert_int_equal(msh_parse(many, off, &m), MESH_E_TOO_LARGE);
}

/* Every prefix parses without error and never reads past its end; values
 * seen in a prefix are prefixes of the full values. */
static void truncated_at_every_length(void **state) {
  (void)state;
  size_t len = strlen(server_msh);
  for (size_t cut = 0; cut <= len; cut++) {
    uint8_t *g = tu_guard_copy(server_msh, cut);
    struct msh m;
    assert_int_equal(msh_parse((const char *)g, cut, &m), 0);
    for (size_t i = 0; i < m.n; i++) assert_true(m.e[i].key_len > 0);
    tu_guard_free(g, cut);
  }
}

/* The trailer round-trips, and every cut or damaged file is refused
 * without reading outside it. */
static void embedded_trailer(void **state) {
  (void)state;
  struct buf b;
  const char *t;
  size_t len;
  buf_init(&b, 1 << 20);
  static const char elf[] =
      "\x7f"
      "ELF...binary...";
  buf_put(&b, elf, sizeof elf - 1);
  assert_int_equal(msh_embed(&b, server_msh, strlen(server_msh)), 0);
  assert_int_equal(msh_embedded(b.data, b.len, &t, &len), 0);
  assert_int_equal(len, strlen(server_msh));
  assert_memory_equal(t, server_msh, len);
  /* The tail alone is enough. */
  size_t tail = len + MSH_EMBED_TRAILER;
  assert_int_equal(msh_embedded(b.data + b.len - tail, tail, &t, &len), 0);
  for (size_t cut = 0; cut < b.len; cut++) {
    uint8_t *g = tu_guard_copy(b.data, cut);
    int r = msh_embedded(g, cut, &t, &len);
    assert_true(r == MESH_E_NOT_FOUND || r == MESH_E_MALFORMED);
    tu_guard_free(g, cut);
  }
  uint8_t *g = tu_guard_copy(b.data + b.len - tail + 1, tail - 1);
  assert_int_equal(msh_embedded(g, tail - 1, &t, &len), MESH_E_MALFORMED);
  tu_guard_free(g, tail - 1);
  b.data[b.len - 1] ^= 1;
  assert_int_equal(msh_embedded(b.data, b.len, &t, &len), MESH_E_NOT_FOUND);
  b.data[b.len - 1] ^= 1;
  b.data[b.len - MSH_EMBED_TRAILER] = 0x7f; /* a huge length */
  assert_int_equal(msh_embedded(b.data, b.len, &t, &len), MESH_E_TOO_LARGE);
  static char big[MESH_MSH_MAX_BYTES + 1];
  assert_int_equal(msh_embed(&b, big, sizeof big), MESH_E_TOO_LARGE);
  buf_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_server_output),
      cmocka_unit_test(trims_comments_and_deletes),
      cmocka_unit_test(rejects_bad_hex_and_limits),
      cmocka_unit_test(truncated_at_every_length),
      cmocka_unit_test(embedded_trailer),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
