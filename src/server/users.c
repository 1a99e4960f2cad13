/*
 * users.c - accounts, memberships and sessions over the store's SQLite
 * handle (see users.h; the tables are in store.c's schema).
 *
 * Every function prepares one statement, binds its arguments, steps it and
 * finalizes it before returning, so no statement outlives a call and the
 * callbacks of the _each functions may call back into this module.
 *
 * Deleting a user relies on the schema's ON DELETE CASCADE from members
 * and sessions to users; store_open() turns foreign keys on for its
 * connection (PRAGMA foreign_keys is per connection), and the unit tests
 * check that the cascade happens.
 */
#include "users.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/rand.h"

#define ID_PREFIX "user//"
#define ID_PREFIX_LEN 6
#define TOKEN_RAW 32
#define TOKEN_HASH_LEN 32 /* SHA-256 */

static char *dup_col(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? strdup((const char *)t) : NULL;
}

/* Prepares sql and binds the NULL-terminated list of text arguments to
 * ?1, ?2, ... (SQLITE_STATIC: the arguments outlive the statement). */
static int prep(struct store *st, const char *sql, sqlite3_stmt **s,
                const char *const *args) {
  *s = NULL;
  if (sqlite3_prepare_v2(store_db(st), sql, -1, s, NULL) != SQLITE_OK)
    return MESH_E_DB;
  for (int i = 0; args && args[i]; i++)
    sqlite3_bind_text(*s, i + 1, args[i], -1, SQLITE_STATIC);
  return 0;
}

/* Maps the result of stepping a write statement to an error code. A
 * primary key clash means the row exists; a foreign key failure means the
 * user or group it names does not. */
static int step_done(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE) return 0;
  switch (sqlite3_extended_errcode(sqlite3_db_handle(s))) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_UNIQUE:
      return MESH_E_EXISTS;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      return MESH_E_NOT_FOUND;
    default:
      return MESH_E_DB;
  }
}

/* Runs a write statement with text arguments; with must_change set, a
 * statement that touched no row is MESH_E_NOT_FOUND. */
static int exec_args(struct store *st, const char *sql, const char *const *args,
                     int must_change) {
  sqlite3_stmt *s;
  int r = prep(st, sql, &s, args);
  if (r == 0) r = step_done(s);
  if (r == 0 && must_change && sqlite3_changes(store_db(st)) == 0)
    r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  return r;
}

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
  sqlite3_stmt *s;
  int r;
  if (out) memset(out, 0, sizeof *out);
  if ((r = user_id_of(name, id, sizeof id)) != 0 ||
      (r = check_opt(email, USER_MAX_EMAIL)) != 0)
    return r;
  if (!hash || !hash[0]) return MESH_E_INVALID;
  const char *args[] = {id, name, hash, NULL};
  if ((r = prep(st,
                "INSERT INTO users(id,name,hash,email,siteadmin,created,"
                "passchange) VALUES(?1,?2,?3,?4,?5,?6,?6)",
                &s, args)) != 0)
    return r;
  if (email) sqlite3_bind_text(s, 4, email, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 5, (sqlite3_int64)siteadmin);
  sqlite3_bind_int64(s, 6, (sqlite3_int64)time(NULL));
  r = step_done(s);
  sqlite3_finalize(s);
  if (r == 0 && out) r = users_get(st, id, out);
  return r;
}

/* The columns users_get and users_each read, in this order. */
#define USER_COLS                                        \
  "id,name,email,realname,siteadmin,created,passchange," \
  "totp_secret IS NOT NULL"

/* Fills u with pointers borrowed from the current row of s: valid until
 * the next step or finalize. */
static void user_from_row(sqlite3_stmt *s, struct user *u) {
  u->id = (char *)sqlite3_column_text(s, 0);
  u->name = (char *)sqlite3_column_text(s, 1);
  u->email = (char *)sqlite3_column_text(s, 2);
  u->realname = (char *)sqlite3_column_text(s, 3);
  u->siteadmin = (uint32_t)sqlite3_column_int64(s, 4);
  u->created = sqlite3_column_int64(s, 5);
  u->passchange = sqlite3_column_int64(s, 6);
  u->has_totp = sqlite3_column_int(s, 7);
}

