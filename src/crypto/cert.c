#include "cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/mesh_limits.h"
#include "hash.h"
#include "rand.h"

/* RFC 5280 upper bound for a commonName, and the longest DNS name. */
#define CERT_MAX_CN 64
#define CERT_MAX_DNS 253
/* Identity files and DER keys are a few KiB; anything far larger is not
 * ours and is refused before it is read into memory. */
#define CERT_MAX_PEM_FILE (64 * 1024)
#define CERT_MAX_KEY_DER (16 * 1024)
/* Attempts at an agent key whose KeyHash does not start with four zero
 * bytes; each retry has a 2^-32 chance of being needed. */
#define CERT_AGENT_KEY_TRIES 4

/* "Not after" for the root and issued profiles: the last instant that
 * RFC 5280 still encodes as UTCTime. ASN1_TIME_set_string_X509 picks the
 * UTCTime form for it. */
static const char cert_far_future[] = "20491231235959Z";

/* Key generation. */

static EVP_PKEY *gen_rsa(size_t bits) {
  /* e = 65537 is OpenSSL's default too; it is set explicitly because the
   * agent profile (spec 9.2) fixes it. */
  unsigned int e = 65537;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_size_t(OSSL_PKEY_PARAM_RSA_BITS, &bits),
      OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_E, &e), OSSL_PARAM_END};
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
  EVP_PKEY *key = NULL;

  if (ctx == NULL) return NULL;
  if (EVP_PKEY_keygen_init(ctx) != 1 ||
      EVP_PKEY_CTX_set_params(ctx, params) != 1 ||
      EVP_PKEY_generate(ctx, &key) != 1)
    key = NULL;
  EVP_PKEY_CTX_free(ctx);
  return key;
}

static EVP_PKEY *gen_key(enum ident_key kt) {
  switch (kt) {
    case IDENT_RSA3072:
      return gen_rsa(3072);
    case IDENT_RSA2048:
      return gen_rsa(2048);
    case IDENT_EC_P256:
      return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  }
  return NULL;
}

static int key_type_ok(enum ident_key kt) {
  return kt == IDENT_RSA3072 || kt == IDENT_RSA2048 || kt == IDENT_EC_P256;
}

static int cn_ok(const char *cn) {
  size_t n;
  if (cn == NULL) return 0;
  n = strnlen(cn, CERT_MAX_CN + 1);
  return n >= 1 && n <= CERT_MAX_CN;
}

/* Certificate building blocks. Each returns 0 or MESH_E_CRYPTO. */

/* Starts a v3 certificate for key with subject CN=cn. The issuer name is
 * taken from issuer, or is the subject itself when issuer is NULL. */
static int cert_begin(EVP_PKEY *key, const char *cn, X509 *issuer, X509 **out) {
  X509 *x = X509_new();
  X509_NAME *name = X509_NAME_new();
  int r = MESH_E_CRYPTO;

  *out = NULL;
  if (x == NULL || name == NULL) goto out;
  if (X509_set_version(x, X509_VERSION_3) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 (const unsigned char *)cn, -1, -1, 0) != 1 ||
      X509_set_subject_name(x, name) != 1 ||
      X509_set_issuer_name(
          x, issuer != NULL ? X509_get_subject_name(issuer) : name) != 1 ||
      X509_set_pubkey(x, key) != 1)
    goto out;
  *out = x;
  x = NULL;
  r = 0;
out:
  X509_NAME_free(name);
  X509_free(x);
  return r;
}

/* Sets a random positive 127-bit serial. The top byte is forced into
 * 0x40..0x7f, so the INTEGER is positive, non-zero and needs no leading
 * zero byte: the raw bytes are already minimal DER content. */
static int set_serial_random(X509 *x) {
  uint8_t s[16];
  if (rand_bytes(s, sizeof s) != 0) return MESH_E_CRYPTO;
  s[0] = (uint8_t)((s[0] & 0x3f) | 0x40);
  return ASN1_STRING_set(X509_get_serialNumber(x), s, sizeof s) == 1
             ? 0
             : MESH_E_CRYPTO;
}

