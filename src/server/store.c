#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/rand.h"
#include "db.h"

/* The schema is the engine's (db_sqlite.c, db_pg.c); the SQL here is in
 * the subset both run (db.h). */
struct store {
  struct db *db;
  char *server_id; /* this server's, on PostgreSQL once joined */
};

static int open_with(int (*open_db)(const char *, struct db **),
                     const char *where, struct store **out) {
  *out = NULL;
  struct store *st = calloc(1, sizeof *st);
  if (!st) return MESH_E_NOMEM;
  int r = open_db(where, &st->db);
  if (r) {
    free(st);
    return r;
  }
  *out = st;
  return 0;
}

int store_open(const char *path, struct store **out) {
  return open_with(db_open_sqlite, path, out);
}

int store_open_pg(const char *conninfo, struct store **out) {
  return open_with(db_open_pg, conninfo, out);
}

int store_server_join(struct store *st, const char *id, const char *name) {
  if (db_engine(st->db) != DB_PG) return 0;
  /* A session-level advisory lock on the id, held while this connection
   * lives (two keys: "meshd" in ASCII, and the id's hash): a second
   * process with the same id is a copied data folder. Its heartbeat could
   * not tell: a server killed a moment ago has a fresh one too. (A
   * connection db_pg.c resets after a loss no longer holds it: a copy
   * started then is not refused. The check is a guard against a mistake,
   * not a security boundary.) */
  struct db_stmt *s;
  const char *args[] = {id, name, NULL};
  int r =
      store_prep(st, "SELECT pg_try_advisory_lock(1835364452, hashtext(?1))",
                 &s, (const char *const[]){id, NULL});
  if (r) return r;
  r = db_step(s);
  int got = r == DB_ROW && db_col_int64(s, 0) == 1;
  db_finalize(s);
  if (r < 0) return r;
  if (!got) return MESH_E_EXISTS;
  free(st->server_id);
  if (!(st->server_id = strdup(id))) return MESH_E_NOMEM;
  return store_exec(st,
                    "INSERT INTO servers(id,name,started,heartbeat) VALUES"
                    "(?1,?2,EXTRACT(EPOCH FROM now())::BIGINT,"
                    "EXTRACT(EPOCH FROM now())::BIGINT) ON CONFLICT(id) DO"
                    " UPDATE SET name=excluded.name, started=excluded.started,"
                    " heartbeat=excluded.heartbeat",
                    args, 0);
}

int store_server_heartbeat(struct store *st) {
  if (!st->server_id) return 0;
  const char *args[] = {st->server_id, NULL};
  /* The database's clock, so servers whose clocks differ agree on
   * which heartbeat is stale. */
  return store_exec(st,
                    "UPDATE servers SET heartbeat="
                    "EXTRACT(EPOCH FROM now())::BIGINT WHERE id=?1",
                    args, 1);
}

void store_server_leave(struct store *st) {
  if (!st->server_id) return;
  const char *args[] = {st->server_id, NULL};
  store_exec(st, "DELETE FROM servers WHERE id=?1", args, 0);
}

int store_devices_reset(struct store *st, int own, int64_t stale_s,
                        store_reset_cb cb, void *data) {
  if (!st->server_id) return store_devices_all_offline(st);
  struct db_stmt *s;
  const char *args[] = {st->server_id, NULL};
  /* A device online with no server id was put online by a meshd from
   * before the cluster; none of the running servers holds it. */
  int r = store_prep(
      st,
      "UPDATE devices SET online=0 WHERE online=1 AND ("
      " server_id IS NULL OR (server_id=?1 AND ?2=1) OR"
      " (server_id<>?1 AND server_id NOT IN (SELECT id FROM servers WHERE"
      "  heartbeat >= EXTRACT(EPOCH FROM now())::BIGINT - ?3)))"
      " RETURNING id, group_id",
      &s, args);
  if (r) return r;
  db_bind_int64(s, 2, own ? 1 : 0);
  db_bind_int64(s, 3, stale_s);
  while ((r = db_step(s)) == DB_ROW)
    cb(db_col_text(s, 0), db_col_text(s, 1), data);
  db_finalize(s);
  return r < 0 ? r : 0;
}

struct db *store_db(struct store *st) {
  return st->db;
}

void store_close(struct store *st) {
  if (!st) return;
  db_close(st->db);
  free(st->server_id);
  free(st);
}

