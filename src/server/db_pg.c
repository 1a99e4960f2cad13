/*
 * db_pg.c - db.h on PostgreSQL (libpq): one database shared by several
 * meshd, and the PostgreSQL form of meshd's schema.
 *
 * A statement keeps its text with the placeholders rewritten to $N
 * (db_pg_sql.c) and its parameters; the first db_step runs it with
 * PQexecParams and later steps walk the result's rows. Nothing is
 * prepared on the server: statements are short and mostly run once.
 *
 * Parameters go as text, except blobs (binary BYTEA), with the type of
 * the call that bound them: TEXT, BIGINT, BYTEA, also for a NULL text or
 * blob. PostgreSQL types a parameter at its first use, and some give it
 * none ("?3 IS NULL OR col=?3"). db_bind_null and parameters never bound
 * stay untyped, for the server to infer ("COALESCE(?4, flags)" on a
 * BIGINT column). So a text never stands for a number: bind int64.
 * Results come as text; BYTEA columns are decoded per row, booleans read
 * as 1 and 0.
 *
 * Errors: 23505 (unique) is MESH_E_EXISTS, 23503 (foreign key)
 * MESH_E_NOT_FOUND, as on SQLite; anything else is MESH_E_DB with one log
 * line holding the SQLSTATE and the server's message, never parameters.
 * When the connection is lost the statement fails and the next one
 * resets it once; if it was lost inside a transaction, every statement
 * fails until db_rollback (or a new BEGIN), so the rest of a transaction
 * never runs as separate commits on the new connection.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/log.h"
#include "db_pg_sql.h"
#include "db_priv.h"

/* Type oids (catalog/pg_type.h is not part of libpq's headers). */
enum { OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_TEXT = 25 };

/* The key of the advisory lock the schema is created under, so several
 * meshd starting at once on an empty database do not race ("mesh"). */
#define PG_SCHEMA_LOCK "1835364200"

struct pg_db {
  struct db base;
  PGconn *conn;
  int in_tx;   /* the server's last word: a transaction is open */
  int tx_lost; /* the connection went inside one: refuse until it ends */
};

struct pg_stmt {
  struct db_stmt base;
  struct pg_db *db;
  struct db_pg_sql q;
  /* Parameters, q.nparams of each; values[i] NULL is SQL NULL. */
  char **values;
  int *lengths, *formats;
  Oid *types;
  PGresult *res;
  int ran, rc; /* run once; rc its error, returned by every later step */
  int row, nrows;
  int64_t changes;
  unsigned char **blobs; /* the current row's decoded BYTEA columns */
  size_t *blob_lens;
};

static const struct db_ops pg_ops;

static struct pg_stmt *ps(struct db_stmt *s) { return (struct pg_stmt *)s; }

