#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "server/db.h"
#include "server/store.h"
#include "server/users.h"
#include "testutil.h"

/* Each test gets its own folder and database. */
struct fixture {
  char dir[256];
  struct store *st;
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  char path[512];
  if (!f) return -1;
  snprintf(f->dir, sizeof f->dir, "%s", tu_tmpdir());
  snprintf(path, sizeof path, "%s/meshd.db", f->dir);
  if (store_open(path, &f->st) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  store_close(f->st);
  tu_rmdir_r(f->dir);
  free(f);
  return 0;
}

/* Counts rows of a table, straight from SQL. */
static int rows(struct store *st, const char *table) {
  char sql[128];
  struct db_stmt *s;
  int n = -1;
  snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
  if (db_prepare(store_db(st), sql, &s) != 0) return -1;
  if (db_step(s) == DB_ROW) n = (int)db_col_int64(s, 0);
  db_finalize(s);
  return n;
}

static void ids(void **state) {
  (void)state;
  char id[USER_MAX_NAME + 7], name[USER_MAX_NAME + 2];
  assert_int_equal(user_id_of("Bob", id, sizeof id), 0);
  assert_string_equal(id, "user//bob");
  assert_int_equal(user_id_of("a.B_c-9", id, sizeof id), 0);
  assert_string_equal(id, "user//a.b_c-9");

  memset(name, 'x', USER_MAX_NAME);
  name[USER_MAX_NAME] = '\0';
  assert_int_equal(user_id_of(name, id, sizeof id), 0);
  assert_int_equal(strlen(id), USER_MAX_NAME + 6);
  name[USER_MAX_NAME] = 'x';
  name[USER_MAX_NAME + 1] = '\0';
  assert_int_equal(user_id_of(name, id, sizeof id), MESH_E_INVALID);

  static const char *const bad[] = {"",      "a b",   "a/b",  "a\tb", "a\nb",
                                    "a\x7f", "\x01",  "é",    "a:b",  "a,b",
                                    "a@b",   "user/", "a\\b", "a'b"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    id[0] = 'z';
    assert_int_equal(user_id_of(bad[i], id, sizeof id), MESH_E_INVALID);
    assert_string_equal(id, "");
  }
  /* The output must fit. */
  assert_int_equal(user_id_of("bob", id, 9), MESH_E_INVALID);
  assert_int_equal(user_id_of("bob", id, 10), 0);
}

struct seen_users {
  int n;
  char id[8][80];
  uint32_t siteadmin[8];
};

static void collect_user(const struct user *u, void *data) {
  struct seen_users *s = data;
  if (s->n < 8) {
    snprintf(s->id[s->n], sizeof s->id[0], "%s", u->id);
    s->siteadmin[s->n] = u->siteadmin;
  }
  s->n++;
}

static void users_crud(void **state) {
  struct fixture *f = *state;
  struct user u, g;
  char *h;
  size_t n;
  assert_int_equal(users_count(f->st, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(
      users_create(f->st, "Bob", "bob@example.com", "h1", SITE_ADMIN, &u), 0);
  assert_string_equal(u.id, "user//bob");
  assert_string_equal(u.name, "Bob");
  assert_string_equal(u.email, "bob@example.com");
  assert_null(u.realname);
  assert_int_equal(u.siteadmin, SITE_ADMIN);
  assert_true(u.created > 0);
  assert_int_equal(u.passchange, u.created);
  assert_int_equal(u.has_totp, 0);

  /* The id is taken whatever the case of the name. */
  assert_int_equal(users_create(f->st, "bob", NULL, "h2", 0, NULL),
                   MESH_E_EXISTS);
  assert_int_equal(users_create(f->st, "BOB", NULL, "h2", 0, &g),
                   MESH_E_EXISTS);
  assert_null(g.id);
  assert_int_equal(users_create(f->st, "bad name", NULL, "h", 0, NULL),
                   MESH_E_INVALID);
  assert_int_equal(users_create(f->st, "", NULL, "h", 0, NULL), MESH_E_INVALID);
  char email[USER_MAX_EMAIL + 2];
  memset(email, 'e', sizeof email - 1);
  email[sizeof email - 1] = '\0';
  assert_int_equal(users_create(f->st, "carol", email, "h", 0, NULL),
                   MESH_E_INVALID);
  email[USER_MAX_EMAIL] = '\0';
  assert_int_equal(users_create(f->st, "carol", email, "h3", 0, NULL), 0);
  assert_int_equal(users_create(f->st, "alice", NULL, "h4", 5, NULL), 0);
  assert_int_equal(users_count(f->st, &n), 0);
  assert_int_equal(n, 3);

  assert_int_equal(users_get(f->st, "user//bob", &g), 0);
  assert_string_equal(g.name, "Bob");
  user_cleanup(&g);
  assert_int_equal(users_get(f->st, "user//nobody", &g), MESH_E_NOT_FOUND);
  assert_null(g.id);
  /* Lookups are by id, not by name. */
  assert_int_equal(users_get(f->st, "Bob", &g), MESH_E_NOT_FOUND);

  assert_int_equal(users_get_hash(f->st, "user//bob", &h), 0);
  assert_string_equal(h, "h1");
  free(h);
  assert_int_equal(users_set_hash(f->st, "user//bob", "h9"), 0);
  assert_int_equal(users_get_hash(f->st, "user//bob", &h), 0);
  assert_string_equal(h, "h9");
  free(h);
  assert_int_equal(users_get_hash(f->st, "user//nobody", &h), MESH_E_NOT_FOUND);
  assert_null(h);
  assert_int_equal(users_set_hash(f->st, "user//nobody", "x"),
                   MESH_E_NOT_FOUND);

  /* Update writes email, realname and siteadmin, nothing else. */
  free(u.email);
  u.email = NULL;
  u.realname = strdup("Robert");
  u.siteadmin = SITE_MANAGE_USERS | SITE_LOCKED;
  free(u.name);
  u.name = strdup("Changed");
  assert_int_equal(users_update(f->st, &u), 0);
  assert_int_equal(users_get(f->st, "user//bob", &g), 0);
  assert_null(g.email);
  assert_string_equal(g.realname, "Robert");
  assert_string_equal(g.name, "Bob");
  assert_int_equal(g.siteadmin, SITE_MANAGE_USERS | SITE_LOCKED);
  user_cleanup(&g);
  u.email = strdup(email);
  email[USER_MAX_EMAIL] = 'e';
  free(u.realname);
  u.realname = strdup(email);
  assert_int_equal(users_update(f->st, &u), MESH_E_INVALID);
  user_cleanup(&u);
  u.id = strdup("user//nobody");
  assert_int_equal(users_update(f->st, &u), MESH_E_NOT_FOUND);
  user_cleanup(&u);

  struct seen_users s = {0};
  assert_int_equal(users_each(f->st, collect_user, &s), 0);
  assert_int_equal(s.n, 3);
  assert_string_equal(s.id[0], "user//alice");
  assert_string_equal(s.id[1], "user//bob");
  assert_string_equal(s.id[2], "user//carol");
  assert_int_equal(s.siteadmin[0], 5);

  assert_int_equal(users_delete(f->st, "user//carol"), 0);
  assert_int_equal(users_delete(f->st, "user//carol"), MESH_E_NOT_FOUND);
  assert_int_equal(users_count(f->st, &n), 0);
  assert_int_equal(n, 2);
}

struct seen_members {
  int n;
  char group[8][80], user[8][80], name[8][80];
  uint32_t rights[8];
};

static void collect_member(const char *group_id, const char *user_id,
                           const char *user_name, uint32_t rights, void *data) {
  struct seen_members *s = data;
  if (s->n < 8) {
    snprintf(s->group[s->n], sizeof s->group[0], "%s", group_id);
    snprintf(s->user[s->n], sizeof s->user[0], "%s", user_id);
    snprintf(s->name[s->n], sizeof s->name[0], "%s", user_name);
    s->rights[s->n] = rights;
  }
  s->n++;
}

static void members(void **state) {
  struct fixture *f = *state;
  struct store_group a, b;
  assert_int_equal(store_group_create(f->st, "A", NULL, NULL, NULL, &a), 0);
  assert_int_equal(store_group_create(f->st, "B", NULL, NULL, NULL, &b), 0);
  assert_int_equal(users_create(f->st, "Bob", NULL, "h", 0, NULL), 0);
  assert_int_equal(users_create(f->st, "Amy", NULL, "h", 0, NULL), 0);

  assert_int_equal(members_rights(f->st, a.id, "user//bob"), 0);
  assert_int_equal(members_set(f->st, a.id, "user//bob", 5), 0);
  assert_int_equal(members_set(f->st, a.id, "user//bob", MESH_RIGHT_ADMIN), 0);
  assert_int_equal(members_rights(f->st, a.id, "user//bob"), MESH_RIGHT_ADMIN);
  assert_int_equal(members_set(f->st, a.id, "user//amy", 4), 0);
  assert_int_equal(members_set(f->st, b.id, "user//bob", 1), 0);
  /* Neither an unknown user nor an unknown group can be a member. */
  assert_int_equal(members_set(f->st, a.id, "user//nobody", 1),
                   MESH_E_NOT_FOUND);
  assert_int_equal(members_set(f->st, "nogroup", "user//bob", 1),
                   MESH_E_NOT_FOUND);

  struct seen_members s = {0};
  assert_int_equal(members_each(f->st, a.id, NULL, collect_member, &s), 0);
  assert_int_equal(s.n, 2);
  assert_string_equal(s.user[0], "user//amy");
  assert_string_equal(s.name[0], "Amy");
  assert_int_equal(s.rights[0], 4);
  assert_string_equal(s.user[1], "user//bob");
  assert_string_equal(s.name[1], "Bob");
  assert_int_equal(s.rights[1], MESH_RIGHT_ADMIN);
  assert_string_equal(s.group[1], a.id);

  memset(&s, 0, sizeof s);
  assert_int_equal(members_each(f->st, NULL, "user//bob", collect_member, &s),
                   0);
  assert_int_equal(s.n, 2);
  assert_true(strcmp(s.group[0], s.group[1]) < 0);
  for (int i = 0; i < 2; i++) {
    assert_string_equal(s.user[i], "user//bob");
    assert_int_equal(s.rights[i],
                     strcmp(s.group[i], a.id) == 0 ? 0xFFFFFFFFu : 1u);
  }
  assert_int_equal(members_each(f->st, NULL, NULL, collect_member, &s),
                   MESH_E_INVALID);
  assert_int_equal(members_each(f->st, a.id, "user//bob", collect_member, &s),
                   MESH_E_INVALID);

  assert_int_equal(members_del(f->st, a.id, "user//amy"), 0);
  assert_int_equal(members_del(f->st, a.id, "user//amy"), MESH_E_NOT_FOUND);
  assert_int_equal(members_rights(f->st, a.id, "user//amy"), 0);

  /* Deleting a user takes its memberships and sessions with it. */
  char tok[SESSION_TOKEN_LEN + 1], tok2[SESSION_TOKEN_LEN + 1];
  assert_int_equal(sessions_create(f->st, "user//bob", 3600, "1.2.3.4", tok),
                   0);
  assert_int_equal(sessions_create(f->st, "user//amy", 3600, NULL, tok2), 0);
  assert_int_equal(rows(f->st, "members"), 2);
  assert_int_equal(rows(f->st, "sessions"), 2);
  assert_int_equal(users_delete(f->st, "user//bob"), 0);
  assert_int_equal(rows(f->st, "members"), 0);
  assert_int_equal(rows(f->st, "sessions"), 1);
  char *uid;
  assert_int_equal(sessions_lookup(f->st, tok, &uid), MESH_E_NOT_FOUND);
  assert_int_equal(sessions_lookup(f->st, tok2, &uid), 0);
  assert_string_equal(uid, "user//amy");
  free(uid);
  memset(&s, 0, sizeof s);
  assert_int_equal(members_each(f->st, NULL, "user//bob", collect_member, &s),
                   0);
  assert_int_equal(s.n, 0);
  store_group_cleanup(&a);
  store_group_cleanup(&b);
}

static void sessions(void **state) {
  struct fixture *f = *state;
  char tok[SESSION_TOKEN_LEN + 1], tok2[SESSION_TOKEN_LEN + 1], *uid;
  assert_int_equal(users_create(f->st, "bob", NULL, "h", 0, NULL), 0);
  assert_int_equal(users_create(f->st, "amy", NULL, "h", 0, NULL), 0);

  assert_int_equal(sessions_create(f->st, "user//bob", 3600, "::1", tok), 0);
  assert_int_equal(strlen(tok), SESSION_TOKEN_LEN);
  for (size_t i = 0; i < SESSION_TOKEN_LEN; i++)
    assert_non_null(strchr(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        tok[i]));
  assert_int_equal(sessions_create(f->st, "user//bob", 3600, NULL, tok2), 0);
  assert_string_not_equal(tok, tok2);
  assert_int_equal(sessions_lookup(f->st, tok, &uid), 0);
  assert_string_equal(uid, "user//bob");
  free(uid);

  /* The database holds the token's SHA-256, never the token. */
  struct db_stmt *s;
  size_t n;
  uint8_t want[32];
  unsigned int wn;
  assert_int_equal(EVP_Digest(tok, strlen(tok), want, &wn, EVP_sha256(), NULL),
                   1);
  assert_int_equal(db_prepare(store_db(f->st),
                              "SELECT token_hash,addr FROM sessions "
                              "WHERE user_id='user//bob' ORDER BY addr IS NULL",
                              &s),
                   0);
  assert_int_equal(db_step(s), DB_ROW);
  const void *hash = db_col_blob(s, 0, &n);
  assert_int_equal(n, 32);
  assert_memory_equal(hash, want, 32);
  assert_string_equal(db_col_text(s, 1), "::1");
  db_finalize(s);
  /* (SQLite's own functions: this test runs on the SQLite engine.) */
  assert_int_equal(db_prepare(store_db(f->st),
                              "SELECT count(*) FROM sessions WHERE "
                              "instr(CAST(token_hash AS TEXT),?1) OR "
                              "token_hash=CAST(?1 AS BLOB)",
                              &s),
                   0);
  db_bind_text(s, 1, tok);
  assert_int_equal(db_step(s), DB_ROW);
  assert_int_equal(db_col_int64(s, 0), 0);
  db_finalize(s);

  /* Unknown, malformed and near-miss tokens open nothing. */
  char bad[SESSION_TOKEN_LEN + 2];
  memcpy(bad, tok, sizeof tok);
  bad[0] = bad[0] == 'A' ? 'B' : 'A';
  assert_int_equal(sessions_lookup(f->st, bad, &uid), MESH_E_NOT_FOUND);
  assert_null(uid);
  memcpy(bad, tok, sizeof tok);
  bad[SESSION_TOKEN_LEN - 1] = '\0';
  assert_int_equal(sessions_lookup(f->st, bad, &uid), MESH_E_NOT_FOUND);
  memcpy(bad, tok, SESSION_TOKEN_LEN);
  bad[SESSION_TOKEN_LEN] = 'A';
  bad[SESSION_TOKEN_LEN + 1] = '\0';
  assert_int_equal(sessions_lookup(f->st, bad, &uid), MESH_E_NOT_FOUND);
  assert_int_equal(sessions_lookup(f->st, "", &uid), MESH_E_NOT_FOUND);

  /* A session for an unknown user cannot be made. */
  assert_int_equal(sessions_create(f->st, "user//nobody", 60, NULL, bad),
                   MESH_E_NOT_FOUND);
  assert_string_equal(bad, "");

  /* A ttl of 0 or less is born expired; sessions_expire removes it. */
  char dead[SESSION_TOKEN_LEN + 1], dead2[SESSION_TOKEN_LEN + 1];
  assert_int_equal(sessions_create(f->st, "user//amy", 0, NULL, dead), 0);
  assert_int_equal(sessions_create(f->st, "user//amy", -10, NULL, dead2), 0);
  assert_int_equal(sessions_lookup(f->st, dead, &uid), MESH_E_NOT_FOUND);
  assert_int_equal(sessions_lookup(f->st, dead2, &uid), MESH_E_NOT_FOUND);
  /* A huge ttl saturates instead of wrapping into the past. */
  char forever[SESSION_TOKEN_LEN + 1];
  assert_int_equal(
      sessions_create(f->st, "user//amy", INT64_MAX, NULL, forever), 0);
  assert_int_equal(sessions_lookup(f->st, forever, &uid), 0);
  free(uid);
  assert_int_equal(rows(f->st, "sessions"), 5);
  assert_int_equal(sessions_expire(f->st), 0);
  assert_int_equal(rows(f->st, "sessions"), 3);

  assert_int_equal(sessions_revoke(f->st, tok), 0);
  assert_int_equal(sessions_lookup(f->st, tok, &uid), MESH_E_NOT_FOUND);
  assert_int_equal(sessions_revoke(f->st, tok), 0); /* idempotent */
  assert_int_equal(sessions_lookup(f->st, tok2, &uid), 0);
  free(uid);
  assert_int_equal(sessions_revoke_user(f->st, "user//bob"), 0);
  assert_int_equal(sessions_lookup(f->st, tok2, &uid), MESH_E_NOT_FOUND);
  assert_int_equal(sessions_lookup(f->st, forever, &uid), 0);
  assert_string_equal(uid, "user//amy");
  free(uid);
}

/* The second factor: secret and recovery codes stored, one code used
 * once, everything gone on clear and on delete. */
static void second_factor(void **state) {
  struct fixture *f = *state;
  struct user u;
  uint8_t key[TOTP_SECRET_LEN], got[TOTP_SECRET_LEN];
  char codes[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1], lower[16];
  for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(i + 1);
  assert_int_equal(users_create(f->st, "Ann", NULL, "h", 0, &u), 0);
  assert_int_equal(u.has_totp, 0);
  user_cleanup(&u);
  assert_int_equal(users_get_totp(f->st, "user//ann", got), MESH_E_NOT_FOUND);
  assert_int_equal(users_clear_totp(f->st, "user//ann"), MESH_E_NOT_FOUND);
  assert_int_equal(users_set_totp(f->st, "user//nobody", key, codes),
                   MESH_E_NOT_FOUND);
  assert_int_equal(users_set_totp(f->st, "user//ann", key, codes), 0);
  assert_int_equal(rows(f->st, "recovery_codes"), USERS_RECOVERY_COUNT);
  assert_int_equal(users_get(f->st, "user//ann", &u), 0);
  assert_int_equal(u.has_totp, 1);
  user_cleanup(&u);
  assert_int_equal(users_get_totp(f->st, "user//ann", got), 0);
  assert_memory_equal(got, key, sizeof key);
  for (int i = 0; i < USERS_RECOVERY_COUNT; i++)
    assert_int_equal(strlen(codes[i]), USERS_RECOVERY_LEN);
  assert_string_not_equal(codes[0], codes[1]);
  /* Lower case is accepted; each code works once. */
  for (size_t i = 0; i <= USERS_RECOVERY_LEN; i++)
    lower[i] = (char)((codes[0][i] >= 'A' && codes[0][i] <= 'Z')
                          ? codes[0][i] - 'A' + 'a'
                          : codes[0][i]);
  assert_int_equal(users_use_recovery(f->st, "user//ann", lower), 0);
  assert_int_equal(users_use_recovery(f->st, "user//ann", codes[0]),
                   MESH_E_AUTH);
  assert_int_equal(users_use_recovery(f->st, "user//ann", "AAAAAAAAAA"),
                   MESH_E_AUTH);
  assert_int_equal(users_use_recovery(f->st, "user//ann", "short"),
                   MESH_E_AUTH);
  assert_int_equal(rows(f->st, "recovery_codes"), USERS_RECOVERY_COUNT - 1);
  assert_int_equal(users_clear_totp(f->st, "user//ann"), 0);
  assert_int_equal(rows(f->st, "recovery_codes"), 0);
  assert_int_equal(users_use_recovery(f->st, "user//ann", codes[1]),
                   MESH_E_AUTH);
  assert_int_equal(users_get_totp(f->st, "user//ann", got), MESH_E_NOT_FOUND);
  assert_int_equal(users_set_totp(f->st, "user//ann", key, codes), 0);
  assert_int_equal(users_delete(f->st, "user//ann"), 0);
  assert_int_equal(rows(f->st, "recovery_codes"), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ids),
      cmocka_unit_test_setup_teardown(users_crud, setup, teardown),
      cmocka_unit_test_setup_teardown(members, setup, teardown),
      cmocka_unit_test_setup_teardown(sessions, setup, teardown),
      cmocka_unit_test_setup_teardown(second_factor, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