char *store_col_dup(struct db_stmt *s, int i) {
  const char *t = db_col_text(s, i);
  return t ? strdup(t) : NULL;
}

int store_prep(struct store *st, const char *sql, struct db_stmt **s,
               const char *const *args) {
  int r = db_prepare(st->db, sql, s);
  for (int i = 0; r == 0 && args && args[i]; i++)
    r = db_bind_text(*s, i + 1, args[i]);
  if (r) {
    db_finalize(*s);
    *s = NULL;
  }
  return r;
}

int store_step(struct db_stmt *s, int unchanged) {
  int r = db_step(s);
  if (r != DB_DONE) return r < 0 ? r : MESH_E_DB;
  return db_changes(s) == 0 ? unchanged : 0;
}

int store_exec(struct store *st, const char *sql, const char *const *args,
               int must_change) {
  struct db_stmt *s;
  int r = store_prep(st, sql, &s, args);
  if (r) return r;
  r = store_step(s, must_change ? MESH_E_NOT_FOUND : 0);
  db_finalize(s);
  return r;
}

int store_meta_get(struct store *st, const char *key, char **out) {
  struct db_stmt *s;
  const char *args[] = {key, NULL};
  *out = NULL;
  int r = store_prep(st, "SELECT value FROM meta WHERE key=?1", &s, args);
  if (r) return r;
  if (db_step(s) == DB_ROW) {
    *out = store_col_dup(s, 0);
    r = *out ? 0 : MESH_E_NOMEM;
  } else {
    r = MESH_E_NOT_FOUND;
  }
  db_finalize(s);
  return r;
}

int store_meta_set(struct store *st, const char *key, const char *value) {
  const char *args[] = {key, value, NULL};
  return store_exec(st,
                    "INSERT INTO meta(key,value) VALUES(?1,?2) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    args, 0);
}

void store_group_cleanup(struct store_group *g) {
  free(g->id);
  free(g->name);
  free(g->desc);
  free(g->creator_id);
  free(g->creator_name);
  memset(g, 0, sizeof *g);
}

int store_group_create(struct store *st, const char *name, const char *desc,
                       const char *creator_id, const char *creator_name,
                       struct store_group *out) {
  uint8_t raw[48];
  char id[ENC_B64_LEN(48) + 1];
  int r = rand_bytes(raw, sizeof raw);
  if (r) return r;
  enc_b64(raw, sizeof raw, id, 1);
  struct db_stmt *s;
  const char *args[] = {id, name, NULL};
  if ((r = store_prep(st,
                      "INSERT INTO groups(id,name,type,created,\"desc\","
                      "creator_id,creator_name) VALUES(?1,?2,2,?3,?4,?5,?6)",
                      &s, args)) != 0)
    return r;
  db_bind_int64(s, 3, (int64_t)time(NULL));
  db_bind_text(s, 4, desc);
  db_bind_text(s, 5, creator_id);
  db_bind_text(s, 6, creator_name);
  r = store_step(s, 0);
  db_finalize(s);
  if (r) return r;
  return store_group_get(st, id, 0, out);
}

int store_group_get(struct store *st, const char *key, int by_name,
                    struct store_group *out) {
  struct db_stmt *s;
  const char *args[] = {key, NULL};
  memset(out, 0, sizeof *out);
  int r = store_prep(
      st,
      by_name ? "SELECT id,name,type,\"desc\",flags,consent,created,"
                "creator_id,creator_name,record_sessions FROM groups "
                "WHERE name=?1 ORDER BY created LIMIT 1"
              : "SELECT id,name,type,\"desc\",flags,consent,created,"
                "creator_id,creator_name,record_sessions FROM groups "
                "WHERE id=?1",
      &s, args);
  if (r) return r;
  if (db_step(s) == DB_ROW) {
    out->id = store_col_dup(s, 0);
    out->name = store_col_dup(s, 1);
    out->type = (int)db_col_int64(s, 2);
    out->desc = store_col_dup(s, 3);
    out->flags = (uint32_t)db_col_int64(s, 4);
    out->consent = (uint32_t)db_col_int64(s, 5);
    out->created = db_col_int64(s, 6);
    out->creator_id = store_col_dup(s, 7);
    out->creator_name = store_col_dup(s, 8);
    out->record_sessions = (int)db_col_int64(s, 9);
    r = out->id && out->name ? 0 : MESH_E_NOMEM;
    if (r) store_group_cleanup(out);
  } else {
    r = MESH_E_NOT_FOUND;
  }
  db_finalize(s);
  return r;
}

/* The edits' name (?2) and description (?3): COALESCE keeps a field whose
 * new value is NULL; an empty desc clears it. (PostgreSQL types a
 * parameter at its first use, so the typed comparison comes first.) */
#define EDIT_NAME_DESC                \
  "name=COALESCE(?2,name), \"desc\"=" \
  "CASE WHEN ?3='' THEN NULL ELSE COALESCE(?3,\"desc\") END,"

/* Binds v, or NULL (which keeps the field) unless set. */
static void bind_int_or_keep(struct db_stmt *s, int i, int64_t v, int set) {
  if (set)
    db_bind_int64(s, i, v);
  else
    db_bind_null(s, i);
}

int store_group_update(struct store *st, const char *id, const char *name,
                       const char *desc, int64_t flags, int64_t consent) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  int r = store_prep(st,
                     "UPDATE groups SET " EDIT_NAME_DESC
                     " flags=COALESCE(?4,flags),"
                     " consent=COALESCE(?5,consent) WHERE id=?1",
                     &s, args);
  if (r) return r;
  db_bind_text(s, 2, name);
  db_bind_text(s, 3, desc);
  bind_int_or_keep(s, 4, flags, flags >= 0);
  bind_int_or_keep(s, 5, consent, consent >= 0);
  r = store_step(s, MESH_E_NOT_FOUND);
  db_finalize(s);
  return r;
}

