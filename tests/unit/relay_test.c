/* The relay's pure parts: the tunnel table (registration, joining in
 * either order, single use, deadlines, caps), the relay tokens (kinds,
 * binding, expiry, tampering) and the rights rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "server/relay.h"
#include "server/relay_table.h"
#include "server/relay_token.h"
#include "testutil.h"

static const char *const BOB = "user//bob", *const EVE = "user//eve";
static const char *const NODE = "nodeAAAA", *const GROUP = "groupBBB";
static int V, A; /* stand-ins for the sockets of the two sides */

static struct relay_tunnel *reg(struct relay_table *t, const char *id,
                                const char *user, uint64_t now) {
  struct relay_tunnel *tun = NULL;
  assert_int_equal(relay_table_register(t, id, user, NODE, GROUP, 1, now, &tun),
                   0);
  assert_non_null(tun);
  return tun;
}

static void test_ids(void **state) {
  (void)state;
  assert_true(relay_id_ok("abcdEFGH"));
  assert_true(relay_id_ok("0123456789abcdefABCDEF"));
  assert_false(relay_id_ok("abcdEFG")); /* 7 */
  assert_false(relay_id_ok(""));
  assert_false(relay_id_ok(NULL));
  assert_false(relay_id_ok("abcd-EFGH"));
  assert_false(relay_id_ok("abcd$EFGH"));
  assert_false(relay_id_ok("abcd EFGH"));
  char longest[MESH_RELAY_MAX_ID + 2];
  memset(longest, 'a', sizeof longest);
  longest[MESH_RELAY_MAX_ID] = 0;
  assert_true(relay_id_ok(longest));
  longest[MESH_RELAY_MAX_ID] = 'a';
  longest[MESH_RELAY_MAX_ID + 1] = 0;
  assert_false(relay_id_ok(longest));
}

/* Viewer first or agent first: WAITING, then PAIRED; start time set. */
static void test_pair_either_order(void **state) {
  (void)state;
  struct relay_table t;
  struct relay_tunnel *tun;
  relay_table_init(&t);
  for (int order = 0; order < 2; order++) {
    const char *id = order ? "orderOne1" : "orderTwo2";
    enum relay_side first = order ? RELAY_AGENT : RELAY_VIEWER;
    reg(&t, id, BOB, 1000);
    assert_int_equal(
        relay_table_join(&t, id, first, BOB, first ? (void *)&A : (void *)&V,
                         2000, &tun),
        0);
    assert_int_equal(tun->state, RELAY_WAITING);
    assert_int_equal(tun->deadline, 2000 + MESH_RELAY_PAIR_MS);
    assert_int_equal(
        relay_table_join(&t, id, !first, BOB, first ? (void *)&V : (void *)&A,
                         3000, &tun),
        0);
    assert_int_equal(tun->state, RELAY_PAIRED);
    assert_ptr_equal(tun->end[RELAY_VIEWER], &V);
    assert_ptr_equal(tun->end[RELAY_AGENT], &A);
    assert_int_equal(tun->paired_at, 3000);
    assert_string_equal(tun->node_id, NODE);
    assert_string_equal(tun->group_id, GROUP);
    /* A third connection, either side, is refused; nothing changes. */
    struct relay_tunnel *x = (void *)1;
    assert_int_equal(relay_table_join(&t, id, RELAY_VIEWER, BOB, &V, 3001, &x),
                     MESH_E_EXISTS);
    assert_null(x);
    assert_int_equal(relay_table_join(&t, id, RELAY_AGENT, BOB, &A, 3001, &x),
                     MESH_E_EXISTS);
    assert_int_equal(tun->state, RELAY_PAIRED);
    relay_table_remove(&t, tun);
    /* After the session the id is dead. */
    assert_int_equal(relay_table_join(&t, id, RELAY_VIEWER, BOB, &V, 4000, &x),
                     MESH_E_NOT_FOUND);
  }
  assert_int_equal(t.total, 0);
  assert_int_equal(relay_table_user_count(&t, BOB), 0);
  relay_table_cleanup(&t);
}

