/* DCEP (proto/dcep.h): DATA_CHANNEL_OPEN / ACK vectors, each also cut
 * short at every length (MESH_E_INCOMPLETE, read from a guard page),
 * lying length fields, unknown types, bit-flip mutation and the encoder's
 * round trip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"
#include "proto/dcep.h"
#include "testutil.h"

/* Chrome's open for `createDataChannel("webrtc")`: reliable, ordered,
 * priority 256, no protocol. */
static const uint8_t chrome_open[] = {0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0x00, 0x06, 0x00, 0x00,
                                      'w',  'e',  'b',  'r',  't',  'c'};
/* Unordered, partially reliable (3 retransmissions), label "l",
 * protocol "proto". */
static const uint8_t pr_open[] = {0x03, 0x81, 0x00, 0x80, 0x00, 0x00,
                                  0x00, 0x03, 0x00, 0x01, 0x00, 0x05,
                                  'l',  'p',  'r',  'o',  't',  'o'};

static ssize_t parse_guarded(const uint8_t *p, size_t n, struct dcep_msg *m) {
  uint8_t *g = tu_guard_copy(p, n);
  ssize_t r = dcep_parse(g, n, m);
  /* Borrowed pointers die with the copy; keep only the verdict here. */
  tu_guard_free(g, n);
  return r;
}

static void test_open_fields(void **state) {
  (void)state;
  struct dcep_msg m;
  assert_int_equal(dcep_parse(chrome_open, sizeof chrome_open, &m),
                   (ssize_t)sizeof chrome_open);
  assert_int_equal(m.type, DCEP_MSG_OPEN);
  assert_int_equal(m.open.channel_type, DCEP_CHANNEL_RELIABLE);
  assert_int_equal(m.open.priority, 256);
  assert_int_equal(m.open.reliability, 0);
  assert_int_equal(m.open.label_len, 6);
  assert_memory_equal(m.open.label, "webrtc", 6);
  assert_int_equal(m.open.protocol_len, 0);

  assert_int_equal(dcep_parse(pr_open, sizeof pr_open, &m),
                   (ssize_t)sizeof pr_open);
  assert_int_equal(m.open.channel_type, 0x81);
  assert_int_equal(m.open.priority, 128);
  assert_int_equal(m.open.reliability, 3);
  assert_int_equal(m.open.label_len, 1);
  assert_memory_equal(m.open.label, "l", 1);
  assert_int_equal(m.open.protocol_len, 5);
  assert_memory_equal(m.open.protocol, "proto", 5);
}

static void test_ack(void **state) {
  (void)state;
  struct dcep_msg m;
  const uint8_t ack[] = {0x02, 0xff};
  assert_int_equal(dcep_parse(ack, 1, &m), 1);
  assert_int_equal(m.type, DCEP_MSG_ACK);
  /* Trailing bytes are reported as "1 consumed", for the caller to reject. */
  assert_int_equal(dcep_parse(ack, 2, &m), 1);
  assert_int_equal(dcep_parse(ack, 0, &m), MESH_E_INCOMPLETE);
}

/* Every proper prefix of a vector is incomplete, never an error and never
 * a read past its end. */
static void test_truncated_everywhere(void **state) {
  (void)state;
  const struct {
    const uint8_t *p;
    size_t n;
  } v[] = {{chrome_open, sizeof chrome_open}, {pr_open, sizeof pr_open}};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    struct dcep_msg m;
    for (size_t cut = 0; cut < v[i].n; cut++)
      assert_int_equal(parse_guarded(v[i].p, cut, &m), MESH_E_INCOMPLETE);
    assert_int_equal(parse_guarded(v[i].p, v[i].n, &m), (ssize_t)v[i].n);
  }
}

/* Fed one byte more at a time, the answer stays "incomplete" until the
 * last byte and then gives the whole message. */
static void test_byte_at_a_time(void **state) {
  (void)state;
  uint8_t acc[sizeof pr_open];
  struct dcep_msg m;
  for (size_t i = 0; i < sizeof pr_open; i++) {
    acc[i] = pr_open[i];
    ssize_t r = dcep_parse(acc, i + 1, &m);
    if (i + 1 < sizeof pr_open)
      assert_int_equal(r, MESH_E_INCOMPLETE);
    else
      assert_int_equal(r, (ssize_t)sizeof pr_open);
  }
  assert_memory_equal(m.open.protocol, "proto", 5);
}

/* Length fields that claim more than is there: incomplete, and a caller
 * holding the whole SCTP message turns that into an error. */
