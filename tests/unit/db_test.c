/*
 * db_test.c - db.h on both engines: one suite of assertions run on SQLite
 * (a temp file) and on PostgreSQL (a database of its own on the cluster
 * of the ctest fixture "pg", whose conninfo is in MESH_TEST_PG_FILE; see
 * tests/pg.bash). Without that cluster the PostgreSQL group fails: the
 * setup script installs PostgreSQL, so missing means broken. (Naming
 * MESH_TEST_PG_FILE in this file is what gives the test the fixture.)
 *
 * Also the ?N -> $N rewrite (db_pg_sql.c) on its own. It parses only
 * meshd's own SQL text, never network bytes, so it has no fuzz target.
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
#include "server/db_pg_sql.h"
#include "testutil.h"

/* ---- the rewrite ---- */

static void rewrites(const char *in, const char *want, int nparams) {
  struct db_pg_sql q;
  assert_int_equal(db_pg__rewrite(in, &q), 0);
  assert_string_equal(q.text, want);
  assert_int_equal(q.nparams, nparams);
  db_pg__sql_cleanup(&q);
}

static void rewrite_placeholders(void **state) {
  (void)state;
  rewrites("SELECT 1", "SELECT 1", 0);
  rewrites("SELECT ?1", "SELECT $1", 1);
  rewrites("a=?1 OR b=?1 AND c=?2", "a=$1 OR b=$1 AND c=$2", 2);
  rewrites("x IN (?12,?3)", "x IN ($12,$3)", 12);
  rewrites("?01", "$01", 1);
  rewrites("?32766", "$32766", 32766);
  /* Numbers the text skips are counted, and marked unused. */
  struct db_pg_sql q;
  assert_int_equal(db_pg__rewrite("?3,?1", &q), 0);
  assert_int_equal(q.nparams, 3);
  assert_int_equal(q.used[0], 1);
  assert_int_equal(q.used[1], 0);
  assert_int_equal(q.used[2], 1);
  db_pg__sql_cleanup(&q);
}

static void rewrite_leaves_quoted(void **state) {
  (void)state;
  rewrites("SELECT '?1', ?2", "SELECT '?1', $2", 2);
  rewrites("'it''s ?1' || ?2", "'it''s ?1' || $2", 2);
  rewrites("'' || ?1 || ''''", "'' || $1 || ''''", 1);
  /* E'' strings: \' does not end them; in '' it does (standard strings,
   * which db_pg.c turns on). */
  rewrites("E'\\' ?1' ?2", "E'\\' ?1' $2", 2);
  rewrites("e'\\\\' ?1", "e'\\\\' $1", 1);
  rewrites("'\\' ?1", "'\\' $1", 1);
  /* an identifier ending in e before a quote is not E'' */
  rewrites("name'\\' ?1", "name'\\' $1", 1);
  rewrites("SELECT 1 AS \"a?1\", ?2", "SELECT 1 AS \"a?1\", $2", 2);
  rewrites("\"a\"\"?1\" ?2", "\"a\"\"?1\" $2", 2);
  rewrites("-- ?1 here\n?2", "-- ?1 here\n$2", 2);
  rewrites("?1 -- ?2", "$1 -- ?2", 1);
  rewrites("/* ?1 /* ?2 */ ?3 */ ?4", "/* ?1 /* ?2 */ ?3 */ $4", 4);
  rewrites("$$ ?1 $$ ?2", "$$ ?1 $$ $2", 2);
  rewrites("$f$ ?1 $g$ ?2 $f$ ?3", "$f$ ?1 $g$ ?2 $f$ $3", 3);
  /* $ inside an identifier or before a digit opens nothing. */
  rewrites("a$b ?1 c$ ?2", "a$b $1 c$ $2", 2);
  rewrites("$1 ?2", "$1 $2", 2);
  rewrites("a - ?1 / ?2", "a - $1 / $2", 2);
  /* Unterminated: the rest is inside, for the server to refuse. */
  rewrites("'abc ?1", "'abc ?1", 0);
  rewrites("\"abc ?1", "\"abc ?1", 0);
  rewrites("/* ?1", "/* ?1", 0);
  rewrites("$x$ ?1", "$x$ ?1", 0);
}

