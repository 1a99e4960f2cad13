/*
 * totp.h - time-based one-time passwords (RFC 6238 over RFC 4226 HOTP):
 * HMAC-SHA1, 6 digits, 30-second steps, as authenticator apps and the
 * stock MeshCentral server use them. No I/O, no state; safe anywhere.
 *
 * HOTP comes from liboath (OATH Toolkit).
 */
#ifndef MESH_CRYPTO_TOTP_H
#define MESH_CRYPTO_TOTP_H

#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20 /* bytes, as RFC 4226 recommends */
#define TOTP_STEP_S 30
#define TOTP_DIGITS 6
/* Base32 text of a TOTP_SECRET_LEN secret, with its NUL. */
#define TOTP_B32_LEN 33

/* The HOTP value of key (borrowed, n bytes) for counter, truncated to
 * digits (1..8) decimal digits; UINT32_MAX when digits is out of range or
 * liboath fails. */
uint32_t totp_hotp(const uint8_t *key, size_t n, uint64_t counter, int digits);
/* The TOTP value at unix time t: totp_hotp(key, n, t / TOTP_STEP_S). */
uint32_t totp_at(const uint8_t *key, size_t n, uint64_t t, int digits);
/* 0 if code (1..TOTP_DIGITS decimal digits, NUL-terminated; fewer digits
 * stand for the code with its leading zeros dropped) is the 6-digit TOTP
 * of key at now, one step before or one step after; MESH_E_AUTH if not,
 * MESH_E_INVALID if code is not 1..6 digits. The
 * comparison takes the same time whichever step matches.
 * *matched (may be NULL) gets the time step the code belongs to, so a
 * caller can refuse a code used once already. */
int totp_verify(const uint8_t *key, size_t n, uint64_t now, const char *code,
                uint64_t *matched);
/* RFC 4648 base32 (upper case, no padding) of in into out (cap bytes,
 * NUL-terminated). MESH_E_TOO_LARGE if it does not fit. */
int totp_base32(const uint8_t *in, size_t n, char *out, size_t cap);

#endif
