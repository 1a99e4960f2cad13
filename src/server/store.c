#include "store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/rand.h"

struct store {
  sqlite3 *db;
};

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
    "CREATE INDEX IF NOT EXISTS events_time ON events(time);";

static int db_err(struct store *st) {
  (void)st;
  return MESH_E_DB;
}

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

int store_open(const char *path, struct store **out) {
  *out = NULL;
  /* Create the file 0600 before SQLite does, so it is never readable by
   * others, even for a moment. */
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return MESH_E_IO;
  fchmod(fd, 0600);
  close(fd);
  struct store *st = calloc(1, sizeof *st);
  if (!st) return MESH_E_NOMEM;
  if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(st->db, 5000) != SQLITE_OK ||
      sqlite3_exec(st->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
      add_column(st->db, "groups", "record_sessions",
                 "INTEGER NOT NULL DEFAULT 0") != 0) {
    store_close(st);
    return MESH_E_DB;
  }
  *out = st;
  return 0;
}

sqlite3 *store_db(struct store *st) { return st->db; }

void store_close(struct store *st) {
  if (!st) return;
  sqlite3_close(st->db);
  free(st);
}

static char *dup_col(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? strdup((const char *)t) : NULL;
}

/* Prepares sql and binds the NULL-terminated list of text arguments. */
static int prep(struct store *st, const char *sql, sqlite3_stmt **s,
                const char *const *args) {
  if (sqlite3_prepare_v2(st->db, sql, -1, s, NULL) != SQLITE_OK)
    return db_err(st);
  for (int i = 0; args && args[i]; i++)
    sqlite3_bind_text(*s, i + 1, args[i], -1, SQLITE_STATIC);
  return 0;
}

/* Runs a statement that returns no rows. */
static int exec_args(struct store *st, const char *sql,
                     const char *const *args) {
  sqlite3_stmt *s;
  int r = prep(st, sql, &s, args);
  if (r) return r;
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
  sqlite3_finalize(s);
  return r;
}

int store_meta_get(struct store *st, const char *key, char **out) {
  sqlite3_stmt *s;
  const char *args[] = {key, NULL};
  *out = NULL;
  int r = prep(st, "SELECT value FROM meta WHERE key=?", &s, args);
  if (r) return r;
  if (sqlite3_step(s) == SQLITE_ROW) {
    *out = dup_col(s, 0);
    r = *out ? 0 : MESH_E_NOMEM;
  } else {
    r = MESH_E_NOT_FOUND;
  }
  sqlite3_finalize(s);
  return r;
}

