/*
 * db_sqlite.c - db.h on SQLite: one file in the data folder, WAL, and the
 * SQLite form of meshd's schema.
 *
 * Statements are sqlite3 statements behind the db_priv.h header; the
 * ?N placeholders of db.h are SQLite's own.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "db_priv.h"

struct sq_db {
  struct db base;
  sqlite3 *h;
};

struct sq_stmt {
  struct db_stmt base;
  sqlite3_stmt *st;
  int64_t changes; /* rows the last step changed */
};

/* The tables, the same as db_pg.c's. A database made by an older meshd
 * is brought up to date by CREATE ... IF NOT EXISTS and add_column. */
static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS groups ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, type INTEGER NOT NULL,"
    "  created INTEGER NOT NULL, desc TEXT, flags INTEGER NOT NULL DEFAULT 0,"
    "  consent INTEGER NOT NULL DEFAULT 0, creator_id TEXT, creator_name TEXT);"
    "CREATE TABLE IF NOT EXISTS devices ("
    "  id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL, os TEXT, commit_date TEXT, agent_hash TEXT,"
    "  addr TEXT, platform INTEGER, agent_id INTEGER, caps INTEGER,"
    "  online INTEGER NOT NULL DEFAULT 0,"
    "  first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    "  desc TEXT, tags TEXT, icon INTEGER, last_connect INTEGER,"
    "  last_peer TEXT);"
    "CREATE INDEX IF NOT EXISTS devices_group ON devices(group_id);"
    /* The core a device runs (cores.c): mode default, none or custom (js),
     * the hash its agent reported, and what its core said. */
    "CREATE TABLE IF NOT EXISTS device_cores ("
    "  node_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
    "  mode TEXT NOT NULL DEFAULT 'default', js TEXT, reported TEXT,"
    "  info TEXT, netinfo TEXT);"
    /* Accounts: id is "user//<lower-case name>"; hash is an encoded
     * argon2id string; siteadmin the SITERIGHT bits. */
    "CREATE TABLE IF NOT EXISTS users ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, realname TEXT,"
    "  hash TEXT NOT NULL, siteadmin INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL, passchange INTEGER NOT NULL,"
    "  totp_secret BLOB, totp_last INTEGER NOT NULL DEFAULT 0);"
    /* Group membership with MESHRIGHT bits. */
    "CREATE TABLE IF NOT EXISTS members ("
    "  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  rights INTEGER NOT NULL, PRIMARY KEY (group_id, user_id));"
    "CREATE INDEX IF NOT EXISTS members_user ON members(user_id);"
    /* One-time recovery codes of a user's second factor: only their
     * SHA-256 is stored; using one deletes its row. */
    "CREATE TABLE IF NOT EXISTS recovery_codes ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  hash BLOB NOT NULL, PRIMARY KEY (user_id, hash));"
    /* Sign-in sessions: only a hash of the token is stored. */
    "CREATE TABLE IF NOT EXISTS sessions ("
    "  token_hash BLOB PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created INTEGER NOT NULL, expires INTEGER NOT NULL, addr TEXT);"
    /* The audit log: one JSON document per event, and the ids it concerns
     * (user, group, device) for filtering by who may see it. */
    "CREATE TABLE IF NOT EXISTS events ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    "  etype TEXT NOT NULL, action TEXT NOT NULL, user_id TEXT,"
    "  group_id TEXT, node_id TEXT, doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_node ON events(node_id, seq);"
    "CREATE INDEX IF NOT EXISTS events_group ON events(group_id, seq);"
    "CREATE INDEX IF NOT EXISTS events_time ON events(time);"
    /* Terminal recordings (recording.c): the .cast file is
     * recordings/<id>.cast in the data folder. */
    "CREATE TABLE IF NOT EXISTS recordings ("
    "  id TEXT PRIMARY KEY, node_id TEXT NOT NULL,"
    "  group_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    "  user_name TEXT, start INTEGER NOT NULL,"
    "  duration INTEGER NOT NULL DEFAULT 0,"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  truncated INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS recordings_node"
    "  ON recordings(node_id, start);"
    /* PostgreSQL's cluster table (cluster.h), here for the same schema:
     * one server, so it stays empty. */
    "CREATE TABLE IF NOT EXISTS servers ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  started INTEGER NOT NULL, heartbeat INTEGER NOT NULL);";

static const struct db_ops sq_ops;

static struct sq_stmt *sq(struct db_stmt *s) { return (struct sq_stmt *)s; }

static sqlite3 *sq_handle(struct db *db) { return ((struct sq_db *)db)->h; }

/* Adds a column that databases made by an older meshd lack. */
static int add_column(sqlite3 *db, const char *table, const char *column,
                      const char *decl) {
  char sql[256];
  sqlite3_stmt *s;
  snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", column, table);
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
    sqlite3_finalize(s);
    return 0; /* there already */
  }
  snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column,
           decl);
  return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : MESH_E_DB;
}