static void test_refusals(void **state) {
  (void)state;
  struct relay_table t;
  struct relay_tunnel *tun, *other;
  relay_table_init(&t);
  tun = reg(&t, "tunnelOne", BOB, 0);
  /* The same id twice, even by the same user. */
  assert_int_equal(
      relay_table_register(&t, "tunnelOne", BOB, NODE, GROUP, 1, 5, &other),
      MESH_E_EXISTS);
  assert_int_equal(
      relay_table_register(&t, "bad id!!", BOB, NODE, GROUP, 1, 5, &other),
      MESH_E_INVALID);
  /* Another user's rauth or session. */
  assert_int_equal(
      relay_table_join(&t, "tunnelOne", RELAY_AGENT, EVE, &A, 10, &other),
      MESH_E_AUTH);
  assert_int_equal(
      relay_table_join(&t, "tunnelOne", RELAY_VIEWER, EVE, &V, 10, &other),
      MESH_E_AUTH);
  assert_int_equal(tun->state, RELAY_REGISTERED);
  assert_int_equal(
      relay_table_join(&t, "unknownId", RELAY_AGENT, BOB, &A, 10, &other),
      MESH_E_NOT_FOUND);
  /* The same side twice while waiting. */
  assert_int_equal(
      relay_table_join(&t, "tunnelOne", RELAY_AGENT, BOB, &A, 10, &other), 0);
  assert_int_equal(
      relay_table_join(&t, "tunnelOne", RELAY_AGENT, BOB, &A, 11, &other),
      MESH_E_EXISTS);
  relay_table_cleanup(&t);
}

/* Registration lives MESH_RELAY_REGISTER_MS; the first join restarts the
 * clock with MESH_RELAY_PAIR_MS; a paired tunnel never expires. */
static void test_deadlines(void **state) {
  (void)state;
  struct relay_table t;
  struct relay_tunnel *a, *b, *c, *tun, *list[8];
  relay_table_init(&t);
  a = reg(&t, "deadlineA", BOB, 0);
  b = reg(&t, "deadlineB", BOB, 0);
  c = reg(&t, "deadlineC", BOB, 0);
  assert_int_equal(relay_table_expired(&t, MESH_RELAY_REGISTER_MS - 1, list, 8),
                   0);
  /* b: joined at the last moment; c: paired. */
  assert_int_equal(relay_table_join(&t, "deadlineB", RELAY_VIEWER, BOB, &V,
                                    MESH_RELAY_REGISTER_MS - 1, &tun),
                   0);
  assert_int_equal(
      relay_table_join(&t, "deadlineC", RELAY_VIEWER, BOB, &V, 100, &tun), 0);
  assert_int_equal(
      relay_table_join(&t, "deadlineC", RELAY_AGENT, BOB, &A, 200, &tun), 0);
  /* Exactly at its deadline a is expired and refuses joins. */
  assert_int_equal(relay_table_join(&t, "deadlineA", RELAY_AGENT, BOB, &A,
                                    MESH_RELAY_REGISTER_MS, &tun),
                   MESH_E_TIMEOUT);
  size_t n = relay_table_expired(&t, MESH_RELAY_REGISTER_MS, list, 8);
  assert_int_equal(n, 1);
  assert_ptr_equal(list[0], a);
  relay_table_remove(&t, a);
  uint64_t bdead = MESH_RELAY_REGISTER_MS - 1 + MESH_RELAY_PAIR_MS;
  assert_int_equal(relay_table_expired(&t, bdead - 1, list, 8), 0);
  n = relay_table_expired(&t, bdead, list, 8);
  assert_int_equal(n, 1);
  assert_ptr_equal(list[0], b);
  assert_int_equal(
      relay_table_join(&t, "deadlineB", RELAY_AGENT, BOB, &A, bdead, &tun),
      MESH_E_TIMEOUT);
  relay_table_remove(&t, b);
  assert_int_equal(relay_table_expired(&t, UINT64_MAX / 2, list, 8), 0);
  assert_int_equal(c->state, RELAY_PAIRED);
  /* max bounds the answer. */
  reg(&t, "deadlineD", BOB, 0);
  reg(&t, "deadlineE", BOB, 0);
  assert_int_equal(relay_table_expired(&t, UINT64_MAX / 2, list, 1), 1);
  relay_table_cleanup(&t);
}