/* Sets the agent profile's serial: 8 random ASCII digits taken as the raw
 * INTEGER bytes (0x30..0x39, so positive and minimal). Rejection sampling
 * keeps the digits uniform. */
static int set_serial_digits(X509 *x) {
  uint8_t s[8], b;
  size_t i = 0;

  while (i < sizeof s) {
    if (rand_bytes(&b, 1) != 0) return MESH_E_CRYPTO;
    if (b >= 250) continue;
    s[i++] = (uint8_t)('0' + b % 10);
  }
  return ASN1_STRING_set(X509_get_serialNumber(x), s, sizeof s) == 1
             ? 0
             : MESH_E_CRYPTO;
}

/* Validity from now - before_days to now + after_days, or to the fixed far
 * future when after_days is negative. */
static int set_validity(X509 *x, int before_days, int after_days) {
  if (X509_time_adj_ex(X509_getm_notBefore(x), -before_days, 0, NULL) == NULL)
    return MESH_E_CRYPTO;
  if (after_days < 0)
    return ASN1_TIME_set_string_X509(X509_getm_notAfter(x), cert_far_future) ==
                   1
               ? 0
               : MESH_E_CRYPTO;
  return X509_time_adj_ex(X509_getm_notAfter(x), after_days, 0, NULL) != NULL
             ? 0
             : MESH_E_CRYPTO;
}

/* Adds one extension from OpenSSL's config syntax. Only constant strings
 * from this file are passed here, never caller text, so no value can smuggle
 * in extra config directives (the SAN is built by hand for that reason). */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value) {
  X509V3_CTX ctx;
  X509_EXTENSION *ext;
  int ok;

  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
  ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
  if (ext == NULL) return MESH_E_CRYPTO;
  ok = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1 ? 0 : MESH_E_CRYPTO;
}

static int dns_name_ok(const char *h, size_t n) {
  if (n == 0 || n > CERT_MAX_DNS) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = h[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
          c == '*'))
      return 0;
  }
  return 1;
}

/* Adds subjectAltName with one entry: an iPAddress when host parses as an
 * IPv4 or IPv6 literal, otherwise a dNSName. The caller checked host. */
static int add_san(X509 *x, const char *host) {
  GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
  GENERAL_NAME *gn = GENERAL_NAME_new();
  ASN1_STRING *val = NULL;
  uint8_t ip[16];
  int iplen = 0, type, r = MESH_E_CRYPTO;

  if (gens == NULL || gn == NULL) goto out;
  if (inet_pton(AF_INET, host, ip) == 1)
    iplen = 4;
  else if (inet_pton(AF_INET6, host, ip) == 1)
    iplen = 16;
  if (iplen > 0) {
    type = GEN_IPADD;
    val = ASN1_OCTET_STRING_new();
    if (val == NULL || ASN1_STRING_set(val, ip, iplen) != 1) goto out;
  } else {
    type = GEN_DNS;
    val = ASN1_IA5STRING_new();
    if (val == NULL || ASN1_STRING_set(val, host, -1) != 1) goto out;
  }
  GENERAL_NAME_set0_value(gn, type, val);
  val = NULL;
  if (sk_GENERAL_NAME_push(gens, gn) <= 0) goto out;
  gn = NULL;
  if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) !=
      1)
    goto out;
  r = 0;
out:
  ASN1_STRING_free(val);
  GENERAL_NAME_free(gn);
  GENERAL_NAMES_free(gens);
  return r;
}

static int cert_sign(X509 *x, EVP_PKEY *signer) {
  return X509_sign(x, signer, EVP_sha384()) > 0 ? 0 : MESH_E_CRYPTO;
}

