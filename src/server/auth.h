/*
 * auth.h - passwords (argon2id), sign-in throttling, and the x-meshauth
 * header that MeshCentral's meshctrl uses to log in.
 */
#ifndef MESH_SERVER_AUTH_H
#define MESH_SERVER_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "store.h"

/* Passwords: 8..256 bytes. */
#define AUTH_MIN_PASSWORD 8
#define AUTH_MAX_PASSWORD 256

/* Hashes pass with argon2id (fresh random salt) into an encoded string
 * ("$argon2id$v=19$m=...") in *encoded (malloc'd). Slow by design: call
 * from the CLI or from a thread pool job, never on the loop.
 * MESH_E_INVALID for a password outside the length limits. */
int auth_hash_password(const char *pass, char **encoded);
/* 0 if pass matches encoded, MESH_E_AUTH if not. Slow, as above. */
int auth_verify_password(const char *encoded, const char *pass);

/* Checks a user's password on the thread pool: looks up the hash on the
 * loop, verifies on a pool thread, and calls cb on the loop with 0 and the
 * user id, or MESH_E_AUTH for an unknown user or a wrong password (the
 * same time is spent in both cases, so the answer does not reveal which).
 * name and pass are copied; the copy of pass is wiped after use. */
typedef void (*auth_check_cb)(int status, const char *user_id, void *data);
int auth_check_password(uv_loop_t *loop, struct store *st, const char *name,
                        const char *pass, auth_check_cb cb, void *data);

/* The second factor of a user whose password was right. 0 when the user
 * has no TOTP secret, or token is the code of now (±1 step) or one of the
 * user's unused recovery codes, which is then used up; MESH_E_AUTH when
 * token is NULL, empty or wrong. On the loop: one row read, three HMACs.
 * Strings borrowed. */
int auth_second_factor(struct store *st, const char *user_id, const char *token,
                       int64_t now);
/* The longest token part accepted (a code or a recovery code). */
#define AUTH_MAX_TOKEN 16

/* Sign-in throttling, in memory: after AUTH_THROTTLE_FAILS failures for
 * one account or one address within AUTH_THROTTLE_WINDOW_S, further tries
 * for it are refused for AUTH_THROTTLE_LOCK_S. */
#define AUTH_THROTTLE_FAILS 5
#define AUTH_THROTTLE_WINDOW_S 300
#define AUTH_THROTTLE_LOCK_S 60
struct auth_throttle;
struct auth_throttle *auth_throttle_new(void);
void auth_throttle_free(struct auth_throttle *t);
/* 0 if a try is allowed now, MESH_E_THROTTLED if not. now in seconds. */
int auth_throttle_check(struct auth_throttle *t, const char *user,
                        const char *addr, int64_t now);
void auth_throttle_failed(struct auth_throttle *t, const char *user,
                          const char *addr, int64_t now);
/* The throttle's key for a typed user name: the name in lower case, so
 * "Bob" and "bob" count together, whichever door (x-meshauth, /api/login)
 * they come through. Truncated to cap - 1 bytes. name is borrowed. */
void auth_throttle_key(const char *name, char *out, size_t cap);
/* A success clears the account's count (not the address's). */
void auth_throttle_succeeded(struct auth_throttle *t, const char *user,
                             int64_t now);

/* Parses "x-meshauth: base64(user),base64(pass)[,base64(token)]" into
 * malloc'd strings (*token NULL when absent). MESH_E_MALFORMED for bad
 * base64, NUL bytes, or parts over their limits. The caller wipes *pass. */
int auth_parse_meshauth(const char *header, char **user, char **pass,
                        char **token);

#endif