int store_meta_set(struct store *st, const char *key, const char *value) {
  const char *args[] = {key, value, NULL};
  return exec_args(st,
                   "INSERT INTO meta(key,value) VALUES(?,?) "
                   "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                   args);
}

void store_group_cleanup(struct store_group *g) {
  free(g->id);
  free(g->name);
  free(g->desc);
  free(g->creator_id);
  free(g->creator_name);
  memset(g, 0, sizeof *g);
}

/* Binds an optional text: NULL binds SQL NULL. */
static void bind_opt(sqlite3_stmt *s, int i, const char *v) {
  if (v)
    sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(s, i);
}

int store_group_create(struct store *st, const char *name, const char *desc,
                       const char *creator_id, const char *creator_name,
                       struct store_group *out) {
  uint8_t raw[48];
  char id[ENC_B64_LEN(48) + 1];
  int r = rand_bytes(raw, sizeof raw);
  if (r) return r;
  enc_b64(raw, sizeof raw, id, 1);
  sqlite3_stmt *s;
  if ((r = prep(st,
                "INSERT INTO groups(id,name,type,created,desc,creator_id,"
                "creator_name) VALUES(?,?,2,?,?,?,?)",
                &s, NULL)) != 0)
    return r;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
  bind_opt(s, 4, desc);
  bind_opt(s, 5, creator_id);
  bind_opt(s, 6, creator_name);
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
  sqlite3_finalize(s);
  if (r) return r;
  return store_group_get(st, id, 0, out);
}

int store_group_get(struct store *st, const char *key, int by_name,
                    struct store_group *out) {
  sqlite3_stmt *s;
  const char *args[] = {key, NULL};
  memset(out, 0, sizeof *out);
  int r = prep(
      st,
      by_name
          ? "SELECT id,name,type,desc,flags,consent,created,"
            "creator_id,creator_name,record_sessions FROM groups WHERE name=? "
            "ORDER BY created LIMIT 1"
          : "SELECT id,name,type,desc,flags,consent,created,"
            "creator_id,creator_name,record_sessions FROM groups WHERE id=?",
      &s, args);
  if (r) return r;
  if (sqlite3_step(s) == SQLITE_ROW) {
    out->id = dup_col(s, 0);
    out->name = dup_col(s, 1);
    out->type = sqlite3_column_int(s, 2);
    out->desc = dup_col(s, 3);
    out->flags = (uint32_t)sqlite3_column_int64(s, 4);
    out->consent = (uint32_t)sqlite3_column_int64(s, 5);
    out->created = sqlite3_column_int64(s, 6);
    out->creator_id = dup_col(s, 7);
    out->creator_name = dup_col(s, 8);
    out->record_sessions = sqlite3_column_int(s, 9);
    r = out->id && out->name ? 0 : MESH_E_NOMEM;
    if (r) store_group_cleanup(out);
  } else {
    r = MESH_E_NOT_FOUND;
  }
  sqlite3_finalize(s);
  return r;
}

int store_group_update(struct store *st, const char *id, const char *name,
                       const char *desc, int64_t flags, int64_t consent) {
  sqlite3_stmt *s;
  /* COALESCE keeps a field whose new value is NULL; an empty desc clears
   * it. */
  int r = prep(st,
               "UPDATE groups SET name=COALESCE(?2,name),"
               " desc=CASE WHEN ?3 IS NULL THEN desc WHEN ?3='' THEN NULL"
               " ELSE ?3 END, flags=COALESCE(?4,flags),"
               " consent=COALESCE(?5,consent) WHERE id=?1",
               &s, NULL);
  if (r) return r;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  bind_opt(s, 2, name);
  bind_opt(s, 3, desc);
  if (flags >= 0) sqlite3_bind_int64(s, 4, flags);
  if (consent >= 0) sqlite3_bind_int64(s, 5, consent);
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
  if (r == 0 && sqlite3_changes(st->db) == 0) r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  return r;
}

int store_group_set_record(struct store *st, const char *id, int on) {
  sqlite3_stmt *s;
  const char *args[] = {id, NULL};
  int r =
      prep(st, "UPDATE groups SET record_sessions=?2 WHERE id=?1", &s, args);
  if (r) return r;
  sqlite3_bind_int(s, 2, on ? 1 : 0);
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : MESH_E_DB;
  sqlite3_finalize(s);
  if (r == 0 && sqlite3_changes(st->db) == 0) r = MESH_E_NOT_FOUND;
  return r;
}

int store_group_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  int r;
  /* Its devices go with it; memberships go by ON DELETE CASCADE. */
  if ((r = exec_args(st, "SAVEPOINT del_group", NULL)) != 0) return r;
  if ((r = exec_args(st, "DELETE FROM devices WHERE group_id=?", args)) == 0 &&
      (r = exec_args(st, "DELETE FROM groups WHERE id=?", args)) == 0 &&
      sqlite3_changes(st->db) == 0)
    r = MESH_E_NOT_FOUND;
  exec_args(st, r ? "ROLLBACK TO del_group" : "RELEASE del_group", NULL);
  if (r) exec_args(st, "RELEASE del_group", NULL);
  return r;
}

int store_device_online(struct store *st, const struct store_agent_seen *a,
                        char **group_out, int *created) {
  sqlite3_stmt *s;
  const char *id_arg[] = {a->node_id, NULL};
  *group_out = NULL;
  *created = 0;
  int r = prep(st, "SELECT 1 FROM devices WHERE id=?", &s, id_arg);
  if (r) return r;
  *created = sqlite3_step(s) != SQLITE_ROW;
  sqlite3_finalize(s);
  /* On conflict the stored group stays: moving a device is a user action,
   * never something an agent can claim. */
  const char *args[] = {a->node_id,     a->group_id, a->name, a->os,
                        a->commit_date, a->addr,     a->peer, NULL};
  r = prep(st,
           "INSERT INTO devices(id,group_id,name,os,commit_date,addr,"
           " last_peer,platform,agent_id,caps,online,first_seen,last_seen,"
           " last_connect,icon)"
           " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,1,?11,?11,?11,?8)"
           " ON CONFLICT(id) DO UPDATE SET name=excluded.name,"
           " os=excluded.os, commit_date=excluded.commit_date,"
           " addr=excluded.addr, last_peer=excluded.last_peer,"
           " platform=excluded.platform, agent_id=excluded.agent_id,"
           " caps=excluded.caps, online=1, last_seen=excluded.last_seen,"
           " last_connect=excluded.last_connect"
           " RETURNING group_id",
           &s, args);
  if (r) return r;
  sqlite3_bind_int64(s, 8, a->platform);
  sqlite3_bind_int64(s, 9, a->agent_id);
  sqlite3_bind_int64(s, 10, a->caps);
  sqlite3_bind_int64(s, 11, (sqlite3_int64)time(NULL));
  if (sqlite3_step(s) == SQLITE_ROW) {
    *group_out = dup_col(s, 0);
    r = *group_out ? 0 : MESH_E_NOMEM;
  } else {
    r = db_err(st);
  }
  sqlite3_finalize(s);
  return r;
}

