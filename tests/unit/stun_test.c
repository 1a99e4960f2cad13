/* STUN codec (proto/stun.h): the RFC 5769 test vectors, messages built
 * and parsed back, attribute position and length rules, every truncation,
 * every single-bit flip, and random mutation on guard pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "proto/stun.h"
#include "testutil.h"

/* RFC 5769 §2: all three vectors use this short-term password. */
static const char PWD[] = "VOkJxbRl1RmTxUk/WvJxBt";

/* RFC 5769 §2.1 Sample Request. */
static const uint8_t REQ[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
    0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
    0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
    0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
    0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
    0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf};

/* RFC 5769 §2.2 Sample IPv4 Response. */
static const uint8_t RESP4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
    0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
    0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96};

/* RFC 5769 §2.3 Sample IPv6 Response. */
static const uint8_t RESP6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
    0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
    0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
    0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
    0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
    0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
    0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c};

static const uint8_t TID[STUN_TID_LEN] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                          0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

struct vec {
  const uint8_t *p;
  size_t n;
};
static const struct vec VECS[] = {
    {REQ, sizeof REQ}, {RESP4, sizeof RESP4}, {RESP6, sizeof RESP6}};

static int check_pwd(const uint8_t *p, size_t n, const struct stun_msg *m,
                     const char *pwd) {
  return stun_check_integrity(p, n, m, (const uint8_t *)pwd, strlen(pwd));
}

static void test_rfc5769_request(void **state) {
  (void)state;
  struct stun_msg m;
  assert_true(stun_is_stun(REQ, sizeof REQ));
  assert_int_equal(stun_parse(REQ, sizeof REQ, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_REQUEST);
  assert_memory_equal(m.tid, TID, STUN_TID_LEN);
  assert_int_equal(m.len, sizeof REQ);
  assert_int_equal(m.username_len, 9);
  assert_memory_equal(m.username, "evtj:h6vY", 9);
  assert_true(m.has & STUN_HAS_PRIORITY);
  assert_int_equal(m.priority, 0x6e0001ff);
  assert_true(m.has & STUN_HAS_CONTROLLED);
  assert_false(m.has & (STUN_HAS_CONTROLLING | STUN_HAS_USE_CANDIDATE));
  assert_true(m.tiebreaker == 0x932ff9b151263b36ull);
  assert_true(m.has & STUN_HAS_INTEGRITY);
  assert_true(m.has & STUN_HAS_FINGERPRINT);
  assert_int_equal(m.integrity_off, 76);
  /* SOFTWARE is comprehension-optional and known-ignored. */
  assert_int_equal(m.n_unknown, 0);
  assert_int_equal(check_pwd(REQ, sizeof REQ, &m, PWD), 0);
  assert_int_equal(check_pwd(REQ, sizeof REQ, &m, "VOkJxbRl1RmTxUk/WvJxBu"),
                   MESH_E_AUTH);
  assert_int_equal(check_pwd(REQ, sizeof REQ, &m, ""), MESH_E_AUTH);
}

static void test_rfc5769_responses(void **state) {
  (void)state;
  struct stun_msg m;
  assert_int_equal(stun_parse(RESP4, sizeof RESP4, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_SUCCESS);
  assert_true(m.has & STUN_HAS_XOR_MAPPED);
  assert_int_equal(m.xor_mapped.family, STUN_FAMILY_IPV4);
  assert_int_equal(m.xor_mapped.port, 32853);
  static const uint8_t ip4[4] = {192, 0, 2, 1};
  assert_memory_equal(m.xor_mapped.addr, ip4, 4);
  assert_int_equal(check_pwd(RESP4, sizeof RESP4, &m, PWD), 0);

  assert_int_equal(stun_parse(RESP6, sizeof RESP6, &m), 0);
  assert_int_equal(m.xor_mapped.family, STUN_FAMILY_IPV6);
  assert_int_equal(m.xor_mapped.port, 32853);
  static const uint8_t ip6[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34,
                                  0x56, 0x78, 0x00, 0x11, 0x22, 0x33,
                                  0x44, 0x55, 0x66, 0x77};
  assert_memory_equal(m.xor_mapped.addr, ip6, 16);
  assert_int_equal(check_pwd(RESP6, sizeof RESP6, &m, PWD), 0);
  assert_int_equal(check_pwd(RESP6, sizeof RESP6, &m, "x"), MESH_E_AUTH);
}

/* The writer's MESSAGE-INTEGRITY and FINGERPRINT over each vector's first
 * attributes reproduce the vector's bytes; so does its XOR-MAPPED-ADDRESS. */
static void test_rfc5769_writer(void **state) {
  (void)state;
  for (size_t v = 0; v < 3; v++) {
    const struct vec *x = &VECS[v];
    size_t mi_off = x->n - 32; /* MI (24) and FINGERPRINT (8) end each */
    uint8_t out[256];
    memcpy(out, x->p, mi_off);
    struct stun_writer w = {out, sizeof out, mi_off, 0};
    stun_w_integrity(&w, (const uint8_t *)PWD, strlen(PWD));
    stun_w_fingerprint(&w);
    assert_int_equal(stun_w_finish(&w), x->n);
    assert_memory_equal(out, x->p, x->n);
  }
  /* IPv4 and IPv6 XOR-MAPPED-ADDRESS written as the vectors carry them. */
  struct stun_addr a4 = {STUN_FAMILY_IPV4, 32853, {192, 0, 2, 1}};
  struct stun_addr a6 = {STUN_FAMILY_IPV6,
                         32853,
                         {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00,
                          0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}};
  uint8_t out[64];
  struct stun_writer w;
  stun_w_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, TID);
  stun_w_xor_addr(&w, &a4);
  assert_int_equal(stun_w_finish(&w), 32);
  assert_memory_equal(out + 20, RESP4 + 36, 12);
  stun_w_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, TID);
  stun_w_xor_addr(&w, &a6);
  assert_int_equal(stun_w_finish(&w), 44);
  assert_memory_equal(out + 20, RESP6 + 36, 24);
}

