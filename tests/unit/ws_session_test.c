#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "net/ws_session.h"
#include "testutil.h"

/* What one side received. */
struct rx {
  int n;
  enum ws_type type[16];
  size_t len[16];
  uint8_t *last;
  size_t last_len;
};

static void on_msg(struct ws_session *s, enum ws_type t, const uint8_t *p,
                   size_t n, void *data) {
  (void)s;
  struct rx *rx = data;
  if (rx->n < 16) {
    rx->type[rx->n] = t;
    rx->len[rx->n] = n;
  }
  rx->n++;
  free(rx->last);
  rx->last = malloc(n ? n : 1);
  if (n) memcpy(rx->last, p, n);
  rx->last_len = n;
}

struct pair {
  struct ws_session *cli, *srv;
  struct rx crx, srx;
};

static void pair_init(struct pair *pr) {
  memset(pr, 0, sizeof *pr);
  assert_int_equal(ws_session_new(WS_ROLE_CLIENT, on_msg, &pr->crx, &pr->cli),
                   0);
  assert_int_equal(ws_session_new(WS_ROLE_SERVER, on_msg, &pr->srx, &pr->srv),
                   0);
}

static void pair_free(struct pair *pr) {
  ws_session_free(pr->cli);
  ws_session_free(pr->srv);
  free(pr->crx.last);
  free(pr->srx.last);
}

/* Moves everything queued by from into to; returns to's feed result. Uses
 * a guard copy so reads past the end fault. */
static int move(struct ws_session *from, struct ws_session *to, int bytewise) {
  struct buf *o = ws_session_out(from);
  size_t n = o->len;
  if (n == 0) return 0;
  uint8_t *copy = malloc(n);
  memcpy(copy, o->data, n);
  buf_reset(o);
  int r = 0;
  if (bytewise) {
    for (size_t i = 0; i < n && r == 0; i++) {
      uint8_t *g = tu_guard_copy(copy + i, 1);
      r = ws_session_feed(to, g, 1);
      tu_guard_free(g, 1);
    }
  } else {
    uint8_t *g = tu_guard_copy(copy, n);
    r = ws_session_feed(to, g, n);
    tu_guard_free(g, n);
  }
  free(copy);
  return r;
}

static void text_binary_distinct(void **state) {
  (void)state;
  struct pair pr;
  pair_init(&pr);
  assert_int_equal(ws_session_send(pr.cli, WS_TEXT, "hello", 5), 0);
  assert_int_equal(ws_session_send(pr.cli, WS_BINARY, "\x00\x01\x02", 3), 0);
  assert_int_equal(ws_session_send(pr.cli, WS_TEXT, "", 0), 0);
  assert_int_equal(move(pr.cli, pr.srv, 0), 0);
  assert_int_equal(pr.srx.n, 3);
  assert_int_equal(pr.srx.type[0], WS_TEXT);
  assert_int_equal(pr.srx.len[0], 5);
  assert_int_equal(pr.srx.type[1], WS_BINARY);
  assert_int_equal(pr.srx.len[1], 3);
  assert_int_equal(pr.srx.type[2], WS_TEXT);
  assert_int_equal(pr.srx.len[2], 0);
  /* And the other way, unmasked. */
  assert_int_equal(ws_session_send(pr.srv, WS_BINARY, "xyz", 3), 0);
  assert_int_equal(ws_session_out(pr.srv)->data[1] & 0x80, 0);
  assert_int_equal(move(pr.srv, pr.cli, 0), 0);
  assert_int_equal(pr.crx.n, 1);
  assert_int_equal(pr.crx.type[0], WS_BINARY);
  assert_memory_equal(pr.crx.last, "xyz", 3);
  pair_free(&pr);
}

