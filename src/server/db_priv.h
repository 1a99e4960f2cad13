/*
 * db_priv.h - what db.c needs of an engine (db_sqlite.c, db_pg.c).
 *
 * Each engine's connection and statement structs begin with struct db and
 * struct db_stmt below, so db.c can dispatch every db.h call through the
 * ops table they point at; the engine casts back to its own struct. An
 * engine's db_open_* fills ops and engine. db.c handles what is the same
 * for both: NULL text or blob (bound as SQL NULL), NULL statements, and
 * db_exec/db_begin/db_commit/db_rollback (built on prepare and step).
 */
#ifndef MESH_SERVER_DB_PRIV_H
#define MESH_SERVER_DB_PRIV_H

#include "db.h"

/* The same contracts as the db.h functions of the same names, except that
 * bind_text and bind_blob never get NULL, and close and finalize never get
 * NULL. */
struct db_ops {
  void (*close)(struct db *db);
  int (*prepare)(struct db *db, const char *sql, struct db_stmt **out);
  int (*bind_text)(struct db_stmt *s, int i, const char *v);
  int (*bind_int64)(struct db_stmt *s, int i, int64_t v);
  int (*bind_blob)(struct db_stmt *s, int i, const void *p, size_t n);
  int (*bind_null)(struct db_stmt *s, int i);
  int (*step)(struct db_stmt *s);
  const char *(*col_text)(struct db_stmt *s, int i);
  int64_t (*col_int64)(struct db_stmt *s, int i);
  const void *(*col_blob)(struct db_stmt *s, int i, size_t *n);
  int (*col_is_null)(struct db_stmt *s, int i);
  int64_t (*changes)(struct db_stmt *s);
  void (*finalize)(struct db_stmt *s);
};

/* The first member of each engine's connection struct. */
struct db {
  const struct db_ops *ops;
  enum db_engine engine;
};

/* The first member of each engine's statement struct. */
struct db_stmt {
  const struct db_ops *ops;
};

/* db_pg.c: the libpq connection of a PostgreSQL db (PGconn), for
 * db_pg_listen.c. */
struct pg_conn;
struct pg_conn *db_pg__conn(struct db *db);

#endif