int store_group_set_record(struct store *st, const char *id, int on) {
  const char *args[] = {id, NULL};
  return store_exec(st,
                    on ? "UPDATE groups SET record_sessions=1 WHERE id=?1"
                       : "UPDATE groups SET record_sessions=0 WHERE id=?1",
                    args, 1);
}

int store_group_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  int r;
  /* Its devices go with it; memberships go by ON DELETE CASCADE. */
  if ((r = db_begin(st->db)) != 0) return r;
  if ((r = store_exec(st, "DELETE FROM devices WHERE group_id=?1", args, 0)) ==
          0 &&
      (r = store_exec(st, "DELETE FROM groups WHERE id=?1", args, 1)) == 0)
    r = db_commit(st->db);
  if (r) db_rollback(st->db);
  return r;
}

int store_device_online(struct store *st, const struct store_agent_seen *a,
                        char **group_out, int *created) {
  struct db_stmt *s;
  const char *id_arg[] = {a->node_id, NULL};
  *group_out = NULL;
  *created = 0;
  int r = store_prep(st, "SELECT 1 FROM devices WHERE id=?1", &s, id_arg);
  if (r) return r;
  *created = db_step(s) != DB_ROW;
  db_finalize(s);
  /* On conflict the stored group stays: moving a device is a user action,
   * never something an agent can claim. */
  const char *args[] = {a->node_id, a->group_id, a->name, NULL};
  r = store_prep(st,
                 "INSERT INTO devices(id,group_id,name,os,commit_date,addr,"
                 " last_peer,platform,agent_id,caps,online,first_seen,"
                 " last_seen,last_connect,icon,server_id)"
                 " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,1,?11,?11,?11,?8,"
                 " ?12)"
                 " ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
                 " os=excluded.os, commit_date=excluded.commit_date,"
                 " addr=excluded.addr, last_peer=excluded.last_peer,"
                 " platform=excluded.platform, agent_id=excluded.agent_id,"
                 " caps=excluded.caps, online=1, last_seen=excluded.last_seen,"
                 " last_connect=excluded.last_connect,"
                 " server_id=excluded.server_id"
                 " RETURNING group_id",
                 &s, args);
  if (r) return r;
  /* The optional texts one by one: the list binds only up to a NULL. */
  db_bind_text(s, 4, a->os);
  db_bind_text(s, 5, a->commit_date);
  db_bind_text(s, 6, a->addr);
  db_bind_text(s, 7, a->peer);
  db_bind_int64(s, 8, a->platform);
  db_bind_int64(s, 9, a->agent_id);
  db_bind_int64(s, 10, a->caps);
  db_bind_int64(s, 11, (int64_t)time(NULL));
  /* A device held by another server just moves here. */
  db_bind_text(s, 12, st->server_id);
  /* Any failure is MESH_E_DB here, an unknown group (its foreign key)
   * too. */
  if (db_step(s) == DB_ROW) {
    *group_out = store_col_dup(s, 0);
    r = *group_out ? 0 : MESH_E_NOMEM;
  } else {
    r = MESH_E_DB;
  }
  db_finalize(s);
  return r;
}

