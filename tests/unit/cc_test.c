#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "proto/cc.h"
#include "testutil.h"

static const uint8_t auth_info_vm[74] = {
    0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1,
    /* 48-byte MeshID */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48,
    /* caps 0x118, hostname "vm" */
    0, 0, 1, 0x18, 0, 2, 'v', 'm'};

static void auth_info_vector(void **state) {
  (void)state;
  struct cc_auth_info ai;
  assert_int_equal(cc_parse_auth_info(auth_info_vm, 74, &ai), 0);
  assert_int_equal(ai.info_version, 1);
  assert_int_equal(ai.agent_id, 6);
  assert_int_equal(ai.agent_version, 0);
  assert_int_equal(ai.platform_type, 1);
  assert_int_equal(ai.mesh_id[0], 1);
  assert_int_equal(ai.mesh_id[47], 48);
  assert_int_equal(ai.caps, 0x118);
  assert_int_equal(ai.hostname_len, 2);
  assert_memory_equal(ai.hostname, "vm", 2);

  struct buf b;
  buf_init(&b, 1024);
  assert_int_equal(cc_put_auth_info(&b, &ai), 0);
  assert_int_equal(b.len, 74);
  assert_memory_equal(b.data, auth_info_vm, 74);
  buf_cleanup(&b);

  /* Exactly 70 bytes: no hostname at all. Platform 9 becomes 1. */
  uint8_t m[74];
  memcpy(m, auth_info_vm, 74);
  m[17] = 9;
  assert_int_equal(cc_parse_auth_info(m, 70, &ai), 0);
  assert_int_equal(ai.hostname_len, 0);
  assert_int_equal(ai.platform_type, 1);
  /* Hostname length past the data, or trailing bytes, are malformed. */
  m[71] = 3;
  assert_int_equal(cc_parse_auth_info(m, 74, &ai), MESH_E_MALFORMED);
  m[71] = 1;
  assert_int_equal(cc_parse_auth_info(m, 74, &ai), MESH_E_MALFORMED);
  /* Wrong command id. */
  m[1] = 4;
  assert_int_equal(cc_parse_auth_info(m, 70, &ai), MESH_E_MALFORMED);
}

static void auth_info_hostname_limit(void **state) {
  (void)state;
  uint8_t m[72 + MESH_CC_MAX_HOSTNAME + 1];
  struct cc_auth_info ai;
  memcpy(m, auth_info_vm, 70);
  memset(m + 72, 'h', sizeof m - 72);
  m[70] = 0;
  m[71] = MESH_CC_MAX_HOSTNAME;
  assert_int_equal(cc_parse_auth_info(m, 72 + MESH_CC_MAX_HOSTNAME, &ai), 0);
  m[70] = (MESH_CC_MAX_HOSTNAME + 1) >> 8;
  m[71] = (MESH_CC_MAX_HOSTNAME + 1) & 0xff;
  assert_int_equal(cc_parse_auth_info(m, sizeof m, &ai), MESH_E_TOO_LARGE);
}

static void auth_request_roundtrip(void **state) {
  (void)state;
  uint8_t h[48], nonce[48], h2[48], n2[48];
  for (int i = 0; i < 48; i++) h[i] = (uint8_t)i, nonce[i] = (uint8_t)(200 - i);
  struct buf b;
  buf_init(&b, 1024);
  assert_int_equal(cc_put_auth_request(&b, h, nonce), 0);
  assert_int_equal(b.len, 98);
  assert_int_equal(cc_msg_type(b.data, b.len), CC_AUTH_REQUEST);
  assert_int_equal(cc_parse_auth_request(b.data, b.len, h2, n2), 0);
  assert_memory_equal(h, h2, 48);
  assert_memory_equal(nonce, n2, 48);
  assert_int_equal(cc_parse_auth_request(b.data, 97, h2, n2), MESH_E_MALFORMED);
  buf_put_u8(&b, 0);
  assert_int_equal(cc_parse_auth_request(b.data, 99, h2, n2), MESH_E_MALFORMED);
  buf_cleanup(&b);
}

static void auth_verify_roundtrip_and_limits(void **state) {
  (void)state;
  static uint8_t cert[MESH_CC_MAX_CERT + 1], sig[MESH_CC_MAX_SIG + 1];
  const uint8_t *c, *s;
  size_t cl, sl;
  struct buf b;
  buf_init(&b, 64 * 1024);
  memset(cert, 0x30, sizeof cert);
  memset(sig, 0x55, sizeof sig);
  assert_int_equal(cc_put_auth_verify(&b, cert, 700, sig, 384), 0);
  assert_int_equal(cc_parse_auth_verify(b.data, b.len, &c, &cl, &s, &sl), 0);
  assert_int_equal(cl, 700);
  assert_int_equal(sl, 384);
  assert_ptr_equal(c, b.data + 4);
  /* No signature, a zero-length certificate, and oversized fields. */
  assert_int_equal(cc_parse_auth_verify(b.data, 704, &c, &cl, &s, &sl),
                   MESH_E_MALFORMED);
  uint8_t zero[6] = {0, 2, 0, 0, 1, 2};
  assert_int_equal(cc_parse_auth_verify(zero, 6, &c, &cl, &s, &sl),
                   MESH_E_MALFORMED);
  buf_reset(&b);
  assert_int_equal(
      cc_put_auth_verify(&b, cert, MESH_CC_MAX_CERT, sig, MESH_CC_MAX_SIG), 0);
  assert_int_equal(cc_parse_auth_verify(b.data, b.len, &c, &cl, &s, &sl), 0);
  buf_put_u8(&b, 1);
  assert_int_equal(cc_parse_auth_verify(b.data, b.len, &c, &cl, &s, &sl),
                   MESH_E_TOO_LARGE);
  buf_reset(&b);
  assert_int_equal(cc_put_auth_verify(&b, cert, MESH_CC_MAX_CERT + 1, sig, 1),
                   MESH_E_TOO_LARGE);
  uint8_t big[4] = {0, 2, (MESH_CC_MAX_CERT + 1) >> 8,
                    (MESH_CC_MAX_CERT + 1) & 0xff};
  assert_int_equal(cc_parse_auth_verify(big, 4, &c, &cl, &s, &sl),
                   MESH_E_TOO_LARGE);
  buf_cleanup(&b);
}