static void fragmentation(void **state) {
  (void)state;
  struct pair pr;
  pair_init(&pr);
  size_t n = 10000;
  uint8_t *m = malloc(n);
  for (size_t i = 0; i < n; i++) m[i] = (uint8_t)('a' + i % 26);
  ws_session_set_fragment(pr.cli, MESH_WS_AGENT_FRAGMENT);
  assert_int_equal(ws_session_send(pr.cli, WS_TEXT, m, n), 0);
  /* Three frames: two of 4096 with FIN clear, then the rest. */
  struct buf *o = ws_session_out(pr.cli);
  assert_int_equal(o->data[0], 0x01);
  assert_int_equal(o->len, n + 3 * (2 + 2 + 4));
  assert_int_equal(move(pr.cli, pr.srv, 0), 0);
  assert_int_equal(pr.srx.n, 1);
  assert_int_equal(pr.srx.last_len, n);
  assert_memory_equal(pr.srx.last, m, n);
  /* Byte-at-a-time feed of a multi-frame stream: fragmented text, ping,
   * binary, close. */
  assert_int_equal(ws_session_send(pr.cli, WS_TEXT, m, n), 0);
  assert_int_equal(ws_session_ping(pr.cli, "p", 1), 0);
  assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, 300), 0);
  assert_int_equal(ws_session_close(pr.cli, 4000, "bye"), 0);
  assert_int_equal(move(pr.cli, pr.srv, 1), 0);
  assert_int_equal(pr.srx.n, 3);
  assert_int_equal(pr.srx.type[1], WS_TEXT);
  assert_int_equal(pr.srx.len[1], n);
  assert_int_equal(pr.srx.type[2], WS_BINARY);
  assert_int_equal(pr.srx.len[2], 300);
  assert_true(ws_session_close_received(pr.srv));
  assert_int_equal(ws_session_close_code(pr.srv), 4000);
  assert_string_equal(ws_session_close_reason(pr.srv), "bye");
  free(m);
  pair_free(&pr);
}

static void interleaved_control(void **state) {
  (void)state;
  struct pair pr;
  pair_init(&pr);
  /* Hand-made masked frames (mask 0): "he" (no FIN), PING "x", "llo" FIN. */
  static const uint8_t in[] = {0x01, 0x82, 0, 0, 0, 0,   'h', 'e',
                               0x89, 0x81, 0, 0, 0, 0,   'x', 0x80,
                               0x83, 0,    0, 0, 0, 'l', 'l', 'o'};
  assert_int_equal(ws_session_feed(pr.srv, in, sizeof in), 0);
  assert_int_equal(pr.srx.n, 1);
  assert_memory_equal(pr.srx.last, "hello", 5);
  /* The pong went out, unmasked, with the ping's payload. */
  struct buf *o = ws_session_out(pr.srv);
  assert_int_equal(o->len, 3);
  assert_memory_equal(o->data, "\x8a\x01x", 3);
  pair_free(&pr);
}

static void ping_pong(void **state) {
  (void)state;
  struct pair pr;
  pair_init(&pr);
  assert_int_equal(ws_session_ping(pr.srv, "abc", 3), 0);
  assert_int_equal(move(pr.srv, pr.cli, 0), 0);
  assert_int_equal(ws_session_out(pr.cli)->len, 2 + 4 + 3);
  assert_int_equal(ws_session_out(pr.cli)->data[0], 0x8a);
  assert_int_equal(move(pr.cli, pr.srv, 0), 0);
  assert_int_equal(pr.srx.n + pr.crx.n, 0);
  static const uint8_t big[126];
  assert_int_equal(ws_session_ping(pr.srv, big, 125), 0);
  assert_int_equal(ws_session_ping(pr.srv, big, 126), MESH_E_TOO_LARGE);
  pair_free(&pr);
}

