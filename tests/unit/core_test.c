/* The agent's core commands without an agent (src/agent/core_cmd.c):
 * every cut of every command, the hash check and the replies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "agent/core.h"
#include "base/buf.h"
#include "crypto/hash.h"
#include "proto/cc.h"

static const char js[] = "require('MeshAgent').SendCommand({action:'x'});";

/* An install message: 10, req, H384(blob), blob = 4 zeros + js. */
static size_t make_install(uint8_t *out, uint16_t req, uint8_t hash[48]) {
  uint8_t blob[4 + sizeof js - 1] = {0};
  memcpy(blob + 4, js, sizeof js - 1);
  hash_sha384(blob, sizeof blob, hash);
  out[0] = 0;
  out[1] = CC_CORE_MODULE;
  out[2] = (uint8_t)(req >> 8);
  out[3] = (uint8_t)req;
  memcpy(out + 4, hash, 48);
  memcpy(out + 52, blob, sizeof blob);
  return 52 + sizeof blob;
}

static void install_parsed(void **state) {
  (void)state;
  uint8_t m[256], hash[48];
  size_t n = make_install(m, 0x1234, hash);
  struct core_cmd c;
  core_parse(m, n, &c);
  assert_int_equal(c.op, CORE_OP_INSTALL);
  assert_int_equal(c.req, 0x1234);
  assert_memory_equal(c.hash, hash, 48);
  assert_int_equal(c.len, n - 52);
  assert_ptr_equal(c.blob, m + 52);
  assert_true(core_blob_ok(c.blob, c.len, c.hash));
}

/* Every prefix of an install: < 4 bytes is nothing, 4 is a clear (the
 * 4-byte form), 5..52 are ignored (spec §6.1), longer is an install whose
 * blob is the rest and whose hash then fails until the last byte. */
static void install_every_cut(void **state) {
  (void)state;
  uint8_t m[256], hash[48];
  size_t n = make_install(m, 7, hash);
  for (size_t k = 0; k <= n; k++) {
    struct core_cmd c;
    core_parse(m, k, &c);
    if (k < 4)
      assert_int_equal(c.op, CORE_OP_NONE);
    else if (k == 4)
      assert_int_equal(c.op, CORE_OP_CLEAR);
    else if (k <= 52)
      assert_int_equal(c.op, CORE_OP_NONE);
    else {
      assert_int_equal(c.op, CORE_OP_INSTALL);
      assert_int_equal(c.len, k - 52);
      assert_int_equal(core_blob_ok(c.blob, c.len, c.hash), k == n);
    }
  }
}

static void other_commands(void **state) {
  (void)state;
  struct core_cmd c;
  const uint8_t q[] = {0, 11, 0, 9}, ok[] = {0, 16, 0, 0},
                z[] = {0, 20, 0, 1, 5, 5}, h[] = {0, 12, 0, 0},
                json[] = "{\"action\":\"ping\"}", one[] = {0};
  core_parse(q, sizeof q, &c);
  assert_int_equal(c.op, CORE_OP_QUERY);
  assert_int_equal(c.req, 9);
  core_parse(ok, sizeof ok, &c);
  assert_int_equal(c.op, CORE_OP_OK);
  core_parse(z, sizeof z, &c); /* compressed: answered like a query */
  assert_int_equal(c.op, CORE_OP_QUERY);
  core_parse(h, sizeof h, &c); /* the agent hash is not ours */
  assert_int_equal(c.op, CORE_OP_NONE);
  core_parse(json, sizeof json - 1, &c);
  assert_int_equal(c.op, CORE_OP_NONE);
  core_parse(one, 1, &c);
  assert_int_equal(c.op, CORE_OP_NONE);
  core_parse(NULL, 0, &c);
  assert_int_equal(c.op, CORE_OP_NONE);
}

/* A changed byte anywhere, in the blob or the hash, fails the check; a
 * blob of the header alone is no core. */
static void blob_check(void **state) {
  (void)state;
  uint8_t m[256], hash[48];
  size_t n = make_install(m, 0, hash);
  uint8_t *blob = m + 52;
  size_t len = n - 52;
  for (size_t i = 0; i < len; i++) {
    blob[i] ^= 0x40;
    assert_false(core_blob_ok(blob, len, hash));
    blob[i] ^= 0x40;
  }
  hash[47] ^= 1;
  assert_false(core_blob_ok(blob, len, hash));
  hash[47] ^= 1;
  assert_true(core_blob_ok(blob, len, hash));
  uint8_t four[4] = {0}, h4[48];
  hash_sha384(four, 4, h4);
  assert_false(core_blob_ok(four, 4, h4));
}

static void replies(void **state) {
  (void)state;
  struct buf b;
  uint8_t hash[48];
  memset(hash, 0xAB, sizeof hash);
  buf_init(&b, 64);
  assert_int_equal(core_put_reply(&b, 0x0102, NULL), 0);
  const uint8_t none[] = {0, 11, 1, 2};
  assert_int_equal(b.len, 4);
  assert_memory_equal(b.data, none, 4);
  buf_reset(&b);
  assert_int_equal(core_put_reply(&b, 3, hash), 0);
  assert_int_equal(b.len, 52);
  assert_memory_equal(b.data, ((const uint8_t[]){0, 11, 0, 3}), 4);
  assert_memory_equal(b.data + 4, hash, 48);
  buf_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(install_parsed), cmocka_unit_test(install_every_cut),
      cmocka_unit_test(other_commands), cmocka_unit_test(blob_check),
      cmocka_unit_test(replies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