static void test_caps(void **state) {
  (void)state;
  struct relay_table t;
  struct relay_tunnel *tun, *first = NULL;
  char id[32];
  relay_table_init(&t);
  for (int i = 0; i < MESH_RELAY_MAX_PER_USER; i++) {
    snprintf(id, sizeof id, "perUser%04d", i);
    tun = reg(&t, id, BOB, 0);
    if (!first) first = tun;
  }
  assert_int_equal(relay_table_user_count(&t, BOB), MESH_RELAY_MAX_PER_USER);
  assert_int_equal(
      relay_table_register(&t, "perUserMore", BOB, NODE, GROUP, 1, 0, &tun),
      MESH_E_TOO_LARGE);
  /* Other users are not affected; a freed slot can be used again. */
  reg(&t, "eveTunnel1", EVE, 0);
  relay_table_remove(&t, first);
  reg(&t, "perUserMore", BOB, 0);
  relay_table_cleanup(&t);

  /* The total, over many users. */
  relay_table_init(&t);
  char user[32];
  for (int i = 0; i < MESH_RELAY_MAX_TOTAL; i++) {
    snprintf(id, sizeof id, "total%06d", i);
    snprintf(user, sizeof user, "user//u%d", i / MESH_RELAY_MAX_PER_USER);
    reg(&t, id, user, 0);
  }
  assert_int_equal(t.total, MESH_RELAY_MAX_TOTAL);
  assert_int_equal(relay_table_register(&t, "totalMore1", "user//new", NODE,
                                        GROUP, 1, 0, &tun),
                   MESH_E_TOO_LARGE);
  relay_table_cleanup(&t);
}

static void test_rights(void **state) {
  (void)state;
  assert_true(relay_rights_ok(0xFFFFFFFFu, 1));
  assert_true(relay_rights_ok(0xFFFFFFFFu, 5));
  assert_true(relay_rights_ok(8, 1));
  assert_true(relay_rights_ok(8, 5));
  assert_true(relay_rights_ok(8, 2));
  assert_false(relay_rights_ok(0, 1));
  /* Desktop: view-only is enough (the agent drops its input); NODESKTOP
   * refuses unless the rights are full. */
  assert_true(relay_rights_ok(256, 2));
  assert_true(relay_rights_ok(8 | 256, 2));
  assert_false(relay_rights_ok(4 | 1, 2));
  assert_false(relay_rights_ok(8 | 65536, 2));
  assert_false(relay_rights_ok(256 | 65536, 2));
  assert_true(relay_rights_ok(0xFFFFFFFFu, 2));
  assert_false(relay_rights_ok(256, 1)); /* view only is no terminal */
  assert_false(relay_rights_ok(256, 5));
  assert_false(relay_rights_ok(4 | 1 | 2, 5));
  for (int p = 1; p <= 9; p++) {
    int term = p == 1 || p == 6 || p == 8 || p == 9;
    int files = p == 4 || p == 5;
    assert_int_equal(relay_rights_ok(8 | 512, p), !term);
    assert_int_equal(relay_rights_ok(8 | 1024, p), !files);
  }
  /* Full rights minus nothing is not "full" when one NO bit is set. */
  assert_false(relay_rights_ok(0xFFFFFFFFu & ~1u, 1)); /* has NOTERMINAL */
}

static const uint8_t KEY[SEAL_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};