static void text_commands(void **state) {
  (void)state;
  struct buf b;
  const uint8_t *t;
  size_t l;
  buf_init(&b, 1024);
  assert_int_equal(
      cc_put_text(&b, CC_COMMIT_DATE, "2022-Nov-2 23:01:45-0700", 1), 0);
  assert_int_equal(b.len, 27);
  assert_int_equal(cc_parse_text(b.data, b.len, &t, &l), 0);
  assert_int_equal(l, 24);
  assert_memory_equal(t, "2022-Nov-2 23:01:45-0700", 24);
  uint8_t tag[2] = {0, 15};
  assert_int_equal(cc_parse_text(tag, 2, &t, &l), 0);
  assert_int_equal(l, 0);
  assert_int_equal(cc_parse_text(tag, 1, &t, &l), MESH_E_MALFORMED);
  buf_cleanup(&b);
}

static void message_types(void **state) {
  (void)state;
  assert_int_equal(cc_msg_type((const uint8_t *)"{}", 2), CC_JSON);
  assert_int_equal(cc_msg_type((const uint8_t *)"{", 1), CC_JSON);
  assert_int_equal(cc_msg_type((const uint8_t *)"\x00", 1), MESH_E_MALFORMED);
  assert_int_equal(cc_msg_type((const uint8_t *)"", 0), MESH_E_MALFORMED);
  assert_int_equal(cc_msg_type((const uint8_t *)"\x01\x02", 2), 0x102);
  uint16_t cmd, req;
  const uint8_t *body;
  size_t bl;
  assert_int_equal(cc_parse_request((const uint8_t *)"\x00\x0b\x00\x01", 4,
                                    &cmd, &req, &body, &bl),
                   0);
  assert_int_equal(cmd, 11);
  assert_int_equal(req, 1);
  assert_int_equal(bl, 0);
  assert_int_equal(cc_parse_request((const uint8_t *)"\x00\x0b\x00", 3, &cmd,
                                    &req, &body, &bl),
                   MESH_E_MALFORMED);
}

/* Every valid message cut short at every length is refused (or, where a
 * prefix is itself valid, accepted) without reading past its end. */
static void truncated_messages(void **state) {
  (void)state;
  uint8_t h[48] = {0}, hn[48];
  struct buf b;
  buf_init(&b, 4096);
  cc_put_auth_request(&b, h, h);
  for (size_t cut = 0; cut < b.len; cut++) {
    uint8_t *g = tu_guard_copy(b.data, cut);
    assert_int_equal(cc_parse_auth_request(g, cut, hn, hn), MESH_E_MALFORMED);
    assert_true(cc_parse_server_id(g, cut, hn) < 0);
    tu_guard_free(g, cut);
  }
  buf_reset(&b);
  static uint8_t cert[600], sig[256];
  cc_put_auth_verify(&b, cert, sizeof cert, sig, sizeof sig);
  for (size_t cut = 0; cut < b.len; cut++) {
    uint8_t *g = tu_guard_copy(b.data, cut);
    const uint8_t *c, *s;
    size_t cl, sl;
    int r = cc_parse_auth_verify(g, cut, &c, &cl, &s, &sl);
    /* A cut inside the signature still parses: the signature is "the
     * rest"; the signature check then fails. */
    if (cut > 4 + sizeof cert)
      assert_int_equal(r, 0);
    else
      assert_int_equal(r, MESH_E_MALFORMED);
    tu_guard_free(g, cut);
  }
  for (size_t cut = 0; cut < sizeof auth_info_vm; cut++) {
    uint8_t *g = tu_guard_copy(auth_info_vm, cut);
    struct cc_auth_info ai;
    int r = cc_parse_auth_info(g, cut, &ai);
    assert_int_equal(r, cut == 70 ? 0 : MESH_E_MALFORMED);
    tu_guard_free(g, cut);
  }
  buf_cleanup(&b);
}

/* Random bit flips never crash a parser. */
static void mutated_messages(void **state) {
  (void)state;
  for (int i = 0; i < 20000; i++) {
    uint8_t m[74];
    memcpy(m, auth_info_vm, sizeof m);
    m[tu_rand() % sizeof m] ^= (uint8_t)(1u << (tu_rand() % 8));
    size_t n = tu_rand() % (sizeof m + 1);
    uint8_t *g = tu_guard_copy(m, n);
    struct cc_auth_info ai;
    const uint8_t *c, *s;
    size_t cl, sl;
    uint8_t h[48];
    (void)cc_parse_auth_info(g, n, &ai);
    (void)cc_parse_auth_verify(g, n, &c, &cl, &s, &sl);
    (void)cc_parse_auth_request(g, n, h, h);
    (void)cc_parse_text(g, n, &c, &cl);
    tu_guard_free(g, n);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(auth_info_vector),
      cmocka_unit_test(auth_info_hostname_limit),
      cmocka_unit_test(auth_request_roundtrip),
      cmocka_unit_test(auth_verify_roundtrip_and_limits),
      cmocka_unit_test(text_commands),
      cmocka_unit_test(message_types),
      cmocka_unit_test(truncated_messages),
      cmocka_unit_test(mutated_messages),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
