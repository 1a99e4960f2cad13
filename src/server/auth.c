/*
 * auth.c - argon2id passwords, the sign-in throttle and the x-meshauth
 * header (see auth.h).
 *
 * Threads: auth_hash_password and auth_verify_password touch no shared
 * state and run anywhere. auth_check_password reads the database on the
 * loop thread and hands only copies (the encoded hash, the password) to
 * the pool thread, so the store is never used off the loop. The throttle
 * is loop-only.
 */
#include "auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/strmap.h"
#include "crypto/rand.h"
#include "users.h"

/* argon2id cost: 3 passes over 64 MiB, one lane (RFC 9106's second
 * recommended option). About 100 ms on one core; each job in flight holds
 * 64 MiB, so libuv's pool (4 threads by default) bounds the memory. */
#define AUTH_T_COST 3
#define AUTH_M_COST 65536 /* KiB */
#define AUTH_PARALLEL 1
#define AUTH_SALT_LEN 16
#define AUTH_HASH_LEN 32

#define STR_(x) #x
#define STR(x) STR_(x)

/* What an unknown user's password is checked against, so that "no such
 * user" costs the same time as "wrong password". argon2id_verify recomputes
 * the hash from the parameters and salt in the string and compares, so
 * its cost depends only on m, t, p and the lengths, never on the bytes of
 * salt and hash: a fixed, syntactically valid string with our parameters
 * is as good as a real hash and needs no start-up work. Finding a
 * password that matches it (a hash of all zero bytes) is infeasible. */
#define DUMMY_PARAMS \
  "m=" STR(AUTH_M_COST) ",t=" STR(AUTH_T_COST) ",p=" STR(AUTH_PARALLEL)
#define DUMMY_SALT "AAAAAAAAAAAAAAAAAAAAAA" /* 16 zero bytes */
#define DUMMY_HASH "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" /* 32 */
static const char dummy_hash[] =
    "$argon2id$v=19$" DUMMY_PARAMS "$" DUMMY_SALT "$" DUMMY_HASH;

/* The dummy, for the unit test that checks argon2 accepts it: a string it
 * failed to decode would answer at once and give unknown users away. */
const char *auth__dummy_hash(void);
const char *auth__dummy_hash(void) { return dummy_hash; }

int auth_hash_password(const char *pass, char **encoded) {
  uint8_t salt[AUTH_SALT_LEN];
  char *enc = NULL;
  int r;
  *encoded = NULL;
  size_t n = strnlen(pass, AUTH_MAX_PASSWORD + 1);
  if (n < AUTH_MIN_PASSWORD || n > AUTH_MAX_PASSWORD) return MESH_E_INVALID;
  if ((r = rand_bytes(salt, sizeof salt)) != 0) return r;
  size_t cap = argon2_encodedlen(AUTH_T_COST, AUTH_M_COST, AUTH_PARALLEL,
                                 AUTH_SALT_LEN, AUTH_HASH_LEN, Argon2_id);
  if (!(enc = malloc(cap))) return MESH_E_NOMEM;
  int ar = argon2id_hash_encoded(AUTH_T_COST, AUTH_M_COST, AUTH_PARALLEL, pass,
                                 n, salt, sizeof salt, AUTH_HASH_LEN, enc, cap);
  if (ar != ARGON2_OK) {
    free(enc);
    return ar == ARGON2_MEMORY_ALLOCATION_ERROR ? MESH_E_NOMEM : MESH_E_CRYPTO;
  }
  *encoded = enc;
  return 0;
}

/* Besides 0 and MESH_E_AUTH this returns MESH_E_NOMEM when argon2 could
 * not get its 64 MiB: that is the server's trouble, not a wrong password,
 * and callers must not count it against the user. */
int auth_verify_password(const char *encoded, const char *pass) {
  size_t n = strnlen(pass, AUTH_MAX_PASSWORD + 1);
  if (n > AUTH_MAX_PASSWORD) return MESH_E_AUTH;
  int ar = argon2id_verify(encoded, pass, n);
  if (ar == ARGON2_OK) return 0;
  return ar == ARGON2_MEMORY_ALLOCATION_ERROR ? MESH_E_NOMEM : MESH_E_AUTH;
}

/* One password check in flight. Owned by the libuv request: freed in
 * check_done, after the callback, whatever happened. */
