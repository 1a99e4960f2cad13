/*
 * crypto_job.h - RSA work of the secondary handshake on the libuv thread
 * pool, so the loop never blocks on a signature (design.md "Scale").
 *
 * Each call copies its inputs, runs on a pool thread, and calls cb on the
 * loop thread exactly once, even when the loop is being torn down. The
 * owner keeps whatever cb touches alive until then (a reference count on
 * the connection).
 */
#ifndef MESH_NET_CRYPTO_JOB_H
#define MESH_NET_CRYPTO_JOB_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "crypto/hash.h"

/* The largest message a job signs or verifies (the handshake signs 144
 * bytes). */
#define CRYPTO_JOB_MAX_MSG 256

/* status: 0 with the signature, or a negative MESH_E_* code. */
typedef void (*crypto_sign_cb)(int status, const uint8_t *sig, size_t sig_len,
                               void *data);
/* status: 0 when the signature is valid (key_hash = KeyHash of the
 * certificate), MESH_E_MALFORMED for an unparsable certificate,
 * MESH_E_AUTH for a bad signature. */
typedef void (*crypto_verify_cb)(int status,
                                 const uint8_t key_hash[MESH_HASH_LEN],
                                 void *data);

/* Signs msg (Sig384) with key; key gets an extra reference for the job.
 * MESH_E_TOO_LARGE if n > CRYPTO_JOB_MAX_MSG. */
int crypto_job_sign(uv_loop_t *loop, EVP_PKEY *key, const uint8_t *msg,
                    size_t n, crypto_sign_cb cb, void *data);
/* Parses the DER certificate (now, on the calling thread), then on the
 * pool verifies sig over msg with its key and computes its KeyHash. An
 * unparsable certificate is still answered through cb, asynchronously. */
int crypto_job_verify(uv_loop_t *loop, const uint8_t *cert, size_t cert_len,
                      const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                      size_t n, crypto_verify_cb cb, void *data);

#endif
