/*
 * db.c - the agent's own small database beside its binary: a SQLite
 * key/value table holding its identity (certificate and private key) and
 * the pinned hash of the server's web certificate. Created 0600.
 */
#include <fcntl.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/mesh_limits.h"

struct agent_db {
  sqlite3 *db;
};

int agent_db_open(const char *path, struct agent_db **out) {
  *out = NULL;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return MESH_E_IO;
  fchmod(fd, 0600);
  close(fd);
  struct agent_db *d = calloc(1, sizeof *d);
  if (!d) return MESH_E_NOMEM;
  /* Another process may hold the file for a moment: the self-test of an
   * update's new binary reads the same database (update.c). Waiting up to
   * MESH_AGENT_DB_BUSY_MS beats failing a good update or a write; nothing
   * else ever contends, so the loop never waits in practice. */
  if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
      sqlite3_busy_timeout(d->db, MESH_AGENT_DB_BUSY_MS) != SQLITE_OK ||
      sqlite3_exec(d->db,
                   "PRAGMA journal_mode=DELETE;"
                   "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY,"
                   " value BLOB NOT NULL);",
                   NULL, NULL, NULL) != SQLITE_OK) {
    agent_db_close(d);
    return MESH_E_DB;
  }
  *out = d;
  return 0;
}

void agent_db_close(struct agent_db *d) {
  if (!d) return;
  sqlite3_close(d->db);
  free(d);
}

int agent_db_get(struct agent_db *d, const char *key, uint8_t **out,
                 size_t *len) {
  sqlite3_stmt *s;
  *out = NULL;
  *len = 0;
  if (sqlite3_prepare_v2(d->db, "SELECT value FROM kv WHERE key=?", -1, &s,
                         NULL) != SQLITE_OK)
    return MESH_E_DB;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  int r = MESH_E_NOT_FOUND;
  if (sqlite3_step(s) == SQLITE_ROW) {
    /* The blob first, then its size (SQLite's documented order); an empty
     * value comes back as a NULL pointer, never handed to memcpy. */
    const void *blob = sqlite3_column_blob(s, 0);
    size_t n = (size_t)sqlite3_column_bytes(s, 0);
    *out = malloc(n ? n : 1);
    if (*out) {
      if (n) memcpy(*out, blob, n);
      *len = n;
      r = 0;
    } else {
      r = MESH_E_NOMEM;
    }
  }
  sqlite3_finalize(s);
  return r;
}

int agent_db_set(struct agent_db *d, const char *key, const void *v,
                 size_t len) {
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(d->db,
                         "INSERT INTO kv(key,value) VALUES(?,?) ON CONFLICT"
                         "(key) DO UPDATE SET value=excluded.value",
                         -1, &s, NULL) != SQLITE_OK)
    return MESH_E_DB;
  sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
  /* An empty value is an empty blob, not SQL NULL (the column is NOT
   * NULL). */
  if (len == 0)
    sqlite3_bind_zeroblob(s, 2, 0);
  else
    sqlite3_bind_blob(s, 2, v, (int)len, SQLITE_STATIC);
  int r = sqlite3_step(s) == SQLITE_DONE ? 0 : MESH_E_DB;
  sqlite3_finalize(s);
  return r;
}

static void free_secret(uint8_t *p, size_t n) {
  if (p) OPENSSL_cleanse(p, n);
  free(p);
}

int agent_db_identity(struct agent_db *d, struct ident *out, int *created) {
  uint8_t *cert = NULL, *key = NULL;
  size_t cl = 0, kl = 0;
  int r;
  *created = 0;
  if (agent_db_get(d, "SelfNodeCert", &cert, &cl) == 0 &&
      agent_db_get(d, "SelfNodeKey", &key, &kl) == 0) {
    r = ident_from_der(cert, cl, key, kl, out);
    free(cert);
    free_secret(key, kl);
    return r;
  }
  free(cert);
  free_secret(key, kl);
  if ((r = ident_new_agent(out)) != 0) return r;
  struct buf cb, kb;
  buf_init(&cb, 64 * 1024);
  buf_init(&kb, 64 * 1024);
  r = ident_to_der(out, &cb, &kb);
  /* Key first: a stored certificate always has its key. */
  if (r == 0) r = agent_db_set(d, "SelfNodeKey", kb.data, kb.len);
  if (r == 0) r = agent_db_set(d, "SelfNodeCert", cb.data, cb.len);
  buf_cleanup(&cb);
  buf_wipe_cleanup(&kb);
  if (r)
    ident_cleanup(out);
  else
    *created = 1;
  return r;
}