int users_get(struct store *st, const char *id, struct user *out) {
  sqlite3_stmt *s;
  const char *args[] = {id, NULL};
  memset(out, 0, sizeof *out);
  int r = prep(st, "SELECT " USER_COLS " FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    struct user b;
    user_from_row(s, &b);
    *out = b;
    out->id = dup_col(s, 0);
    out->name = dup_col(s, 1);
    out->email = dup_col(s, 2);
    out->realname = dup_col(s, 3);
    if (!out->id || !out->name || (b.email && !out->email) ||
        (b.realname && !out->realname)) {
      user_cleanup(out);
      r = MESH_E_NOMEM;
    }
  } else {
    r = rc == SQLITE_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  sqlite3_finalize(s);
  return r;
}

int users_get_hash(struct store *st, const char *id, char **hash) {
  sqlite3_stmt *s;
  const char *args[] = {id, NULL};
  *hash = NULL;
  int r = prep(st, "SELECT hash FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *hash = dup_col(s, 0);
    r = *hash ? 0 : MESH_E_NOMEM;
  } else {
    r = rc == SQLITE_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  sqlite3_finalize(s);
  return r;
}

int users_set_hash(struct store *st, const char *id, const char *hash) {
  sqlite3_stmt *s;
  if (!hash || !hash[0]) return MESH_E_INVALID;
  const char *args[] = {id, hash, NULL};
  int r =
      prep(st, "UPDATE users SET hash=?2, passchange=?3 WHERE id=?1", &s, args);
  if (r) return r;
  sqlite3_bind_int64(s, 3, (sqlite3_int64)time(NULL));
  r = step_done(s);
  if (r == 0 && sqlite3_changes(store_db(st)) == 0) r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  return r;
}

int users_update(struct store *st, const struct user *u) {
  sqlite3_stmt *s;
  int r;
  /* users.h names no limit of its own for the real name; it gets the
   * e-mail's, which is generous for a display string. */
  if ((r = check_opt(u->email, USER_MAX_EMAIL)) != 0 ||
      (r = check_opt(u->realname, USER_MAX_EMAIL)) != 0)
    return r;
  const char *args[] = {u->id, NULL};
  if ((r = prep(st,
                "UPDATE users SET email=?2, realname=?3, siteadmin=?4 "
                "WHERE id=?1",
                &s, args)) != 0)
    return r;
  if (u->email) sqlite3_bind_text(s, 2, u->email, -1, SQLITE_STATIC);
  if (u->realname) sqlite3_bind_text(s, 3, u->realname, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, (sqlite3_int64)u->siteadmin);
  r = step_done(s);
  if (r == 0 && sqlite3_changes(store_db(st)) == 0) r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  return r;
}

int users_delete(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  /* members and sessions go with the row (ON DELETE CASCADE). */
  return exec_args(st, "DELETE FROM users WHERE id=?1", args, 1);
}

/* ------------------------------------------------------ second factor */

int users_get_totp(struct store *st, const char *id,
                   uint8_t key[TOTP_SECRET_LEN]) {
  sqlite3_stmt *s;
  const char *args[] = {id, NULL};
  int r = prep(st, "SELECT totp_secret FROM users WHERE id=?1", &s, args);
  if (r) return r;
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW && sqlite3_column_bytes(s, 0) == TOTP_SECRET_LEN) {
    memcpy(key, sqlite3_column_blob(s, 0), TOTP_SECRET_LEN);
  } else {
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  sqlite3_finalize(s);
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

static int exec_sql(struct store *st, const char *sql) {
  return sqlite3_exec(store_db(st), sql, NULL, NULL, NULL) == SQLITE_OK
             ? 0
             : MESH_E_DB;
}

int users_set_totp(struct store *st, const char *id,
                   const uint8_t key[TOTP_SECRET_LEN],
                   char codes[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1]) {
  sqlite3_stmt *s = NULL;
  const char *args[] = {id, NULL};
  uint8_t raw[USERS_RECOVERY_LEN * 5 / 8 + 1], h[32];
  int r;
  if ((r = exec_sql(st, "BEGIN")) != 0) return r;
  if ((r = prep(st, "UPDATE users SET totp_secret=?2, totp_last=0 WHERE id=?1",
                &s, args)) != 0)
    goto out;
  sqlite3_bind_blob(s, 2, key, TOTP_SECRET_LEN, SQLITE_STATIC);
  r = step_done(s);
  if (r == 0 && sqlite3_changes(store_db(st)) == 0) r = MESH_E_NOT_FOUND;
  sqlite3_finalize(s);
  s = NULL;
  if (r) goto out;
  if ((r = exec_args(st, "DELETE FROM recovery_codes WHERE user_id=?1", args,
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
        (r = prep(st, "INSERT INTO recovery_codes(user_id,hash) VALUES(?1,?2)",
                  &s, args)) != 0)
      goto out;
    sqlite3_bind_blob(s, 2, h, sizeof h, SQLITE_STATIC);
    r = step_done(s);
    sqlite3_finalize(s);
    s = NULL;
    if (r) goto out;
  }
out:
  sqlite3_finalize(s);
  OPENSSL_cleanse(raw, sizeof raw);
  if (r == 0) r = exec_sql(st, "COMMIT");
  if (r != 0) {
    exec_sql(st, "ROLLBACK");
    OPENSSL_cleanse(codes,
                    sizeof(char[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1]));
  }
  return r;
}

int users_clear_totp(struct store *st, const char *id) {
  const char *args[] = {id, NULL};
  int r = exec_args(st,
                    "UPDATE users SET totp_secret=NULL "
                    "WHERE id=?1 AND totp_secret IS NOT NULL",
                    args, 1);
  if (r == 0)
    r = exec_args(st, "DELETE FROM recovery_codes WHERE user_id=?1", args, 0);
  return r;
}

int users_use_recovery(struct store *st, const char *id, const char *code) {
  sqlite3_stmt *s;
  uint8_t h[32];
  const char *args[] = {id, NULL};
  if (recovery_hash(code, h) != 0) return MESH_E_AUTH;
  int r = prep(st, "DELETE FROM recovery_codes WHERE user_id=?1 AND hash=?2",
               &s, args);
  if (r) return r;
  sqlite3_bind_blob(s, 2, h, sizeof h, SQLITE_STATIC);
  r = step_done(s);
  if (r == 0 && sqlite3_changes(store_db(st)) == 0) r = MESH_E_AUTH;
  sqlite3_finalize(s);
  return r;
}

int users_count(struct store *st, size_t *n) {
  sqlite3_stmt *s;
  *n = 0;
  int r = prep(st, "SELECT count(*) FROM users", &s, NULL);
  if (r) return r;
  if (sqlite3_step(s) == SQLITE_ROW)
    *n = (size_t)sqlite3_column_int64(s, 0);
  else
    r = MESH_E_DB;
  sqlite3_finalize(s);
  return r;
}

int users_each(struct store *st, users_cb cb, void *data) {
  sqlite3_stmt *s;
  int r = prep(st, "SELECT " USER_COLS " FROM users ORDER BY id", &s, NULL);
  if (r) return r;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    struct user u;
    user_from_row(s, &u);
    cb(&u, data);
  }
  r = rc == SQLITE_DONE ? 0 : MESH_E_DB;
  sqlite3_finalize(s);
  return r;
}

int members_set(struct store *st, const char *group_id, const char *user_id,
                uint32_t rights) {
  sqlite3_stmt *s;
  const char *args[] = {group_id, user_id, NULL};
  int r = prep(st,
               "INSERT INTO members(group_id,user_id,rights) VALUES(?1,?2,?3) "
               "ON CONFLICT(group_id,user_id) DO UPDATE "
               "SET rights=excluded.rights",
               &s, args);
  if (r) return r;
  sqlite3_bind_int64(s, 3, (sqlite3_int64)rights);
  r = step_done(s);
  sqlite3_finalize(s);
  return r;
}

int members_del(struct store *st, const char *group_id, const char *user_id) {
  const char *args[] = {group_id, user_id, NULL};
  return exec_args(st, "DELETE FROM members WHERE group_id=?1 AND user_id=?2",
                   args, 1);
}

uint32_t members_rights(struct store *st, const char *group_id,
                        const char *user_id) {
  sqlite3_stmt *s;
  const char *args[] = {group_id, user_id, NULL};
  uint32_t rights = 0;
  /* A failed query answers "no rights": this function grants access, so
   * every doubt denies it. */
  if (prep(st, "SELECT rights FROM members WHERE group_id=?1 AND user_id=?2",
           &s, args) != 0)
    return 0;
  if (sqlite3_step(s) == SQLITE_ROW)
    rights = (uint32_t)sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return rights;
}

int members_each(struct store *st, const char *group_id, const char *user_id,
                 members_cb cb, void *data) {
  sqlite3_stmt *s;
  int r;
  if ((group_id == NULL) == (user_id == NULL)) return MESH_E_INVALID;
  const char *args[] = {group_id ? group_id : user_id, NULL};
  if (group_id)
    r = prep(st,
             "SELECT m.group_id,m.user_id,u.name,m.rights FROM members m "
             "JOIN users u ON u.id=m.user_id WHERE m.group_id=?1 "
             "ORDER BY m.user_id",
             &s, args);
  else
    r = prep(st,
             "SELECT m.group_id,m.user_id,u.name,m.rights FROM members m "
             "JOIN users u ON u.id=m.user_id WHERE m.user_id=?1 "
             "ORDER BY m.group_id",
             &s, args);
  if (r) return r;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW)
    cb((const char *)sqlite3_column_text(s, 0),
       (const char *)sqlite3_column_text(s, 1),
       (const char *)sqlite3_column_text(s, 2),
       (uint32_t)sqlite3_column_int64(s, 3), data);
  r = rc == SQLITE_DONE ? 0 : MESH_E_DB;
  sqlite3_finalize(s);
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
  sqlite3_stmt *s;
  int r;
  if ((r = token_hash(token, h)) != 0 || (r = prep(st, sql, &s, NULL)) != 0)
    return r;
  sqlite3_bind_blob(s, 1, h, sizeof h, SQLITE_STATIC);
  r = step_done(s);
  sqlite3_finalize(s);
  return r;
}

int sessions_create(struct store *st, const char *user_id, int64_t ttl_s,
                    const char *addr, char token[SESSION_TOKEN_LEN + 1]) {
  uint8_t raw[TOKEN_RAW], h[TOKEN_HASH_LEN];
  char b64[ENC_B64_LEN(TOKEN_RAW) + 1];
  const char *args[] = {user_id, NULL};
  sqlite3_stmt *s = NULL;
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
      (r = prep(st,
                "INSERT INTO sessions(token_hash,user_id,addr,created,expires)"
                " VALUES(?3,?1,?2,?4,?5)",
                &s, args)) != 0)
    goto out;
  /* Saturate rather than overflow for an absurd ttl. */
  expires = ttl_s > INT64_MAX - now ? INT64_MAX : now + ttl_s;
  if (addr) sqlite3_bind_text(s, 2, addr, -1, SQLITE_STATIC);
  sqlite3_bind_blob(s, 3, h, sizeof h, SQLITE_STATIC);
  sqlite3_bind_int64(s, 4, now);
  sqlite3_bind_int64(s, 5, expires);
  if ((r = step_done(s)) != 0) goto out;
  memcpy(token, b64, SESSION_TOKEN_LEN + 1);
out:
  sqlite3_finalize(s);
  OPENSSL_cleanse(raw, sizeof raw);
  OPENSSL_cleanse(b64, sizeof b64);
  return r;
}

int sessions_lookup(struct store *st, const char *token, char **user_id) {
  uint8_t h[TOKEN_HASH_LEN];
  sqlite3_stmt *s;
  int r;
  *user_id = NULL;
  /* Anything that is not a token's length cannot match: skip the hash. */
  if (strnlen(token, SESSION_TOKEN_LEN + 1) != SESSION_TOKEN_LEN)
    return MESH_E_NOT_FOUND;
  if ((r = token_hash(token, h)) != 0 ||
      (r = prep(st,
                "SELECT user_id FROM sessions WHERE token_hash=?1 "
                "AND expires>?2",
                &s, NULL)) != 0)
    return r;
  sqlite3_bind_blob(s, 1, h, sizeof h, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)time(NULL));
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    *user_id = dup_col(s, 0);
    r = *user_id ? 0 : MESH_E_NOMEM;
  } else {
    r = rc == SQLITE_DONE ? MESH_E_NOT_FOUND : MESH_E_DB;
  }
  sqlite3_finalize(s);
  return r;
}

