#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/enc.h"
#include "base/err.h"
#include "base/mesh_limits.h"
#include "crypto/cert.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "crypto/sig.h"
#include "testutil.h"

/* RSA key generation dominates this test's run time, so the identities are
 * made once: one agent (RSA-3072), one root (RSA-2048) and a leaf issued by
 * the root (EC, cheap). */
static struct ident agent, root, leaf;

static int setup(void **state) {
  (void)state;
  if (ident_new_agent(&agent) != 0) return -1;
  if (ident_new_root("MeshCentralRoot-test", IDENT_RSA2048, &root) != 0)
    return -1;
  if (ident_new_issued(&root, "localhost", IDENT_EC_P256, "localhost", &leaf) !=
      0)
    return -1;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ident_cleanup(&agent);
  ident_cleanup(&root);
  ident_cleanup(&leaf);
  return 0;
}

static const uint8_t msg144[144] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

/* Days from now to t: negative in the past. */
static int days_from_now(const ASN1_TIME *t) {
  int days = 0, secs = 0;
  assert_int_equal(ASN1_TIME_diff(&days, &secs, NULL, t), 1);
  return days;
}

static void hash_sha384_vector(void **state) {
  (void)state;
  uint8_t h[MESH_HASH_LEN];
  char hex[2 * MESH_HASH_LEN + 1];
  hash_sha384("abc", 3, h);
  enc_hex(h, sizeof h, hex, 0);
  assert_string_equal(hex,
                      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                      "1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
}

static void key_hash_is_pubkey_digest(void **state) {
  (void)state;
  uint8_t kh[MESH_HASH_LEN], want[MESH_HASH_LEN], spki[MESH_HASH_LEN];
  unsigned int n = 0;
  unsigned char *der = NULL;
  int len;

  assert_int_equal(hash_cert_key(agent.cert, kh), 0);
  assert_int_equal(X509_pubkey_digest(agent.cert, EVP_sha384(), want, &n), 1);
  assert_int_equal(n, MESH_HASH_LEN);
  assert_memory_equal(kh, want, MESH_HASH_LEN);

  /* For RSA, i2d_PublicKey emits the PKCS#1 RSAPublicKey DER. */
  len = i2d_PublicKey(agent.key, &der);
  assert_true(len > 0);
  assert_int_equal(der[0], 0x30);
  hash_sha384(der, (size_t)len, want);
  OPENSSL_free(der);
  assert_memory_equal(kh, want, MESH_HASH_LEN);

  /* And it is not the hash of the whole SubjectPublicKeyInfo. */
  der = NULL;
  len = i2d_PUBKEY(agent.key, &der);
  assert_true(len > 0);
  hash_sha384(der, (size_t)len, spki);
  OPENSSL_free(der);
  assert_memory_not_equal(kh, spki, MESH_HASH_LEN);

  /* Four zero leading bytes are never kept (spec 9.2). */
  assert_true(kh[0] | kh[1] | kh[2] | kh[3]);
}

static void cert_hash_is_der_digest(void **state) {
  (void)state;
  uint8_t ch[MESH_HASH_LEN], want[MESH_HASH_LEN];
  unsigned char *der = NULL;
  int len = i2d_X509(agent.cert, &der);

  assert_true(len > 0);
  hash_sha384(der, (size_t)len, want);
  OPENSSL_free(der);
  assert_int_equal(hash_cert(agent.cert, ch), 0);
  assert_memory_equal(ch, want, MESH_HASH_LEN);

  /* The same for a certificate decoded from the wire. */
  struct buf b;
  X509 *x = NULL;
  buf_init(&b, MESH_CC_MAX_CERT);
  assert_int_equal(cert_to_der(agent.cert, &b), 0);
  assert_int_equal((int)b.len, len);
  assert_int_equal(cert_parse_der(b.data, b.len, &x), 0);
  assert_int_equal(hash_cert(x, ch), 0);
  assert_memory_equal(ch, want, MESH_HASH_LEN);
  X509_free(x);
  buf_cleanup(&b);
}

static void node_id_text(void **state) {
  (void)state;
  uint8_t kh[MESH_HASH_LEN];
  char id[65], std[65];
  assert_int_equal(hash_cert_key(agent.cert, kh), 0);
  hash_to_b64mc(kh, id);
  assert_int_equal(strlen(id), 64);
  enc_b64(kh, sizeof kh, std, 0);
  for (size_t i = 0; i < 64; i++) {
    char want = std[i] == '+' ? '@' : std[i] == '/' ? '$' : std[i];
    assert_int_equal(id[i], want);
  }
}

static void agent_cert_profile(void **state) {
  (void)state;
  X509 *c = agent.cert;
  const X509_NAME *subj = X509_get_subject_name(c);
  const ASN1_INTEGER *serial = X509_get0_serialNumber(c);
  X509_EXTENSION *ext;
  BIGNUM *e = NULL;
  char cn[64];
  int i;

  assert_int_equal(X509_get_version(c), X509_VERSION_3);

  /* Subject = issuer = CN=MeshNodeCertificate, and nothing else. */
  assert_int_equal(X509_NAME_entry_count(subj), 1);
  assert_int_equal(
      X509_NAME_get_text_by_NID(subj, NID_commonName, cn, sizeof cn), 19);
  assert_string_equal(cn, "MeshNodeCertificate");
  assert_int_equal(X509_NAME_cmp(subj, X509_get_issuer_name(c)), 0);

  /* Serial: eight ASCII digits as the raw INTEGER content. */
  assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
  assert_int_equal(ASN1_STRING_length(serial), 8);
  for (i = 0; i < 8; i++) {
    uint8_t d = ASN1_STRING_get0_data(serial)[i];
    assert_true(d >= '0' && d <= '9');
  }

  /* Validity: now - 10 days .. now + 10000 days. */
  i = days_from_now(X509_get0_notBefore(c));
  assert_true(i <= -9 && i >= -10);
  i = days_from_now(X509_get0_notAfter(c));
  assert_true(i >= 9999 && i <= 10000);

  /* Exactly three extensions, with the criticality of the profile. */
  assert_int_equal(X509_get_ext_count(c), 3);
  ext = X509_get_ext(c, X509_get_ext_by_NID(c, NID_basic_constraints, -1));
  assert_non_null(ext);
  assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
  assert_int_equal(X509_check_ca(c), 1);
  ext = X509_get_ext(c, X509_get_ext_by_NID(c, NID_key_usage, -1));
  assert_non_null(ext);
  assert_int_equal(X509_EXTENSION_get_critical(ext), 1);
  assert_int_equal(X509_get_key_usage(c), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
  ext = X509_get_ext(c, X509_get_ext_by_NID(c, NID_subject_key_identifier, -1));
  assert_non_null(ext);
  assert_int_equal(X509_EXTENSION_get_critical(ext), 0);
  assert_non_null(X509_get0_subject_key_id(c));

  /* RSA-3072, e = 65537, sha384WithRSAEncryption, self-signed. */
  assert_int_equal(X509_get_signature_nid(c), NID_sha384WithRSAEncryption);
  assert_true(EVP_PKEY_is_a(agent.key, "RSA"));
  assert_int_equal(EVP_PKEY_get_bits(agent.key), 3072);
  assert_int_equal(EVP_PKEY_get_bn_param(agent.key, OSSL_PKEY_PARAM_RSA_E, &e),
                   1);
  assert_true(BN_is_word(e, 65537));
  BN_free(e);
  assert_int_equal(X509_verify(c, X509_get0_pubkey(c)), 1);
  assert_int_equal(X509_check_private_key(c, agent.key), 1);
}

static void root_and_issued_profiles(void **state) {
  (void)state;
  GENERAL_NAMES *gens;
  const GENERAL_NAME *gn;
  struct ident ipleaf = {0};
  char cn[64];
  int crit = -1;

  /* Root: self-signed CA, SHA-384, far-future expiry as UTCTime. */
  assert_int_equal(X509_verify(root.cert, X509_get0_pubkey(root.cert)), 1);
  assert_int_equal(X509_check_ca(root.cert), 1);
  assert_int_equal(X509_get_signature_nid(root.cert),
                   NID_sha384WithRSAEncryption);
  assert_int_equal(EVP_PKEY_get_bits(root.key), 2048);
  assert_int_equal(ASN1_STRING_type(X509_get0_notAfter(root.cert)),
                   V_ASN1_UTCTIME);
  assert_int_equal(ASN1_TIME_compare(X509_get0_notAfter(root.cert),
                                     X509_get0_notAfter(leaf.cert)),
                   0);
  assert_true(ASN1_STRING_length(X509_get0_serialNumber(root.cert)) >= 8);

  /* Leaf: signed by the root, not a CA, DNS SAN and serverAuth. */
  assert_int_equal(X509_verify(leaf.cert, X509_get0_pubkey(root.cert)), 1);
  assert_int_equal(X509_check_issued(root.cert, leaf.cert), X509_V_OK);
  assert_int_equal(X509_check_ca(leaf.cert), 0);
  assert_int_equal(X509_get_signature_nid(leaf.cert),
                   NID_sha384WithRSAEncryption);
  assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf.cert),
                                             NID_commonName, cn, sizeof cn),
                   9);
  assert_int_equal(X509_get_key_usage(leaf.cert), KU_DIGITAL_SIGNATURE);
  assert_true(X509_get_extended_key_usage(leaf.cert) & XKU_SSL_SERVER);
  assert_int_equal(X509_check_host(leaf.cert, "localhost", 0, 0, NULL), 1);
  gens = X509_get_ext_d2i(leaf.cert, NID_subject_alt_name, &crit, NULL);
  assert_non_null(gens);
  assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
  gn = sk_GENERAL_NAME_value(gens, 0);
  assert_int_equal(gn->type, GEN_DNS);
  GENERAL_NAMES_free(gens);

  /* An IP literal becomes an iPAddress entry; an RSA leaf also gets
   * keyEncipherment. The issuer here is the RSA root. */
  assert_int_equal(
      ident_new_issued(&root, "ip-leaf", IDENT_RSA2048, "10.1.2.3", &ipleaf),
      0);
  assert_int_equal(X509_check_ip_asc(ipleaf.cert, "10.1.2.3", 0), 1);
  assert_int_equal(X509_get_key_usage(ipleaf.cert),
                   KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
  assert_int_equal(X509_verify(ipleaf.cert, X509_get0_pubkey(root.cert)), 1);
  assert_int_equal(X509_check_host(ipleaf.cert, "10.1.2.3", 0, 0, NULL), 0);
  ident_cleanup(&ipleaf);
  assert_int_equal(ident_new_issued(&leaf, "v6", IDENT_EC_P256, "::1", &ipleaf),
                   0);
  assert_int_equal(X509_check_ip_asc(ipleaf.cert, "::1", 0), 1);
  assert_int_equal(X509_verify(ipleaf.cert, X509_get0_pubkey(leaf.cert)), 1);
  assert_int_equal(X509_get_signature_nid(ipleaf.cert), NID_ecdsa_with_SHA384);
  ident_cleanup(&ipleaf);

  /* Without san_host: no SAN, no extKeyUsage. */
  assert_int_equal(
      ident_new_issued(&leaf, "nosan", IDENT_EC_P256, NULL, &ipleaf), 0);
  assert_int_equal(X509_get_ext_by_NID(ipleaf.cert, NID_subject_alt_name, -1),
                   -1);
  assert_int_equal(X509_get_ext_by_NID(ipleaf.cert, NID_ext_key_usage, -1), -1);
  ident_cleanup(&ipleaf);
  ident_cleanup(&ipleaf); /* twice is harmless */

  /* Bad arguments are refused before any key is generated. */
  assert_int_equal(
      ident_new_issued(&leaf, "x", IDENT_EC_P256, "a,DNS:b", &ipleaf),
      MESH_E_INVALID);
  assert_int_equal(ident_new_issued(&leaf, "x", IDENT_EC_P256, "", &ipleaf),
                   MESH_E_INVALID);
  assert_int_equal(ident_new_issued(&leaf, "", IDENT_EC_P256, NULL, &ipleaf),
                   MESH_E_INVALID);
  assert_int_equal(
      ident_new_root(
          "0123456789012345678901234567890123456789012345678901234567890"
          "123456789",
          IDENT_EC_P256, &ipleaf),
      MESH_E_INVALID);
  assert_int_equal(ident_new_root("x", (enum ident_key)42, &ipleaf),
                   MESH_E_INVALID);
  assert_null(ipleaf.key);
  assert_null(ipleaf.cert);
}