/* The tables of db_sqlite.c in PostgreSQL's types: BIGINT for every
 * INTEGER, BYTEA for BLOB, an identity column for events.seq. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS groups ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, type BIGINT NOT NULL,"
    "  created BIGINT NOT NULL, \"desc\" TEXT,"
    "  flags BIGINT NOT NULL DEFAULT 0, consent BIGINT NOT NULL DEFAULT 0,"
    "  creator_id TEXT, creator_name TEXT,"
    "  record_sessions BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS devices ("
    "  id TEXT PRIMARY KEY, group_id TEXT NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL, os TEXT, commit_date TEXT, agent_hash TEXT,"
    "  addr TEXT, platform BIGINT, agent_id BIGINT, caps BIGINT,"
    "  online BIGINT NOT NULL DEFAULT 0,"
    "  first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL,"
    "  \"desc\" TEXT, tags TEXT, icon BIGINT, last_connect BIGINT,"
    "  last_peer TEXT);"
    "CREATE INDEX IF NOT EXISTS devices_group ON devices(group_id);"
    "CREATE TABLE IF NOT EXISTS device_cores ("
    "  node_id TEXT PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,"
    "  mode TEXT NOT NULL DEFAULT 'default', js TEXT, reported TEXT,"
    "  info TEXT, netinfo TEXT);"
    "CREATE TABLE IF NOT EXISTS users ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, realname TEXT,"
    "  hash TEXT NOT NULL, siteadmin BIGINT NOT NULL DEFAULT 0,"
    "  created BIGINT NOT NULL, passchange BIGINT NOT NULL,"
    "  totp_secret BYTEA, totp_last BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS members ("
    "  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  rights BIGINT NOT NULL, PRIMARY KEY (group_id, user_id));"
    "CREATE INDEX IF NOT EXISTS members_user ON members(user_id);"
    "CREATE TABLE IF NOT EXISTS recovery_codes ("
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  hash BYTEA NOT NULL, PRIMARY KEY (user_id, hash));"
    "CREATE TABLE IF NOT EXISTS sessions ("
    "  token_hash BYTEA PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  created BIGINT NOT NULL, expires BIGINT NOT NULL, addr TEXT);"
    "CREATE TABLE IF NOT EXISTS events ("
    "  seq BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
    "  time BIGINT NOT NULL, etype TEXT NOT NULL, action TEXT NOT NULL,"
    "  user_id TEXT, group_id TEXT, node_id TEXT, doc TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_node ON events(node_id, seq);"
    "CREATE INDEX IF NOT EXISTS events_group ON events(group_id, seq);"
    "CREATE INDEX IF NOT EXISTS events_time ON events(time);"
    "CREATE TABLE IF NOT EXISTS recordings ("
    "  id TEXT PRIMARY KEY, node_id TEXT NOT NULL,"
    "  group_id TEXT NOT NULL, user_id TEXT NOT NULL,"
    "  user_name TEXT, start BIGINT NOT NULL,"
    "  duration BIGINT NOT NULL DEFAULT 0,"
    "  size BIGINT NOT NULL DEFAULT 0,"
    "  truncated BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX IF NOT EXISTS recordings_node"
    "  ON recordings(node_id, start);"
    /* The cluster (cluster.c): one row per meshd, its heartbeat in the
     * database's clock; a device names the server holding its agent. */
    "CREATE TABLE IF NOT EXISTS servers ("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    "  started BIGINT NOT NULL, heartbeat BIGINT NOT NULL);"
    "ALTER TABLE devices ADD COLUMN IF NOT EXISTS server_id TEXT;"
    "CREATE INDEX IF NOT EXISTS devices_server ON devices(server_id);";

/* libpq's messages end in a newline and may span lines; a log line is
 * one line. */
static void one_line(char *dst, size_t n, const char *msg) {
  snprintf(dst, n, "%s", msg ? msg : "");
  for (char *c = dst; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '"') *c = *c == '"' ? '\'' : ' ';
  size_t len = strlen(dst);
  while (len > 0 && dst[len - 1] == ' ') dst[--len] = '\0';
}

/* The server's one-line message of a failed result, without the DETAIL
 * that may quote values (libpq's own message when the server sent none:
 * out of memory, connection trouble). */
static const char *server_message(struct pg_db *d, const PGresult *res) {
  const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  return m ? m : PQerrorMessage(d->conn);
}

/* Notices ("relation already exists, skipping", "there is no transaction
 * in progress") would otherwise go to stderr unformatted. */
static void on_notice(void *arg, const char *msg) {
  char line[256];
  (void)arg;
  one_line(line, sizeof line, msg);
  log_debug("event=db_notice engine=pg msg=\"%s\"", line);
}

