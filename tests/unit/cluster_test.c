/*
 * cluster_test.c - several meshd on one PostgreSQL database (cluster.h):
 * the NOTIFY payload parser with every truncation and bad field; device
 * presence held per server (a device moves, a close at the old server
 * leaves it online, stale servers' devices reset, a copied server id
 * refused); LISTEN/NOTIFY through db_listen. Runs on the cluster of the
 * ctest fixture "pg" (MESH_TEST_PG_FILE, tests/pg.bash). (Naming
 * MESH_TEST_PG_FILE in this file is what gives the test the fixture.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "server/cluster.h"
#include "server/db.h"
#include "server/store.h"
#include "testutil.h"

static const char NODE[] =
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@";
static const char SID_A[] = "0123456789abcdef0123456789abcdef";
static const char SID_B[] = "fedcba9876543210fedcba9876543210";

static const char GROUP[] =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void parse_valid(void **state) {
  (void)state;
  struct cluster_msg m;
  assert_int_equal(
      cluster_msg_parse("0123456789abcdef0123456789abcdef e 42", &m), 0);
  assert_string_equal(m.server, SID_A);
  assert_int_equal(m.kind, 'e');
  assert_int_equal(m.seq, 42);
  char p[400];
  snprintf(p, sizeof p, "%s n 1 %s %s", SID_B, NODE, GROUP);
  assert_int_equal(cluster_msg_parse(p, &m), 0);
  assert_int_equal(m.kind, 'n');
  assert_int_equal(m.online, 1);
  assert_string_equal(m.node, NODE);
  assert_string_equal(m.group, GROUP);
}

/* Every proper prefix of a nodeconnect payload is refused (nothing is
 * read past the end, no half message passes), and of a stored event's
 * up to its seq. */
static void parse_truncated(void **state) {
  (void)state;
  char p[400], cut[400];
  struct cluster_msg m;
  snprintf(p, sizeof p, "%s n 0 %s %s", SID_A, NODE, GROUP);
  assert_int_equal(cluster_msg_parse(p, &m), 0);
  for (size_t n = 0; n < strlen(p); n++) {
    memcpy(cut, p, n);
    cut[n] = 0;
    assert_int_equal(cluster_msg_parse(cut, &m), MESH_E_MALFORMED);
  }
  snprintf(p, sizeof p, "%s e 7", SID_A);
  for (size_t n = 0; n < strlen(p); n++) {
    memcpy(cut, p, n);
    cut[n] = 0;
    assert_int_equal(cluster_msg_parse(cut, &m), MESH_E_MALFORMED);
  }
}

static void parse_bad(void **state) {
  (void)state;
  struct cluster_msg m;
  static const char *const tails[] = {
      "",
      " e 1",
      "x 1",
      "e",
      "e ",
      "e 0",
      "e -1",
      "e 1x",
      "e 1 ",
      "e 12345678901234567890",
      "n 2 %N %G",
      "n 1 %N",
      "n 1 %N %G x",
      "n 1 %N  %G",
      "n 1 %G%N %G",
      "n 1 %N %Gx",
      "n 1 %N \"%G",
      "n 1 %N%G",
  };
  for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
    char p[512];
    snprintf(p, sizeof p, "%s ", i == 0 ? "" : SID_A); /* 0: empty */
    if (i == 0) p[0] = 0;
    for (const char *t = tails[i]; *t; t++) {
      if (t[0] == '%' && (t[1] == 'N' || t[1] == 'G')) {
        strcat(p, t[1] == 'N' ? NODE : GROUP);
        t++;
      } else {
        strncat(p, t, 1);
      }
    }
    assert_int_equal(cluster_msg_parse(p, &m), MESH_E_MALFORMED);
  }
  /* Server ids of other lengths. */
  assert_int_equal(cluster_msg_parse("0123456789abcdef e 1", &m),
                   MESH_E_MALFORMED);
  assert_int_equal(
      cluster_msg_parse("0123456789abcdef0123456789abcdef0 e 1", &m),
      MESH_E_MALFORMED);
}

/* ------------------------------------------------------- on PostgreSQL */

static char ci[1200], name[64]; /* this test's database */

static int setup(void **state) {
  (void)state;
  return tu_pg_fresh_db("cluster_test", name, sizeof name, ci, sizeof ci);
}

static int teardown(void **state) {
  (void)state;
  if (!name[0]) return 0; /* the set-up failed, and said why */
  return tu_pg_drop_db(name);
}

static int online_of(struct store *st) {
  struct db_stmt *s;
  const char *args[] = {NODE, NULL};
  assert_int_equal(
      store_prep(st, "SELECT online FROM devices WHERE id=?1", &s, args), 0);
  assert_int_equal(db_step(s), DB_ROW);
  int v = (int)db_col_int64(s, 0);
  db_finalize(s);
  return v;
}

static void count_reset(const char *node, const char *group, void *data) {
  (void)group;
  assert_string_equal(node, NODE);
  (*(int *)data)++;
}

