#include "crypto_job.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "crypto/cert.h"
#include "crypto/hash.h"
#include "crypto/sig.h"

struct job {
  uv_work_t req;
  int is_sign;
  int status;
  EVP_PKEY *key;
  uint8_t msg[CRYPTO_JOB_MAX_MSG];
  size_t msg_len;
  X509 *cert; /* parsed on the loop thread (see crypto_job_verify) */
  uint8_t sig[MESH_CC_MAX_SIG];
  size_t sig_len;
  uint8_t key_hash[MESH_HASH_LEN];
  crypto_sign_cb sign_cb;
  crypto_verify_cb verify_cb;
  void *data;
};

/* Runs on a pool thread: touches nothing but the job. */
static void job_work(uv_work_t *req) {
  struct job *j = req->data;
  if (j->is_sign) {
    j->status = sig_sign384(j->key, j->msg, j->msg_len, j->sig, sizeof j->sig,
                            &j->sig_len);
    return;
  }
  if (j->status) return; /* the certificate did not parse */
  EVP_PKEY *pub = X509_get0_pubkey(j->cert);
  if (!pub)
    j->status = MESH_E_MALFORMED;
  else if ((j->status = sig_verify384(pub, j->msg, j->msg_len, j->sig,
                                      j->sig_len)) == 0)
    j->status = hash_cert_key(j->cert, j->key_hash);
}

static void job_done(uv_work_t *req, int status) {
  struct job *j = req->data;
  if (status == UV_ECANCELED) j->status = status;
  if (j->is_sign)
    j->sign_cb(j->status, j->status ? NULL : j->sig, j->sig_len, j->data);
  else
    j->verify_cb(j->status, j->key_hash, j->data);
  EVP_PKEY_free(j->key);
  X509_free(j->cert);
  free(j);
}

static int submit(uv_loop_t *loop, struct job *j) {
  j->req.data = j;
  int r = uv_queue_work(loop, &j->req, job_work, job_done);
  if (r) {
    EVP_PKEY_free(j->key);
    X509_free(j->cert);
    free(j);
  }
  return r;
}

int crypto_job_sign(uv_loop_t *loop, EVP_PKEY *key, const uint8_t *msg,
                    size_t n, crypto_sign_cb cb, void *data) {
  if (n > CRYPTO_JOB_MAX_MSG) return MESH_E_TOO_LARGE;
  struct job *j = calloc(1, sizeof *j);
  if (!j) return MESH_E_NOMEM;
  if (!EVP_PKEY_up_ref(key)) {
    free(j);
    return MESH_E_CRYPTO;
  }
  j->is_sign = 1;
  j->key = key;
  memcpy(j->msg, msg, n);
  j->msg_len = n;
  j->sign_cb = cb;
  j->data = data;
  return submit(loop, j);
}

int crypto_job_verify(uv_loop_t *loop, const uint8_t *cert, size_t cert_len,
                      const uint8_t *sig, size_t sig_len, const uint8_t *msg,
                      size_t n, crypto_verify_cb cb, void *data) {
  if (cert_len > MESH_CC_MAX_CERT || sig_len > MESH_CC_MAX_SIG ||
      n > CRYPTO_JOB_MAX_MSG)
    return MESH_E_TOO_LARGE;
  struct job *j = calloc(1, sizeof *j);
  if (!j) return MESH_E_NOMEM;
  /* The DER is parsed here, on the loop thread, not on the pool: OpenSSL
   * 3.0 decodes the public key through its provider decoders, which did
   * not prove thread-safe here (a pool thread crashed inside
   * OSSL_DECODER_CTX_new_for_pkey under load, as in OpenSSL issue
   * #21527). Parsing takes tens of microseconds; the RSA verification,
   * which takes milliseconds, stays on the pool. */
  j->status = cert_parse_der(cert, cert_len, &j->cert);
  memcpy(j->sig, sig, sig_len);
  j->sig_len = sig_len;
  memcpy(j->msg, msg, n);
  j->msg_len = n;
  j->verify_cb = cb;
  j->data = data;
  return submit(loop, j);
}