static void rewrite_refuses(void **state) {
  (void)state;
  const char *bad[] = {"?",      "a=? ", "?0",
                       "?32767", "? 1",  "?a",
                       "?1 ?",   "?00",  "?999999999999999999999",
                       "'x' ?"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct db_pg_sql q;
    assert_int_equal(db_pg__rewrite(bad[i], &q), MESH_E_MALFORMED);
    assert_null(q.text);
  }
}

/* ---- both engines ---- */

struct fix {
  struct db *db;
  char path[512]; /* SQLite's file */
  char name[64];  /* PostgreSQL: this test's database */
};

static struct fix sq_fix, pg_fix;

static int sq_setup(void **state) {
  snprintf(sq_fix.path, sizeof sq_fix.path, "%s/meshd.db", tu_tmpdir());
  if (db_open_sqlite(sq_fix.path, &sq_fix.db) != 0) return -1;
  *state = &sq_fix;
  return 0;
}

static int sq_teardown(void **state) {
  (void)state;
  db_close(sq_fix.db);
  char *slash = strrchr(sq_fix.path, '/');
  *slash = '\0';
  tu_rmdir_r(sq_fix.path);
  return 0;
}

static int pg_setup(void **state) {
  char ci[1200];
  if (tu_pg_fresh_db("db_test", pg_fix.name, sizeof pg_fix.name, ci,
                     sizeof ci) != 0)
    return -1;
  if (db_open_pg(ci, &pg_fix.db) != 0) return -1;
  *state = &pg_fix;
  return 0;
}

static int pg_teardown(void **state) {
  (void)state;
  if (!pg_fix.db) return 0; /* the set-up failed, and said why */
  db_close(pg_fix.db);
  return tu_pg_drop_db(pg_fix.name);
}

static struct db *db_of(void **state) { return ((struct fix *)*state)->db; }

/* Prepares sql, failing the test if the engine refuses it. */
static struct db_stmt *prep(struct db *db, const char *sql) {
  struct db_stmt *s;
  assert_int_equal(db_prepare(db, sql, &s), 0);
  return s;
}

/* Prepares and runs sql to its first step: the step's result. A text
 * the engine refuses counts as MESH_E_DB whichever call refused it. */
static int run1(struct db *db, const char *sql) {
  struct db_stmt *s;
  int r = db_prepare(db, sql, &s);
  if (r) return r;
  r = db_step(s);
  db_finalize(s);
  return r;
}

/* A scratch table, made again for each test. u is not indexed: an index
 * entry is limited to a third of a page on PostgreSQL (~2.7 kB), so long
 * values go in columns without one. */
static void scratch(struct db *db) {
  assert_int_equal(db_exec(db, "DROP TABLE IF EXISTS scratch"), 0);
  assert_int_equal(
      db_exec(db, db_engine(db) == DB_PG
                      ? "CREATE TABLE scratch (k TEXT PRIMARY KEY, i BIGINT,"
                        " t TEXT UNIQUE, b BYTEA, u TEXT)"
                      : "CREATE TABLE scratch (k TEXT PRIMARY KEY, i BIGINT,"
                        " t TEXT UNIQUE, b BLOB, u TEXT)"),
      0);
}

static void insert(struct db *db, const char *k, int64_t i, const char *t,
                   const void *b, size_t bn) {
  struct db_stmt *s =
      prep(db, "INSERT INTO scratch(k,i,t,b) VALUES(?1,?2,?3,?4)");
  assert_int_equal(db_bind_text(s, 1, k), 0);
  assert_int_equal(db_bind_int64(s, 2, i), 0);
  assert_int_equal(db_bind_text(s, 3, t), 0);
  assert_int_equal(db_bind_blob(s, 4, b, bn), 0);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 1);
  db_finalize(s);
}

