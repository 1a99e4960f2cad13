#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/enc.h"
#include "base/err.h"
#include "server/auth.h"
#include "server/store.h"
#include "server/users.h"
#include "testutil.h"

/* auth.c's internals: the key count, for the size bound, and the hash
 * unknown users are checked against. */
size_t auth__throttle_len(const struct auth_throttle *t);
const char *auth__dummy_hash(void);

/* Every argon2 call costs about 100 ms: the file hashes twice in all. */

static void hash_verify(void **state) {
  (void)state;
  char *h, *h2;
  assert_int_equal(auth_hash_password("correct horse", &h), 0);
  assert_non_null(strstr(h, "$argon2id$v=19$m=65536,t=3,p=1$"));
  assert_int_equal(auth_verify_password(h, "correct horse"), 0);
  assert_int_equal(auth_verify_password(h, "correct horsf"), MESH_E_AUTH);
  /* Garbage in place of a hash is a failure, not a crash. */
  assert_int_equal(auth_verify_password("not a hash", "correct horse"),
                   MESH_E_AUTH);
  free(h);

  /* Outside 8..256 bytes nothing is hashed. */
  char big[AUTH_MAX_PASSWORD + 2];
  memset(big, 'p', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  h2 = (char *)1;
  assert_int_equal(auth_hash_password(big, &h2), MESH_E_INVALID);
  assert_null(h2);
  assert_int_equal(auth_hash_password("1234567", &h2), MESH_E_INVALID);
  assert_null(h2);
  assert_int_equal(auth_verify_password("x", big), MESH_E_AUTH);

  /* The dummy must decode and cost a full verification (a mismatch, not a
   * decoding failure), with the same parameters as a real hash. */
  const char *d = auth__dummy_hash();
  assert_non_null(strstr(d, "$argon2id$v=19$m=65536,t=3,p=1$"));
  assert_int_equal(argon2id_verify(d, "correct horse", 13),
                   ARGON2_VERIFY_MISMATCH);
}

struct check_result {
  int calls, status;
  char user_id[80];
};

static void on_check(int status, const char *user_id, void *data) {
  struct check_result *c = data;
  c->calls++;
  c->status = status;
  snprintf(c->user_id, sizeof c->user_id, "%s", user_id ? user_id : "");
}

static void check_on_loop(void **state) {
  (void)state;
  char dir[256], path[512], *h;
  struct store *st;
  uv_loop_t loop;
  snprintf(dir, sizeof dir, "%s", tu_tmpdir());
  snprintf(path, sizeof path, "%s/meshd.db", dir);
  assert_int_equal(store_open(path, &st), 0);
  assert_int_equal(auth_hash_password("s3cret-pass", &h), 0);
  assert_int_equal(users_create(st, "Bob", NULL, h, 0, NULL), 0);
  free(h);
  assert_int_equal(uv_loop_init(&loop), 0);

  /* All four in flight at once: each answers exactly once. */
  struct check_result right = {0}, wrong = {0}, unknown = {0}, invalid = {0};
  char pass[] = "s3cret-pass";
  assert_int_equal(
      auth_check_password(&loop, st, "BOB", pass, on_check, &right), 0);
  /* The password was copied: the caller may wipe its own at once. */
  memset(pass, 0, sizeof pass);
  assert_int_equal(
      auth_check_password(&loop, st, "bob", "s3cret-pasS", on_check, &wrong),
      0);
  assert_int_equal(auth_check_password(&loop, st, "carol", "s3cret-pass",
                                       on_check, &unknown),
                   0);
  assert_int_equal(auth_check_password(&loop, st, "no such/name", "s3cret-pass",
                                       on_check, &invalid),
                   0);
  assert_int_equal(right.calls + wrong.calls + unknown.calls, 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);

  assert_int_equal(right.calls, 1);
  assert_int_equal(right.status, 0);
  assert_string_equal(right.user_id, "user//bob");
  assert_int_equal(wrong.calls, 1);
  assert_int_equal(wrong.status, MESH_E_AUTH);
  assert_string_equal(wrong.user_id, "");
  assert_int_equal(unknown.calls, 1);
  assert_int_equal(unknown.status, MESH_E_AUTH);
  assert_string_equal(unknown.user_id, "");
  assert_int_equal(invalid.calls, 1);
  assert_int_equal(invalid.status, MESH_E_AUTH);

  assert_int_equal(uv_loop_close(&loop), 0);
  store_close(st);
  tu_rmdir_r(dir);
}

static void throttle(void **state) {
  (void)state;
  struct auth_throttle *t = auth_throttle_new();
  const int64_t t0 = 1000000;
  assert_non_null(t);

  /* Four failures leave the account open; the fifth locks it. */
  for (int i = 0; i < AUTH_THROTTLE_FAILS - 1; i++) {
    assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.1", t0 + i), 0);
    auth_throttle_failed(t, "bob", "10.0.0.1", t0 + i);
  }
  assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.1", t0 + 5), 0);
  auth_throttle_failed(t, "Bob", "10.0.0.9", t0 + 5);
  /* The account is locked from any address, under any case of the name
   * and under its id. */
  assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.7", t0 + 5),
                   MESH_E_THROTTLED);
  assert_int_equal(auth_throttle_check(t, "BOB", NULL, t0 + 6),
                   MESH_E_THROTTLED);
  assert_int_equal(auth_throttle_check(t, "user//bob", NULL, t0 + 6),
                   MESH_E_THROTTLED);
  /* Another account from another address is still allowed. */
  assert_int_equal(auth_throttle_check(t, "amy", "10.0.0.2", t0 + 6), 0);
  /* The lock ends AUTH_THROTTLE_LOCK_S after the fifth failure. */
  int64_t end = t0 + 5 + AUTH_THROTTLE_LOCK_S;
  assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.7", end - 1),
                   MESH_E_THROTTLED);
  assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.7", end), 0);
  /* After the lock the count starts again from zero. */
  auth_throttle_failed(t, "bob", "10.0.0.7", end);
  assert_int_equal(auth_throttle_check(t, "bob", "10.0.0.8", end), 0);

  /* Failures spread beyond the window never add up to a lock. */
  for (int i = 0; i < 3 * AUTH_THROTTLE_FAILS; i++) {
    int64_t now = t0 + (int64_t)i * (AUTH_THROTTLE_WINDOW_S / 2 + 1);
    auth_throttle_failed(t, "slow", NULL, now);
    assert_int_equal(auth_throttle_check(t, "slow", NULL, now), 0);
  }

  /* A success clears the account's count but not the address's. */
  for (int i = 0; i < AUTH_THROTTLE_FAILS - 1; i++)
    auth_throttle_failed(t, "dan", "10.0.0.3", t0);
  auth_throttle_succeeded(t, "dan", t0);
  auth_throttle_failed(t, "dan", "10.0.0.4", t0);
  assert_int_equal(auth_throttle_check(t, "dan", "10.0.0.4", t0), 0);
  auth_throttle_failed(t, "eve", "10.0.0.3", t0);
  assert_int_equal(auth_throttle_check(t, "zed", "10.0.0.3", t0),
                   MESH_E_THROTTLED);

  /* An address is locked whichever names it tries; invalid names still
   * count against it. */
  char name[16];
  for (int i = 0; i < AUTH_THROTTLE_FAILS; i++) {
    snprintf(name, sizeof name, "u%d", i);
    auth_throttle_failed(t, i % 2 ? name : "not a name", "2001:db8::1", t0);
  }
  assert_int_equal(auth_throttle_check(t, "fresh", "2001:db8::1", t0),
                   MESH_E_THROTTLED);
  assert_int_equal(auth_throttle_check(t, "fresh", "2001:db8::2", t0), 0);
  assert_int_equal(
      auth_throttle_check(t, "fresh", "2001:db8::1", t0 + AUTH_THROTTLE_LOCK_S),
      0);
  /* A success does not clear an address lock. */
  auth_throttle_succeeded(t, "fresh", t0 + 1);
  assert_int_equal(auth_throttle_check(t, "x", "2001:db8::1", t0 + 1),
                   MESH_E_THROTTLED);
  auth_throttle_free(t);
}

