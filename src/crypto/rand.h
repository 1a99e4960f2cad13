/*
 * rand.h - cryptographically secure random bytes for the whole program.
 *
 * Backed by OpenSSL's DRBG (RAND_bytes), which is thread-safe, so this may
 * be called from a loop callback or a worker thread alike.
 */
#ifndef MESH_CRYPTO_RAND_H
#define MESH_CRYPTO_RAND_H

#include <stddef.h>

/* Fills the n bytes at p (borrowed) with random bytes. Returns 0, or
 * MESH_E_CRYPTO if the generator failed (p is then wiped to zero so no
 * partially random value is ever used by mistake). n may be 0. */
int rand_bytes(void *p, size_t n);

#endif