/* Selects row k: the statement stands on it. */
static struct db_stmt *row(struct db *db, const char *k) {
  struct db_stmt *s = prep(db, "SELECT i,t,b,k FROM scratch WHERE k=?1");
  assert_int_equal(db_bind_text(s, 1, k), 0);
  assert_int_equal(db_step(s), DB_ROW);
  return s;
}

static void int64_values(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  const int64_t v[] = {
      0, 1, -1, 0xFFFFFFFF, 0x100000000, -0x80000001LL, INT64_MAX, INT64_MIN};
  for (size_t n = 0; n < sizeof v / sizeof v[0]; n++) {
    char k[16];
    snprintf(k, sizeof k, "k%zu", n);
    insert(db, k, v[n], NULL, NULL, 0);
    struct db_stmt *s = row(db, k);
    assert_int_equal(db_col_int64(s, 0), v[n]);
    assert_false(db_col_is_null(s, 0));
    assert_int_equal(db_step(s), DB_DONE);
    db_finalize(s);
  }
  /* Arithmetic in the statement stays 64-bit. */
  struct db_stmt *s = prep(db, "SELECT ?1 + 1, ?1 * 2");
  assert_int_equal(db_bind_int64(s, 1, 0xFFFFFFFF), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 0x100000000);
  assert_int_equal(db_col_int64(s, 1), 0x1FFFFFFFE);
  assert_string_equal(db_col_text(s, 0), "4294967296");
  db_finalize(s);
}

static void text_blob_null(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  const uint8_t blob[] = {0, 1, 0, 0xff, '\\', 'x', 0};
  const char *utf8 = "caf\xc3\xa9 \xf0\x9f\x94\x91 'q' \"d\" \\ ?1 $$";
  insert(db, "a", 7, utf8, blob, sizeof blob);
  struct db_stmt *s = row(db, "a");
  assert_string_equal(db_col_text(s, 1), utf8);
  size_t n;
  const uint8_t *b = db_col_blob(s, 2, &n);
  assert_int_equal(n, sizeof blob);
  assert_memory_equal(b, blob, sizeof blob);
  /* twice: the same bytes (decoded once per row) */
  assert_ptr_equal(db_col_blob(s, 2, &n), b);
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);

  /* NULL text and blob bind SQL NULL, as does db_bind_null. */
  insert(db, "n", 0, NULL, NULL, 0);
  s = prep(db, "UPDATE scratch SET i=?2 WHERE k=?1");
  assert_int_equal(db_bind_text(s, 1, "n"), 0);
  assert_int_equal(db_bind_null(s, 2), 0);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 1);
  db_finalize(s);
  s = row(db, "n");
  for (int i = 0; i < 3; i++) assert_true(db_col_is_null(s, i));
  assert_false(db_col_is_null(s, 3));
  assert_null(db_col_text(s, 1));
  assert_int_equal(db_col_int64(s, 0), 0);
  n = 99;
  assert_null(db_col_blob(s, 2, &n));
  assert_int_equal(n, 0);
  db_finalize(s);

  /* An empty blob and an empty text are not NULL. */
  insert(db, "e", 0, "", "", 0);
  s = row(db, "e");
  assert_false(db_col_is_null(s, 1));
  assert_false(db_col_is_null(s, 2));
  assert_string_equal(db_col_text(s, 1), "");
  db_col_blob(s, 2, &n);
  assert_int_equal(n, 0);
  db_finalize(s);

  /* Booleans read as SQLite's 1 and 0. */
  s = prep(db, "SELECT ?1 = 1, ?1 = 2, ?1 IS NULL");
  assert_int_equal(db_bind_int64(s, 1, 1), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 1);
  assert_int_equal(db_col_int64(s, 1), 0);
  assert_string_equal(db_col_text(s, 0), "1");
  assert_string_equal(db_col_text(s, 2), "0");
  db_finalize(s);
}

