/*
 * cert.h - identities (a private key with its certificate), certificate
 * generation in the profiles MeshCentral uses, and DER/PEM conversion.
 *
 * Key generation (ident_new_*) takes from ~50 ms (RSA-2048) to over a
 * second (RSA-3072): run it at startup or through uv_queue_work, never in a
 * loop callback. Everything else is cheap. No function here logs, exits or
 * keeps shared state; all may be called from any thread. On failure no
 * function leaves entries on OpenSSL's error queue.
 *
 * Out-parameters are cleared on entry and assigned only on success.
 */
#ifndef MESH_CRYPTO_CERT_H
#define MESH_CRYPTO_CERT_H

/* Callers of this API handle the X509 and EVP_PKEY objects it returns, so
 * their accessors come with it. */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* A private key and the certificate for it. Both pointers are owned by the
 * struct and released with ident_cleanup. A zeroed struct is "empty". */
struct ident {
  EVP_PKEY *key;
  X509 *cert;
};

enum ident_key { IDENT_RSA3072, IDENT_RSA2048, IDENT_EC_P256 };

/* Generates an agent root identity in the exact profile of spec 9.2: RSA
 * 3072 (e = 65537), X.509 v3, serial = 8 random ASCII decimal digits as the
 * raw INTEGER bytes, subject = issuer = CN=MeshNodeCertificate, valid from
 * now - 10 days to now + 10000 days, extensions basicConstraints (critical,
 * CA:TRUE), keyUsage (critical, keyCertSign + cRLSign) and
 * subjectKeyIdentifier, self-signed with sha384WithRSAEncryption. A key
 * whose KeyHash starts with four zero bytes is replaced, as the stock agent
 * does. Slow (RSA-3072 key generation).
 * Returns 0 with *out filled (caller owns it; free with ident_cleanup), or
 * MESH_E_NOMEM / MESH_E_CRYPTO. */
int ident_new_agent(struct ident *out);

/* Generates a self-signed CA: subject = issuer = CN=<cn>, random positive
 * 128-bit serial, valid from now - 1 day to 2049-12-31 23:59:59 UTC,
 * basicConstraints (critical, CA:TRUE), keyUsage (critical, keyCertSign +
 * cRLSign + digitalSignature), subjectKeyIdentifier, signed with SHA-384.
 * cn (borrowed) is 1..64 bytes of UTF-8.
 * Returns 0 with *out filled (caller owns it), MESH_E_INVALID for a bad cn
 * or key type, or MESH_E_NOMEM / MESH_E_CRYPTO. */
int ident_new_root(const char *cn, enum ident_key kt, struct ident *out);

/* Generates a leaf identity for CN=<cn> signed by issuer (borrowed; its
 * cert's subject becomes the issuer name): basicConstraints CA:FALSE,
 * keyUsage (critical) digitalSignature (+ keyEncipherment for RSA keys),
 * subjectKeyIdentifier, authorityKeyIdentifier, SHA-384, random serial,
 * valid from now - 1 day to 2049-12-31. If san_host (borrowed) is not NULL
 * the cert also gets subjectAltName (an IP entry when san_host parses as an
 * IPv4 or IPv6 address, else a DNS entry) and extKeyUsage serverAuth.
 * Returns 0 with *out filled (caller owns it); MESH_E_INVALID for a bad cn,
 * key type, san_host (a DNS name must be 1..253 bytes of letters, digits,
 * '-', '.', '_' or '*') or an issuer without key or cert; MESH_E_NOMEM /
 * MESH_E_CRYPTO otherwise. */
int ident_new_issued(const struct ident *issuer, const char *cn,
                     enum ident_key kt, const char *san_host,
                     struct ident *out);

/* Frees both members (the key is wiped by OpenSSL) and sets them to NULL.
 * Safe on a zeroed or already cleaned-up struct; id may be NULL. */
void ident_cleanup(struct ident *id);

/* Writes id (borrowed) as PEM: the certificate to cert_path with mode 0644
 * and the private key, unencrypted PKCS#8 ("BEGIN PRIVATE KEY"), to
 * key_path with mode 0600. Each file is written to a fresh temporary name
 * beside it (created O_EXCL with its final mode, so the key is never
 * readable by others even briefly), synced, then renamed over the target,
 * so a crash leaves either the old or the new file. The key is written
 * first: a present certificate file implies a present key file.
 * Returns 0; MESH_E_INVALID if id lacks a key or cert; MESH_E_IO (errno is
 * left set) if a file could not be written; MESH_E_NOMEM / MESH_E_CRYPTO. */
int ident_save_pem(const struct ident *id, const char *cert_path,
                   const char *key_path);

/* Reads an identity written by ident_save_pem (or any PEM certificate plus
 * PEM private key, PKCS#8 or traditional, unencrypted) into *out (caller
 * owns it). Paths are borrowed.
 * Returns 0; MESH_E_NOT_FOUND if cert_path does not exist (the caller may
 * then create a new identity); MESH_E_MALFORMED if either file cannot be
 * parsed, is over 64 KiB, is encrypted, or the key file is missing while the
 * certificate exists (a half identity must not be silently replaced);
 * MESH_E_IO for other file errors; MESH_E_CRYPTO if the key does not match
 * the certificate. */
int ident_load_pem(const char *cert_path, const char *key_path,
                   struct ident *out);

/* Appends the DER certificate to cert_der and the private key as PKCS#8
 * DER to key_der; either may be NULL to skip it. The caller owns both
 * buffers and must release key_der with buf_wipe_cleanup. On failure the
 * buffers are left at their original lengths (with any appended key bytes
 * wiped).
 * Returns 0; MESH_E_INVALID if a needed member of id is NULL;
 * MESH_E_TOO_LARGE / MESH_E_NOMEM from the buffers; MESH_E_CRYPTO. */
int ident_to_der(const struct ident *id, struct buf *cert_der,
                 struct buf *key_der);

/* Builds an identity from a DER certificate (as cert_parse_der) and a DER
 * private key (PKCS#8 or traditional, at most 16 KiB, no trailing bytes).
 * Inputs are borrowed; *out is owned by the caller.
 * Returns 0; MESH_E_MALFORMED / MESH_E_TOO_LARGE for bad input; MESH_E_CRYPTO
 * if the key does not match the certificate; MESH_E_INVALID for NULL. */
int ident_from_der(const uint8_t *cert, size_t cert_len, const uint8_t *key,
                   size_t key_len, struct ident *out);

/* Parses one DER certificate from untrusted bytes (borrowed). The whole
 * input must be the certificate: trailing bytes are refused.
 * Returns 0 with *out a new reference (free with X509_free);
 * MESH_E_TOO_LARGE if n > MESH_CC_MAX_CERT; MESH_E_MALFORMED for bad DER,
 * truncation or trailing bytes; MESH_E_INVALID if der or out is NULL. */
int cert_parse_der(const uint8_t *der, size_t n, X509 **out);

/* Appends the DER encoding of c (borrowed) to out (borrowed). For a
 * certificate that came from cert_parse_der these are the original bytes.
 * Returns 0, MESH_E_TOO_LARGE / MESH_E_NOMEM from the buffer, MESH_E_CRYPTO
 * or MESH_E_INVALID. */
int cert_to_der(X509 *c, struct buf *out);

#endif