/* Revoking is idempotent: a token that is unknown or already gone is
 * revoked, so both return 0 whether or not a row was deleted. */
int sessions_revoke(struct store *st, const char *token) {
  return exec_token(st, "DELETE FROM sessions WHERE token_hash=?1", token);
}

int sessions_revoke_user(struct store *st, const char *user_id) {
  const char *args[] = {user_id, NULL};
  return exec_args(st, "DELETE FROM sessions WHERE user_id=?1", args, 0);
}

int sessions_expire(struct store *st) {
  sqlite3_stmt *s;
  int r = prep(st, "DELETE FROM sessions WHERE expires<=?1", &s, NULL);
  if (r) return r;
  sqlite3_bind_int64(s, 1, (sqlite3_int64)time(NULL));
  r = step_done(s);
  sqlite3_finalize(s);
  return r;
}

int users_totp_claim(struct store *st, const char *id, uint64_t step) {
  sqlite3 *db = store_db(st);
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db,
                         "UPDATE users SET totp_last=?2 WHERE id=?1 AND "
                         "totp_last < ?2",
                         -1, &s, NULL) != SQLITE_OK)
    return MESH_E_DB;
  sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(s, 2, (sqlite3_int64)step);
  int r = sqlite3_step(s) == SQLITE_DONE ? 0 : MESH_E_DB;
  sqlite3_finalize(s);
  if (r == 0 && sqlite3_changes(db) != 1) r = MESH_E_AUTH;
  return r;
}