int store_device_offline(struct store *st, const char *node_id) {
  struct db_stmt *s;
  const char *args[] = {node_id, NULL};
  /* Only while this server holds it: the agent may have moved to
   * another one before this connection noticed it was gone. */
  int r = store_prep(st,
                     "UPDATE devices SET online=0, last_seen=?2 WHERE id=?1"
                     " AND (?3 IS NULL OR server_id=?3)",
                     &s, args);
  if (r) return r;
  db_bind_int64(s, 2, (int64_t)time(NULL));
  db_bind_text(s, 3, st->server_id);
  r = store_step(s, st->server_id ? 1 : 0);
  db_finalize(s);
  return r;
}

int store_device_set_agent_hash(struct store *st, const char *node_id,
                                const char *hash_hex) {
  const char *args[] = {hash_hex, node_id, NULL};
  return store_exec(st, "UPDATE devices SET agent_hash=?1 WHERE id=?2", args,
                    0);
}

int store_device_edit(struct store *st, const char *id, const char *name,
                      const char *desc, const char *tags_json, int icon) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  int r = store_prep(st,
                     "UPDATE devices SET " EDIT_NAME_DESC
                     " tags=COALESCE(?4,tags), icon=COALESCE(?5,icon)"
                     " WHERE id=?1",
                     &s, args);
  if (r) return r;
  db_bind_text(s, 2, name);
  db_bind_text(s, 3, desc);
  db_bind_text(s, 4, tags_json);
  bind_int_or_keep(s, 5, icon, icon > 0);
  r = store_step(s, MESH_E_NOT_FOUND);
  db_finalize(s);
  return r;
}

int store_device_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  return store_exec(st, "DELETE FROM devices WHERE id=?1", args, 1);
}

int store_devices_all_offline(struct store *st) {
  return store_exec(st, "UPDATE devices SET online=0 WHERE online=1", NULL, 0);
}

int store_devices_each(struct store *st, const char *group_id,
                       const char *node_id, store_device_cb cb, void *data) {
  struct db_stmt *s;
  int r = store_prep(st,
                     "SELECT d.id,d.group_id,g.name,d.name,d.os,d.commit_date,"
                     " d.agent_hash,d.addr,d.platform,d.agent_id,d.caps,"
                     " d.online,d.first_seen,d.last_seen,d.\"desc\",d.tags,"
                     " d.icon,d.last_connect,d.last_peer FROM devices d"
                     " JOIN groups g ON g.id=d.group_id"
                     " WHERE (d.group_id=?1 OR ?1 IS NULL)"
                     " AND (d.id=?2 OR ?2 IS NULL)"
                     " ORDER BY g.name,d.name,d.id",
                     &s, NULL);
  if (r) return r;
  db_bind_text(s, 1, group_id);
  db_bind_text(s, 2, node_id);
  while ((r = db_step(s)) == DB_ROW) {
    struct store_device d = {
        .id = db_col_text(s, 0),
        .group_id = db_col_text(s, 1),
        .group_name = db_col_text(s, 2),
        .name = db_col_text(s, 3),
        .os = db_col_text(s, 4),
        .commit_date = db_col_text(s, 5),
        .agent_hash = db_col_text(s, 6),
        .addr = db_col_text(s, 7),
        .platform = (uint32_t)db_col_int64(s, 8),
        .agent_id = (uint32_t)db_col_int64(s, 9),
        .caps = (uint32_t)db_col_int64(s, 10),
        .online = (int)db_col_int64(s, 11),
        .first_seen = db_col_int64(s, 12),
        .last_seen = db_col_int64(s, 13),
        .desc = db_col_text(s, 14),
        .tags = db_col_text(s, 15),
        .icon = (int)db_col_int64(s, 16),
        .last_connect = db_col_int64(s, 17),
        .last_peer = db_col_text(s, 18),
    };
    cb(&d, data);
  }
  db_finalize(s);
  return r < 0 ? r : 0;
}