/* Every strict prefix of every vector is incomplete, read on a guard page
 * so one byte too far faults. */
static void test_truncation(void **state) {
  (void)state;
  for (size_t v = 0; v < 3; v++) {
    for (size_t cut = 0; cut < VECS[v].n; cut++) {
      uint8_t *g = tu_guard_copy(VECS[v].p, cut);
      struct stun_msg m;
      assert_int_equal(stun_parse(g, cut, &m), MESH_E_INCOMPLETE);
      assert_int_equal(stun_is_stun(g, cut), cut >= STUN_HEADER_LEN);
      tu_guard_free(g, cut);
    }
    uint8_t *g = tu_guard_copy(VECS[v].p, VECS[v].n);
    struct stun_msg m;
    assert_int_equal(stun_parse(g, VECS[v].n, &m), 0);
    assert_int_equal(check_pwd(g, VECS[v].n, &m, PWD), 0);
    tu_guard_free(g, VECS[v].n);
  }
}

/* With FINGERPRINT, no single-bit flip leaves a verified FINGERPRINT
 * (CRC-32 catches all single-bit errors). Without it, every flip is refused
 * by the parser or by the integrity check. */
static void test_bit_flips(void **state) {
  (void)state;
  for (size_t v = 0; v < 3; v++) {
    const struct vec *x = &VECS[v];
    uint8_t buf[256];
    for (size_t i = 0; i < x->n; i++) {
      for (int b = 0; b < 8; b++) {
        memcpy(buf, x->p, x->n);
        buf[i] ^= (uint8_t)(1u << b);
        struct stun_msg m;
        int r = stun_parse(buf, x->n, &m);
        /* A flip may hide the FINGERPRINT (its type turned into another
         * optional attribute's, or a length swallowing it), but a
         * FINGERPRINT is never verified over corrupted bytes. */
        if (r == 0) assert_false(m.has & STUN_HAS_FINGERPRINT);
      }
    }
    /* Drop the FINGERPRINT: length field minus 8, message minus 8. */
    size_t n = x->n - 8;
    for (size_t i = 0; i < n; i++) {
      for (int b = 0; b < 8; b++) {
        memcpy(buf, x->p, n);
        buf[3] = (uint8_t)(buf[3] - 8);
        buf[i] ^= (uint8_t)(1u << b);
        struct stun_msg m;
        int r = stun_parse(buf, n, &m);
        if (r == 0) r = check_pwd(buf, n, &m, PWD);
        assert_int_not_equal(r, 0);
      }
    }
    memcpy(buf, x->p, n);
    buf[3] = (uint8_t)(buf[3] - 8);
    struct stun_msg m;
    assert_int_equal(stun_parse(buf, n, &m), 0);
    assert_false(m.has & STUN_HAS_FINGERPRINT);
    assert_int_equal(check_pwd(buf, n, &m, PWD), 0);
  }
}

