/*
 * users.h - accounts, device-group membership and sign-in sessions, kept
 * in the server's SQLite database (tables in store.c's schema).
 *
 * Ids follow MeshCentral: a user is "user//<name in lower case>", a group
 * "mesh//<64 chars>" on the wire but stored as its bare 64-char id (as in
 * the groups table). Strings passed in are borrowed. Strings in structs
 * that these functions fill are malloc'd and owned by the struct; release
 * with the matching _cleanup. All functions are synchronous single-row
 * statements, safe to call on the loop; password hashing is not (see
 * auth.h).
 */
#ifndef MESH_SERVER_USERS_H
#define MESH_SERVER_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/totp.h"
#include "proto/rights.h"
#include "store.h"

/* Site rights (SITERIGHT bits, docs/user-api.md §4.2). */
#define SITE_MANAGE_USERS 0x2u
#define SITE_LOCKED 0x20u
#define SITE_NO_NEW_GROUPS 0x40u
#define SITE_NO_TOOLS 0x80u
#define SITE_ALL_EVENTS 0x800u
#define SITE_ADMIN 0xFFFFFFFFu

/* Device group rights: proto/rights.h. */

/* The longest user name, e-mail and real name accepted. */
#define USER_MAX_NAME 64
#define USER_MAX_EMAIL 254

struct user {
  char *id;       /* "user//bob" */
  char *name;     /* display name, case kept: "Bob" */
  char *email;    /* or NULL */
  char *realname; /* or NULL */
  uint32_t siteadmin;
  int64_t created;    /* unix seconds */
  int64_t passchange; /* unix seconds */
  int has_totp;       /* a second factor is enrolled */
};
void user_cleanup(struct user *u);

/* Makes "user//<lower-case name>" in out (cap >= USER_MAX_NAME + 7).
 * MESH_E_INVALID unless name is 1..USER_MAX_NAME bytes of letters,
 * digits and ._- (no spaces, no slashes, no control bytes). */
int user_id_of(const char *name, char *out, size_t cap);

/* Creates an account with an already encoded password hash.
 * MESH_E_EXISTS if the id is taken, MESH_E_INVALID for a bad name or an
 * e-mail over USER_MAX_EMAIL. Fills *out when out is not NULL. */
int users_create(struct store *st, const char *name, const char *email,
                 const char *hash, uint32_t siteadmin, struct user *out);
/* MESH_E_NOT_FOUND when absent. */
int users_get(struct store *st, const char *id, struct user *out);
/* The encoded password hash (*hash malloc'd). */
int users_get_hash(struct store *st, const char *id, char **hash);
int users_set_hash(struct store *st, const char *id, const char *hash);
/* Writes email, realname and siteadmin of u (by u->id). */
int users_update(struct store *st, const struct user *u);
/* Deletes the account with its memberships and sessions. */
int users_delete(struct store *st, const char *id);
int users_count(struct store *st, size_t *n);
typedef void (*users_cb)(const struct user *u, void *data);
/* Every account, ordered by id; pointers borrowed for the call. */
int users_each(struct store *st, users_cb cb, void *data);

/* Second factor (TOTP). The secret is TOTP_SECRET_LEN raw bytes; callers
 * wipe their copies. Recovery codes are USERS_RECOVERY_COUNT strings of
 * USERS_RECOVERY_LEN base32 characters, stored only as SHA-256. */
#define USERS_RECOVERY_COUNT 10
#define USERS_RECOVERY_LEN 10
/* Copies the user's secret into key; MESH_E_NOT_FOUND when the user has
 * none (or does not exist). */
int users_get_totp(struct store *st, const char *id,
                   uint8_t key[TOTP_SECRET_LEN]);
/* Stores key (borrowed) as the user's secret and replaces the recovery
 * codes with fresh ones, written as NUL-terminated text into codes (the
 * caller shows them once and wipes them). One transaction. */
int users_set_totp(struct store *st, const char *id,
                   const uint8_t key[TOTP_SECRET_LEN],
                   char codes[USERS_RECOVERY_COUNT][USERS_RECOVERY_LEN + 1]);
/* Removes the secret and the recovery codes. MESH_E_NOT_FOUND without. */
int users_clear_totp(struct store *st, const char *id);
/* 0 and the code is gone if code (borrowed; letters in either case) is
 * one of the user's unused recovery codes, else MESH_E_AUTH. */
int users_use_recovery(struct store *st, const char *id, const char *code);
/* Records that the user signed in with the code of TOTP time step step:
 * 0, or MESH_E_AUTH when a code of that step or a later one was used
 * already (a code seen once, say over a shoulder, does not work again). */
int users_totp_claim(struct store *st, const char *id, uint64_t step);

/* Membership. group_id is the bare 64-char group id. */
int members_set(struct store *st, const char *group_id, const char *user_id,
                uint32_t rights);
/* MESH_E_NOT_FOUND if the user was not a member. */
int members_del(struct store *st, const char *group_id, const char *user_id);
/* The user's rights in the group, 0 when not a member. */
uint32_t members_rights(struct store *st, const char *group_id,
                        const char *user_id);
typedef void (*members_cb)(const char *group_id, const char *user_id,
                           const char *user_name, uint32_t rights, void *data);
/* Members of one group (group_id set, user_id NULL) or groups of one user
 * (user_id set, group_id NULL). */
int members_each(struct store *st, const char *group_id, const char *user_id,
                 members_cb cb, void *data);

/* Sessions. The token is 32 random bytes as 43 base64url characters; only
 * its SHA-256 is stored, so a stolen database opens no session. */
#define SESSION_TOKEN_LEN 43
int sessions_create(struct store *st, const char *user_id, int64_t ttl_s,
                    const char *addr, char token[SESSION_TOKEN_LEN + 1]);
/* The user of a live session (*user_id malloc'd); MESH_E_NOT_FOUND for an
 * unknown, expired or revoked token. */
int sessions_lookup(struct store *st, const char *token, char **user_id);
int sessions_revoke(struct store *st, const char *token);
int sessions_revoke_user(struct store *st, const char *user_id);
/* Deletes expired sessions; run now and then. */
int sessions_expire(struct store *st);

#endif