int store_device_offline(struct store *st, const char *node_id) {
  sqlite3_stmt *s;
  const char *args[] = {node_id, NULL};
  int r = prep(st, "UPDATE devices SET online=0, last_seen=?2 WHERE id=?1", &s,
               args);
  if (r) return r;
  sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
  sqlite3_finalize(s);
  return r;
}

int store_device_set_agent_hash(struct store *st, const char *node_id,
                                const char *hash_hex) {
  const char *args[] = {hash_hex, node_id, NULL};
  return exec_args(st, "UPDATE devices SET agent_hash=? WHERE id=?", args);
}

int store_device_edit(struct store *st, const char *id, const char *name,
                      const char *desc, const char *tags_json, int icon) {
  sqlite3_stmt *s;
  int r = prep(st,
               "UPDATE devices SET name=COALESCE(?2,name),"
               " desc=CASE WHEN ?3 IS NULL THEN desc WHEN ?3='' THEN NULL"
               " ELSE ?3 END, tags=COALESCE(?4,tags), icon=COALESCE(?5,icon)"
               " WHERE id=?1",
               &s, NULL);
  if (r) return r;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  bind_opt(s, 2, name);
  bind_opt(s, 3, desc);
  bind_opt(s, 4, tags_json);
  if (icon > 0) sqlite3_bind_int(s, 5, icon);
  r = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(st);
  if (r == 0 && sqlite3_changes(st->db) == 0) r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  return r;
}

int store_device_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  int r = exec_args(st, "DELETE FROM devices WHERE id=?", args);
  if (r == 0 && sqlite3_changes(st->db) == 0) r = MESH_E_NOT_FOUND;
  return r;
}

int store_devices_all_offline(struct store *st) {
  return exec_args(st, "UPDATE devices SET online=0 WHERE online=1", NULL);
}

int store_devices_each(struct store *st, const char *group_id,
                       const char *node_id, store_device_cb cb, void *data) {
  sqlite3_stmt *s;
  int r = prep(st,
               "SELECT d.id,d.group_id,g.name,d.name,d.os,d.commit_date,"
               " d.agent_hash,d.addr,d.platform,d.agent_id,d.caps,d.online,"
               " d.first_seen,d.last_seen,d.desc,d.tags,d.icon,"
               " d.last_connect,d.last_peer FROM devices d"
               " JOIN groups g ON g.id=d.group_id"
               " WHERE (?1 IS NULL OR d.group_id=?1)"
               " AND (?2 IS NULL OR d.id=?2)"
               " ORDER BY g.name,d.name,d.id",
               &s, NULL);
  if (r) return r;
  bind_opt(s, 1, group_id);
  bind_opt(s, 2, node_id);
  int step;
#define COL_TEXT(i) ((const char *)sqlite3_column_text(s, i))
  while ((step = sqlite3_step(s)) == SQLITE_ROW) {
    struct store_device d = {
        .id = COL_TEXT(0),
        .group_id = COL_TEXT(1),
        .group_name = COL_TEXT(2),
        .name = COL_TEXT(3),
        .os = COL_TEXT(4),
        .commit_date = COL_TEXT(5),
        .agent_hash = COL_TEXT(6),
        .addr = COL_TEXT(7),
        .platform = (uint32_t)sqlite3_column_int64(s, 8),
        .agent_id = (uint32_t)sqlite3_column_int64(s, 9),
        .caps = (uint32_t)sqlite3_column_int64(s, 10),
        .online = sqlite3_column_int(s, 11),
        .first_seen = sqlite3_column_int64(s, 12),
        .last_seen = sqlite3_column_int64(s, 13),
        .desc = COL_TEXT(14),
        .tags = COL_TEXT(15),
        .icon = sqlite3_column_int(s, 16),
        .last_connect = sqlite3_column_int64(s, 17),
        .last_peer = COL_TEXT(18),
    };
    cb(&d, data);
  }
#undef COL_TEXT
  r = step == SQLITE_DONE ? 0 : db_err(st);
  sqlite3_finalize(s);
  return r;
}
