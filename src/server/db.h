/*
 * db.h - the SQL meshd's modules run, on either engine: SQLite (the
 * embedded default, one file in the data folder) or PostgreSQL (one
 * database shared by several meshd; design.md "Scale").
 *
 * The modules write one SQL text for both engines, in the common subset:
 * numbered placeholders ?1, ?2 ... (rewritten to $1, $2 ... for
 * PostgreSQL), INSERT ... ON CONFLICT ... DO UPDATE/NOTHING, RETURNING,
 * column names that are not keywords in either engine (quote "desc").
 * Integers are 64-bit on both (BIGINT in PostgreSQL's schema). Each engine
 * has its own schema text (db_sqlite.c, db_pg.c); the tables and columns
 * are the same (the cluster's, servers and devices.server_id, stay empty
 * on SQLite: one server).
 *
 * Everything runs on the loop thread, synchronously: statements are
 * short and single-row or small (the callers' rule since store.h). A
 * connection is not shared between threads.
 */
#ifndef MESH_SERVER_DB_H
#define MESH_SERVER_DB_H

#include <stddef.h>
#include <stdint.h>

struct db;
struct db_stmt;

enum db_engine { DB_SQLITE, DB_PG };

/* db_step's results (errors are negative MESH_E_* codes). */
enum { DB_DONE = 0, DB_ROW = 1 };

/* Opens the SQLite database at path (created 0600 if needed), or the
 * PostgreSQL database named by a libpq connection string
 * ("postgresql://..." or "host=... dbname=..."), and brings its schema up
 * to date. MESH_E_DB with a log line saying why when it cannot. */
int db_open_sqlite(const char *path, struct db **out);
int db_open_pg(const char *conninfo, struct db **out);
void db_close(struct db *db);
enum db_engine db_engine(const struct db *db);

/* Prepares one statement (sql borrowed; placeholders ?1..?N). The result
 * is freed with db_finalize. MESH_E_DB if the engine refuses the text. */
int db_prepare(struct db *db, const char *sql, struct db_stmt **out);
/* Binds parameter i (1-based). Text and blobs are copied. A NULL text or
 * blob binds SQL NULL. */
int db_bind_text(struct db_stmt *s, int i, const char *v);
int db_bind_int64(struct db_stmt *s, int i, int64_t v);
int db_bind_blob(struct db_stmt *s, int i, const void *p, size_t n);
int db_bind_null(struct db_stmt *s, int i);
/* Runs the statement (on the first call) and moves to the next row:
 * DB_ROW with a row to read, DB_DONE when there is none (left), or
 * MESH_E_DB; MESH_E_EXISTS when a UNIQUE or PRIMARY KEY constraint
 * refused an INSERT or UPDATE, MESH_E_NOT_FOUND when a FOREIGN KEY
 * constraint did (the row it names does not exist). */
int db_step(struct db_stmt *s);
/* Columns of the current row (0-based). Pointers are valid until the
 * next db_step or db_finalize; NULL (text, blob) or 0 for SQL NULL. */
const char *db_col_text(struct db_stmt *s, int i);
int64_t db_col_int64(struct db_stmt *s, int i);
const void *db_col_blob(struct db_stmt *s, int i, size_t *n);
int db_col_is_null(struct db_stmt *s, int i);
/* Rows changed by the statement's last db_step (INSERT, UPDATE, DELETE). */
int64_t db_changes(struct db_stmt *s);
void db_finalize(struct db_stmt *s);

/* Runs sql (no parameters, no rows) in one call: db_prepare, db_step,
 * db_finalize. */
int db_exec(struct db *db, const char *sql);
/* A transaction around several statements: db_begin, then db_commit, or
 * db_rollback on any failure (which also ends it). */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);

/* Cross-server signals (PostgreSQL's LISTEN/NOTIFY; db_pg_listen.c).
 *
 * db_notify sends payload (borrowed, under DB_NOTIFY_MAX bytes) on
 * channel to every connection listening there, this server's included;
 * inside a transaction it goes at the commit, and not at all on a
 * rollback. 0 on SQLite, where there is no one else to tell.
 *
 * db_listen_open makes a second connection to db's PostgreSQL database
 * (the same parameters), LISTENs on channel and puts it in non-blocking
 * mode; connecting blocks for at most the connect timeout.
 * MESH_E_INVALID on SQLite. The caller watches db_listen_fd for
 * readability (uv_poll) and then calls db_listen_read, which hands each
 * payload that arrived to cb (borrowed for the call) without blocking;
 * MESH_E_DB when the connection is lost (close it and open a new one:
 * what was sent meanwhile is not seen). The fd is libpq's: stop
 * watching it before db_listen_close. */
#define DB_NOTIFY_MAX 7999 /* PostgreSQL's payload limit, less one */
struct db_listen;
typedef void (*db_notify_cb)(const char *payload, void *data);
int db_notify(struct db *db, const char *channel, const char *payload);
int db_listen_open(struct db *db, const char *channel, struct db_listen **out);
int db_listen_fd(struct db_listen *l);
int db_listen_read(struct db_listen *l, db_notify_cb cb, void *data);
void db_listen_close(struct db_listen *l);

#endif