int db_open_sqlite(const char *path, struct db **out) {
  *out = NULL;
  /* Create the file 0600 before SQLite does, so it is never readable by
   * others, even for a moment. */
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    log_error("event=db_open_failed engine=sqlite path=%s reason=\"%s\"", path,
              strerror(errno));
    return MESH_E_DB;
  }
  fchmod(fd, 0600);
  close(fd);
  struct sq_db *d = calloc(1, sizeof *d);
  if (!d) return MESH_E_NOMEM;
  d->base.ops = &sq_ops;
  d->base.engine = DB_SQLITE;
  if (sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(d->h, 5000) != SQLITE_OK ||
      sqlite3_exec(d->h, schema, NULL, NULL, NULL) != SQLITE_OK ||
      add_column(d->h, "groups", "record_sessions",
                 "INTEGER NOT NULL DEFAULT 0") != 0 ||
      /* Always NULL here (one server), kept so both engines share the
       * devices SQL. */
      add_column(d->h, "devices", "server_id", "TEXT") != 0 ||
      sqlite3_exec(d->h,
                   "CREATE INDEX IF NOT EXISTS devices_server"
                   " ON devices(server_id)",
                   NULL, NULL, NULL) != SQLITE_OK) {
    log_error("event=db_open_failed engine=sqlite path=%s reason=\"%s\"", path,
              d->h ? sqlite3_errmsg(d->h) : "out of memory");
    db_close(&d->base);
    return MESH_E_DB;
  }
  *out = &d->base;
  return 0;
}

static void sq_close(struct db *db) {
  sqlite3_close(sq_handle(db));
  free(db);
}

static int sq_prepare(struct db *db, const char *sql, struct db_stmt **out) {
  struct sq_stmt *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  s->base.ops = &sq_ops;
  if (sqlite3_prepare_v2(sq_handle(db), sql, -1, &s->st, NULL) != SQLITE_OK) {
    /* A text the engine refuses is a bug in meshd: say which. */
    log_error("event=db_prepare_failed reason=\"%s\" sql=\"%.80s\"",
              sqlite3_errmsg(sq_handle(db)), sql);
    sqlite3_finalize(s->st);
    free(s);
    return MESH_E_DB;
  }
  *out = &s->base;
  return 0;
}

static int bind_rc(int rc) { return rc == SQLITE_OK ? 0 : MESH_E_DB; }

static int sq_bind_text(struct db_stmt *s, int i, const char *v) {
  return bind_rc(sqlite3_bind_text(sq(s)->st, i, v, -1, SQLITE_TRANSIENT));
}

static int sq_bind_int64(struct db_stmt *s, int i, int64_t v) {
  return bind_rc(sqlite3_bind_int64(sq(s)->st, i, (sqlite3_int64)v));
}

static int sq_bind_blob(struct db_stmt *s, int i, const void *p, size_t n) {
  return bind_rc(sqlite3_bind_blob64(sq(s)->st, i, p, (sqlite3_uint64)n,
                                     SQLITE_TRANSIENT));
}

static int sq_bind_null(struct db_stmt *s, int i) {
  return bind_rc(sqlite3_bind_null(sq(s)->st, i));
}

static int sq_step(struct db_stmt *dbs) {
  struct sq_stmt *s = sq(dbs);
  sqlite3 *h = sqlite3_db_handle(s->st);
  int rc = sqlite3_step(s->st);
  /* sqlite3_changes keeps the last writing statement's count: a query
   * changed nothing. */
  s->changes = sqlite3_stmt_readonly(s->st) ? 0 : sqlite3_changes64(h);
  if (rc == SQLITE_ROW) return DB_ROW;
  if (rc == SQLITE_DONE) return DB_DONE;
  switch (sqlite3_extended_errcode(h)) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return MESH_E_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return MESH_E_NOT_FOUND;
    default:
      log_warn("event=db_step_failed reason=\"%s\"", sqlite3_errmsg(h));
      return MESH_E_DB;
  }
}

static const char *sq_col_text(struct db_stmt *s, int i) {
  return (const char *)sqlite3_column_text(sq(s)->st, i);
}

static int64_t sq_col_int64(struct db_stmt *s, int i) {
  return (int64_t)sqlite3_column_int64(sq(s)->st, i);
}

static const void *sq_col_blob(struct db_stmt *s, int i, size_t *n) {
  const void *p = sqlite3_column_blob(sq(s)->st, i);
  /* After the pointer: sqlite3_column_bytes may convert the value. */
  *n = p ? (size_t)sqlite3_column_bytes(sq(s)->st, i) : 0;
  return p;
}

static int sq_col_is_null(struct db_stmt *s, int i) {
  return sqlite3_column_type(sq(s)->st, i) == SQLITE_NULL;
}

static int64_t sq_changes(struct db_stmt *s) { return sq(s)->changes; }

static void sq_finalize(struct db_stmt *s) {
  sqlite3_finalize(sq(s)->st);
  free(s);
}

static const struct db_ops sq_ops = {
    .close = sq_close,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int64 = sq_bind_int64,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_text = sq_col_text,
    .col_int64 = sq_col_int64,
    .col_blob = sq_col_blob,
    .col_is_null = sq_col_is_null,
    .changes = sq_changes,
    .finalize = sq_finalize,
};