static void note_tx(struct pg_db *d) {
  PGTransactionStatusType t = PQtransactionStatus(d->conn);
  d->in_tx = t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

/* Runs one statement without parameters or rows (set-up, schema). */
static int exec_simple(struct pg_db *d, const char *sql) {
  PGresult *res = PQexec(d->conn, sql);
  int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
           PQresultStatus(res) == PGRES_TUPLES_OK;
  if (!ok) {
    char line[256];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    one_line(line, sizeof line, server_message(d, res));
    log_error(
        "event=db_setup_failed engine=pg sqlstate=%s reason=\"%s\" "
        "sql=\"%.60s\"",
        state ? state : "none", line, sql);
  }
  PQclear(res);
  return ok ? 0 : MESH_E_DB;
}

/* What every new connection (and every reset one) needs. */
static int session_setup(struct pg_db *d) {
  /* '...' never treats \ as an escape, whatever the server's default. */
  return exec_simple(d, "SET standard_conforming_strings = on");
}

static int create_schema(struct pg_db *d) {
  int r;
  if ((r = exec_simple(d, "BEGIN")) != 0) return r;
  if ((r = exec_simple(
           d, "SELECT pg_advisory_xact_lock(" PG_SCHEMA_LOCK ")")) != 0 ||
      (r = exec_simple(d, schema)) != 0 || (r = exec_simple(d, "COMMIT")) != 0)
    exec_simple(d, "ROLLBACK");
  return r;
}

int db_open_pg(const char *conninfo, struct db **out) {
  *out = NULL;
  struct pg_db *d = calloc(1, sizeof *d);
  if (!d) return MESH_E_NOMEM;
  d->base.ops = &pg_ops;
  d->base.engine = DB_PG;
  /* conninfo expands into its parameters, in order, later ones winning:
   * the connect timeout before it is a default it may change (connects
   * block the loop, here and in PQreset); client_encoding after it makes
   * text UTF-8 whatever it says (and survives PQreset). */
  const char *const keys[] = {"connect_timeout", "dbname", "client_encoding",
                              "fallback_application_name", NULL};
  const char *const vals[] = {"10", conninfo, "UTF8", "meshd", NULL};
  d->conn = PQconnectdbParams(keys, vals, 1);
  if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
    char line[512];
    /* libpq's message names the host and user, never the password. */
    one_line(line, sizeof line,
             d->conn ? PQerrorMessage(d->conn) : "out of memory");
    log_error("event=db_open_failed engine=pg reason=\"%s\"", line);
    db_close(&d->base);
    return MESH_E_DB;
  }
  PQsetNoticeProcessor(d->conn, on_notice, NULL);
  if (session_setup(d) != 0 || create_schema(d) != 0) {
    db_close(&d->base);
    return MESH_E_DB;
  }
  log_info("event=db_open engine=pg host=%s db=%s user=%s", PQhost(d->conn),
           PQdb(d->conn), PQuser(d->conn));
  *out = &d->base;
  return 0;
}

struct pg_conn *db_pg__conn(struct db *db) {
  return ((struct pg_db *)db)->conn;
}

static void pg_close(struct db *db) {
  struct pg_db *d = (struct pg_db *)db;
  PQfinish(d->conn);
  free(d);
}

static void pg_finalize(struct db_stmt *dbs);

static int pg_prepare(struct db *db, const char *sql, struct db_stmt **out) {
  struct pg_stmt *s = calloc(1, sizeof *s);
  if (!s) return MESH_E_NOMEM;
  s->base.ops = &pg_ops;
  s->db = (struct pg_db *)db;
  s->row = -1;
  int r = db_pg__rewrite(sql, &s->q);
  if (r) {
    /* A text the engine refuses is a bug in meshd: say which. */
    if (r == MESH_E_MALFORMED)
      log_error(
          "event=db_prepare_failed engine=pg reason=\"placeholder not "
          "?1..?%d\" sql=\"%.80s\"",
          DB_PG_MAX_PARAMS, sql);
    free(s);
    return r == MESH_E_NOMEM ? r : MESH_E_DB;
  }
  size_t n = (size_t)s->q.nparams;
  if (n > 0) {
    s->values = calloc(n, sizeof *s->values);
    s->lengths = calloc(n, sizeof *s->lengths);
    s->formats = calloc(n, sizeof *s->formats);
    s->types = calloc(n, sizeof *s->types);
    if (!s->values || !s->lengths || !s->formats || !s->types) {
      pg_finalize(&s->base);
      return MESH_E_NOMEM;
    }
  }
  *out = &s->base;
  return 0;
}

/* Replaces parameter i's value with v (owned), of the given type and
 * format. */
static int set_param(struct db_stmt *dbs, int i, char *v, int len, int format,
                     Oid type) {
  struct pg_stmt *s = ps(dbs);
  if (i < 1 || i > s->q.nparams) {
    free(v);
    return MESH_E_DB; /* as SQLite's SQLITE_RANGE */
  }
  free(s->values[i - 1]);
  s->values[i - 1] = v;
  s->lengths[i - 1] = len;
  s->formats[i - 1] = format;
  s->types[i - 1] = type;
  return 0;
}

/* v NULL binds a NULL of type TEXT (db_priv.h). */
static int pg_bind_text(struct db_stmt *s, int i, const char *v) {
  char *c = v ? strdup(v) : NULL;
  if (v && !c) return MESH_E_NOMEM;
  return set_param(s, i, c, 0, 0, OID_TEXT);
}