/* Moves key and cert into out on success; frees them otherwise. */
static int finish(int r, EVP_PKEY *key, X509 *x, struct ident *out) {
  if (r != 0) {
    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(key);
    return r;
  }
  out->key = key;
  out->cert = x;
  return 0;
}

int ident_new_agent(struct ident *out) {
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  uint8_t kh[MESH_HASH_LEN];
  int r = MESH_E_CRYPTO;

  if (out == NULL) return MESH_E_INVALID;
  out->key = NULL;
  out->cert = NULL;
  /* The stock agent treats a KeyHash starting with four zero bytes as "no
   * identity" (spec 9.2), so such a key must never be kept. */
  for (int i = 0; i < CERT_AGENT_KEY_TRIES; i++) {
    X509_free(x);
    EVP_PKEY_free(key);
    x = NULL;
    if ((key = gen_key(IDENT_RSA3072)) == NULL) goto out;
    if ((r = cert_begin(key, "MeshNodeCertificate", NULL, &x)) != 0 ||
        (r = hash_cert_key(x, kh)) != 0)
      goto out;
    if (kh[0] | kh[1] | kh[2] | kh[3]) break;
    r = MESH_E_CRYPTO;
  }
  if (r != 0) goto out;
  if ((r = set_serial_digits(x)) != 0 ||
      (r = set_validity(x, 10, 10000)) != 0 ||
      (r = add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE")) != 0 ||
      (r = add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign")) !=
          0 ||
      (r = add_ext(x, NULL, NID_subject_key_identifier, "hash")) != 0 ||
      (r = cert_sign(x, key)) != 0)
    goto out;
out:
  return finish(r, key, x, out);
}

int ident_new_root(const char *cn, enum ident_key kt, struct ident *out) {
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  int r;

  if (out == NULL) return MESH_E_INVALID;
  out->key = NULL;
  out->cert = NULL;
  if (!cn_ok(cn) || !key_type_ok(kt)) return MESH_E_INVALID;
  if ((key = gen_key(kt)) == NULL)
    return finish(MESH_E_CRYPTO, NULL, NULL, out);
  if ((r = cert_begin(key, cn, NULL, &x)) != 0 ||
      (r = set_serial_random(x)) != 0 || (r = set_validity(x, 1, -1)) != 0 ||
      (r = add_ext(x, NULL, NID_basic_constraints, "critical,CA:TRUE")) != 0 ||
      (r = add_ext(x, NULL, NID_key_usage,
                   "critical,keyCertSign,cRLSign,digitalSignature")) != 0 ||
      (r = add_ext(x, NULL, NID_subject_key_identifier, "hash")) != 0 ||
      (r = cert_sign(x, key)) != 0)
    goto out;
out:
  return finish(r, key, x, out);
}

int ident_new_issued(const struct ident *issuer, const char *cn,
                     enum ident_key kt, const char *san_host,
                     struct ident *out) {
  EVP_PKEY *key = NULL;
  X509 *x = NULL;
  int r;

  if (out == NULL) return MESH_E_INVALID;
  out->key = NULL;
  out->cert = NULL;
  if (issuer == NULL || issuer->key == NULL || issuer->cert == NULL ||
      !cn_ok(cn) || !key_type_ok(kt))
    return MESH_E_INVALID;
  if (san_host != NULL) {
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, san_host, &a4) != 1 &&
        inet_pton(AF_INET6, san_host, &a6) != 1 &&
        !dns_name_ok(san_host, strnlen(san_host, CERT_MAX_DNS + 1)))
      return MESH_E_INVALID;
  }
  if ((key = gen_key(kt)) == NULL)
    return finish(MESH_E_CRYPTO, NULL, NULL, out);
  if ((r = cert_begin(key, cn, issuer->cert, &x)) != 0 ||
      (r = set_serial_random(x)) != 0 || (r = set_validity(x, 1, -1)) != 0 ||
      (r = add_ext(x, issuer->cert, NID_basic_constraints, "CA:FALSE")) != 0 ||
      (r = add_ext(x, issuer->cert, NID_key_usage,
                   EVP_PKEY_is_a(key, "RSA")
                       ? "critical,digitalSignature,keyEncipherment"
                       : "critical,digitalSignature")) != 0 ||
      (r = add_ext(x, issuer->cert, NID_subject_key_identifier, "hash")) != 0 ||
      (r = add_ext(x, issuer->cert, NID_authority_key_identifier, "keyid")) !=
          0)
    goto out;
  if (san_host != NULL &&
      ((r = add_san(x, san_host)) != 0 ||
       (r = add_ext(x, issuer->cert, NID_ext_key_usage, "serverAuth")) != 0))
    goto out;
  r = cert_sign(x, issuer->key);
out:
  return finish(r, key, x, out);
}