struct check_job {
  uv_work_t req;
  char user_id[USER_MAX_NAME + 7];
  char *hash; /* the user's encoded hash; NULL for an unknown user */
  int refuse; /* the answer is no whatever the password (too long) */
  int status; /* set on the pool thread */
  char pass[AUTH_MAX_PASSWORD + 1]; /* wiped on the pool thread */
  auth_check_cb cb;
  void *data;
};

static void check_free(struct check_job *j) {
  OPENSSL_cleanse(j->pass, sizeof j->pass);
  free(j->hash);
  free(j);
}

/* Pool thread: touches nothing but the job. The unknown user and the
 * over-long password run the same argon2 work as a real check. */
static void check_work(uv_work_t *req) {
  struct check_job *j = req->data;
  int r = auth_verify_password(j->hash ? j->hash : dummy_hash, j->pass);
  OPENSSL_cleanse(j->pass, sizeof j->pass);
  if (r == 0 && (!j->hash || j->refuse)) r = MESH_E_AUTH;
  j->status = r;
}

/* Loop thread. A cancelled job never ran: report that, not a verdict. */
static void check_done(uv_work_t *req, int status) {
  struct check_job *j = req->data;
  int r = status == UV_ECANCELED ? UV_ECANCELED : j->status;
  j->cb(r, r == 0 ? j->user_id : NULL, j->data);
  check_free(j);
}

/* Returns 0 when the job is queued: cb is then called exactly once, on
 * the loop, with 0, MESH_E_AUTH, MESH_E_NOMEM (argon2 found no memory) or
 * UV_ECANCELED. On any other return cb is never called. */
int auth_check_password(uv_loop_t *loop, struct store *st, const char *name,
                        const char *pass, auth_check_cb cb, void *data) {
  struct check_job *j = calloc(1, sizeof *j);
  int r;
  if (!j) return MESH_E_NOMEM;
  j->req.data = j;
  j->cb = cb;
  j->data = data;
  size_t n = strnlen(pass, AUTH_MAX_PASSWORD + 1);
  if (n > AUTH_MAX_PASSWORD)
    j->refuse = 1; /* j->pass stays empty */
  else
    memcpy(j->pass, pass, n + 1);
  /* An invalid name is an unknown user, not an error: the caller must not
   * be able to tell the two apart from the answer or its timing. */
  if (user_id_of(name, j->user_id, sizeof j->user_id) == 0) {
    r = users_get_hash(st, j->user_id, &j->hash);
    if (r != 0 && r != MESH_E_NOT_FOUND) goto fail;
  }
  if ((r = uv_queue_work(loop, &j->req, check_work, check_done)) != 0)
    goto fail;
  return 0;
fail:
  check_free(j);
  return r;
}

/*
 * The throttle: one counter per "u:<user id>" and per "a:<address>" key.
 * A key's window opens at its first failure; AUTH_THROTTLE_FAILS failures
 * inside the window lock the key for AUTH_THROTTLE_LOCK_S, and the count
 * starts again after the lock.
 *
 * Only failures create entries, and never more than THROTTLE_MAX_KEYS of
 * them, each with a key of bounded length, so the table cannot be grown
 * without bound by trying many names or addresses. When it is full, stale
 * entries (window over, not locked) go first; if none is stale, the
 * entry with the oldest window that is not locked goes, and only if every
 * entry is locked the lock that ends soonest. Filling the table to push
 * out one lock takes THROTTLE_MAX_KEYS fresh failures, each of which
 * costs the attacker an argon2 verification's queueing time.
 */
#define THROTTLE_MAX_KEYS 10000
/* "u:" + "user//" + name, or "a:" + an address (IPv6 text is at most 45). */
#define THROTTLE_KEY_MAX (2 + USER_MAX_NAME + 7)

struct throttle_entry {
  int fails;
  int64_t window_start;
  int64_t locked_until;
};

struct auth_throttle {
  struct strmap map; /* key -> struct throttle_entry (owned) */
};

void auth_throttle_key(const char *name, char *out, size_t cap) {
  size_t i = 0;
  if (!cap) return;
  for (; name[i] && i + 1 < cap; i++)
    out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
  out[i] = 0;
}