static const uint8_t KEY[] = "0123456789abcdef0123456789abcdef";

static void test_check_roundtrip(void **state) {
  (void)state;
  uint8_t out[STUN_MAX_MESSAGE];
  struct stun_check c = {TID,  "remote:local",        12,   0x6e7f1eff,
                         true, 0x1122334455667788ull, true, KEY,
                         32};
  ssize_t n = stun_build_check(out, sizeof out, &c);
  assert_true(n > 0);
  struct stun_msg m;
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_REQUEST);
  assert_memory_equal(m.tid, TID, STUN_TID_LEN);
  assert_int_equal(m.username_len, 12);
  assert_memory_equal(m.username, "remote:local", 12);
  assert_int_equal(m.priority, 0x6e7f1eff);
  assert_true(m.has & STUN_HAS_CONTROLLING);
  assert_true(m.has & STUN_HAS_USE_CANDIDATE);
  assert_true(m.has & STUN_HAS_FINGERPRINT);
  assert_true(m.tiebreaker == 0x1122334455667788ull);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY, 32), 0);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY, 31),
                   MESH_E_AUTH);

  /* Every capacity short of the message fails without writing past it. */
  for (size_t cap = 0; cap < (size_t)n; cap++) {
    uint8_t *g = tu_guard_copy(out, cap);
    assert_int_equal(stun_build_check(g, cap, &c), MESH_E_TOO_LARGE);
    tu_guard_free(g, cap);
  }

  c.controlling = false;
  c.use_candidate = false;
  n = stun_build_check(out, sizeof out, &c);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_true(m.has & STUN_HAS_CONTROLLED);
  assert_false(m.has & (STUN_HAS_CONTROLLING | STUN_HAS_USE_CANDIDATE));
}