static void long_values(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  size_t n = 1 << 20;
  char *t = malloc(n + 1);
  uint8_t *b = malloc(n);
  assert_non_null(t);
  assert_non_null(b);
  for (size_t i = 0; i < n; i++) {
    t[i] = (char)('a' + i % 26);
    b[i] = (uint8_t)(i * 7);
  }
  t[n] = '\0';
  struct db_stmt *s =
      prep(db, "INSERT INTO scratch(k,u,b) VALUES('big',?1,?2)");
  assert_int_equal(db_bind_text(s, 1, t), 0);
  assert_int_equal(db_bind_blob(s, 2, b, n), 0);
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);
  s = prep(db, "SELECT u, b FROM scratch WHERE k='big'");
  assert_int_equal(db_step(s), DB_ROW);
  const char *got = db_col_text(s, 0);
  assert_int_equal(strlen(got), n);
  assert_memory_equal(got, t, n);
  size_t bn;
  const void *gb = db_col_blob(s, 1, &bn);
  assert_int_equal(bn, n);
  assert_memory_equal(gb, b, n);
  db_finalize(s);
  free(t);
  free(b);
}

static void placeholders(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  /* ?1 twice, and ?2 before ?1 */
  struct db_stmt *s = prep(db, "INSERT INTO scratch(k,t,i) VALUES(?1,?1,?2)");
  assert_int_equal(db_bind_text(s, 1, "same"), 0);
  assert_int_equal(db_bind_int64(s, 2, 5), 0);
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);
  s = prep(db, "SELECT k, t, i FROM scratch WHERE i=?2 AND k=?1");
  assert_int_equal(db_bind_text(s, 1, "same"), 0);
  assert_int_equal(db_bind_int64(s, 2, 5), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_string_equal(db_col_text(s, 1), "same");
  db_finalize(s);
  /* A text whose first use gives it no type (PostgreSQL types a
   * parameter there, from the bind call). */
  s = prep(db, "SELECT COUNT(*) FROM scratch WHERE (?1 IS NULL OR k=?1)");
  assert_int_equal(db_bind_text(s, 1, "same"), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 1);
  db_finalize(s);
  /* '?' in literals, quoted identifiers and comments is text. */
  s = prep(db,
           "SELECT '?1 and ? and ''?2''' AS \"x?1\", -- ?3\n"
           " ?1 /* ?2 */");
  assert_int_equal(db_bind_text(s, 1, "p"), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_string_equal(db_col_text(s, 0), "?1 and ? and '?2'");
  assert_string_equal(db_col_text(s, 1), "p");
  assert_null(db_col_text(s, 2)); /* no such column */
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);
  /* A number the text skips; a parameter never bound is NULL. */
  s = prep(db, "SELECT ?3, ?1");
  assert_int_equal(db_bind_text(s, 1, "one"), 0);
  assert_int_equal(db_bind_text(s, 2, "unused"), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_true(db_col_is_null(s, 0));
  assert_string_equal(db_col_text(s, 1), "one");
  db_finalize(s);
  /* Binding past the text's placeholders fails. */
  s = prep(db, "SELECT ?1");
  assert_int_equal(db_bind_text(s, 2, "x"), MESH_E_DB);
  assert_int_equal(db_bind_int64(s, 0, 1), MESH_E_DB);
  db_finalize(s);
}

static void upsert_returning_exists(void **state) {
  struct db *db = db_of(state);
  const char *up =
      "INSERT INTO meta(key,value) VALUES(?1,?2) "
      "ON CONFLICT(key) DO UPDATE SET value=excluded.value";
  for (int i = 0; i < 2; i++) {
    struct db_stmt *s = prep(db, up);
    assert_int_equal(db_bind_text(s, 1, "k"), 0);
    assert_int_equal(db_bind_text(s, 2, i ? "second" : "first"), 0);
    assert_int_equal(db_step(s), DB_DONE);
    assert_int_equal(db_changes(s), 1);
    db_finalize(s);
  }
  struct db_stmt *s = prep(db, "SELECT value FROM meta WHERE key=?1");
  assert_int_equal(db_bind_text(s, 1, "k"), 0);
  assert_int_equal(db_step(s), DB_ROW);
  assert_string_equal(db_col_text(s, 0), "second");
  db_finalize(s);

  /* RETURNING the events' generated sequence: it goes up. */
  int64_t last = 0;
  for (int i = 0; i < 3; i++) {
    s = prep(db,
             "INSERT INTO events(time,etype,action,doc) VALUES(?1,'t','a','{}')"
             " RETURNING seq, time");
    assert_int_equal(db_bind_int64(s, 1, 1000 + i), 0);
    assert_int_equal(db_step(s), DB_ROW);
    assert_true(db_col_int64(s, 0) > last);
    last = db_col_int64(s, 0);
    assert_int_equal(db_col_int64(s, 1), 1000 + i);
    assert_int_equal(db_step(s), DB_DONE);
    db_finalize(s);
  }

  /* Duplicate primary key and UNIQUE column: MESH_E_EXISTS. */
  scratch(db);
  insert(db, "a", 1, "t1", NULL, 0);
  s = prep(db, "INSERT INTO scratch(k) VALUES(?1)");
  assert_int_equal(db_bind_text(s, 1, "a"), 0);
  assert_int_equal(db_step(s), MESH_E_EXISTS);
  assert_int_equal(db_step(s), MESH_E_EXISTS); /* and stays so */
  db_finalize(s);
  insert(db, "b", 1, "t2", NULL, 0);
  s = prep(db, "UPDATE scratch SET t=?1 WHERE k='b'");
  assert_int_equal(db_bind_text(s, 1, "t1"), 0);
  assert_int_equal(db_step(s), MESH_E_EXISTS);
  db_finalize(s);
  /* A foreign key naming no row: MESH_E_NOT_FOUND. */
  assert_int_equal(run1(db,
                        "INSERT INTO members(group_id,user_id,rights)"
                        " VALUES('nogroup','nouser',1)"),
                   MESH_E_NOT_FOUND);
}

static void changes_and_cascade(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  for (int i = 0; i < 4; i++) {
    char k[16];
    snprintf(k, sizeof k, "c%d", i);
    insert(db, k, i % 2, NULL, NULL, 0);
  }
  struct db_stmt *s = prep(db, "UPDATE scratch SET t=k WHERE i=?1");
  assert_int_equal(db_bind_int64(s, 1, 1), 0);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 2);
  db_finalize(s);
  s = prep(db, "SELECT k FROM scratch ORDER BY k");
  for (int i = 0; i < 4; i++) assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 0); /* a query changes nothing */
  db_finalize(s);
  s = prep(db, "DELETE FROM scratch WHERE k<>?1");
  assert_int_equal(db_bind_text(s, 1, "c0"), 0);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 3);
  db_finalize(s);

  /* The schema's ON DELETE CASCADE: a user's memberships and sessions go
   * with it. */
  assert_int_equal(db_exec(db,
                           "INSERT INTO users(id,name,hash,created,passchange)"
                           " VALUES('user//u','u','h',1,1)"),
                   0);
  assert_int_equal(db_exec(db,
                           "INSERT INTO groups(id,name,type,created,\"desc\")"
                           " VALUES('g','G',2,1,'d')"),
                   0);
  assert_int_equal(db_exec(db,
                           "INSERT INTO members(group_id,user_id,rights)"
                           " VALUES('g','user//u',4294967295)"),
                   0);
  s = prep(db,
           "INSERT INTO sessions(token_hash,user_id,created,expires)"
           " VALUES(?1,'user//u',1,2)");
  assert_int_equal(db_bind_blob(s, 1, "\0\1\2", 3), 0);
  assert_int_equal(db_step(s), DB_DONE);
  db_finalize(s);
  s = prep(db, "SELECT rights FROM members WHERE user_id='user//u'");
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 4294967295);
  db_finalize(s);
  s = prep(db, "DELETE FROM users WHERE id=?1");
  assert_int_equal(db_bind_text(s, 1, "user//u"), 0);
  assert_int_equal(db_step(s), DB_DONE);
  assert_int_equal(db_changes(s), 1);
  db_finalize(s);
  s = prep(db,
           "SELECT (SELECT COUNT(*) FROM members),"
           " (SELECT COUNT(*) FROM sessions)");
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 0);
  assert_int_equal(db_col_int64(s, 1), 0);
  db_finalize(s);
  assert_int_equal(db_exec(db, "DELETE FROM groups"), 0);
}