static void close_both_ways(void **state) {
  (void)state;
  for (int dir = 0; dir < 2; dir++) {
    struct pair pr;
    pair_init(&pr);
    struct ws_session *a = dir ? pr.srv : pr.cli, *b = dir ? pr.cli : pr.srv;
    assert_int_equal(ws_session_close(a, 4001, "going home"), 0);
    assert_int_equal(ws_session_send(a, WS_TEXT, "x", 1), MESH_E_CLOSED);
    assert_int_equal(ws_session_close(a, 1000, NULL), MESH_E_CLOSED);
    assert_false(ws_session_done(a));
    assert_int_equal(move(a, b, 0), 0);
    assert_true(ws_session_done(b)); /* received and echoed */
    assert_int_equal(ws_session_close_code(b), 4001);
    assert_string_equal(ws_session_close_reason(b), "going home");
    assert_int_equal(move(b, a, 0), 0);
    assert_true(ws_session_done(a));
    assert_int_equal(ws_session_close_code(a), 4001);
    pair_free(&pr);
  }
  /* A close without a code reports 1005 and echoes an empty close. */
  struct pair pr;
  pair_init(&pr);
  static const uint8_t c0[] = {0x88, 0x80, 1, 2, 3, 4};
  assert_int_equal(ws_session_feed(pr.srv, c0, sizeof c0), 0);
  assert_int_equal(ws_session_close_code(pr.srv), 1005);
  assert_int_equal(ws_session_out(pr.srv)->len, 2);
  /* Long reasons are truncated to fit a control frame. */
  char longr[300];
  memset(longr, 'r', sizeof longr - 1);
  longr[299] = 0;
  assert_int_equal(ws_session_close(pr.cli, 1000, longr), 0);
  assert_int_equal(ws_session_out(pr.cli)->len, 2 + 4 + 125);
  pair_free(&pr);
}

static void max_message(void **state) {
  (void)state;
  size_t n = MESH_WS_MAX_MESSAGE;
  uint8_t *m = calloc(1, n + 1);
  for (int frag = 0; frag < 2; frag++) {
    struct pair pr;
    pair_init(&pr);
    if (frag) ws_session_set_fragment(pr.cli, 1 << 20);
    assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, n), 0);
    assert_int_equal(move(pr.cli, pr.srv, 0), 0);
    assert_int_equal(pr.srx.n, 1);
    assert_int_equal(pr.srx.last_len, n);
    assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, n + 1),
                     MESH_E_TOO_LARGE);
    /* One byte past, forged: send two messages' worth with the fragment
     * bit games: a frame of n then a continuation of 1. */
    struct buf *o = ws_session_out(pr.cli);
    ws_session_set_fragment(pr.cli, frag ? 1 << 20 : n);
    assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, n), 0);
    /* Clear FIN on the last frame and add a 1-byte continuation. */
    size_t last = frag ? o->len - ((1 << 20) + 14) : 0;
    o->data[last] &= 0x7f;
    static const uint8_t cont[] = {0x80, 0x81, 0, 0, 0, 0, 'z'};
    buf_put(o, cont, sizeof cont);
    assert_int_equal(move(pr.cli, pr.srv, 0), MESH_E_TOO_LARGE);
    assert_int_equal(pr.srx.n, 1);
    assert_true(ws_session_done(pr.srv));
    assert_int_equal(ws_session_close_code(pr.srv), 1009);
    /* The client sees 1009 with a reason. */
    assert_int_equal(move(pr.srv, pr.cli, 0), 0);
    assert_int_equal(ws_session_close_code(pr.cli), 1009);
    assert_string_equal(ws_session_close_reason(pr.cli), "message too big");
    pair_free(&pr);
  }
  /* A single frame declaring n + 1 is refused from its declared length as
   * soon as wslay hands over its first payload byte, before buffering. */
  struct pair pr;
  pair_init(&pr);
  uint8_t h[15] = {0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5};
  uint64_t big = (uint64_t)n + 1;
  for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)(big >> (56 - 8 * i));
  assert_int_equal(ws_session_feed(pr.srv, h, sizeof h), MESH_E_TOO_LARGE);
  assert_int_equal(ws_session_close_code(pr.srv), 1009);
  pair_free(&pr);
  free(m);
}

/* A lowered per-connection limit: exactly at it passes, one past is 1009,
 * whether the message comes whole or in fragments. */