static void test_responses_roundtrip(void **state) {
  (void)state;
  uint8_t out[STUN_MAX_MESSAGE];
  struct stun_addr a = {STUN_FAMILY_IPV4, 50000, {10, 1, 2, 3}};
  ssize_t n = stun_build_success(out, sizeof out, TID, &a, KEY, 32);
  assert_int_equal(n, 20 + 12 + 24 + 8);
  struct stun_msg m;
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_SUCCESS);
  assert_int_equal(m.xor_mapped.family, STUN_FAMILY_IPV4);
  assert_int_equal(m.xor_mapped.port, 50000);
  assert_memory_equal(m.xor_mapped.addr, a.addr, 4);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY, 32), 0);

  /* 420 lists the unknown types and is authenticated. */
  uint16_t unk[3] = {0x0031, 0x7fff, 0x0002};
  n = stun_build_error(out, sizeof out, TID, 420, unk, 3, KEY, 32);
  assert_true(n > 0);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.type, STUN_BINDING_ERROR);
  assert_int_equal(m.error_code, 420);
  assert_int_equal(m.reason_len, strlen("Unknown Attribute"));
  assert_memory_equal(m.reason, "Unknown Attribute", m.reason_len);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY, 32), 0);
  /* The UNKNOWN-ATTRIBUTES value: three types, padded. */
  assert_int_equal(out[20 + 4 + 4 + 20], 0x00);
  assert_int_equal(out[20 + 4 + 4 + 20 + 1], 0x0a);
  assert_int_equal(out[20 + 4 + 4 + 20 + 3], 6);
  assert_int_equal(out[20 + 4 + 4 + 20 + 4 + 1], 0x31);

  /* 401 and 400 carry no MESSAGE-INTEGRITY. */
  n = stun_build_error(out, sizeof out, TID, 401, NULL, 0, NULL, 0);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.error_code, 401);
  assert_false(m.has & STUN_HAS_INTEGRITY);
  assert_true(m.has & STUN_HAS_FINGERPRINT);
  assert_int_equal(stun_check_integrity(out, (size_t)n, &m, KEY, 32),
                   MESH_E_NOT_FOUND);
  n = stun_build_error(out, sizeof out, TID, 487, NULL, 0, KEY, 32);
  assert_int_equal(stun_parse(out, (size_t)n, &m), 0);
  assert_int_equal(m.error_code, 487);
  assert_int_equal(
      stun_build_error(out, sizeof out, TID, 700, NULL, 0, NULL, 0),
      MESH_E_INVALID);
  struct stun_addr bad = {3, 1, {0}};
  assert_int_equal(stun_build_success(out, sizeof out, TID, &bad, KEY, 32),
                   MESH_E_INVALID);
}

/* Builds a request with the given extra attribute(s) via a callback. */
typedef void (*extra_fn)(struct stun_writer *w);

static size_t build(uint8_t *out, size_t cap, extra_fn before,
                    extra_fn after_mi, bool fp) {
  struct stun_writer w;
  stun_w_init(&w, out, cap, STUN_BINDING_REQUEST, TID);
  stun_w_attr(&w, STUN_ATTR_USERNAME, "a:b", 3);
  if (before) before(&w);
  stun_w_integrity(&w, KEY, 32);
  if (after_mi) after_mi(&w);
  if (fp) stun_w_fingerprint(&w);
  ssize_t n = stun_w_finish(&w);
  assert_true(n > 0);
  return (size_t)n;
}

static void add_unknowns(struct stun_writer *w) {
  stun_w_attr(w, 0xC057, "\x00\x01\x00\x02", 4); /* GOOG-NETWORK-INFO */
  stun_w_attr(w, 0x0031, "x", 1);
  for (uint16_t t = 0x0040; t < 0x0049; t++) stun_w_attr(w, t, NULL, 0);
}

static void add_priority_use(struct stun_writer *w) {
  stun_w_u32(w, STUN_ATTR_PRIORITY, 7);
  stun_w_attr(w, STUN_ATTR_USE_CANDIDATE, NULL, 0);
}

static void add_dup(struct stun_writer *w) {
  stun_w_u32(w, STUN_ATTR_PRIORITY, 1);
  stun_w_u32(w, STUN_ATTR_PRIORITY, 2);
  stun_w_attr(w, STUN_ATTR_USERNAME, "c:d", 3);
}

