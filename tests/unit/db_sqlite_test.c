/*
 * db_sqlite_test.c - db.h on SQLite: binding, reading, row counts, the
 * error codes constraints map to, transactions, and the file's mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/err.h"
#include "server/db.h"
#include "testutil.h"

struct fixture {
  char dir[256], path[512];
  struct db *db;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "%s", tu_tmpdir());
  snprintf(f->path, sizeof f->path, "%s/meshd.db", f->dir);
  if (db_open_sqlite(f->path, &f->db) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  db_close(f->db);
  tu_rmdir_r(f->dir);
  free(f);
  return 0;
}

/* One integer from a query without parameters. */
static int64_t scalar(struct db *db, const char *sql) {
  struct db_stmt *s;
  int64_t v = -1;
  assert_int_equal(db_prepare(db, sql, &s), 0);
  if (db_step(s) == DB_ROW) v = db_col_int64(s, 0);
  db_finalize(s);
  return v;
}

static void opens_private_with_schema(void **state) {
  struct fixture *f = *state;
  struct stat sb;
  assert_int_equal(stat(f->path, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  assert_int_equal(db_engine(f->db), DB_SQLITE);
  assert_int_equal(scalar(f->db, "SELECT count(*) FROM groups"), 0);
  assert_int_equal(scalar(f->db, "SELECT count(*) FROM recordings"), 0);
  assert_int_equal(scalar(f->db, "PRAGMA foreign_keys"), 1);
  /* Opening again finds everything there (the migration is idempotent). */
  struct db *again;
  assert_int_equal(db_open_sqlite(f->path, &again), 0);
  db_close(again);
  /* A folder that does not exist: an error, no crash. */
  assert_int_equal(db_open_sqlite("/nonexistent/x/meshd.db", &again),
                   MESH_E_DB);
  assert_null(again);
}

static void binds_and_reads(void **state) {
  struct fixture *f = *state;
  struct db_stmt *s;
  static const uint8_t blob[] = {0, 1, 2, 0xff};
  char text[] = "hello";
  assert_int_equal(db_prepare(f->db, "SELECT ?1, ?2, ?3, ?4, ?5, ?6", &s), 0);
  assert_int_equal(db_bind_text(s, 1, text), 0);
  assert_int_equal(db_bind_int64(s, 2, INT64_C(0xFFFFFFFF)), 0);
  assert_int_equal(db_bind_blob(s, 3, blob, sizeof blob), 0);
  assert_int_equal(db_bind_null(s, 4), 0);
  assert_int_equal(db_bind_text(s, 5, NULL), 0);
  assert_int_equal(db_bind_int64(s, 6, INT64_MIN), 0);
  memcpy(text, "XXXXX", 5); /* bound texts are copies */
  assert_int_equal(db_step(s), DB_ROW);
  assert_string_equal(db_col_text(s, 0), "hello");
  assert_int_equal(db_col_int64(s, 1), INT64_C(0xFFFFFFFF));
  size_t n = 0;
  const uint8_t *p = db_col_blob(s, 2, &n);
  assert_int_equal(n, sizeof blob);
  assert_memory_equal(p, blob, sizeof blob);
  assert_true(db_col_is_null(s, 3));
  assert_null(db_col_text(s, 3));
  assert_int_equal(db_col_int64(s, 3), 0);
  assert_null(db_col_blob(s, 4, &n));
  assert_int_equal(n, 0);
  assert_false(db_col_is_null(s, 0));
  assert_int_equal(db_col_int64(s, 5), INT64_MIN);
  assert_int_equal(db_changes(s), 0);
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);
  db_finalize(NULL);
  /* Text the engine refuses. */
  assert_int_equal(db_prepare(f->db, "SELEC nonsense", &s), MESH_E_DB);
  assert_null(s);
}

static void changes_and_constraints(void **state) {
  struct fixture *f = *state;
  struct db_stmt *s;
  assert_int_equal(
      db_exec(f->db, "INSERT INTO meta(key,value) VALUES('a','1')"), 0);
  assert_int_equal(
      db_exec(f->db, "INSERT INTO meta(key,value) VALUES('b','2')"), 0);
  /* A primary key clash is MESH_E_EXISTS. */
  assert_int_equal(
      db_exec(f->db, "INSERT INTO meta(key,value) VALUES('a','3')"),
      MESH_E_EXISTS);
  /* A row naming a group that does not exist is MESH_E_NOT_FOUND. */
  assert_int_equal(db_exec(f->db,
                           "INSERT INTO devices(id,group_id,name,"
                           "first_seen,last_seen) "
                           "VALUES('d','nogroup','n',0,0)"),
                   MESH_E_NOT_FOUND);
  assert_int_equal(db_prepare(f->db, "UPDATE meta SET value=?1", &s), 0);
  db_bind_text(s, 1, "x");
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 2);
  db_finalize(s);
  /* A query after a write reports no changes of its own. */
  assert_int_equal(db_prepare(f->db, "SELECT value FROM meta", &s), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_changes(s), 0);
  db_finalize(s);
  /* RETURNING reads the row an insert made. */
  assert_int_equal(db_prepare(f->db,
                              "INSERT INTO events(time,etype,action,doc) "
                              "VALUES(1,'t','a','{}') RETURNING seq",
                              &s),
                   0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_true(db_col_int64(s, 0) > 0);
  db_finalize(s);
}

static void transactions(void **state) {
  struct fixture *f = *state;
  assert_int_equal(db_begin(f->db), 0);
  assert_int_equal(db_exec(f->db, "INSERT INTO meta(key) VALUES('t1')"), 0);
  db_rollback(f->db);
  assert_int_equal(scalar(f->db, "SELECT count(*) FROM meta"), 0);
  assert_int_equal(db_begin(f->db), 0);
  assert_int_equal(db_exec(f->db, "INSERT INTO meta(key) VALUES('t2')"), 0);
  assert_int_equal(db_commit(f->db), 0);
  assert_int_equal(scalar(f->db, "SELECT count(*) FROM meta"), 1);
  /* COMMIT with no transaction open is refused. */
  assert_int_equal(db_commit(f->db), MESH_E_DB);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(opens_private_with_schema, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(binds_and_reads, setup, teardown),
      cmocka_unit_test_setup_teardown(changes_and_constraints, setup, teardown),
      cmocka_unit_test_setup_teardown(transactions, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
