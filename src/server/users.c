/*
 * users.c - accounts, memberships and sessions in the store's database
 * (see users.h; the tables are in the engine's schema, db_sqlite.c).
 *
 * Every function prepares one statement, binds its arguments, steps it and
 * finalizes it before returning, so no statement outlives a call and the
 * callbacks of the _each functions may call back into this module.
 *
 * Deleting a user relies on the schema's ON DELETE CASCADE from members
 * and sessions to users; db_open_sqlite() turns foreign keys on for its
 * connection (PRAGMA foreign_keys is per connection), and the unit tests
 * check that the cascade happens. A write that names a user or group that
 * does not exist fails its foreign key: db_step says MESH_E_NOT_FOUND.
 */
#include "users.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/rand.h"
#include "db.h"

#define ID_PREFIX "user//"
#define ID_PREFIX_LEN 6
#define TOKEN_RAW 32
#define TOKEN_HASH_LEN 32 /* SHA-256 */

/* An optional text field: NULL is fine, else at most max bytes. */
static int check_opt(const char *s, size_t max) {
  return s && strnlen(s, max + 1) > max ? MESH_E_INVALID : 0;
}

void user_cleanup(struct user *u) {
  free(u->id);
  free(u->name);
  free(u->email);
  free(u->realname);
  memset(u, 0, sizeof *u);
}

int user_id_of(const char *name, char *out, size_t cap) {
  if (cap) out[0] = '\0';
  size_t n = strnlen(name, USER_MAX_NAME + 1);
  if (n == 0 || n > USER_MAX_NAME || cap < ID_PREFIX_LEN + n + 1)
    return MESH_E_INVALID;
  /* An explicit allow-list rather than isalnum(): the locale must not
   * decide which bytes make a valid id. */
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
             (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return MESH_E_INVALID;
  }
  memcpy(out, ID_PREFIX, ID_PREFIX_LEN);
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    out[ID_PREFIX_LEN + i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
  }
  out[ID_PREFIX_LEN + n] = '\0';
  return 0;
}

int users_create(struct store *st, const char *name, const char *email,
                 const char *hash, uint32_t siteadmin, struct user *out) {
  char id[USER_MAX_NAME + 7];
  struct db_stmt *s;
  int r;
  if (out) memset(out, 0, sizeof *out);
  if ((r = user_id_of(name, id, sizeof id)) != 0 ||
      (r = check_opt(email, USER_MAX_EMAIL)) != 0)
    return r;
  if (!hash || !hash[0]) return MESH_E_INVALID;
  const char *args[] = {id, name, hash, NULL};
  if ((r = store_prep(st,
                      "INSERT INTO users(id,name,hash,email,siteadmin,created,"
                      "passchange) VALUES(?1,?2,?3,?4,?5,?6,?6)",
                      &s, args)) != 0)
    return r;
  db_bind_text(s, 4, email);
  db_bind_int64(s, 5, (int64_t)siteadmin);
  db_bind_int64(s, 6, (int64_t)time(NULL));
  r = store_step(s, 0);
  db_finalize(s);
  if (r == 0 && out) r = users_get(st, id, out);
  return r;
}

/* The columns users_get and users_each read, in this order. */
#define USER_COLS                                        \
  "id,name,email,realname,siteadmin,created,passchange," \
  "CASE WHEN totp_secret IS NULL THEN 0 ELSE 1 END"

/* Fills u with pointers borrowed from the current row of s: valid until
 * the next step or finalize. */
static void user_from_row(struct db_stmt *s, struct user *u) {
  u->id = (char *)db_col_text(s, 0);
  u->name = (char *)db_col_text(s, 1);
  u->email = (char *)db_col_text(s, 2);
  u->realname = (char *)db_col_text(s, 3);
  u->siteadmin = (uint32_t)db_col_int64(s, 4);
  u->created = db_col_int64(s, 5);
  u->passchange = db_col_int64(s, 6);
  u->has_totp = (int)db_col_int64(s, 7);
}