struct auth_throttle *auth_throttle_new(void) {
  struct auth_throttle *t = calloc(1, sizeof *t);
  if (t) strmap_init(&t->map);
  return t;
}

void auth_throttle_free(struct auth_throttle *t) {
  if (!t) return;
  for (size_t i = 0; i < t->map.cap; i++)
    if (t->map.slots[i].key) free(t->map.slots[i].value);
  strmap_cleanup(&t->map);
  free(t);
}

/* The number of keys held, for the unit test of the bound. */
size_t auth__throttle_len(const struct auth_throttle *t);
size_t auth__throttle_len(const struct auth_throttle *t) { return t->map.len; }

/* Builds the account key from a name or an id. Names are turned into ids
 * first, so "Bob" and "bob" share one counter; a string that is not a
 * valid name gets no account key (it cannot sign in anyway, and its
 * address is still counted). Returns 0 or MESH_E_INVALID. */
static int user_key(const char *user, char key[THROTTLE_KEY_MAX]) {
  const char *name = user;
  if (!user) return MESH_E_INVALID;
  if (strncmp(user, "user//", 6) == 0) name = user + 6;
  memcpy(key, "u:", 2);
  return user_id_of(name, key + 2, THROTTLE_KEY_MAX - 2);
}

/* Builds the address key; a longer address is cut (addresses come from
 * the socket, not from the peer's text, so they are short anyway). */
static int addr_key(const char *addr, char key[THROTTLE_KEY_MAX]) {
  if (!addr || !addr[0]) return MESH_E_INVALID;
  size_t n = strnlen(addr, THROTTLE_KEY_MAX - 3);
  memcpy(key, "a:", 2);
  memcpy(key + 2, addr, n);
  key[2 + n] = '\0';
  return 0;
}

static int locked(const struct auth_throttle *t, const char *key, int64_t now) {
  const struct throttle_entry *e = strmap_get(&t->map, key);
  return e && e->locked_until > now;
}

int auth_throttle_check(struct auth_throttle *t, const char *user,
                        const char *addr, int64_t now) {
  char key[THROTTLE_KEY_MAX];
  if (user_key(user, key) == 0 && locked(t, key, now)) return MESH_E_THROTTLED;
  if (addr_key(addr, key) == 0 && locked(t, key, now)) return MESH_E_THROTTLED;
  return 0;
}

static int stale(const struct throttle_entry *e, int64_t now) {
  return e->locked_until <= now &&
         now - e->window_start >= AUTH_THROTTLE_WINDOW_S;
}

/* Makes room for one more key (see the bound above). Deleting from the
 * map leaves a tombstone in place and moves nothing, so the scan may
 * delete as it goes. */
static void make_room(struct auth_throttle *t, int64_t now) {
  struct strmap_slot *oldest = NULL, *soonest = NULL;
  for (size_t i = 0; i < t->map.cap; i++) {
    struct strmap_slot *s = &t->map.slots[i];
    if (!s->key) continue;
    struct throttle_entry *e = s->value;
    if (stale(e, now)) {
      free(strmap_del(&t->map, s->key));
      continue;
    }
    if (e->locked_until <= now) {
      if (!oldest || e->window_start <
                         ((struct throttle_entry *)oldest->value)->window_start)
        oldest = s;
    } else if (!soonest ||
               e->locked_until <
                   ((struct throttle_entry *)soonest->value)->locked_until) {
      soonest = s;
    }
  }
  if (t->map.len < THROTTLE_MAX_KEYS) return;
  struct strmap_slot *victim = oldest ? oldest : soonest;
  if (victim) free(strmap_del(&t->map, victim->key));
}

static void count_failure(struct auth_throttle *t, const char *key,
                          int64_t now) {
  struct throttle_entry *e = strmap_get(&t->map, key);
  if (!e) {
    if (t->map.len >= THROTTLE_MAX_KEYS) make_room(t, now);
    /* Out of memory: this failure goes uncounted rather than failing the
     * sign-in path; the next one tries again. */
    if (!(e = calloc(1, sizeof *e))) return;
    if (strmap_set(&t->map, key, e) != 0) {
      free(e);
      return;
    }
  }
  if (e->locked_until > now) return; /* already locked; keep its end */
  if (e->fails == 0 || now - e->window_start >= AUTH_THROTTLE_WINDOW_S) {
    e->fails = 0;
    e->window_start = now;
  }
  if (++e->fails >= AUTH_THROTTLE_FAILS) {
    e->locked_until = now + AUTH_THROTTLE_LOCK_S;
    e->fails = 0;
  }
}

