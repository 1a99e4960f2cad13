/*
 * hash.h - the SHA-384 hashes that name things in the MeshCentral protocol.
 *
 * CertHash (hash_cert) is SHA-384 over a whole certificate's DER; the agent
 * pins the server's TLS certificate by it and the handshake signs it.
 * KeyHash (hash_cert_key) is SHA-384 over the certificate's public key, and
 * is the ServerID for the agent-server certificate and the node id for an
 * agent root certificate (spec section 1).
 *
 * All functions are pure computations with no shared state: they may be
 * called from any thread, including loop callbacks.
 */
#ifndef MESH_CRYPTO_HASH_H
#define MESH_CRYPTO_HASH_H

#include <openssl/types.h>
#include <stddef.h>
#include <stdint.h>

#define MESH_HASH_LEN 48

/* Writes SHA-384 of the n bytes at p (borrowed) into out. Never fails in
 * practice; if OpenSSL refuses, out is all zero bytes, which no caller
 * accepts as a valid id (see ident_new_agent's re-generation rule). */
void hash_sha384(const void *p, size_t n, uint8_t out[MESH_HASH_LEN]);

/* CertHash: SHA-384 of the DER encoding of c (borrowed). For a certificate
 * that came from d2i this is the hash of the exact bytes received.
 * Returns 0, or MESH_E_CRYPTO (out is then zeroed). */
int hash_cert(X509 *c, uint8_t out[MESH_HASH_LEN]);

/* KeyHash: SHA-384 of the contents of the subjectPublicKey BIT STRING of c
 * (borrowed), exactly what X509_pubkey_digest(c, EVP_sha384()) hashes. For
 * RSA that is the PKCS#1 RSAPublicKey DER. Returns 0, or MESH_E_CRYPTO
 * (out is then zeroed). */
int hash_cert_key(X509 *c, uint8_t out[MESH_HASH_LEN]);

/* Writes the B64MC text of a hash (64 characters plus NUL) into out: the
 * node and group id form used in "node/<domain>/<id>". */
void hash_to_b64mc(const uint8_t h[MESH_HASH_LEN], char out[65]);

#endif
