/*
 * seal.c - AES-256-GCM tokens (see seal.h), on OpenSSL's EVP interface.
 */
#include "crypto/seal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/rand.h"

#define SEAL_HEAD (SEAL_IV_LEN + SEAL_TAG_LEN)

/* Runs GCM over in (n bytes) into out: encrypt when tag_out is set (the
 * tag is written there), else decrypt and check tag_in. */
static int gcm(const uint8_t key[SEAL_KEY_LEN], const uint8_t iv[SEAL_IV_LEN],
               const uint8_t *in, size_t n, uint8_t *out, uint8_t *tag_out,
               const uint8_t *tag_in) {
  int enc = tag_out != NULL, len = 0, r = MESH_E_CRYPTO;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx) return MESH_E_NOMEM;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1 ||
      EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
    goto out;
  if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN,
                                  (void *)tag_in) != 1)
    goto out;
  if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1) {
    r = enc ? MESH_E_CRYPTO : MESH_E_AUTH;
    goto out;
  }
  if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN,
                                 tag_out) != 1)
    goto out;
  r = 0;
out:
  EVP_CIPHER_CTX_free(ctx);
  return r;
}

int seal_token(const uint8_t key[SEAL_KEY_LEN], const void *plain, size_t n,
               char *out, size_t cap) {
  uint8_t raw[SEAL_HEAD + SEAL_MAX_PLAIN];
  int r;
  if (cap) out[0] = 0;
  if (n > SEAL_MAX_PLAIN || cap < SEAL_TOKEN_LEN(n) + 1)
    return MESH_E_TOO_LARGE;
  if ((r = rand_bytes(raw, SEAL_IV_LEN)) != 0 ||
      (r = gcm(key, raw, plain, n, raw + SEAL_HEAD, raw + SEAL_IV_LEN, NULL)) !=
          0)
    goto out;
  enc_b64(raw, SEAL_HEAD + n, out, 1);
out:
  OPENSSL_cleanse(raw, sizeof raw);
  return r;
}

int seal_open(const uint8_t key[SEAL_KEY_LEN], const char *token, uint8_t *out,
              size_t cap, size_t *n) {
  uint8_t raw[SEAL_HEAD + SEAL_MAX_PLAIN];
  size_t tl = strnlen(token, SEAL_TOKEN_LEN(SEAL_MAX_PLAIN) + 1);
  *n = 0;
  if (tl > SEAL_TOKEN_LEN(SEAL_MAX_PLAIN)) return MESH_E_TOO_LARGE;
  ssize_t got = enc_unb64(token, tl, raw, sizeof raw);
  if (got < 0) return got == MESH_E_TOO_LARGE ? got : MESH_E_MALFORMED;
  if ((size_t)got < SEAL_HEAD) return MESH_E_MALFORMED;
  size_t pn = (size_t)got - SEAL_HEAD;
  if (pn > cap) return MESH_E_TOO_LARGE;
  int r = gcm(key, raw, raw + SEAL_HEAD, pn, out, NULL, raw + SEAL_IV_LEN);
  if (r == 0)
    *n = pn;
  else
    OPENSSL_cleanse(out, pn);
  OPENSSL_cleanse(raw, sizeof raw);
  return r;
}