void ident_cleanup(struct ident *id) {
  if (id == NULL) return;
  EVP_PKEY_free(id->key);
  X509_free(id->cert);
  id->key = NULL;
  id->cert = NULL;
}

/* PEM files. */

/* Writes len bytes to path atomically: a new temporary file beside it,
 * created with O_EXCL and the final mode so it is never more readable than
 * intended, then fsync and rename. Returns 0 or MESH_E_IO / MESH_E_NOMEM
 * with errno preserved from the failing call. */
static int write_atomic(const char *path, mode_t mode, const void *data,
                        size_t len) {
  size_t plen = strlen(path);
  char *tmp = malloc(plen + sizeof ".tmp-0123456789abcdef");
  const uint8_t *p = data;
  int fd = -1, r = MESH_E_IO, saved;

  if (tmp == NULL) return MESH_E_NOMEM;
  for (int tries = 0; fd < 0 && tries < 8; tries++) {
    uint8_t rnd[8];
    if (rand_bytes(rnd, sizeof rnd) != 0) {
      r = MESH_E_CRYPTO;
      goto out;
    }
    snprintf(tmp, plen + sizeof ".tmp-0123456789abcdef",
             "%s.tmp-%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0 && errno != EEXIST) goto out;
  }
  if (fd < 0) goto out;
  /* The umask may have cleared bits of a wider mode such as 0644; the mode
   * requested is the mode meant. It can only ever narrow the key's 0600. */
  if (fchmod(fd, mode) != 0) goto fail;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) goto fail;
    p += w;
    len -= (size_t)w;
  }
  if (fsync(fd) != 0) goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, path) != 0) goto fail;
  r = 0;
  goto out;
fail:
  saved = errno;
  if (fd >= 0) close(fd);
  fd = -1;
  unlink(tmp);
  errno = saved;
out:
  free(tmp);
  return r;
}

/* Serialises with a PEM writer into a memory BIO and writes the result to
 * path. The BIO's bytes are cleansed before it is freed because for the
 * private key they are the key itself. */
static int write_pem(const char *path, mode_t mode, const struct ident *id,
                     int key) {
  BIO *b = BIO_new(BIO_s_secmem());
  char *data = NULL;
  long len;
  int r = MESH_E_CRYPTO;

  if (b == NULL) return MESH_E_NOMEM;
  if (key ? PEM_write_bio_PrivateKey(b, id->key, NULL, NULL, 0, NULL, NULL) != 1
          : PEM_write_bio_X509(b, id->cert) != 1)
    goto out;
  len = BIO_get_mem_data(b, &data);
  if (len <= 0 || data == NULL) goto out;
  r = write_atomic(path, mode, data, (size_t)len);
  OPENSSL_cleanse(data, (size_t)len);
out:
  if (r == MESH_E_CRYPTO) ERR_clear_error();
  BIO_free(b);
  return r;
}