static void test_tokens(void **state) {
  (void)state;
  uint8_t other[SEAL_KEY_LEN] = {9};
  char c[MESH_RELAY_MAX_TOKEN + 1], rc[sizeof c], u[RELAY_USER_MAX];
  int64_t now = 1700000000;
  assert_int_equal(relay_token_make(KEY, RELAY_TOKEN_COOKIE, BOB, "10.0.0.1",
                                    now, c, sizeof c),
                   0);
  assert_int_equal(
      relay_token_make(KEY, RELAY_TOKEN_RCOOKIE, BOB, NULL, now, rc, sizeof rc),
      0);
  /* Never "$$" (stock meshctrl's String.replace() would make it "$"):
   * without the reseal, about 3% of tokens have one, so 2000 would show
   * it. Each still opens. */
  for (int i = 0; i < 2000; i++) {
    char t[sizeof c];
    assert_int_equal(
        relay_token_make(KEY, i % 2 ? RELAY_TOKEN_COOKIE : RELAY_TOKEN_RCOOKIE,
                         BOB, "10.0.0.1", now, t, sizeof t),
        0);
    assert_null(strstr(t, "$$"));
  }
  /* URL-safe without escaping: the B64MC alphabet. */
  for (const char *p = c; *p; p++)
    assert_non_null(strchr(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@$=",
        *p));
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_COOKIE, c, "10.0.0.1",
                                    now + 5, u, sizeof u),
                   0);
  assert_string_equal(u, BOB);
  assert_int_equal(
      relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL, now, u, sizeof u),
      0);
  assert_string_equal(u, BOB);
  /* Kinds do not pass for each other. */
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, c, "10.0.0.1",
                                    now, u, sizeof u),
                   MESH_E_AUTH);
  assert_string_equal(u, "");
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_COOKIE, rc, "10.0.0.1",
                                    now, u, sizeof u),
                   MESH_E_AUTH);
  /* The cookie is bound to the viewer's address. */
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_COOKIE, c, "10.0.0.2", now,
                                    u, sizeof u),
                   MESH_E_AUTH);
  /* Another server's key, a changed byte, garbage. */
  assert_int_equal(
      relay_token_open(other, RELAY_TOKEN_RCOOKIE, rc, NULL, now, u, sizeof u),
      MESH_E_AUTH);
  for (size_t i = 0; rc[i]; i += 7) {
    char m[sizeof rc];
    memcpy(m, rc, sizeof rc);
    m[i] = m[i] == 'A' ? 'B' : 'A';
    assert_int_not_equal(
        relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, m, NULL, now, u, sizeof u),
        0);
  }
  assert_int_equal(
      relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, "", NULL, now, u, sizeof u),
      MESH_E_AUTH);
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, "not a token",
                                    NULL, now, u, sizeof u),
                   MESH_E_AUTH);
  /* Lifetimes: both edges, and a creation time from the future. */
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_COOKIE, c, "10.0.0.1",
                                    now + MESH_RELAY_COOKIE_S, u, sizeof u),
                   0);
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_COOKIE, c, "10.0.0.1",
                                    now + MESH_RELAY_COOKIE_S + 1, u, sizeof u),
                   MESH_E_TIMEOUT);
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL,
                                    now + MESH_RELAY_RCOOKIE_S, u, sizeof u),
                   0);
  assert_int_equal(
      relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL,
                       now + MESH_RELAY_RCOOKIE_S + 1, u, sizeof u),
      MESH_E_TIMEOUT);
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL,
                                    now - MESH_RELAY_SKEW_S, u, sizeof u),
                   0);
  assert_int_equal(relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL,
                                    now - MESH_RELAY_SKEW_S - 1, u, sizeof u),
                   MESH_E_TIMEOUT);
  /* Two rcookies of the same second differ (a random part). */
  char rc2[sizeof rc];
  assert_int_equal(relay_token_make(KEY, RELAY_TOKEN_RCOOKIE, BOB, NULL, now,
                                    rc2, sizeof rc2),
                   0);
  assert_string_not_equal(rc, rc2);
  /* Bad arguments and small buffers. */
  assert_int_equal(
      relay_token_make(KEY, RELAY_TOKEN_COOKIE, BOB, NULL, now, c, sizeof c),
      MESH_E_INVALID);
  assert_int_equal(
      relay_token_make(KEY, RELAY_TOKEN_RCOOKIE, "", NULL, now, c, sizeof c),
      MESH_E_INVALID);
  assert_int_not_equal(
      relay_token_make(KEY, RELAY_TOKEN_RCOOKIE, BOB, NULL, now, c, 20), 0);
  assert_int_equal(
      relay_token_open(KEY, RELAY_TOKEN_RCOOKIE, rc, NULL, now, u, 5),
      MESH_E_TOO_LARGE);
  assert_string_equal(u, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ids),      cmocka_unit_test(test_pair_either_order),
      cmocka_unit_test(test_refusals), cmocka_unit_test(test_deadlines),
      cmocka_unit_test(test_caps),     cmocka_unit_test(test_rights),
      cmocka_unit_test(test_tokens),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