static void sign_verify_roundtrip(void **state) {
  (void)state;
  struct ident *ids[] = {&agent, &root};
  size_t want[] = {384, 256};
  uint8_t sig[512], other[144];
  size_t siglen;

  for (size_t k = 0; k < 2; k++) {
    EVP_PKEY *key = ids[k]->key;
    EVP_PKEY *pub = X509_get0_pubkey(ids[k]->cert);
    assert_int_equal(sig_max_len(key), want[k]);
    assert_int_equal(
        sig_sign384(key, msg144, sizeof msg144, sig, sizeof sig, &siglen), 0);
    assert_int_equal(siglen, want[k]);
    assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, sig, siglen), 0);

    /* PKCS#1 v1.5 is deterministic: signing again gives the same bytes. */
    uint8_t sig2[512];
    size_t siglen2;
    assert_int_equal(
        sig_sign384(key, msg144, sizeof msg144, sig2, sizeof sig2, &siglen2),
        0);
    assert_memory_equal(sig, sig2, siglen);

    memcpy(other, msg144, sizeof other);
    other[143] ^= 1;
    assert_int_equal(sig_verify384(pub, other, sizeof other, sig, siglen),
                     MESH_E_AUTH);
    sig[siglen / 2] ^= 0x10;
    assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, sig, siglen),
                     MESH_E_AUTH);
    sig[siglen / 2] ^= 0x10;
    /* The other identity's key does not verify it. */
    assert_int_equal(sig_verify384(X509_get0_pubkey(ids[1 - k]->cert), msg144,
                                   sizeof msg144, sig, siglen),
                     MESH_E_AUTH);
    /* A short output buffer is reported, not overrun. */
    assert_int_equal(
        sig_sign384(key, msg144, sizeof msg144, sig, want[k] - 1, &siglen),
        MESH_E_TOO_LARGE);
    assert_int_equal(siglen, 0);
  }

  /* EC keys work too (ECDSA-SHA384, variable length). */
  assert_int_equal(
      sig_sign384(leaf.key, msg144, sizeof msg144, sig, sizeof sig, &siglen),
      0);
  assert_true(siglen <= sig_max_len(leaf.key));
  assert_int_equal(sig_verify384(X509_get0_pubkey(leaf.cert), msg144,
                                 sizeof msg144, sig, siglen),
                   0);
  assert_int_equal(sig_max_len(NULL), 0);
}

