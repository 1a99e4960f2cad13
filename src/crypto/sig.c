#include "sig.h"

#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "base/err.h"

/* Sets up ctx for SHA-384 signing or verification with key. For RSA the
 * padding is pinned to PKCS#1 v1.5, which is OpenSSL's default today; being
 * explicit keeps a provider or config default from changing the wire
 * format. Returns 1 on success like the OpenSSL calls it wraps. */
static int md_init(EVP_MD_CTX *ctx, EVP_PKEY *key, int sign) {
  EVP_PKEY_CTX *pctx = NULL;
  int ok = sign ? EVP_DigestSignInit(ctx, &pctx, EVP_sha384(), NULL, key)
                : EVP_DigestVerifyInit(ctx, &pctx, EVP_sha384(), NULL, key);
  if (ok != 1) return 0;
  if (EVP_PKEY_is_a(key, "RSA") &&
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
    return 0;
  return 1;
}

int sig_sign384(EVP_PKEY *key, const void *msg, size_t n, uint8_t *sig,
                size_t sigcap, size_t *siglen) {
  EVP_MD_CTX *ctx = NULL;
  size_t len = 0;
  int r = MESH_E_CRYPTO;

  if (siglen != NULL) *siglen = 0;
  if (key == NULL || (msg == NULL && n > 0) || sig == NULL || siglen == NULL)
    return MESH_E_INVALID;
  if ((ctx = EVP_MD_CTX_new()) == NULL) return MESH_E_NOMEM;
  if (md_init(ctx, key, 1) != 1) goto out;
  /* Ask for the maximum length first so a short buffer is reported as
   * such rather than as an opaque OpenSSL failure. */
  if (EVP_DigestSign(ctx, NULL, &len, msg, n) != 1) goto out;
  if (len > sigcap) {
    r = MESH_E_TOO_LARGE;
    goto out;
  }
  len = sigcap;
  if (EVP_DigestSign(ctx, sig, &len, msg, n) != 1) goto out;
  *siglen = len;
  r = 0;
out:
  if (r != 0) ERR_clear_error();
  EVP_MD_CTX_free(ctx);
  return r;
}

/* Checks a raw Sig384. Returns 0 or MESH_E_AUTH. */
static int verify_raw(EVP_PKEY *pub, const void *msg, size_t n,
                      const uint8_t *sig, size_t siglen) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int r = MESH_E_AUTH;

  if (ctx == NULL) return MESH_E_AUTH;
  if (siglen > 0 && md_init(ctx, pub, 0) == 1 &&
      EVP_DigestVerify(ctx, sig, siglen, msg, n) == 1)
    r = 0;
  EVP_MD_CTX_free(ctx);
  return r;
}

/* Checks sig as a CMS/PKCS#7 SignedData blob whose single signer signed
 * msg directly (no signed attributes, so the signature value is a plain
 * Sig384 over the content). CMS_verify is deliberately not used: it would
 * want a trust store for the embedded certificate, while the protocol's
 * trust comes only from pub, the key of the command 2 certificate.
 * Returns 0 or MESH_E_AUTH. */
static int verify_cms(EVP_PKEY *pub, const void *msg, size_t n,
                      const uint8_t *sig, size_t siglen) {
  const unsigned char *p = sig;
  CMS_ContentInfo *cms = NULL;
  STACK_OF(CMS_SignerInfo) * sis;
  CMS_SignerInfo *si;
  X509_ALGOR *dig = NULL;
  const ASN1_OBJECT *dig_oid = NULL;
  ASN1_OCTET_STRING *value;
  int r = MESH_E_AUTH;

  if (siglen > LONG_MAX) return MESH_E_AUTH;
  cms = d2i_CMS_ContentInfo(NULL, &p, (long)siglen);
  if (cms == NULL || p != sig + siglen) goto out;
  if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) goto out;
  sis = CMS_get0_SignerInfos(cms);
  if (sis == NULL || sk_CMS_SignerInfo_num(sis) != 1) goto out;
  si = sk_CMS_SignerInfo_value(sis, 0);
  /* With signed attributes the signature covers their DER, not msg. */
  if (CMS_signed_get_attr_count(si) >= 0) goto out;
  CMS_SignerInfo_get0_algs(si, NULL, NULL, &dig, NULL);
  if (dig == NULL) goto out;
  X509_ALGOR_get0(&dig_oid, NULL, NULL, dig);
  if (OBJ_obj2nid(dig_oid) != NID_sha384) goto out;
  value = CMS_SignerInfo_get0_signature(si);
  if (value == NULL) goto out;
  r = verify_raw(pub, msg, n, ASN1_STRING_get0_data(value),
                 (size_t)ASN1_STRING_length(value));
out:
  CMS_ContentInfo_free(cms);
  return r;
}

int sig_verify384(EVP_PKEY *pub, const void *msg, size_t n, const uint8_t *sig,
                  size_t siglen) {
  int r;

  if (pub == NULL || (msg == NULL && n > 0)) return MESH_E_INVALID;
  if (sig == NULL) return MESH_E_AUTH;
  if (siglen == 256 || siglen == 384) {
    r = verify_raw(pub, msg, n, sig, siglen);
  } else {
    r = verify_cms(pub, msg, n, sig, siglen);
    if (r != 0) r = verify_raw(pub, msg, n, sig, siglen);
  }
  /* Failed parses and verifications leave entries on the thread's error
   * queue; a stale entry there would make a later SSL_get_error on this
   * thread report a bogus failure. */
  ERR_clear_error();
  return r;
}

size_t sig_max_len(EVP_PKEY *key) {
  int n = key != NULL ? EVP_PKEY_get_size(key) : 0;
  return n > 0 ? (size_t)n : 0;
}