static void lowered_max_message(void **state) {
  (void)state;
  uint8_t m[1001] = {0};
  for (int frag = 0; frag < 2; frag++) {
    struct pair pr;
    pair_init(&pr);
    ws_session_set_max_message(pr.srv, 1000);
    if (frag) ws_session_set_fragment(pr.cli, 300);
    assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, 1000), 0);
    assert_int_equal(move(pr.cli, pr.srv, 0), 0);
    assert_int_equal(pr.srx.n, 1);
    assert_int_equal(ws_session_send(pr.cli, WS_BINARY, m, 1001), 0);
    assert_int_equal(move(pr.cli, pr.srv, 1), MESH_E_TOO_LARGE);
    assert_int_equal(pr.srx.n, 1);
    assert_int_equal(ws_session_close_code(pr.srv), 1009);
    pair_free(&pr);
  }
}

struct bad {
  const char *name;
  enum ws_role role; /* the receiving side */
  const uint8_t *in;
  size_t len;
  uint16_t code;
};

static void violations(void **state) {
  (void)state;
  static const uint8_t unmasked[] = {0x81, 0x01, 'a'};
  static const uint8_t masked[] = {0x81, 0x81, 0, 0, 0, 0, 'a'};
  static const uint8_t rsv[] = {0xc1, 0x81, 0, 0, 0, 0, 'a'};
  static const uint8_t opcode[] = {0x83, 0x80, 0, 0, 0, 0};
  static const uint8_t cont[] = {0x80, 0x80, 0, 0, 0, 0};
  static const uint8_t twomsg[] = {0x01, 0x80, 0, 0, 0, 0,
                                   0x81, 0x80, 0, 0, 0, 0};
  static const uint8_t bigping[] = {0x89, 0xfe, 0, 126, 0, 0, 0, 0};
  static const uint8_t fragping[] = {0x09, 0x80, 0, 0, 0, 0};
  static const uint8_t badutf[] = {0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28};
  static const uint8_t surrogate[] = {0x81, 0x83, 0, 0, 0, 0, 0xed, 0xa0, 0x80};
  static const uint8_t cut_utf[] = {0x81, 0x81, 0, 0, 0, 0, 0xe2};
  static const uint8_t close1[] = {0x88, 0x81, 0, 0, 0, 0, 3};
  static const uint8_t close_code[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed};
  static const uint8_t close_utf[] = {0x88, 0x83, 0, 0, 0, 0, 0x03, 0xe8, 0xff};
  static const uint8_t short16[] = {0x82, 0xfe, 0, 5, 0, 0, 0, 0};
  const struct bad bad[] = {
      {"unmasked to server", WS_ROLE_SERVER, unmasked, sizeof unmasked, 1002},
      {"masked to client", WS_ROLE_CLIENT, masked, sizeof masked, 1002},
      {"rsv", WS_ROLE_SERVER, rsv, sizeof rsv, 1002},
      {"opcode", WS_ROLE_SERVER, opcode, sizeof opcode, 1002},
      {"stray continuation", WS_ROLE_SERVER, cont, sizeof cont, 1002},
      {"new message mid-fragment", WS_ROLE_SERVER, twomsg, sizeof twomsg, 1002},
      {"ping > 125", WS_ROLE_SERVER, bigping, sizeof bigping, 1002},
      {"fragmented ping", WS_ROLE_SERVER, fragping, sizeof fragping, 1002},
      {"bad utf-8", WS_ROLE_SERVER, badutf, sizeof badutf, 1007},
      {"surrogate", WS_ROLE_SERVER, surrogate, sizeof surrogate, 1007},
      {"truncated utf-8", WS_ROLE_SERVER, cut_utf, sizeof cut_utf, 1007},
      {"close 1 byte", WS_ROLE_SERVER, close1, sizeof close1, 1002},
      {"close code 1005", WS_ROLE_SERVER, close_code, sizeof close_code, 1002},
      {"close reason utf-8", WS_ROLE_SERVER, close_utf, sizeof close_utf, 1007},
      {"non-minimal length", WS_ROLE_SERVER, short16, sizeof short16, 1002},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      struct ws_session *s;
      struct rx rx;
      memset(&rx, 0, sizeof rx);
      assert_int_equal(ws_session_new(bad[i].role, on_msg, &rx, &s), 0);
      int r = 0;
      for (size_t k = 0; k < bad[i].len && r == 0; k++) {
        size_t len = bytewise ? 1 : bad[i].len;
        uint8_t *g = tu_guard_copy(bad[i].in + k, len);
        r = ws_session_feed(s, g, len);
        tu_guard_free(g, len);
        if (!bytewise) break;
      }
      if (r == 0 || ws_session_close_code(s) != bad[i].code)
        fail_msg("%s: r=%d code=%u", bad[i].name, r, ws_session_close_code(s));
      assert_true(ws_session_done(s));
      assert_int_equal(rx.n, 0);
      /* The queued close frame carries the code and a reason. */
      struct buf *o = ws_session_out(s);
      size_t hl = bad[i].role == WS_ROLE_CLIENT ? 6 : 2;
      assert_true(o->len > hl + 2);
      assert_int_equal(o->data[0], 0x88);
      if (bad[i].role == WS_ROLE_SERVER) {
        assert_int_equal(o->data[2] << 8 | o->data[3], bad[i].code);
        assert_memory_equal(o->data + 4, ws_session_close_reason(s),
                            o->len - 4);
      }
      /* Nothing more is accepted. */
      assert_int_equal(ws_session_feed(s, bad[i].in, bad[i].len), 0);
      assert_int_equal(ws_session_send(s, WS_TEXT, "x", 1), MESH_E_CLOSED);
      ws_session_free(s);
      free(rx.last);
    }
  }
}