static void throttle_bound(void **state) {
  (void)state;
  struct auth_throttle *t = auth_throttle_new();
  const int64_t t0 = 5000;
  char addr[32], name[32];
  assert_non_null(t);
  /* One locked address, then a flood of one-off failures from fresh
   * names and addresses within the window. */
  for (int i = 0; i < AUTH_THROTTLE_FAILS; i++)
    auth_throttle_failed(t, NULL, "192.0.2.1", t0);
  for (int i = 0; i < 6000; i++) {
    snprintf(name, sizeof name, "n%d", i);
    snprintf(addr, sizeof addr, "a%d", i);
    auth_throttle_failed(t, name, addr, t0 + 1 + i / 1000);
    assert_true(auth__throttle_len(t) <= 10000);
  }
  assert_true(auth__throttle_len(t) >= 9000);
  /* The lock survived the flood: unlocked entries go first. */
  assert_int_equal(auth_throttle_check(t, NULL, "192.0.2.1", t0 + 20),
                   MESH_E_THROTTLED);
  /* Once the window has passed, old entries make room by themselves. */
  auth_throttle_failed(t, "late", "198.51.100.1",
                       t0 + 20 + AUTH_THROTTLE_WINDOW_S);
  assert_true(auth__throttle_len(t) < 100);
  /* An over-long address is cut, not copied whole. */
  char longaddr[4096];
  memset(longaddr, 'f', sizeof longaddr - 1);
  longaddr[sizeof longaddr - 1] = '\0';
  for (int i = 0; i < AUTH_THROTTLE_FAILS; i++)
    auth_throttle_failed(t, NULL, longaddr, t0 + 400);
  assert_int_equal(auth_throttle_check(t, NULL, longaddr, t0 + 400),
                   MESH_E_THROTTLED);
  auth_throttle_free(t);
  auth_throttle_free(NULL);
}