void auth_throttle_failed(struct auth_throttle *t, const char *user,
                          const char *addr, int64_t now) {
  char key[THROTTLE_KEY_MAX];
  if (user_key(user, key) == 0) count_failure(t, key, now);
  if (addr_key(addr, key) == 0) count_failure(t, key, now);
}

void auth_throttle_succeeded(struct auth_throttle *t, const char *user,
                             int64_t now) {
  char key[THROTTLE_KEY_MAX];
  (void)now;
  if (user_key(user, key) == 0) free(strmap_del(&t->map, key));
}

/* Decodes one base64 part of x-meshauth into a new NUL-terminated string
 * of at most max bytes. min is 0 or 1 (an empty user name is refused).
 * The decode buffer is wiped: the part may be the password. */
static int decode_part(const char *p, size_t n, size_t min, size_t max,
                       char **out) {
  uint8_t buf[AUTH_MAX_PASSWORD + 1];
  int r = 0;
  *out = NULL;
  ssize_t len = enc_unb64(p, n, buf, max);
  if (len < 0 || (size_t)len < min || memchr(buf, '\0', (size_t)len)) {
    r = MESH_E_MALFORMED;
    goto out;
  }
  if (!(*out = malloc((size_t)len + 1))) {
    r = MESH_E_NOMEM;
    goto out;
  }
  memcpy(*out, buf, (size_t)len);
  (*out)[len] = '\0';
out:
  OPENSSL_cleanse(buf, sizeof buf);
  return r;
}

/* The token part carries a one-time code: six digits, or an eight-letter
 * backup code, so 16 bytes leave room. */
#define MESHAUTH_MAX_TOKEN AUTH_MAX_TOKEN

int auth_parse_meshauth(const char *header, char **user, char **pass,
                        char **token) {
  *user = *pass = *token = NULL;
  size_t n = strlen(header);
  const char *end = header + n;
  const char *c1 = memchr(header, ',', n);
  if (!c1) return MESH_E_MALFORMED;
  const char *p2 = c1 + 1;
  const char *c2 = memchr(p2, ',', (size_t)(end - p2));
  const char *p3 = c2 ? c2 + 1 : NULL;
  if (p3 && memchr(p3, ',', (size_t)(end - p3))) return MESH_E_MALFORMED;
  size_t n1 = (size_t)(c1 - header);
  size_t n2 = (size_t)((c2 ? c2 : end) - p2);
  int r = decode_part(header, n1, 1, USER_MAX_NAME, user);
  if (r == 0) r = decode_part(p2, n2, 0, AUTH_MAX_PASSWORD, pass);
  /* An empty third part is no token, as in the stock server, which reads
   * the token only when it decodes to something. */
  if (r == 0 && p3 && p3 < end)
    r = decode_part(p3, (size_t)(end - p3), 0, MESHAUTH_MAX_TOKEN, token);
  if (r == 0 && *token && !**token) {
    free(*token);
    *token = NULL;
  }
  if (r != 0) {
    free(*user);
    if (*pass) OPENSSL_cleanse(*pass, strlen(*pass));
    free(*pass);
    free(*token);
    *user = *pass = *token = NULL;
  }
  return r;
}

/* ------------------------------------------------------ second factor */

int auth_second_factor(struct store *st, const char *user_id, const char *token,
                       int64_t now) {
  uint8_t key[TOTP_SECRET_LEN];
  uint64_t step;
  int r = users_get_totp(st, user_id, key);
  if (r == MESH_E_NOT_FOUND) return 0;
  if (r == 0) {
    if (!token || !token[0])
      r = MESH_E_AUTH;
    else if (totp_verify(key, sizeof key, (uint64_t)now, token, &step) == 0)
      r = users_totp_claim(st, user_id, step);
    else if (users_use_recovery(st, user_id, token) != 0)
      r = MESH_E_AUTH;
  }
  OPENSSL_cleanse(key, sizeof key);
  return r == 0 ? 0 : MESH_E_AUTH;
}