static void verify_garbage(void **state) {
  (void)state;
  size_t lens[] = {0, 1, 255, 256, 257, 383, 384, 385, 1000};
  EVP_PKEY *pubs[] = {X509_get0_pubkey(agent.cert), X509_get0_pubkey(root.cert),
                      X509_get0_pubkey(leaf.cert)};
  uint8_t g[1000];

  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    for (int rep = 0; rep < 4; rep++) {
      for (size_t j = 0; j < lens[i]; j++) g[j] = (uint8_t)tu_rand();
      /* Make some look like DER SEQUENCEs to get past the first byte. */
      if (rep & 1 && lens[i] > 4) {
        g[0] = 0x30;
        g[1] = 0x82;
        g[2] = (uint8_t)((lens[i] - 4) >> 8);
        g[3] = (uint8_t)(lens[i] - 4);
      }
      uint8_t *gp = tu_guard_copy(g, lens[i]);
      for (size_t k = 0; k < 3; k++)
        assert_int_equal(
            sig_verify384(pubs[k], msg144, sizeof msg144, gp, lens[i]),
            MESH_E_AUTH);
      tu_guard_free(gp, lens[i]);
    }
  }
  assert_int_equal(sig_verify384(pubs[0], msg144, sizeof msg144, NULL, 0),
                   MESH_E_AUTH);
  assert_int_equal(sig_verify384(NULL, msg144, sizeof msg144, g, 384),
                   MESH_E_INVALID);
}