static void test_attribute_rules(void **state) {
  (void)state;
  uint8_t out[512];
  struct stun_msg m;

  /* Unknown comprehension-optional skipped, required ones listed (first 8,
   * all counted). */
  size_t n = build(out, sizeof out, add_unknowns, NULL, true);
  assert_int_equal(stun_parse(out, n, &m), 0);
  assert_int_equal(m.n_unknown, 10);
  assert_int_equal(m.unknown[0], 0x0031);
  assert_int_equal(m.unknown[7], 0x0046);
  assert_int_equal(stun_check_integrity(out, n, &m, KEY, 32), 0);

  /* Attributes after MESSAGE-INTEGRITY are not recorded (not covered). */
  n = build(out, sizeof out, NULL, add_priority_use, true);
  assert_int_equal(stun_parse(out, n, &m), 0);
  assert_false(m.has & (STUN_HAS_PRIORITY | STUN_HAS_USE_CANDIDATE));
  assert_int_equal(stun_check_integrity(out, n, &m, KEY, 32), 0);

  /* The first of duplicated attributes counts. */
  n = build(out, sizeof out, add_dup, NULL, false);
  assert_int_equal(stun_parse(out, n, &m), 0);
  assert_int_equal(m.priority, 1);
  assert_memory_equal(m.username, "a:b", 3);

  /* Nothing may follow FINGERPRINT. */
  n = build(out, sizeof out, NULL, NULL, true);
  struct stun_writer w = {out, sizeof out, n, 0};
  stun_w_u32(&w, STUN_ATTR_PRIORITY, 1);
  assert_int_equal(stun_parse(out, w.len, &m), MESH_E_MALFORMED);

  /* Trailing bytes after the message, a length not a multiple of 4, bad
   * cookie, first bits set. */
  n = build(out, sizeof out, NULL, NULL, false);
  assert_int_equal(stun_parse(out, n + 4, &m), MESH_E_MALFORMED);
  out[3] = (uint8_t)(out[3] + 2);
  assert_int_equal(stun_parse(out, n + 2, &m), MESH_E_MALFORMED);
  out[3] = (uint8_t)(out[3] - 2);
  out[4] ^= 1;
  assert_false(stun_is_stun(out, n));
  assert_int_equal(stun_parse(out, n, &m), MESH_E_MALFORMED);
  out[4] ^= 1;
  out[0] |= 0x40;
  assert_int_equal(stun_parse(out, n, &m), MESH_E_MALFORMED);
  out[0] &= 0x3f;
  assert_int_equal(stun_parse(out, n, &m), 0);

  /* An attribute whose padded value runs past the message. */
  out[22] = 0;
  out[23] = 200; /* USERNAME length */
  assert_int_equal(stun_parse(out, n, &m), MESH_E_MALFORMED);
  out[23] = 3;

  /* Known attributes with wrong lengths. */
  static const struct {
    uint16_t type;
    size_t len;
  } bad[] = {{STUN_ATTR_PRIORITY, 3},
             {STUN_ATTR_PRIORITY, 8},
             {STUN_ATTR_USE_CANDIDATE, 4},
             {STUN_ATTR_ICE_CONTROLLING, 4},
             {STUN_ATTR_ICE_CONTROLLED, 12},
             {STUN_ATTR_XOR_MAPPED_ADDRESS, 4},
             {STUN_ATTR_XOR_MAPPED_ADDRESS, 12},
             {STUN_ATTR_MESSAGE_INTEGRITY, 32},
             {STUN_ATTR_FINGERPRINT, 8},
             {STUN_ATTR_ERROR_CODE, 2},
             {STUN_ATTR_USERNAME, STUN_MAX_USERNAME + 1}};
  uint8_t zero[600] = {0};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint8_t big[1024];
    stun_w_init(&w, big, sizeof big, STUN_BINDING_REQUEST, TID);
    stun_w_attr(&w, bad[i].type, zero, bad[i].len);
    assert_true(stun_w_finish(&w) > 0);
    assert_int_equal(stun_parse(big, w.len, &m), MESH_E_MALFORMED);
  }
  /* A USERNAME of exactly the maximum is fine; a family byte of 3 not. */
  stun_w_init(&w, out, sizeof out, STUN_BINDING_REQUEST, TID);
  stun_w_attr(&w, STUN_ATTR_USERNAME, zero, STUN_MAX_USERNAME);
  assert_int_equal(stun_parse(out, w.len, &m), 0);
  stun_w_init(&w, out, sizeof out, STUN_BINDING_SUCCESS, TID);
  stun_w_attr(&w, STUN_ATTR_XOR_MAPPED_ADDRESS, "\x00\x03\x00\x00\0\0\0\0", 8);
  assert_int_equal(stun_parse(out, w.len, &m), MESH_E_MALFORMED);
  /* ERROR-CODE class outside 3..6. */
  stun_w_init(&w, out, sizeof out, STUN_BINDING_ERROR, TID);
  stun_w_attr(&w, STUN_ATTR_ERROR_CODE, "\x00\x00\x07\x00", 4);
  assert_int_equal(stun_parse(out, w.len, &m), MESH_E_MALFORMED);
  /* MESSAGE-INTEGRITY over a message larger than the stack copy. */
  uint8_t huge[STUN_MAX_MESSAGE + 1024];
  stun_w_init(&w, huge, sizeof huge, STUN_BINDING_REQUEST, TID);
  stun_w_attr(&w, 0x8123, zero, 500);
  stun_w_attr(&w, 0x8123, zero, 500);
  stun_w_attr(&w, 0x8123, zero, 500);
  stun_w_attr(&w, 0x8123, zero, 500);
  stun_w_attr(&w, 0x8123, zero, 500);
  stun_w_integrity(&w, KEY, 32);
  assert_int_equal(stun_w_finish(&w), MESH_E_TOO_LARGE);
}