static int pg_bind_int64(struct db_stmt *s, int i, int64_t v) {
  char *c = malloc(24);
  if (!c) return MESH_E_NOMEM;
  snprintf(c, 24, "%lld", (long long)v);
  return set_param(s, i, c, 0, 0, OID_INT8);
}

/* p NULL binds a NULL of type BYTEA. */
static int pg_bind_blob(struct db_stmt *s, int i, const void *p, size_t n) {
  if (!p) return set_param(s, i, NULL, 0, 1, OID_BYTEA);
  if (n > 0x7fffffff) return MESH_E_TOO_LARGE; /* libpq lengths are int */
  char *c = malloc(n ? n : 1);
  if (!c) return MESH_E_NOMEM;
  memcpy(c, p, n);
  return set_param(s, i, c, (int)n, 1, OID_BYTEA);
}

static int pg_bind_null(struct db_stmt *s, int i) {
  return set_param(s, i, NULL, 0, 0, 0);
}

/* Makes sure the connection is up before a statement: one PQreset when it
 * was lost. */
static int connection_ok(struct pg_db *d) {
  if (PQstatus(d->conn) == CONNECTION_OK) return 0;
  PQreset(d->conn);
  if (PQstatus(d->conn) != CONNECTION_OK) {
    char line[512];
    one_line(line, sizeof line, PQerrorMessage(d->conn));
    log_warn("event=db_reconnect_failed engine=pg reason=\"%s\"", line);
    return MESH_E_DB;
  }
  log_info("event=db_reconnected engine=pg host=%s db=%s", PQhost(d->conn),
           PQdb(d->conn));
  d->in_tx = 0;
  return session_setup(d);
}

/* The statements that end (or restart) a transaction lost with its
 * connection: ROLLBACK (not ROLLBACK TO a savepoint, after which the
 * transaction would go on) and BEGIN. */
static int ends_lost_tx(const char *sql) {
  static const char space[] = " \t\r\n";
  sql += strspn(sql, space);
  if (strncasecmp(sql, "BEGIN", 5) == 0) return 1;
  if (strncasecmp(sql, "ROLLBACK", 8) != 0) return 0;
  sql += 8;
  sql += strspn(sql, space);
  return strncasecmp(sql, "TO", 2) != 0;
}

/* Turns a failed result into db.h's codes, with a log line. */
static int failure(struct pg_stmt *s, const PGresult *res) {
  struct pg_db *d = s->db;
  if (PQstatus(d->conn) != CONNECTION_OK) {
    char line[256];
    one_line(line, sizeof line, PQerrorMessage(d->conn));
    log_warn("event=db_connection_lost engine=pg in_tx=%d reason=\"%s\"",
             d->in_tx, line);
    if (d->in_tx) d->tx_lost = 1;
    d->in_tx = 0;
    return MESH_E_DB;
  }
  note_tx(d);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!state) state = "";
  if (strcmp(state, "23505") == 0) return MESH_E_EXISTS;
  if (strcmp(state, "23503") == 0) return MESH_E_NOT_FOUND;
  /* Class 22 (data exception) messages quote the value that failed,
   * which may be a secret: only the SQLSTATE of those. */
  char line[256];
  if (strncmp(state, "22", 2) == 0)
    snprintf(line, sizeof line, "data exception");
  else
    one_line(line, sizeof line, server_message(d, res));
  log_warn(
      "event=db_step_failed engine=pg sqlstate=%s reason=\"%s\" "
      "sql=\"%.80s\"",
      state[0] ? state : "none", line, s->q.text);
  return MESH_E_DB;
}