/* Makes a PKCS#7 SignedData over data the way a Windows agent does: one
 * signer with its certificate, SHA-384, no signed attributes. */
static uint8_t *pkcs7_make(const struct ident *id, const void *data, size_t n,
                           size_t *len) {
  int flags = PKCS7_BINARY | PKCS7_NOATTR | PKCS7_NOSMIMECAP;
  PKCS7 *p7 = PKCS7_sign(NULL, NULL, NULL, NULL, flags | PKCS7_PARTIAL);
  BIO *in = BIO_new_mem_buf(data, (int)n);
  unsigned char *der = NULL;
  int l;

  assert_non_null(p7);
  assert_non_null(in);
  assert_non_null(
      PKCS7_sign_add_signer(p7, id->cert, id->key, EVP_sha384(), flags));
  assert_int_equal(PKCS7_final(p7, in, flags), 1);
  l = i2d_PKCS7(p7, &der);
  assert_true(l > 0);
  PKCS7_free(p7);
  BIO_free(in);
  *len = (size_t)l;
  return der;
}

static void verify_pkcs7(void **state) {
  (void)state;
  EVP_PKEY *pub = X509_get0_pubkey(agent.cert);
  uint8_t other[144];
  size_t len;
  uint8_t *p7 = pkcs7_make(&agent, msg144, sizeof msg144, &len);

  assert_true(len != 256 && len != 384);
  assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, p7, len), 0);
  /* Wrong message, wrong key, truncation and a trailing byte all fail. */
  memcpy(other, msg144, sizeof other);
  other[0] ^= 0x80;
  assert_int_equal(sig_verify384(pub, other, sizeof other, p7, len),
                   MESH_E_AUTH);
  assert_int_equal(sig_verify384(X509_get0_pubkey(root.cert), msg144,
                                 sizeof msg144, p7, len),
                   MESH_E_AUTH);
  for (size_t n = 0; n < len; n += 7) {
    uint8_t *g = tu_guard_copy(p7, n);
    assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, g, n),
                     MESH_E_AUTH);
    tu_guard_free(g, n);
  }
  /* A single flipped bit anywhere in the blob never verifies, except where
   * the flip is in bytes the check ignores (the embedded certificate and
   * the encapsulated content); it must never crash. */
  for (size_t i = 0; i < len; i += 3) {
    p7[i] ^= (uint8_t)(1u << (i % 8));
    (void)sig_verify384(pub, msg144, sizeof msg144, p7, len);
    p7[i] ^= (uint8_t)(1u << (i % 8));
  }
  assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, p7, len), 0);
  OPENSSL_free(p7);

  /* Signed over a different message: fails. */
  p7 = pkcs7_make(&agent, other, sizeof other, &len);
  assert_int_equal(sig_verify384(pub, msg144, sizeof msg144, p7, len),
                   MESH_E_AUTH);
  OPENSSL_free(p7);
}

