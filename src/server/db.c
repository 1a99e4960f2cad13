/*
 * db.c - the engine-independent half of db.h: every call goes through the
 * engine's ops table (db_priv.h); transactions are plain SQL statements,
 * the same text on both engines.
 */
#include "db.h"

#include "base/err.h"
#include "db_priv.h"

void db_close(struct db *db) {
  if (db) db->ops->close(db);
}

enum db_engine db_engine(const struct db *db) { return db->engine; }

int db_prepare(struct db *db, const char *sql, struct db_stmt **out) {
  *out = NULL;
  return db->ops->prepare(db, sql, out);
}

int db_bind_text(struct db_stmt *s, int i, const char *v) {
  return v ? s->ops->bind_text(s, i, v) : s->ops->bind_null(s, i);
}

int db_bind_int64(struct db_stmt *s, int i, int64_t v) {
  return s->ops->bind_int64(s, i, v);
}

int db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n) {
  return p ? s->ops->bind_blob(s, i, p, n) : s->ops->bind_null(s, i);
}

int db_bind_null(struct db_stmt *s, int i) { return s->ops->bind_null(s, i); }

int db_step(struct db_stmt *s) { return s->ops->step(s); }

const char *db_col_text(struct db_stmt *s, int i) {
  return s->ops->col_text(s, i);
}

int64_t db_col_int64(struct db_stmt *s, int i) {
  return s->ops->col_int64(s, i);
}

const void *db_col_blob(struct db_stmt *s, int i, size_t *n) {
  return s->ops->col_blob(s, i, n);
}

int db_col_is_null(struct db_stmt *s, int i) {
  return s->ops->col_is_null(s, i);
}

int64_t db_changes(struct db_stmt *s) { return s->ops->changes(s); }

void db_finalize(struct db_stmt *s) {
  if (s) s->ops->finalize(s);
}

int db_exec(struct db *db, const char *sql) {
  struct db_stmt *s;
  int r = db_prepare(db, sql, &s);
  if (r) return r;
  r = db_step(s);
  db_finalize(s);
  return r < 0 ? r : 0;
}

int db_begin(struct db *db) { return db_exec(db, "BEGIN"); }

int db_commit(struct db *db) { return db_exec(db, "COMMIT"); }

/* A failed ROLLBACK leaves nothing to do: the engine ends the transaction
 * when the connection goes, and the next BEGIN reports the trouble. */
void db_rollback(struct db *db) { db_exec(db, "ROLLBACK"); }