static int64_t count_scratch(struct db *db) {
  struct db_stmt *s = prep(db, "SELECT COUNT(*) FROM scratch");
  assert_int_equal(db_step(s), DB_ROW);
  int64_t n = db_col_int64(s, 0);
  db_finalize(s);
  return n;
}

static void transactions(void **state) {
  struct db *db = db_of(state);
  scratch(db);
  assert_int_equal(db_begin(db), 0);
  insert(db, "r1", 1, NULL, NULL, 0);
  insert(db, "r2", 2, NULL, NULL, 0);
  db_rollback(db);
  assert_int_equal(count_scratch(db), 0);
  assert_int_equal(db_begin(db), 0);
  insert(db, "c1", 1, NULL, NULL, 0);
  insert(db, "c2", 2, NULL, NULL, 0);
  assert_int_equal(db_commit(db), 0);
  assert_int_equal(count_scratch(db), 2);
  /* A failure inside: db_rollback ends the transaction, and the
   * connection carries on. */
  assert_int_equal(db_begin(db), 0);
  insert(db, "x1", 1, NULL, NULL, 0);
  assert_int_equal(run1(db, "INSERT INTO scratch(k) VALUES('c1')"),
                   MESH_E_EXISTS);
  db_rollback(db);
  assert_int_equal(count_scratch(db), 2);
  insert(db, "after", 3, NULL, NULL, 0);
  assert_int_equal(count_scratch(db), 3);
}