static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static void write_text(const char *path, const char *s) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(s, f);
  fclose(f);
}

static void pem_save_load(void **state) {
  (void)state;
  char dir[256], cp[300], kp[300], missing[300];
  struct ident loaded = {0}, mixed;
  struct stat st;
  char head[64];
  FILE *f;

  snprintf(dir, sizeof dir, "%s", tu_tmpdir());
  snprintf(cp, sizeof cp, "%s/agent.crt", dir);
  snprintf(kp, sizeof kp, "%s/agent.key", dir);
  snprintf(missing, sizeof missing, "%s/none.crt", dir);

  assert_int_equal(ident_save_pem(&agent, cp, kp), 0);
  assert_int_equal(stat(kp, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(stat(cp, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0644);
  assert_int_equal(count_entries(dir), 2); /* no temporary files left */

  f = fopen(kp, "r");
  assert_non_null(f);
  assert_non_null(fgets(head, sizeof head, f));
  fclose(f);
  assert_string_equal(head, "-----BEGIN PRIVATE KEY-----\n");

  assert_int_equal(ident_load_pem(cp, kp, &loaded), 0);
  assert_int_equal(X509_cmp(loaded.cert, agent.cert), 0);
  assert_int_equal(EVP_PKEY_eq(loaded.key, agent.key), 1);
  ident_cleanup(&loaded);

  /* Saving again replaces both files in place. */
  assert_int_equal(ident_save_pem(&root, cp, kp), 0);
  assert_int_equal(count_entries(dir), 2);
  assert_int_equal(stat(kp, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(ident_load_pem(cp, kp, &loaded), 0);
  assert_int_equal(X509_cmp(loaded.cert, root.cert), 0);
  ident_cleanup(&loaded);

  /* Missing certificate: not found; missing key: a broken identity. */
  assert_int_equal(ident_load_pem(missing, kp, &loaded), MESH_E_NOT_FOUND);
  assert_int_equal(ident_load_pem(cp, missing, &loaded), MESH_E_MALFORMED);
  assert_null(loaded.key);
  assert_null(loaded.cert);

  /* A key that does not match the certificate. */
  mixed.cert = agent.cert;
  mixed.key = root.key;
  assert_int_equal(ident_save_pem(&mixed, cp, kp), 0);
  assert_int_equal(ident_load_pem(cp, kp, &loaded), MESH_E_CRYPTO);

  /* Garbage and encrypted files are refused without prompting. */
  write_text(cp, "not a certificate\n");
  assert_int_equal(ident_load_pem(cp, kp, &loaded), MESH_E_MALFORMED);
  assert_int_equal(ident_save_pem(&root, cp, kp), 0);
  f = fopen(kp, "w");
  assert_non_null(f);
  assert_int_equal(PEM_write_PrivateKey(f, root.key, EVP_aes_128_cbc(),
                                        (unsigned char *)"pw", 2, NULL, NULL),
                   1);
  fclose(f);
  assert_int_equal(ident_load_pem(cp, kp, &loaded), MESH_E_MALFORMED);
  assert_null(loaded.key);

  assert_int_equal(ident_save_pem(&loaded, cp, kp), MESH_E_INVALID);
  tu_rmdir_r(dir);
}

static void der_roundtrip(void **state) {
  (void)state;
  struct buf c, k;
  struct ident out = {0};

  buf_init(&c, MESH_CC_MAX_CERT);
  buf_init(&k, 16 * 1024);
  assert_int_equal(ident_to_der(&agent, &c, &k), 0);
  assert_true(c.len > 0 && k.len > 0);
  assert_int_equal(ident_from_der(c.data, c.len, k.data, k.len, &out), 0);
  assert_int_equal(X509_cmp(out.cert, agent.cert), 0);
  assert_int_equal(EVP_PKEY_eq(out.key, agent.key), 1);
  ident_cleanup(&out);

  /* Trailing key bytes and a mismatched key are refused. */
  assert_int_equal(ident_from_der(c.data, c.len, k.data, k.len - 1, &out),
                   MESH_E_MALFORMED);
  buf_wipe_cleanup(&k);
  buf_init(&k, 16 * 1024);
  assert_int_equal(ident_to_der(&root, NULL, &k), 0);
  assert_int_equal(ident_from_der(c.data, c.len, k.data, k.len, &out),
                   MESH_E_CRYPTO);
  assert_null(out.key);

  /* A buffer too small for the key leaves the cert buffer unchanged. */
  struct buf small;
  size_t clen = c.len;
  buf_init(&small, 16);
  assert_int_equal(ident_to_der(&root, &c, &small), MESH_E_TOO_LARGE);
  assert_int_equal(c.len, clen);
  buf_wipe_cleanup(&small);
  buf_wipe_cleanup(&k);
  buf_cleanup(&c);
}

static void parse_der_truncated(void **state) {
  (void)state;
  struct buf b;
  X509 *x = (X509 *)&b; /* must be cleared on failure */
  uint8_t big[MESH_CC_MAX_CERT + 1];

  buf_init(&b, MESH_CC_MAX_CERT + 1);
  assert_int_equal(cert_to_der(agent.cert, &b), 0);
  for (size_t n = 0; n < b.len; n++) {
    uint8_t *g = tu_guard_copy(b.data, n);
    assert_int_equal(cert_parse_der(g, n, &x), MESH_E_MALFORMED);
    assert_null(x);
    tu_guard_free(g, n);
  }
  /* One trailing byte. */
  assert_int_equal(buf_put_u8(&b, 0), 0);
  uint8_t *g = tu_guard_copy(b.data, b.len);
  assert_int_equal(cert_parse_der(g, b.len, &x), MESH_E_MALFORMED);
  assert_int_equal(cert_parse_der(g, b.len - 1, &x), 0);
  X509_free(x);
  tu_guard_free(g, b.len);

  /* Every single-bit flip in the first bytes parses or fails, never
   * crashes; the limit is checked before parsing. */
  for (size_t i = 0; i < 64; i++) {
    b.data[i] ^= (uint8_t)(1u << (i % 8));
    if (cert_parse_der(b.data, b.len - 1, &x) == 0) X509_free(x);
    b.data[i] ^= (uint8_t)(1u << (i % 8));
  }
  memset(big, 0, sizeof big);
  assert_int_equal(cert_parse_der(big, sizeof big, &x), MESH_E_TOO_LARGE);
  assert_int_equal(cert_parse_der(big, MESH_CC_MAX_CERT, &x), MESH_E_MALFORMED);
  buf_cleanup(&b);
}

static void random_bytes(void **state) {
  (void)state;
  uint8_t a[32] = {0}, z[32] = {0};
  assert_int_equal(rand_bytes(a, sizeof a), 0);
  assert_memory_not_equal(a, z, sizeof a);
  assert_int_equal(rand_bytes(a, 0), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hash_sha384_vector),
      cmocka_unit_test(key_hash_is_pubkey_digest),
      cmocka_unit_test(cert_hash_is_der_digest),
      cmocka_unit_test(node_id_text),
      cmocka_unit_test(agent_cert_profile),
      cmocka_unit_test(root_and_issued_profiles),
      cmocka_unit_test(sign_verify_roundtrip),
      cmocka_unit_test(verify_garbage),
      cmocka_unit_test(verify_pkcs7),
      cmocka_unit_test(pem_save_load),
      cmocka_unit_test(der_roundtrip),
      cmocka_unit_test(parse_der_truncated),
      cmocka_unit_test(random_bytes),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