/* Random mutations (bytes changed, inserted, cut) of valid messages never
 * make the parser read outside the datagram. */
static void test_mutation(void **state) {
  (void)state;
  uint8_t base[5][256];
  size_t base_n[5];
  for (size_t v = 0; v < 3; v++) {
    memcpy(base[v], VECS[v].p, VECS[v].n);
    base_n[v] = VECS[v].n;
  }
  base_n[3] = build(base[3], 256, add_unknowns, NULL, true);
  uint16_t unk[1] = {0x0031};
  base_n[4] = (size_t)stun_build_error(base[4], 256, TID, 420, unk, 1, KEY, 32);
  int parsed = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t v = tu_rand() % 5;
    uint8_t buf[300];
    size_t n = base_n[v];
    memcpy(buf, base[v], n);
    int edits = 1 + (int)(tu_rand() % 4);
    for (int e = 0; e < edits; e++) {
      uint32_t op = tu_rand() % 3;
      if (op == 0 && n > 0) {
        buf[tu_rand() % n] = (uint8_t)tu_rand();
      } else if (op == 1 && n < sizeof buf) {
        size_t at = tu_rand() % (n + 1);
        memmove(buf + at + 1, buf + at, n - at);
        buf[at] = (uint8_t)tu_rand();
        n++;
      } else if (n > 0) {
        n = tu_rand() % n;
      }
    }
    /* Keep the header length consistent half the time, so the walk over
     * the attributes gets exercised rather than the length check. */
    if (n >= 20 && (iter & 1)) {
      buf[2] = (uint8_t)((n - 20) >> 8);
      buf[3] = (uint8_t)(n - 20);
    }
    uint8_t *g = tu_guard_copy(buf, n);
    struct stun_msg m;
    if (stun_parse(g, n, &m) == 0) {
      parsed++;
      assert_true(m.n_unknown <= 64);
      if (m.has & STUN_HAS_INTEGRITY)
        (void)stun_check_integrity(g, n, &m, KEY, 32);
    }
    tu_guard_free(g, n);
  }
  /* The mutations are not all rejected at the header. */
  assert_true(parsed > 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rfc5769_request),
      cmocka_unit_test(test_rfc5769_responses),
      cmocka_unit_test(test_rfc5769_writer),
      cmocka_unit_test(test_truncation),
      cmocka_unit_test(test_bit_flips),
      cmocka_unit_test(test_check_roundtrip),
      cmocka_unit_test(test_responses_roundtrip),
      cmocka_unit_test(test_attribute_rules),
      cmocka_unit_test(test_mutation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
