/*
 * db_pg_test.c - what only the PostgreSQL engine does (db_pg.c): the
 * connection lost and reset, inside and outside a transaction; several
 * meshd creating the schema at once; logs that never hold the password or
 * a parameter; placeholders it refuses. The suite both engines share is
 * db_test.c. Runs on the cluster of the ctest fixture "pg"
 * (MESH_TEST_PG_FILE, tests/pg.bash), and fails without it. (Naming
 * MESH_TEST_PG_FILE in this file is what gives the test the fixture.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/err.h"
#include "server/db.h"
#include "testutil.h"

static char name[64]; /* this test's database */
static struct db *db;

static int setup(void **state) {
  (void)state;
  char ci[1200];
  if (tu_pg_fresh_db("db_pg_test", name, sizeof name, ci, sizeof ci) != 0 ||
      db_open_pg(ci, &db) != 0)
    return -1;
  return db_exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, i BIGINT)");
}

static int teardown(void **state) {
  (void)state;
  if (!db) return 0; /* the set-up failed, and said why */
  db_close(db);
  return tu_pg_drop_db(name);
}

static int run1(const char *sql) {
  struct db_stmt *s;
  int r = db_prepare(db, sql, &s);
  if (r) return r;
  r = db_step(s);
  db_finalize(s);
  return r;
}

static int64_t count(void) {
  struct db_stmt *s;
  assert_int_equal(db_prepare(db, "SELECT COUNT(*) FROM t", &s), 0);
  assert_int_equal(db_step(s), DB_ROW);
  int64_t n = db_col_int64(s, 0);
  db_finalize(s);
  return n;
}

/* The server ends this connection's backend, as a restart or a network
 * cut would. */
static void lose_connection(void) {
  assert_int_equal(run1("SELECT pg_terminate_backend(pg_backend_pid())"),
                   MESH_E_DB);
}

static void connection_lost(void **state) {
  (void)state;
  assert_int_equal(db_exec(db, "DELETE FROM t"), 0);
  lose_connection();
  /* The next statement resets the connection once and runs. */
  assert_int_equal(run1("SELECT 1"), DB_ROW);
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('a', 1)"), 0);
  assert_int_equal(count(), 1);
  /* The session's settings are back after the reset. */
  assert_int_equal(run1("SELECT 1 WHERE current_setting("
                        "'standard_conforming_strings') = 'on' AND "
                        "current_setting('client_encoding') = 'UTF8'"),
                   DB_ROW);
}

static void connection_lost_in_transaction(void **state) {
  (void)state;
  assert_int_equal(db_exec(db, "DELETE FROM t"), 0);
  assert_int_equal(db_begin(db), 0);
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('lost', 1)"), 0);
  lose_connection();
  /* The rest of the transaction must not run as commits of its own on a
   * new connection: refused until the caller rolls back. */
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('after', 2)"), MESH_E_DB);
  assert_int_equal(db_commit(db), MESH_E_DB);
  /* (a savepoint's rollback does not end the transaction) */
  assert_int_equal(db_exec(db, "ROLLBACK TO SAVEPOINT sp"), MESH_E_DB);
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('after', 2)"), MESH_E_DB);
  db_rollback(db);
  assert_int_equal(count(), 0);
  assert_int_equal(db_begin(db), 0);
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('again', 3)"), 0);
  assert_int_equal(db_commit(db), 0);
  assert_int_equal(count(), 1);
}

/* Several meshd opening one empty database at the same moment: the
 * advisory lock lets one create the schema while the others wait. */
