/*
 * srv_keys.c - the server's certificates in its data folder.
 *
 * root-*.pem    a private CA that issues the web certificate
 * web-*.pem     the HTTPS certificate (EC P-256: every agent connection
 *               starts with a TLS handshake, and ECDSA makes that cheap;
 *               agents pin its hash, not its chain)
 * agentserver-*.pem   the long-term identity agents trust: RSA-3072, its
 *               KeyHash is the ServerID in every .msh
 * agentserver-N-*.pem (N = 1..7) further identities, for example one
 *               imported from a MeshCentral server whose agents move over;
 *               an agent picks one with command 5
 * cookie.key    32 random bytes that seal relay cookies and install links
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/enc.h"
#include "base/err.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "srv.h"

static int load_or_create(const char *dir, const char *stem,
                          const struct ident *issuer, const char *cn,
                          enum ident_key kt, const char *san, struct ident *out,
                          int create) {
  char cert[4096], key[4096], file[256];
  int r;
  snprintf(file, sizeof file, "%s-cert.pem", stem);
  if ((r = srv_path(cert, sizeof cert, dir, file)) != 0) return r;
  snprintf(file, sizeof file, "%s-key.pem", stem);
  if ((r = srv_path(key, sizeof key, dir, file)) != 0) return r;
  r = ident_load_pem(cert, key, out);
  if (r != MESH_E_NOT_FOUND || !create) return r;
  r = issuer ? ident_new_issued(issuer, cn, kt, san, out)
             : ident_new_root(cn, kt, out);
  if (r == 0) r = ident_save_pem(out, cert, key);
  return r;
}

/* A short random suffix keeps certificate names of different servers
 * apart, as the stock server does. */
static void suffixed(char *out, size_t cap, const char *prefix) {
  uint8_t rnd[3] = {0};
  char hex[7];
  rand_bytes(rnd, sizeof rnd);
  enc_hex(rnd, 3, hex, 0);
  snprintf(out, cap, "%s-%s", prefix, hex);
}

static int add_agent_ident(struct srv_keys *k) {
  int i = k->n_agent;
  struct buf der;
  buf_init(&der, 64 * 1024);
  int r = cert_to_der(k->agent[i].cert, &der);
  if (r == 0) r = hash_cert_key(k->agent[i].cert, k->cc[i].key_hash);
  if (r) {
    buf_cleanup(&der);
    return r;
  }
  k->agent_der[i] = der.data; /* the buffer's storage now belongs to k */
  k->cc[i].cert_der = der.data;
  k->cc[i].cert_len = der.len;
  k->n_agent++;
  return 0;
}

static int spki_pin(X509 *cert, char out[ENC_B64_LEN(32) + 1]) {
  uint8_t *der = NULL, md[32];
  int n = i2d_PUBKEY(X509_get0_pubkey(cert), &der);
  if (n <= 0) return MESH_E_CRYPTO;
  SHA256(der, (size_t)n, md);
  OPENSSL_free(der);
  enc_b64(md, sizeof md, out, 0);
  return 0;
}

/* Reads cookie.key, or creates it (0600, O_EXCL so two starts cannot
 * race to different keys). Anything but exactly SEAL_KEY_LEN bytes is
 * refused rather than silently replaced: every token would die. */
static int load_cookie_key(const char *dir, uint8_t key[SEAL_KEY_LEN]) {
  char path[4096];
  int r = srv_path(path, sizeof path, dir, "cookie.key");
  if (r) return r;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd >= 0) {
    uint8_t extra;
    ssize_t n = read(fd, key, SEAL_KEY_LEN);
    ssize_t more = n == SEAL_KEY_LEN ? read(fd, &extra, 1) : 0;
    close(fd);
    return n == SEAL_KEY_LEN && more == 0 ? 0 : MESH_E_MALFORMED;
  }
  if (errno != ENOENT) return -errno;
  if ((r = rand_bytes(key, SEAL_KEY_LEN)) != 0) return r;
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  ssize_t n = write(fd, key, SEAL_KEY_LEN);
  r = n == SEAL_KEY_LEN && fsync(fd) == 0 ? 0 : MESH_E_IO;
  close(fd);
  if (r) unlink(path);
  return r;
}

int srv_keys_load(const char *dir, const char *name, struct srv_keys *k) {
  char cn[64];
  int r;
  memset(k, 0, sizeof *k);
  suffixed(cn, sizeof cn, "meshd-root");
  if ((r = load_or_create(dir, "root", NULL, cn, IDENT_EC_P256, NULL, &k->root,
                          1)) != 0)
    goto out;
  if ((r = load_or_create(dir, "web", &k->root, name, IDENT_EC_P256, name,
                          &k->web, 1)) != 0)
    goto out;
  if ((r = hash_cert(k->web.cert, k->web_cert_hash)) != 0 ||
      (r = hash_cert_key(k->web.cert, k->web_key_hash)) != 0 ||
      (r = spki_pin(k->web.cert, k->web_pin)) != 0)
    goto out;
  suffixed(cn, sizeof cn, "meshd-agentserver");
  if ((r = load_or_create(dir, "agentserver", &k->root, cn, IDENT_RSA3072, NULL,
                          &k->agent[0], 1)) != 0 ||
      (r = add_agent_ident(k)) != 0)
    goto out;
  for (int i = 1; i < SRV_MAX_IDENTS; i++) {
    char stem[32];
    snprintf(stem, sizeof stem, "agentserver-%d", i);
    r = load_or_create(dir, stem, NULL, NULL, IDENT_RSA3072, NULL,
                       &k->agent[k->n_agent], 0);
    if (r == MESH_E_NOT_FOUND) continue;
    if (r || (r = add_agent_ident(k)) != 0) goto out;
  }
  r = load_cookie_key(dir, k->cookie_key);
out:
  if (r) srv_keys_cleanup(k);
  return r;
}

void srv_keys_cleanup(struct srv_keys *k) {
  ident_cleanup(&k->root);
  ident_cleanup(&k->web);
  for (int i = 0; i < SRV_MAX_IDENTS; i++) {
    ident_cleanup(&k->agent[i]);
    free(k->agent_der[i]);
  }
  OPENSSL_cleanse(k, sizeof *k);
}

void srv_keys_server_id(const struct srv_keys *k, char out[97]) {
  enc_hex(k->cc[0].key_hash, CC_HASH_LEN, out, 1);
}