static void valid_utf8(void **state) {
  (void)state;
  struct pair pr;
  pair_init(&pr);
  const char *t = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
  ws_session_set_fragment(pr.cli, 3); /* split inside sequences */
  assert_int_equal(ws_session_send(pr.cli, WS_TEXT, t, strlen(t)), 0);
  assert_int_equal(move(pr.cli, pr.srv, 1), 0);
  assert_int_equal(pr.srx.n, 1);
  assert_memory_equal(pr.srx.last, t, strlen(t));
  pair_free(&pr);
}

static void upgrade_helpers(void **state) {
  (void)state;
  /* RFC 6455 section 1.3 example. */
  char acc[WS_ACCEPT_LEN + 1];
  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  assert_int_equal(ws_accept_for_key(key, strlen(key), acc), 0);
  assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(ws_check_accept(key, acc), 0);
  assert_int_equal(ws_check_accept(key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOp="),
                   MESH_E_AUTH);
  assert_true(ws_key_valid(key, strlen(key)));
  assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25j", 20));
  assert_false(ws_key_valid("dGhlIHNhbXBsZSBub25jZQ!!", 24));
  struct buf b;
  buf_init(&b, 1024);
  char k[WS_KEY_LEN + 1];
  assert_int_equal(ws_client_request(&b, "h:1", "/agent.ashx?x=1", k), 0);
  assert_true(ws_key_valid(k, strlen(k)));
  assert_int_equal(
      memcmp(b.data, "GET /agent.ashx?x=1 HTTP/1.1\r\nHost: h:1\r\n", 41), 0);
  assert_int_equal(memcmp(b.data + b.len - 4, "\r\n\r\n", 4), 0);
  buf_cleanup(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(text_binary_distinct), cmocka_unit_test(fragmentation),
      cmocka_unit_test(interleaved_control),  cmocka_unit_test(ping_pong),
      cmocka_unit_test(close_both_ways),      cmocka_unit_test(max_message),
      cmocka_unit_test(lowered_max_message),  cmocka_unit_test(violations),
      cmocka_unit_test(valid_utf8),           cmocka_unit_test(upgrade_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
