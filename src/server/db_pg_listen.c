/*
 * db_pg_listen.c - db.h's cross-server signals on PostgreSQL: NOTIFY on
 * the main connection, LISTEN on a second one that the loop watches.
 *
 * The listening connection copies the main one's parameters (PQconninfo:
 * host, database, user, password, as they were given), so it needs no
 * configuration of its own. Only its connect blocks; afterwards it is in
 * non-blocking mode and db_listen_read only consumes what the socket
 * already holds.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "db_priv.h"

struct db_listen {
  PGconn *conn;
};

int db_notify(struct db *db, const char *channel, const char *payload) {
  if (db_engine(db) != DB_PG) return 0;
  if (strlen(payload) > DB_NOTIFY_MAX) return MESH_E_TOO_LARGE;
  struct db_stmt *s;
  int r = db_prepare(db, "SELECT pg_notify(?1, ?2)", &s);
  if (r) return r;
  if ((r = db_bind_text(s, 1, channel)) == 0 &&
      (r = db_bind_text(s, 2, payload)) == 0)
    r = db_step(s);
  db_finalize(s);
  return r < 0 ? r : 0;
}

/* libpq's messages end in a newline; a log line is one line. */
static void log_conn_error(const char *event, PGconn *c) {
  char line[256];
  snprintf(line, sizeof line, "%s", c ? PQerrorMessage(c) : "out of memory");
  for (char *p = line; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '"') *p = ' ';
  log_warn("event=%s engine=pg reason=\"%s\"", event, line);
}

/* A new connection with the parameters main was made with. */
static PGconn *connect_like(PGconn *main_conn) {
  PQconninfoOption *opts = PQconninfo(main_conn);
  if (!opts) return NULL;
  size_t n = 0;
  for (PQconninfoOption *o = opts; o->keyword; o++) n++;
  const char **keys = calloc(n + 1, sizeof *keys);
  const char **vals = calloc(n + 1, sizeof *vals);
  PGconn *c = NULL;
  if (keys && vals) {
    size_t k = 0;
    for (PQconninfoOption *o = opts; o->keyword; o++)
      if (o->val && o->val[0]) {
        keys[k] = o->keyword;
        vals[k++] = o->val;
      }
    c = PQconnectdbParams(keys, vals, 0);
  }
  free(keys);
  free(vals);
  PQconninfoFree(opts);
  return c;
}

int db_listen_open(struct db *db, const char *channel, struct db_listen **out) {
  *out = NULL;
  if (db_engine(db) != DB_PG) return MESH_E_INVALID;
  PGconn *c = connect_like(db_pg__conn(db));
  if (!c || PQstatus(c) != CONNECTION_OK) {
    log_conn_error("db_listen_failed", c);
    PQfinish(c);
    return MESH_E_DB;
  }
  /* The channel is meshd's own constant, quoted as an identifier anyway. */
  char *ident = PQescapeIdentifier(c, channel, strlen(channel));
  char sql[128];
  int ok =
      ident && snprintf(sql, sizeof sql, "LISTEN %s", ident) < (int)sizeof sql;
  PQfreemem(ident);
  PGresult *res = ok ? PQexec(c, sql) : NULL;
  ok = ok && PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok || PQsetnonblocking(c, 1) != 0) {
    log_conn_error("db_listen_failed", c);
    PQfinish(c);
    return MESH_E_DB;
  }
  struct db_listen *l = calloc(1, sizeof *l);
  if (!l) {
    PQfinish(c);
    return MESH_E_NOMEM;
  }
  l->conn = c;
  *out = l;
  return 0;
}

int db_listen_fd(struct db_listen *l) { return PQsocket(l->conn); }

int db_listen_read(struct db_listen *l, db_notify_cb cb, void *data) {
  if (!PQconsumeInput(l->conn) || PQstatus(l->conn) != CONNECTION_OK) {
    log_conn_error("db_listen_lost", l->conn);
    return MESH_E_DB;
  }
  PGnotify *n;
  while ((n = PQnotifies(l->conn)) != NULL) {
    cb(n->extra ? n->extra : "", data);
    PQfreemem(n);
  }
  return 0;
}

void db_listen_close(struct db_listen *l) {
  if (!l) return;
  PQfinish(l->conn);
  free(l);
}