int users_get(struct store *st, const char *id, struct user *out) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  memset(out, 0, sizeof *out);
  int r =
      store_prep(st, "SELECT " USER_COLS " FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = db_step(s);
  if (rc == DB_ROW) {
    struct user b;
    user_from_row(s, &b);
    *out = b;
    out->id = store_col_dup(s, 0);
    out->name = store_col_dup(s, 1);
    out->email = store_col_dup(s, 2);
    out->realname = store_col_dup(s, 3);
    if (!out->id || !out->name || (b.email && !out->email) ||
        (b.realname && !out->realname)) {
      user_cleanup(out);
      r = MESH_E_NOMEM;
    }
  } else {
    r = rc == DB_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  db_finalize(s);
  return r;
}

int users_get_hash(struct store *st, const char *id, char **hash) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  *hash = NULL;
  int r = store_prep(st, "SELECT hash FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = db_step(s);
  if (rc == DB_ROW) {
    *hash = store_col_dup(s, 0);
    r = *hash ? 0 : MESH_E_NOMEM;
  } else {
    r = rc == DB_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  db_finalize(s);
  return r;
}

int users_set_hash(struct store *st, const char *id, const char *hash) {
  struct db_stmt *s;
  if (!hash || !hash[0]) return MESH_E_INVALID;
  const char *args[] = {id, hash, NULL};
  int r = store_prep(st, "UPDATE users SET hash=?2, passchange=?3 WHERE id=?1",
                     &s, args);
  if (r) return r;
  db_bind_int64(s, 3, (int64_t)time(NULL));
  r = store_step(s, MESH_E_NOT_FOUND);
  db_finalize(s);
  return r;
}

int users_update(struct store *st, const struct user *u) {
  struct db_stmt *s;
  int r;
  /* users.h names no limit of its own for the real name; it gets the
   * e-mail's, which is generous for a display string. */
  if ((r = check_opt(u->email, USER_MAX_EMAIL)) != 0 ||
      (r = check_opt(u->realname, USER_MAX_EMAIL)) != 0)
    return r;
  const char *args[] = {u->id, NULL};
  if ((r = store_prep(st,
                      "UPDATE users SET email=?2, realname=?3, siteadmin=?4 "
                      "WHERE id=?1",
                      &s, args)) != 0)
    return r;
  db_bind_text(s, 2, u->email);
  db_bind_text(s, 3, u->realname);
  db_bind_int64(s, 4, (int64_t)u->siteadmin);
  r = store_step(s, MESH_E_NOT_FOUND);
  db_finalize(s);
  return r;
}

int users_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  /* members and sessions go with the row (ON DELETE CASCADE). */
  return store_exec(st, "DELETE FROM users WHERE id=?1", args, 1);
}

/* ------------------------------------------------------ second factor */

int users_get_totp(struct store *st, const char *id,
                   uint8_t key[TOTP_SECRET_LEN]) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  int r = store_prep(st, "SELECT totp_secret FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = db_step(s);
  size_t n = 0;
  const void *p = rc == DB_ROW ? db_col_blob(s, 0, &n) : NULL;
  if (p && n == TOTP_SECRET_LEN) {
    memcpy(key, p, TOTP_SECRET_LEN);
  } else {
    r = rc == DB_ROW || rc == DB_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  db_finalize(s);
  return r;
}

/* The stored form of a recovery code: SHA-256 of its upper-case text.
 * MESH_E_INVALID unless it is USERS_RECOVERY_LEN letters and digits. */
static int recovery_hash(const char *code, uint8_t out[32]) {
  char up[USERS_RECOVERY_LEN];
  if (!code || strlen(code) != USERS_RECOVERY_LEN) return MESH_E_INVALID;
  for (size_t i = 0; i < USERS_RECOVERY_LEN; i++) {
    char c = code[i];
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
      return MESH_E_INVALID;
    up[i] = c;
  }
  unsigned int n = 0;
  int ok = EVP_Digest(up, sizeof up, out, &n, EVP_sha256(), NULL);
  OPENSSL_cleanse(up, sizeof up);
  return ok ? 0 : MESH_E_CRYPTO;
}

int users_set_totp(struct store *st, const char *id,
                   const uint8_t key[TOTP_SECRET_LEN],
                   char codes[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1]) {
  struct db_stmt *s = NULL;
  const char *args[] = {id, NULL};
  uint8_t raw[USERS_RECOVERY_LEN * 5 / 8 + 1], h[32];
  int r;
  if ((r = db_begin(store_db(st))) != 0) return r;
  if ((r = store_prep(
           st, "UPDATE users SET totp_secret=?2, totp_last=0 WHERE id=?1", &s,
           args)) != 0)
    goto out;
  db_bind_blob(s, 2, key, TOTP_SECRET_LEN);
  r = store_step(s, MESH_E_NOT_FOUND);
  db_finalize(s);
  s = NULL;
  if (r) goto out;
  if ((r = store_exec(st, "DELETE FROM recovery_codes WHERE user_id=?1", args,
                      0)) != 0)
    goto out;
  for (int i = 0; i < USERS_RECOVERY_COUNT; i++) {
    /* 50 random bits as ten base32 characters. */
    char b32[TOTP_B32_LEN];
    if ((r = rand_bytes(raw, sizeof raw)) != 0 ||
        (r = totp_base32(raw, sizeof raw, b32, sizeof b32)) != 0)
      goto out;
    memcpy(codes[i], b32, USERS_RECOVERY_LEN);
    codes[i][USERS_RECOVERY_LEN] = 0;
    OPENSSL_cleanse(b32, sizeof b32);
    if ((r = recovery_hash(codes[i], h)) != 0 ||
        (r = store_prep(
             st, "INSERT INTO recovery_codes(user_id,hash) VALUES(?1,?2)", &s,
             args)) != 0)
      goto out;
    db_bind_blob(s, 2, h, sizeof h);
    r = store_step(s, 0);
    db_finalize(s);
    s = NULL;
    if (r) goto out;
  }
out:
  db_finalize(s);
  OPENSSL_cleanse(raw, sizeof raw);
  if (r == 0) r = db_commit(store_db(st));
  if (r != 0) {
    db_rollback(store_db(st));
    OPENSSL_cleanse(codes,
                    sizeof(char[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1]));
  }
  return r;
}

int users_clear_totp(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  int r = store_exec(st,
                     "UPDATE users SET totp_secret=NULL "
                     "WHERE id=?1 AND totp_secret IS NOT NULL",
                     args, 1);
  if (r == 0)
    r = store_exec(st, "DELETE FROM recovery_codes WHERE user_id=?1", args, 0);
  return r;
}

int users_use_recovery(struct store *st, const char *id, const char *code) {
  struct db_stmt *s;
  uint8_t h[32];
  const char *args[] = {id, NULL};
  if (recovery_hash(code, h) != 0) return MESH_E_AUTH;
  int r = store_prep(
      st, "DELETE FROM recovery_codes WHERE user_id=?1 AND hash=?2", &s, args);
  if (r) return r;
  db_bind_blob(s, 2, h, sizeof h);
  r = store_step(s, MESH_E_AUTH);
  db_finalize(s);
  return r;
}

int users_count(struct store *st, size_t *n) {
  struct db_stmt *s;
  *n = 0;
  int r = store_prep(st, "SELECT count(*) FROM users", &s, NULL);
  if (r) return r;
  if (db_step(s) == DB_ROW)
    *n = (size_t)db_col_int64(s, 0);
  else
    r = MESH_E_DB;
  db_finalize(s);
  return r;
}

int users_each(struct store *st, users_cb cb, void *data) {
  struct db_stmt *s;
  int r =
      store_prep(st, "SELECT " USER_COLS " FROM users ORDER BY id", &s, NULL);
  if (r) return r;
  int rc;
  while ((rc = db_step(s)) == DB_ROW) {
    struct user u;
    user_from_row(s, &u);
    cb(&u, data);
  }
  r = rc == DB_DONE ? 0 : MESH_E_DB;
  db_finalize(s);
  return r;
}

int members_set(struct store *st, const char *group_id, const char *user_id,
                uint32_t rights) {
  struct db_stmt *s;
  const char *args[] = {group_id, user_id, NULL};
  int r = store_prep(
      st,
      "INSERT INTO members(group_id,user_id,rights) VALUES(?1,?2,?3) "
      "ON CONFLICT(group_id,user_id) DO UPDATE "
      "SET rights=excluded.rights",
      &s, args);
  if (r) return r;
  db_bind_int64(s, 3, (int64_t)rights);
  r = store_step(s, 0);
  db_finalize(s);
  return r;
}

int members_del(struct store *st, const char *group_id, const char *user_id) {
  const char *args[] = {group_id, user_id, NULL};
  return store_exec(st, "DELETE FROM members WHERE group_id=?1 AND user_id=?2",
                    args, 1);
}

uint32_t members_rights(struct store *st, const char *group_id,
                        const char *user_id) {
  struct db_stmt *s;
  const char *args[] = {group_id, user_id, NULL};
  uint32_t rights = 0;
  /* A failed query answers "no rights": this function grants access, so
   * every doubt denies it. */
  if (store_prep(st,
                 "SELECT rights FROM members WHERE group_id=?1 AND user_id=?2",
                 &s, args) != 0)
    return 0;
  if (db_step(s) == DB_ROW) rights = (uint32_t)db_col_int64(s, 0);
  db_finalize(s);
  return rights;
}

int members_each(struct store *st, const char *group_id, const char *user_id,
                 members_cb cb, void *data) {
  struct db_stmt *s;
  int r;
  if ((group_id == NULL) == (user_id == NULL)) return MESH_E_INVALID;
  const char *args[] = {group_id ? group_id : user_id, NULL};
  if (group_id)
    r = store_prep(st,
                   "SELECT m.group_id,m.user_id,u.name,m.rights FROM members m "
                   "JOIN users u ON u.id=m.user_id WHERE m.group_id=?1 "
                   "ORDER BY m.user_id",
                   &s, args);
  else
    r = store_prep(st,
                   "SELECT m.group_id,m.user_id,u.name,m.rights FROM members m "
                   "JOIN users u ON u.id=m.user_id WHERE m.user_id=?1 "
                   "ORDER BY m.group_id",
                   &s, args);
  if (r) return r;
  int rc;
  while ((rc = db_step(s)) == DB_ROW)
    cb(db_col_text(s, 0), db_col_text(s, 1), db_col_text(s, 2),
       (uint32_t)db_col_int64(s, 3), data);
  r = rc == DB_DONE ? 0 : MESH_E_DB;
  db_finalize(s);
  return r;
}

/* SHA-256 of the token text: the only form of a token the database ever
 * sees. A plain hash is enough (no salt, no stretching) because the token
 * carries 256 random bits; there is nothing to guess. */
static int token_hash(const char *token, uint8_t out[TOKEN_HASH_LEN]) {
  unsigned int n = 0;
  if (!EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL) ||
      n != TOKEN_HASH_LEN)
    return MESH_E_CRYPTO;
  return 0;
}

/* Runs a write statement with the token's hash bound to ?1. */
static int exec_token(struct store *st, const char *sql, const char *token) {
  uint8_t h[TOKEN_HASH_LEN];
  struct db_stmt *s;
  int r;
  if ((r = token_hash(token, h)) != 0 ||
      (r = store_prep(st, sql, &s, NULL)) != 0)
    return r;
  db_bind_blob(s, 1, h, sizeof h);
  r = store_step(s, 0);
  db_finalize(s);
  return r;
}

int sessions_create(struct store *st, const char *user_id, int64_t ttl_s,
                    const char *addr, char token[SESSION_TOKEN_LEN + 1]) {
  uint8_t raw[TOKEN_RAW], h[TOKEN_HASH_LEN];
  char b64[ENC_B64_LEN(TOKEN_RAW) + 1];
  const char *args[] = {user_id, NULL};
  struct db_stmt *s = NULL;
  int64_t now = (int64_t)time(NULL), expires;
  int r;
  token[0] = '\0';
  if ((r = rand_bytes(raw, sizeof raw)) != 0) goto out;
  /* base64url without padding: 32 bytes give 43 characters and one '='. */
  enc_b64(raw, sizeof raw, b64, 0);
  for (size_t i = 0; i < SESSION_TOKEN_LEN; i++)
    b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
  b64[SESSION_TOKEN_LEN] = '\0';
  if ((r = token_hash(b64, h)) != 0 ||
      (r = store_prep(
           st,
           "INSERT INTO sessions(token_hash,user_id,addr,created,expires)"
           " VALUES(?3,?1,?2,?4,?5)",
           &s, args)) != 0)
    goto out;
  /* Saturate rather than overflow for an absurd ttl. */
  expires = ttl_s > INT64_MAX - now ? INT64_MAX : now + ttl_s;
  db_bind_text(s, 2, addr);
  db_bind_blob(s, 3, h, sizeof h);
  db_bind_int64(s, 4, now);
  db_bind_int64(s, 5, expires);
  if ((r = store_step(s, 0)) != 0) goto out;
  memcpy(token, b64, SESSION_TOKEN_LEN + 1);
out:
  db_finalize(s);
  OPENSSL_cleanse(raw, sizeof raw);
  OPENSSL_cleanse(b64, sizeof b64);
  return r;
}

int sessions_lookup(struct store *st, const char *token, char **user_id) {
  uint8_t h[TOKEN_HASH_LEN];
  struct db_stmt *s;
  int r;
  *user_id = NULL;
  /* Anything that is not a token's length cannot match: skip the hash. */
  if (strnlen(token, SESSION_TOKEN_LEN + 1) != SESSION_TOKEN_LEN)
    return MESH_E_NOT_FOUND;
  if ((r = token_hash(token, h)) != 0 ||
      (r = store_prep(st,
                      "SELECT user_id FROM sessions WHERE token_hash=?1 "
                      "AND expires>?2",
                      &s, NULL)) != 0)
    return r;
  db_bind_blob(s, 1, h, sizeof h);
  db_bind_int64(s, 2, (int64_t)time(NULL));
  int rc = db_step(s);
  if (rc == DB_ROW) {
    *user_id = store_col_dup(s, 0);
    r = *user_id ? 0 : MESH_E_NOMEM;
  } else {
    r = rc == DB_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  db_finalize(s);
  return r;
}

/* Revoking is idempotent: a token that is unknown or already gone is
 * revoked, so both return 0 whether or not a row was deleted. */
int sessions_revoke(struct store *st, const char *token) {
  return exec_token(st, "DELETE FROM sessions WHERE token_hash=?1", token);
}

int sessions_revoke_user(struct store *st, const char *user_id) {
  const char *args[] = {user_id, NULL};
  return store_exec(st, "DELETE FROM sessions WHERE user_id=?1", args, 0);
}

int sessions_expire(struct store *st) {
  struct db_stmt *s;
  int r = store_prep(st, "DELETE FROM sessions WHERE expires<=?1", &s, NULL);
  if (r) return r;
  db_bind_int64(s, 1, (int64_t)time(NULL));
  r = store_step(s, 0);
  db_finalize(s);
  return r;
}

int users_totp_claim(struct store *st, const char *id, uint64_t step) {
  struct db_stmt *s;
  const char *args[] = {id, NULL};
  int r = store_prep(st,
                     "UPDATE users SET totp_last=?2 WHERE id=?1 AND "
                     "totp_last < ?2",
                     &s, args);
  if (r) return r;
  db_bind_int64(s, 2, (int64_t)step);
  r = store_step(s, MESH_E_AUTH);
  db_finalize(s);
  return r;
}
