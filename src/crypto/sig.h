/*
 * sig.h - "Sig384", the signature of the control-channel handshake
 * (spec 4.4): RSASSA-PKCS1-v1_5 with SHA-384 over the raw message.
 *
 * RSA operations take milliseconds (signing with RSA-3072 several), so
 * callers on the loop should run them through uv_queue_work. The functions
 * keep no shared state and are safe to call from any thread, provided the
 * same EVP_PKEY is not being freed concurrently.
 */
#ifndef MESH_CRYPTO_SIG_H
#define MESH_CRYPTO_SIG_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

/* Signs the n bytes at msg with key (borrowed, must hold a private key):
 * RSASSA-PKCS1-v1_5 with SHA-384 for RSA keys, ECDSA-SHA384 (DER) for EC
 * keys, though the protocol only uses RSA. Writes the signature into sig
 * (sigcap bytes, borrowed) and its length into *siglen (set to 0 first).
 * sig_max_len(key) bytes are always enough.
 * Returns 0; MESH_E_TOO_LARGE if sigcap is short; MESH_E_INVALID if an
 * argument is NULL; MESH_E_CRYPTO if OpenSSL refused (e.g. no private key). */
int sig_sign384(EVP_PKEY *key, const void *msg, size_t n, uint8_t *sig,
                size_t sigcap, size_t *siglen);

/* Verifies a peer's handshake signature over the n bytes at msg with the
 * public key pub (borrowed; normally the key of the certificate the peer
 * sent in command 2). sig is untrusted input of any length and content.
 *
 * A signature of 256 or 384 bytes is checked as a raw Sig384. Any other
 * length is first parsed as PKCS#7/CMS SignedData, as Windows agents whose
 * key lives in the certificate store send it: it must hold exactly one
 * signer with digest SHA-384 and no signed attributes, and that signer's
 * signature value must verify over msg with pub (the embedded certificate
 * and encapsulated content are ignored: pub and msg are what count). If
 * that fails, the whole blob is tried as a raw signature.
 *
 * Returns 0 when the signature is valid, MESH_E_AUTH when it is not
 * (including every malformed input), MESH_E_INVALID if pub or msg is NULL.
 * Leaves nothing on OpenSSL's error queue. */
int sig_verify384(EVP_PKEY *pub, const void *msg, size_t n, const uint8_t *sig,
                  size_t siglen);

/* Returns the largest signature key (borrowed) can produce, in bytes (the
 * modulus size for RSA), or 0 for NULL or an unusable key. */
size_t sig_max_len(EVP_PKEY *key);

#endif