static int run(struct pg_stmt *s) {
  struct pg_db *d = s->db;
  int r;
  if (d->tx_lost) {
    if (!ends_lost_tx(s->q.text)) {
      log_warn(
          "event=db_step_refused engine=pg reason=\"transaction lost "
          "with its connection; roll back first\"");
      return MESH_E_DB;
    }
    d->tx_lost = 0;
  }
  if ((r = connection_ok(d)) != 0) return r;
  /* A type for every number the text skips ($1 and $3, no $2): the
   * server cannot infer one for a parameter it never sees. */
  for (int i = 0; i < s->q.nparams; i++)
    if (!s->q.used[i] && s->types[i] == 0) s->types[i] = OID_TEXT;
  PGresult *res =
      PQexecParams(d->conn, s->q.text, s->q.nparams, s->types,
                   (const char *const *)s->values, s->lengths, s->formats, 0);
  ExecStatusType st = PQresultStatus(res);
  if (!res || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
               st != PGRES_EMPTY_QUERY)) {
    r = failure(s, res);
    PQclear(res);
    return r;
  }
  note_tx(d);
  s->res = res;
  s->nrows = PQntuples(res);
  const char *cmd = PQcmdStatus(res);
  if (strncmp(cmd, "INSERT", 6) == 0 || strncmp(cmd, "UPDATE", 6) == 0 ||
      strncmp(cmd, "DELETE", 6) == 0 || strncmp(cmd, "MERGE", 5) == 0)
    s->changes = strtoll(PQcmdTuples(res), NULL, 10);
  if (s->nrows > 0) {
    int ncols = PQnfields(res);
    s->blobs = calloc((size_t)ncols, sizeof *s->blobs);
    s->blob_lens = calloc((size_t)ncols, sizeof *s->blob_lens);
    if (!s->blobs || !s->blob_lens) return MESH_E_NOMEM;
  }
  return 0;
}

static void free_row_blobs(struct pg_stmt *s) {
  if (!s->blobs) return;
  for (int i = 0; i < PQnfields(s->res); i++) {
    PQfreemem(s->blobs[i]);
    s->blobs[i] = NULL;
  }
}

static int pg_step(struct db_stmt *dbs) {
  struct pg_stmt *s = ps(dbs);
  if (!s->ran) {
    s->ran = 1;
    s->rc = run(s);
  }
  if (s->rc) return s->rc;
  free_row_blobs(s);
  if (s->row + 1 >= s->nrows) {
    s->row = s->nrows;
    return DB_DONE;
  }
  s->row++;
  return DB_ROW;
}

/* Whether there is a current row with a column i. */
static int has_col(struct pg_stmt *s, int i) {
  return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 &&
         i < PQnfields(s->res);
}

static int pg_col_is_null(struct db_stmt *dbs, int i) {
  struct pg_stmt *s = ps(dbs);
  return !has_col(s, i) || PQgetisnull(s->res, s->row, i);
}

/* A BYTEA column reads as PostgreSQL's hex text (\x...): read blobs
 * with db_col_blob. */
static const char *pg_col_text(struct db_stmt *dbs, int i) {
  struct pg_stmt *s = ps(dbs);
  if (pg_col_is_null(dbs, i)) return NULL;
  const char *v = PQgetvalue(s->res, s->row, i);
  /* SQLite has no booleans: its comparisons give 1 and 0. */
  if (PQftype(s->res, i) == OID_BOOL) return v[0] == 't' ? "1" : "0";
  return v;
}

static int64_t pg_col_int64(struct db_stmt *dbs, int i) {
  const char *v = pg_col_text(dbs, i);
  return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

static const void *pg_col_blob(struct db_stmt *dbs, int i, size_t *n) {
  struct pg_stmt *s = ps(dbs);
  *n = 0;
  if (pg_col_is_null(dbs, i)) return NULL;
  const char *v = PQgetvalue(s->res, s->row, i);
  if (PQftype(s->res, i) != OID_BYTEA) {
    *n = (size_t)PQgetlength(s->res, s->row, i);
    return v;
  }
  if (!s->blobs[i]) {
    s->blobs[i] = PQunescapeBytea((const unsigned char *)v, &s->blob_lens[i]);
    if (!s->blobs[i]) return NULL; /* out of memory */
  }
  *n = s->blob_lens[i];
  return s->blobs[i];
}

static int64_t pg_changes(struct db_stmt *s) { return ps(s)->changes; }

static void pg_finalize(struct db_stmt *dbs) {
  struct pg_stmt *s = ps(dbs);
  free_row_blobs(s);
  free(s->blobs);
  free(s->blob_lens);
  PQclear(s->res);
  for (int i = 0; s->values && i < s->q.nparams; i++) free(s->values[i]);
  free(s->values);
  free(s->lengths);
  free(s->formats);
  free(s->types);
  db_pg__sql_cleanup(&s->q);
  free(s);
}

static const struct db_ops pg_ops = {
    .close = pg_close,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int64 = pg_bind_int64,
    .bind_blob = pg_bind_blob,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_int64 = pg_col_int64,
    .col_blob = pg_col_blob,
    .col_is_null = pg_col_is_null,
    .changes = pg_changes,
    .finalize = pg_finalize,
};
