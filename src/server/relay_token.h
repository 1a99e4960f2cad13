/*
 * relay_token.h - the two relay tokens handed out by authcookie
 * (docs/sessions.md §2): `cookie` names the user for the viewer's own
 * relay connection, `rcookie` names the user for the agent's.
 *
 * A token is a sealed (crypto/seal.h, AES-256-GCM) JSON object carrying
 * its creation time, shaped like the stock server's so its fields mean
 * the same things:
 *   cookie   {"userid":U,"domainid":"","ip":IP,"time":T}
 *   rcookie  {"ruserid":U,"x":RANDOM,"time":T}
 * The kind is told apart by its fields, so one kind never passes for the
 * other. Lifetimes are MESH_RELAY_COOKIE_S and MESH_RELAY_RCOOKIE_S; a
 * time more than MESH_RELAY_SKEW_S in the future is refused.
 *
 * Pure functions: no I/O, no logging, callable from any callback or
 * thread. Nothing secret is kept; the plaintext buffers are wiped.
 */
#ifndef MESH_SERVER_RELAY_TOKEN_H
#define MESH_SERVER_RELAY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/seal.h"

enum relay_token_kind { RELAY_TOKEN_COOKIE, RELAY_TOKEN_RCOOKIE };

/* Seals a token of kind for user_id (borrowed; "user//bob"), created at
 * now (unix seconds). ip (borrowed) is the viewer's address, bound into a
 * cookie and ignored for an rcookie. Writes it NUL-terminated into out
 * (cap >= MESH_RELAY_MAX_TOKEN + 1 is always enough). Returns 0,
 * MESH_E_INVALID for a missing user or ip, MESH_E_TOO_LARGE, or
 * MESH_E_CRYPTO. */
int relay_token_make(const uint8_t key[SEAL_KEY_LEN],
                     enum relay_token_kind kind, const char *user_id,
                     const char *ip, int64_t now, char *out, size_t cap);

/* Opens token (borrowed) as a token of kind and writes the user it names
 * into user_out (cap bytes). For a cookie, ip (borrowed) must be the
 * address it was made for. Returns 0; MESH_E_AUTH when it is not a token
 * of this server, of this kind, or for this ip (or is malformed inside);
 * MESH_E_TIMEOUT when it expired (or claims a time too far ahead);
 * MESH_E_TOO_LARGE when the user does not fit in cap. user_out is "" on
 * failure. */
int relay_token_open(const uint8_t key[SEAL_KEY_LEN],
                     enum relay_token_kind kind, const char *token,
                     const char *ip, int64_t now, char *user_out, size_t cap);

#endif