int ident_save_pem(const struct ident *id, const char *cert_path,
                   const char *key_path) {
  int r;

  if (id == NULL || id->key == NULL || id->cert == NULL || cert_path == NULL ||
      key_path == NULL)
    return MESH_E_INVALID;
  /* Key first: ident_load_pem treats a missing certificate as "no identity
   * yet", so the certificate must be the last file to appear. */
  if ((r = write_pem(key_path, 0600, id, 1)) != 0) return r;
  return write_pem(cert_path, 0644, id, 0);
}

/* Reads a whole small file into out. Returns 0, MESH_E_NOT_FOUND,
 * MESH_E_MALFORMED (too large), MESH_E_IO or MESH_E_NOMEM. The caller
 * cleans out up (wiping it for key files) whatever the result. */
static int read_file(const char *path, struct buf *out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC), r;
  struct stat st;

  if (fd < 0) return errno == ENOENT ? MESH_E_NOT_FOUND : MESH_E_IO;
  if (fstat(fd, &st) != 0) {
    r = MESH_E_IO;
    goto out;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > CERT_MAX_PEM_FILE) {
    r = MESH_E_MALFORMED;
    goto out;
  }
  /* Reserve once so a key is never copied around by buffer growth. */
  if ((r = buf_reserve(out, CERT_MAX_PEM_FILE + 1)) != 0) goto out;
  for (;;) {
    ssize_t n = read(fd, out->data + out->len, out->cap - out->len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      r = MESH_E_IO;
      goto out;
    }
    if (n == 0) break;
    out->len += (size_t)n;
    if (out->len == out->cap) {
      r = MESH_E_MALFORMED; /* the file grew past the limit */
      goto out;
    }
  }
  r = 0;
out:
  close(fd);
  return r;
}

/* Never prompt for a passphrase: OpenSSL's default callback would read one
 * from the terminal. Encrypted keys are refused instead. */
static int no_passphrase(char *b, int size, int rwflag, void *u) {
  (void)b;
  (void)size;
  (void)rwflag;
  (void)u;
  return -1;
}

int ident_load_pem(const char *cert_path, const char *key_path,
                   struct ident *out) {
  struct buf cb, kb;
  BIO *bio = NULL;
  X509 *x = NULL;
  EVP_PKEY *key = NULL;
  int r;

  if (out == NULL) return MESH_E_INVALID;
  out->key = NULL;
  out->cert = NULL;
  if (cert_path == NULL || key_path == NULL) return MESH_E_INVALID;
  buf_init(&cb, CERT_MAX_PEM_FILE + 1);
  buf_init(&kb, CERT_MAX_PEM_FILE + 1);
  if ((r = read_file(cert_path, &cb)) != 0) goto out;
  if ((r = read_file(key_path, &kb)) != 0) {
    if (r == MESH_E_NOT_FOUND) r = MESH_E_MALFORMED;
    goto out;
  }
  r = MESH_E_MALFORMED;
  if ((bio = BIO_new_mem_buf(cb.data, (int)cb.len)) == NULL) {
    r = MESH_E_NOMEM;
    goto out;
  }
  if ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)) == NULL) goto out;
  BIO_free(bio);
  if ((bio = BIO_new_mem_buf(kb.data, (int)kb.len)) == NULL) {
    r = MESH_E_NOMEM;
    goto out;
  }
  if ((key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)) == NULL)
    goto out;
  if (EVP_PKEY_eq(X509_get0_pubkey(x), key) != 1) {
    r = MESH_E_CRYPTO;
    goto out;
  }
  out->key = key;
  out->cert = x;
  key = NULL;
  x = NULL;
  r = 0;
out:
  if (r != 0) ERR_clear_error();
  BIO_free(bio);
  EVP_PKEY_free(key);
  X509_free(x);
  buf_cleanup(&cb);
  buf_wipe_cleanup(&kb);
  return r;
}

/* DER. */