static void refused(void **state) {
  struct db *db = db_of(state);
  assert_int_equal(run1(db, "SELEC 1"), MESH_E_DB);
  assert_int_equal(run1(db, "SELECT * FROM no_such_table"), MESH_E_DB);
  assert_int_equal(run1(db, "SELECT no_such_column FROM meta"), MESH_E_DB);
  assert_int_equal(db_exec(db, "CREATE TABLE meta (x TEXT)"), MESH_E_DB);
  /* NOT NULL is not a duplicate */
  assert_int_equal(run1(db, "INSERT INTO groups(id) VALUES('x')"), MESH_E_DB);
  /* and the connection still works */
  assert_int_equal(run1(db, "SELECT 1"), DB_ROW);
}

static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The same tables, columns (in the engine's types, NOT NULL), named
 * indexes and foreign keys (with their ON DELETE) in both engines'
 * schemas, as sorted lines. */
static char *schema_text(struct db *db) {
  const char *sql =
      db_engine(db) == DB_PG
          ? "SELECT table_name || '.' || column_name || ' ' ||"
            " CASE data_type WHEN 'bigint' THEN 'INTEGER' WHEN 'bytea' THEN"
            " 'BLOB' WHEN 'text' THEN 'TEXT' ELSE data_type END ||"
            " CASE is_nullable WHEN 'NO' THEN ' NOT NULL' ELSE '' END"
            " FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name<>'scratch'"
            " UNION ALL SELECT 'index ' || indexname FROM pg_indexes"
            " WHERE schemaname = current_schema() AND indexname NOT LIKE"
            " '%pkey' AND tablename<>'scratch'"
            " UNION ALL SELECT 'fk ' || k.table_name || '.' || k.column_name"
            " || ' -> ' || c.table_name || '.' || c.column_name || ' ' ||"
            " r.delete_rule FROM information_schema.referential_constraints r"
            " JOIN information_schema.key_column_usage k"
            " ON k.constraint_name = r.constraint_name"
            " AND k.constraint_schema = r.constraint_schema"
            " JOIN information_schema.constraint_column_usage c"
            " ON c.constraint_name = r.constraint_name"
            " AND c.constraint_schema = r.constraint_schema"
            " WHERE r.constraint_schema = current_schema()"
          : "SELECT m.name || '.' || p.name || ' ' || p.type ||"
            " CASE WHEN p.\"notnull\" OR p.pk THEN ' NOT NULL' ELSE '' END"
            " FROM sqlite_master m, pragma_table_info(m.name) p"
            " WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'"
            " AND m.name<>'scratch'"
            " UNION ALL SELECT 'index ' || name FROM sqlite_master"
            " WHERE type = 'index' AND name NOT LIKE 'sqlite%'"
            " UNION ALL SELECT 'fk ' || m.name || '.' || f.\"from\" || ' -> '"
            " || f.\"table\" || '.' || f.\"to\" || ' ' || f.on_delete"
            " FROM sqlite_master m, pragma_foreign_key_list(m.name) f"
            " WHERE m.type = 'table'";
  struct db_stmt *s = prep(db, sql);
  char *lines[256];
  size_t n = 0, len = 1;
  int r;
  while ((r = db_step(s)) == DB_ROW) {
    assert_true(n < 256);
    lines[n] = strdup(db_col_text(s, 0));
    len += strlen(lines[n++]) + 1;
  }
  assert_int_equal(r, DB_DONE);
  db_finalize(s);
  qsort(lines, n, sizeof *lines, cmp_line);
  char *out = calloc(1, len);
  for (size_t i = 0; i < n; i++) {
    strcat(strcat(out, lines[i]), "\n");
    free(lines[i]);
  }
  return out;
}

/* Runs in the PostgreSQL group, against a fresh SQLite file. */
static void same_schema(void **state) {
  struct db *pg = db_of(state), *sq;
  char path[512];
  snprintf(path, sizeof path, "%s/schema.db", tu_tmpdir());
  assert_int_equal(db_open_sqlite(path, &sq), 0);
  char *a = schema_text(sq), *b = schema_text(pg);
  assert_non_null(strstr(a, "events.seq INTEGER NOT NULL\n"));
  assert_non_null(strstr(a, "index events_time\n"));
  assert_non_null(strstr(a, "fk members.user_id -> users.id CASCADE\n"));
  assert_non_null(strstr(a, "fk devices.group_id -> groups.id NO ACTION\n"));
  assert_non_null(strstr(a, "users.hash TEXT NOT NULL\n"));
  assert_string_equal(a, b);
  free(a);
  free(b);
  db_close(sq);
  *strrchr(path, '/') = '\0';
  tu_rmdir_r(path);
}

#define BOTH_ENGINES                                                         \
  cmocka_unit_test(int64_values), cmocka_unit_test(text_blob_null),          \
      cmocka_unit_test(long_values), cmocka_unit_test(placeholders),         \
      cmocka_unit_test(upsert_returning_exists),                             \
      cmocka_unit_test(changes_and_cascade), cmocka_unit_test(transactions), \
      cmocka_unit_test(refused)

int main(void) {
  const struct CMUnitTest rewrite[] = {
      cmocka_unit_test(rewrite_placeholders),
      cmocka_unit_test(rewrite_leaves_quoted),
      cmocka_unit_test(rewrite_refuses),
  };
  const struct CMUnitTest sqlite[] = {BOTH_ENGINES};
  const struct CMUnitTest pg[] = {BOTH_ENGINES, cmocka_unit_test(same_schema)};
  int failed = cmocka_run_group_tests_name("rewrite", rewrite, NULL, NULL);
  failed +=
      cmocka_run_group_tests_name("sqlite", sqlite, sq_setup, sq_teardown);
  failed +=
      cmocka_run_group_tests_name("postgresql", pg, pg_setup, pg_teardown);
  return failed ? 1 : 0;
}
