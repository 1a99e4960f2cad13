#include "hash.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"

void hash_sha384(const void *p, size_t n, uint8_t out[MESH_HASH_LEN]) {
  unsigned int len = 0;

  if (EVP_Digest(p, n, out, &len, EVP_sha384(), NULL) != 1 ||
      len != MESH_HASH_LEN) {
    ERR_clear_error();
    memset(out, 0, MESH_HASH_LEN);
  }
}

int hash_cert(X509 *c, uint8_t out[MESH_HASH_LEN]) {
  unsigned int len = 0;

  /* X509_digest hashes i2d_X509(c), and i2d of a decoded certificate
   * re-emits the cached original encoding, so this is the hash of the wire
   * bytes even if they were not strictly canonical DER. */
  if (c == NULL || X509_digest(c, EVP_sha384(), out, &len) != 1 ||
      len != MESH_HASH_LEN) {
    ERR_clear_error();
    memset(out, 0, MESH_HASH_LEN);
    return MESH_E_CRYPTO;
  }
  return 0;
}

int hash_cert_key(X509 *c, uint8_t out[MESH_HASH_LEN]) {
  unsigned int len = 0;

  if (c == NULL || X509_pubkey_digest(c, EVP_sha384(), out, &len) != 1 ||
      len != MESH_HASH_LEN) {
    ERR_clear_error();
    memset(out, 0, MESH_HASH_LEN);
    return MESH_E_CRYPTO;
  }
  return 0;
}

void hash_to_b64mc(const uint8_t h[MESH_HASH_LEN], char out[65]) {
  enc_b64(h, MESH_HASH_LEN, out, 1);
}