static void test_lying_lengths(void **state) {
  (void)state;
  struct dcep_msg m;
  uint8_t p[sizeof chrome_open];
  memcpy(p, chrome_open, sizeof p);
  p[8] = 0xff, p[9] = 0xff; /* label length 65535 */
  assert_int_equal(parse_guarded(p, sizeof p, &m), MESH_E_INCOMPLETE);
  memcpy(p, chrome_open, sizeof p);
  p[11] = 1; /* one protocol byte that is not there */
  assert_int_equal(parse_guarded(p, sizeof p, &m), MESH_E_INCOMPLETE);
  memcpy(p, chrome_open, sizeof p);
  p[9] = 2; /* label shorter than the bytes: 4 trailing bytes */
  assert_int_equal(parse_guarded(p, sizeof p, &m), DCEP_OPEN_HEADER + 2);
}

static void test_unknown_types(void **state) {
  (void)state;
  struct dcep_msg m;
  const uint8_t bad_msg[] = {0x04};
  assert_int_equal(dcep_parse(bad_msg, 1, &m), MESH_E_MALFORMED);
  const uint8_t zero[] = {0x00};
  assert_int_equal(dcep_parse(zero, 1, &m), MESH_E_MALFORMED);
  uint8_t p[sizeof chrome_open];
  memcpy(p, chrome_open, sizeof p);
  const uint8_t bad_types[] = {0x03, 0x7f, 0x83, 0x40, 0xff};
  for (size_t i = 0; i < sizeof bad_types; i++) {
    p[1] = bad_types[i];
    assert_int_equal(dcep_parse(p, sizeof p, &m), MESH_E_MALFORMED);
    /* Judged as soon as the byte is there. */
    assert_int_equal(dcep_parse(p, 2, &m), MESH_E_MALFORMED);
  }
}

/* Random bit flips and cuts: the parser answers within bounds, and a
 * success never claims more bytes than it was given. */
static void test_mutation(void **state) {
  (void)state;
  for (int i = 0; i < 20000; i++) {
    uint8_t p[sizeof pr_open];
    memcpy(p, pr_open, sizeof p);
    size_t n = tu_rand() % (sizeof p + 1);
    int flips = (int)(tu_rand() % 4);
    for (int f = 0; f < flips && n; f++)
      p[tu_rand() % n] ^= (uint8_t)(1u << (tu_rand() % 8));
    struct dcep_msg m;
    ssize_t r = parse_guarded(p, n, &m);
    if (r >= 0)
      assert_true((size_t)r <= n);
    else
      assert_true(r == MESH_E_INCOMPLETE || r == MESH_E_MALFORMED);
  }
}

static void test_encode_round_trip(void **state) {
  (void)state;
  struct buf b;
  buf_init(&b, 1 << 20);
  struct dcep_open o = {.channel_type = 0x82,
                        .priority = 512,
                        .reliability = 1500,
                        .label = (const uint8_t *)"chat",
                        .label_len = 4,
                        .protocol = (const uint8_t *)"x",
                        .protocol_len = 1};
  assert_int_equal(dcep_put_open(&b, &o), 0);
  assert_int_equal(b.len, DCEP_OPEN_HEADER + 5);
  struct dcep_msg m;
  assert_int_equal(dcep_parse(b.data, b.len, &m), (ssize_t)b.len);
  assert_int_equal(m.open.channel_type, 0x82);
  assert_int_equal(m.open.priority, 512);
  assert_int_equal(m.open.reliability, 1500);
  assert_memory_equal(m.open.label, "chat", 4);
  assert_memory_equal(m.open.protocol, "x", 1);

  /* Encoder limits: 16-bit lengths, known channel types, b's max. */
  buf_reset(&b);
  o.label_len = 65536;
  assert_int_equal(dcep_put_open(&b, &o), MESH_E_INVALID);
  o.label_len = 4;
  o.channel_type = 0x05;
  assert_int_equal(dcep_put_open(&b, &o), MESH_E_INVALID);
  assert_int_equal(b.len, 0);
  struct buf small;
  buf_init(&small, DCEP_OPEN_HEADER + 2);
  o.channel_type = 0;
  assert_int_equal(dcep_put_open(&small, &o), MESH_E_TOO_LARGE);
  assert_int_equal(small.len, 0);
  assert_int_equal(dcep_put_ack(&small), 0);
  assert_int_equal(small.len, 1);
  assert_int_equal(small.data[0], DCEP_MSG_ACK);
  buf_cleanup(&small);
  buf_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_fields),
      cmocka_unit_test(test_ack),
      cmocka_unit_test(test_truncated_everywhere),
      cmocka_unit_test(test_byte_at_a_time),
      cmocka_unit_test(test_lying_lengths),
      cmocka_unit_test(test_unknown_types),
      cmocka_unit_test(test_mutation),
      cmocka_unit_test(test_encode_round_trip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
