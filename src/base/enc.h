/*
 * enc.h - hex and base64 codecs, including MeshCentral's "B64MC" variant
 * (standard base64 with '+' -> '@' and '/' -> '$') used for node and group
 * ids. Pure functions over (pointer, length); no allocation.
 */
#ifndef MESH_ENC_H
#define MESH_ENC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Writes 2n hex characters plus NUL into out (size >= 2n+1). */
void enc_hex(const uint8_t *in, size_t n, char *out, int upper);
/* Decodes exactly 2*outlen hex chars (either case). 0 or MESH_E_MALFORMED. */
int enc_unhex(const char *in, size_t inlen, uint8_t *out, size_t outlen);

/* Base64 length for n input bytes, without the NUL. */
#define ENC_B64_LEN(n) ((((n) + 2) / 3) * 4)
/* Writes base64 plus NUL into out (size >= ENC_B64_LEN(n)+1); with mc set,
 * uses the B64MC alphabet. */
void enc_b64(const uint8_t *in, size_t n, char *out, int mc);
/* Decodes standard or B64MC base64 (padding optional). Returns the number of
 * bytes written, MESH_E_MALFORMED, or MESH_E_TOO_LARGE if outcap is short. */
ssize_t enc_unb64(const char *in, size_t inlen, uint8_t *out, size_t outcap);

#endif