/* Builds "b64(u),b64(p)[,b64(k)]" from byte strings. */
static void meshauth(char *out, const void *u, size_t un, const void *p,
                     size_t pn, const void *k, size_t kn) {
  char *o = out;
  enc_b64(u, un, o, 0);
  o += strlen(o);
  *o++ = ',';
  enc_b64(p, pn, o, 0);
  if (k) {
    o += strlen(o);
    *o++ = ',';
    enc_b64(k, kn, o, 0);
  }
}

static void parse_meshauth(void **state) {
  (void)state;
  char *u, *p, *k, hdr[1024];

  /* "admin" / "pass word" / "123456" */
  assert_int_equal(
      auth_parse_meshauth("YWRtaW4=,cGFzcyB3b3Jk,MTIzNDU2", &u, &p, &k), 0);
  assert_string_equal(u, "admin");
  assert_string_equal(p, "pass word");
  assert_string_equal(k, "123456");
  free(u), free(p), free(k);
  assert_int_equal(auth_parse_meshauth("YWRtaW4,cGFzcyB3b3Jk", &u, &p, &k), 0);
  assert_string_equal(u, "admin");
  assert_string_equal(p, "pass word");
  assert_null(k);
  free(u), free(p);
  /* An empty third part is no token. */
  assert_int_equal(auth_parse_meshauth("YWRtaW4=,cGFzcyB3b3Jk,", &u, &p, &k),
                   0);
  assert_null(k);
  free(u), free(p);

  static const char *const bad[] = {
      "",
      "YWRtaW4=",                            /* no comma */
      ",cGFzcyB3b3Jk",                       /* empty user */
      "YWRtaW4=,cGFz!3b3Jk",                 /* bad character */
      "YWRtaW4=,cGFzc",                      /* impossible length */
      " YWRtaW4=,cGFzcyB3b3Jk",              /* spaces are not base64 */
      "YWRtaW4=,cGFzcyB3b3Jk,MTIzNDU2,eA==", /* four parts */
      "YWRtaW4=,cGFzcyB3b3Jk,MTI*NDU2",      /* bad token */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    u = p = k = (char *)1;
    assert_int_equal(auth_parse_meshauth(bad[i], &u, &p, &k), MESH_E_MALFORMED);
    assert_null(u);
    assert_null(p);
    assert_null(k);
  }

  /* NUL bytes inside any part. */
  meshauth(hdr, "ad\0min", 6, "password", 8, NULL, 0);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);
  meshauth(hdr, "admin", 5, "pass\0word", 9, NULL, 0);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);
  meshauth(hdr, "admin", 5, "password", 8, "12\0", 3);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);

  /* Each part at its limit passes; one byte more fails. */
  uint8_t big[AUTH_MAX_PASSWORD + 1];
  memset(big, 'x', sizeof big);
  meshauth(hdr, big, USER_MAX_NAME, big, AUTH_MAX_PASSWORD, big, 16);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), 0);
  assert_int_equal(strlen(u), USER_MAX_NAME);
  assert_int_equal(strlen(p), AUTH_MAX_PASSWORD);
  assert_int_equal(strlen(k), 16);
  free(u), free(p), free(k);
  meshauth(hdr, big, USER_MAX_NAME + 1, "password", 8, NULL, 0);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);
  meshauth(hdr, "admin", 5, big, AUTH_MAX_PASSWORD + 1, NULL, 0);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);
  meshauth(hdr, "admin", 5, "password", 8, big, 17);
  assert_int_equal(auth_parse_meshauth(hdr, &u, &p, &k), MESH_E_MALFORMED);
}

/* Every valid vector cut at every length, each cut ending at a guard
 * page, must parse or fail cleanly, never read past its end. */
static void parse_meshauth_truncated(void **state) {
  (void)state;
  static const char *const good[] = {
      "YWRtaW4=,cGFzcyB3b3Jk,MTIzNDU2",
      "YWRtaW4,cGFzcyB3b3Jk",
      "eA==,,",
  };
  for (size_t v = 0; v < sizeof good / sizeof *good; v++) {
    size_t n = strlen(good[v]);
    for (size_t cut = 0; cut <= n; cut++) {
      uint8_t *g = tu_guard_copy(good[v], cut + 1);
      g[cut] = '\0';
      char *u, *p, *k;
      int r = auth_parse_meshauth((const char *)g, &u, &p, &k);
      if (cut == n) assert_int_equal(r, 0);
      if (r == 0) {
        assert_non_null(u);
        assert_non_null(p);
        free(u), free(p), free(k);
      } else {
        assert_int_equal(r, MESH_E_MALFORMED);
        assert_null(u);
      }
      tu_guard_free(g, cut + 1);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hash_verify),
      cmocka_unit_test(check_on_loop),
      cmocka_unit_test(throttle),
      cmocka_unit_test(throttle_bound),
      cmocka_unit_test(parse_meshauth),
      cmocka_unit_test(parse_meshauth_truncated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