int cert_to_der(X509 *c, struct buf *out) {
  int len, r;
  unsigned char *p;

  if (c == NULL || out == NULL) return MESH_E_INVALID;
  if ((len = i2d_X509(c, NULL)) <= 0) {
    ERR_clear_error();
    return MESH_E_CRYPTO;
  }
  if ((r = buf_reserve(out, (size_t)len)) != 0) return r;
  p = out->data + out->len;
  if (i2d_X509(c, &p) != len) {
    ERR_clear_error();
    return MESH_E_CRYPTO;
  }
  out->len += (size_t)len;
  return 0;
}

/* Appends the PKCS#8 DER of key to out, reserving first so the key bytes
 * are written once, in place, and never left behind by a realloc. */
static int key_to_der(EVP_PKEY *key, struct buf *out) {
  PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
  unsigned char *d = NULL;
  int len = -1, r = MESH_E_CRYPTO;

  if (p8 == NULL || (len = i2d_PKCS8_PRIV_KEY_INFO(p8, &d)) <= 0) goto out;
  r = buf_reserve(out, (size_t)len);
  if (r == 0) r = buf_put(out, d, (size_t)len);
out:
  if (r == MESH_E_CRYPTO) ERR_clear_error();
  if (d != NULL) OPENSSL_clear_free(d, (size_t)len);
  PKCS8_PRIV_KEY_INFO_free(p8); /* clears its key octets on free */
  return r;
}

int ident_to_der(const struct ident *id, struct buf *cert_der,
                 struct buf *key_der) {
  size_t cert_len0 = cert_der != NULL ? cert_der->len : 0;
  int r;

  if (id == NULL || (cert_der != NULL && id->cert == NULL) ||
      (key_der != NULL && id->key == NULL))
    return MESH_E_INVALID;
  if (cert_der != NULL && (r = cert_to_der(id->cert, cert_der)) != 0) return r;
  if (key_der != NULL && (r = key_to_der(id->key, key_der)) != 0) {
    if (cert_der != NULL) cert_der->len = cert_len0;
    return r;
  }
  return 0;
}

int cert_parse_der(const uint8_t *der, size_t n, X509 **out) {
  const unsigned char *p = der;
  X509 *x;

  if (out == NULL) return MESH_E_INVALID;
  *out = NULL;
  if (der == NULL) return MESH_E_INVALID;
  if (n > MESH_CC_MAX_CERT) return MESH_E_TOO_LARGE;
  if (n == 0) return MESH_E_MALFORMED;
  x = d2i_X509(NULL, &p, (long)n);
  if (x == NULL || p != der + n) {
    /* Trailing bytes are refused: CertHash and KeyHash must be of exactly
     * the bytes the peer sent, with nothing smuggled alongside. */
    X509_free(x);
    ERR_clear_error();
    return MESH_E_MALFORMED;
  }
  *out = x;
  return 0;
}

int ident_from_der(const uint8_t *cert, size_t cert_len, const uint8_t *key,
                   size_t key_len, struct ident *out) {
  const unsigned char *p = key;
  X509 *x = NULL;
  EVP_PKEY *k = NULL;
  int r;

  if (out == NULL) return MESH_E_INVALID;
  out->key = NULL;
  out->cert = NULL;
  if (cert == NULL || key == NULL) return MESH_E_INVALID;
  if (key_len > CERT_MAX_KEY_DER) return MESH_E_TOO_LARGE;
  if ((r = cert_parse_der(cert, cert_len, &x)) != 0) return r;
  r = MESH_E_MALFORMED;
  if (key_len == 0) goto out;
  k = d2i_AutoPrivateKey(NULL, &p, (long)key_len);
  if (k == NULL || p != key + key_len) goto out;
  if (EVP_PKEY_eq(X509_get0_pubkey(x), k) != 1) {
    r = MESH_E_CRYPTO;
    goto out;
  }
  out->key = k;
  out->cert = x;
  return 0;
out:
  ERR_clear_error();
  EVP_PKEY_free(k);
  X509_free(x);
  return r;
}