static void presence(void **state) {
  (void)state;
  struct store *a, *b, *a2;
  assert_int_equal(store_open_pg(ci, &a), 0);
  assert_int_equal(store_open_pg(ci, &b), 0);
  assert_int_equal(store_server_join(a, SID_A, "a.example"), 0);
  assert_int_equal(store_server_join(b, SID_B, "b.example"), 0);
  /* A second process with A's id (a copied data folder) is refused. */
  assert_int_equal(store_open_pg(ci, &a2), 0);
  assert_int_equal(store_server_join(a2, SID_A, "copy"), MESH_E_EXISTS);
  store_close(a2);

  struct store_group g;
  assert_int_equal(store_group_create(a, "G", NULL, NULL, NULL, &g), 0);
  struct store_agent_seen seen = {
      .node_id = NODE, .group_id = g.id, .name = "dev"};
  char *grp;
  int created, n = 0;
  assert_int_equal(store_device_online(a, &seen, &grp, &created), 0);
  free(grp);
  assert_int_equal(online_of(b), 1);
  /* The agent moves to B; A's late close changes nothing. */
  assert_int_equal(store_device_online(b, &seen, &grp, &created), 0);
  free(grp);
  assert_int_equal(store_device_offline(a, NODE), 1);
  assert_int_equal(online_of(a), 1);
  /* B's heartbeat is fresh: A's sweep leaves B's device alone. */
  assert_int_equal(store_devices_reset(a, 0, 15, count_reset, &n), 0);
  assert_int_equal(n, 0);
  /* B goes silent for longer than the stale time: A resets it. */
  assert_int_equal(
      store_exec(a, "UPDATE servers SET heartbeat=heartbeat-60 WHERE id=?1",
                 (const char *const[]){SID_B, NULL}, 1),
      0);
  assert_int_equal(store_devices_reset(a, 0, 15, count_reset, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(online_of(a), 0);
  /* B back with a heartbeat; at its restart it resets its own. */
  assert_int_equal(store_server_heartbeat(b), 0);
  assert_int_equal(store_device_online(b, &seen, &grp, &created), 0);
  free(grp);
  assert_int_equal(store_devices_reset(b, 0, 15, count_reset, &n), 0);
  assert_int_equal(n, 1); /* not its own without own set */
  assert_int_equal(store_devices_reset(b, 1, 15, count_reset, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(store_device_offline(b, NODE), 0);
  store_server_leave(b);
  assert_int_equal(store_server_heartbeat(b), MESH_E_NOT_FOUND);
  store_group_cleanup(&g);
  store_close(a);
  store_close(b);
}

struct got {
  int n;
  char last[64];
};

static void on_note(const char *payload, void *data) {
  struct got *g = data;
  g->n++;
  snprintf(g->last, sizeof g->last, "%s", payload);
}

static void listen_notify(void **state) {
  (void)state;
  struct db *db;
  struct db_listen *l;
  struct got got = {0};
  assert_int_equal(db_open_pg(ci, &db), 0);
  assert_int_equal(db_listen_open(db, "test_chan", &l), 0);
  /* Nothing there: the read returns at once. */
  assert_int_equal(db_listen_read(l, on_note, &got), 0);
  assert_int_equal(got.n, 0);
  assert_int_equal(db_notify(db, "test_chan", "hello 1"), 0);
  assert_int_equal(db_notify(db, "other_chan", "not for us"), 0);
  assert_int_equal(db_notify(db, "test_chan", "hello 2"), 0);
  for (int i = 0; i < 50 && got.n < 2; i++) {
    struct pollfd p = {.fd = db_listen_fd(l), .events = POLLIN};
    assert_true(poll(&p, 1, 100) >= 0);
    assert_int_equal(db_listen_read(l, on_note, &got), 0);
  }
  assert_int_equal(got.n, 2);
  assert_string_equal(got.last, "hello 2");
  /* Too long for PostgreSQL: refused here, not by the server. */
  char *big = malloc(DB_NOTIFY_MAX + 2);
  memset(big, 'x', DB_NOTIFY_MAX + 1);
  big[DB_NOTIFY_MAX + 1] = 0;
  assert_int_equal(db_notify(db, "test_chan", big), MESH_E_TOO_LARGE);
  free(big);
  /* The listening connection killed: the next read says so. */
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
           "datname='%s' AND query LIKE 'LISTEN%%'",
           name);
  PGconn *c = PQconnectdb(ci);
  PQclear(PQexec(c, sql));
  PQfinish(c);
  int r = 0;
  for (int i = 0; i < 50 && r == 0; i++) {
    struct pollfd p = {.fd = db_listen_fd(l), .events = POLLIN};
    poll(&p, 1, 100);
    r = db_listen_read(l, on_note, &got);
  }
  assert_int_equal(r, MESH_E_DB);
  db_listen_close(l);
  db_close(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_valid),   cmocka_unit_test(parse_truncated),
      cmocka_unit_test(parse_bad),     cmocka_unit_test(presence),
      cmocka_unit_test(listen_notify),
  };
  return cmocka_run_group_tests_name("cluster", tests, setup, teardown) ? 1 : 0;
}