static void concurrent_schema(void **state) {
  (void)state;
  enum { N = 6 };
  char dbname[80], ci[1200];
  assert_int_equal(
      tu_pg_fresh_db("db_pg_test_many", dbname, sizeof dbname, ci, sizeof ci),
      0);
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t kids[N];
  for (int i = 0; i < N; i++) {
    kids[i] = fork();
    assert_true(kids[i] >= 0);
    if (kids[i] == 0) {
      char c;
      close(go[1]);
      if (read(go[0], &c, 1) != 0) _exit(3); /* wait for the start */
      struct db *d;
      int r = db_open_pg(ci, &d);
      if (r == 0) db_close(d);
      _exit(r == 0 ? 0 : 1);
    }
  }
  close(go[0]);
  close(go[1]); /* all start now */
  for (int i = 0; i < N; i++) {
    int st;
    assert_int_equal(waitpid(kids[i], &st, 0), kids[i]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  struct db *d;
  assert_int_equal(db_open_pg(ci, &d), 0);
  assert_int_equal(db_exec(d, "INSERT INTO meta(key,value) VALUES('a','b')"),
                   0);
  db_close(d);
  char sql[128];
  snprintf(sql, sizeof sql, "DROP DATABASE %s", dbname);
  assert_int_equal(tu_pg_exec(sql), 0);
}

/* Runs fn with stderr (the log) going to a file; returns what it wrote. */
static char *capture_log(void (*fn)(void)) {
  char path[600];
  snprintf(path, sizeof path, "%s/log", tu_tmpdir());
  fflush(stderr);
  int saved = dup(2), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  assert_true(saved >= 0 && fd >= 0);
  dup2(fd, 2);
  close(fd);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  char *text = tu_read_file(path, NULL);
  *strrchr(path, '/') = '\0';
  tu_rmdir_r(path);
  return text;
}

static void secrets_run(void) {
  struct db *d;
  char ci[1400];
  /* a server that is not there */
  assert_int_equal(db_open_pg("host=/nonexistent-meshd-dir dbname=x user=u "
                              "password=Sekrit-PW-1",
                              &d),
                   MESH_E_DB);
  /* a server that is (trust: the password is not even asked for) */
  snprintf(ci, sizeof ci, "%s dbname=%s password=Sekrit-PW-2", tu_pg_admin(),
           name);
  assert_int_equal(db_open_pg(ci, &d), 0);
  db_close(d);
  /* a value the server cannot take, and a duplicate key */
  struct db_stmt *s;
  assert_int_equal(db_prepare(db, "SELECT CAST(?1 AS BIGINT)", &s), 0);
  assert_int_equal(db_bind_text(s, 1, "Sekrit-param-3"), 0);
  assert_int_equal(db_step(s), MESH_E_DB);
  db_finalize(s);
  /* (a text for a BIGINT column: refused, as the types differ) */
  assert_int_equal(db_prepare(db, "INSERT INTO t(k,i) VALUES('x',?1)", &s), 0);
  assert_int_equal(db_bind_text(s, 1, "Sekrit-param-5"), 0);
  assert_int_equal(db_step(s), MESH_E_DB);
  db_finalize(s);
  assert_int_equal(db_exec(db, "INSERT INTO t VALUES('Sekrit-key-4', 1)"), 0);
  assert_int_equal(db_prepare(db, "INSERT INTO t(k) VALUES(?1)", &s), 0);
  assert_int_equal(db_bind_text(s, 1, "Sekrit-key-4"), 0);
  assert_int_equal(db_step(s), MESH_E_EXISTS);
  db_finalize(s);
}

static void logs_hold_no_secrets(void **state) {
  (void)state;
  char *log = capture_log(secrets_run);
  assert_null(strstr(log, "Sekrit"));
  /* but they do say what happened */
  assert_non_null(strstr(log, "event=db_open_failed engine=pg"));
  assert_non_null(strstr(log, "nonexistent-meshd-dir"));
  assert_non_null(strstr(log, "sqlstate=22P02"));
  free(log);
}

static void refused_placeholders(void **state) {
  (void)state;
  struct db_stmt *s = NULL;
  /* SQLite takes a bare ?, but db.h's SQL numbers them */
  assert_int_equal(db_prepare(db, "SELECT ?", &s), MESH_E_DB);
  assert_null(s);
  assert_int_equal(db_prepare(db, "SELECT ?0", &s), MESH_E_DB);
  /* a ? the rewrite leaves in a literal stays text */
  assert_int_equal(db_prepare(db, "SELECT '?', $$?$$", &s), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_string_equal(db_col_text(s, 0), "?");
  assert_string_equal(db_col_text(s, 1), "?");
  db_finalize(s);
  /* several statements in one text: PostgreSQL refuses them with
   * parameters' protocol (SQLite would run only the first) */
  assert_int_equal(run1("SELECT 1; SELECT 2"), MESH_E_DB);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connection_lost),
      cmocka_unit_test(connection_lost_in_transaction),
      cmocka_unit_test(concurrent_schema),
      cmocka_unit_test(logs_hold_no_secrets),
      cmocka_unit_test(refused_placeholders),
  };
  return cmocka_run_group_tests_name("db_pg", tests, setup, teardown) ? 1 : 0;
}
