/*
 * seal.h - short authenticated, encrypted tokens: sign-in cookies for the
 * relay, install links. The server seals a small plaintext (JSON naming a
 * user, a group, a creation time) with a key only it holds; a client can
 * carry the token but can neither read nor change it.
 *
 * Format: B64MC(IV(12) || tag(16) || ciphertext), AES-256-GCM with a fresh
 * random IV per token; '@' and '$' stand for '+' and '/', so a token goes
 * into a URL query unescaped (MeshCentral's cookies have the same shape).
 * Lifetimes are the caller's business: put a time in the plaintext.
 */
#ifndef MESH_CRYPTO_SEAL_H
#define MESH_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "base/enc.h" /* ENC_B64_LEN */

#define SEAL_KEY_LEN 32
#define SEAL_IV_LEN 12
#define SEAL_TAG_LEN 16
/* The largest plaintext sealed or opened. */
#define SEAL_MAX_PLAIN 1024
/* Token length (without NUL) for a plaintext of n bytes. */
#define SEAL_TOKEN_LEN(n) ENC_B64_LEN(SEAL_IV_LEN + SEAL_TAG_LEN + (n))

/* Seals plain (n <= SEAL_MAX_PLAIN bytes, borrowed) under key into out
 * (cap bytes, NUL-terminated). Returns 0, MESH_E_TOO_LARGE (n or cap), or
 * MESH_E_CRYPTO. */
int seal_token(const uint8_t key[SEAL_KEY_LEN], const void *plain, size_t n,
               char *out, size_t cap);

/* Opens token (NUL-terminated, borrowed) into out (cap bytes) and sets *n.
 * Returns 0; MESH_E_MALFORMED when it is not a token at all; MESH_E_AUTH
 * when it was not sealed under key or was changed; MESH_E_TOO_LARGE when
 * the plaintext would not fit. On failure out holds nothing. */
int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *token, uint8_t *out,
              size_t cap, size_t *n);

#endif
