#include "cc.h"

#include <string.h>

#include "base/err.h"
#include "base/mesh_limits.h"

int cc_msg_type(const uint8_t *p, size_t n) {
  if (n >= 1 && p[0] == '{') return CC_JSON;
  if (n < 2) return MESH_E_MALFORMED;
  return p[0] << 8 | p[1];
}

/* Checks the command id at the start of a message. */
static int expect_cmd(struct rd *r, uint16_t cmd) {
  uint16_t id;
  if (rd_u16be(r, &id) != 0 || id != cmd) return MESH_E_MALFORMED;
  return 0;
}

int cc_parse_auth_request(const uint8_t *p, size_t n, uint8_t hash[CC_HASH_LEN],
                          uint8_t nonce[CC_NONCE_LEN]) {
  struct rd r = rd_make(p, n);
  const uint8_t *h, *no;
  if (n != 2 + CC_HASH_LEN + CC_NONCE_LEN) return MESH_E_MALFORMED;
  if (expect_cmd(&r, CC_AUTH_REQUEST) || rd_bytes(&r, CC_HASH_LEN, &h) ||
      rd_bytes(&r, CC_NONCE_LEN, &no))
    return MESH_E_MALFORMED;
  memcpy(hash, h, CC_HASH_LEN);
  memcpy(nonce, no, CC_NONCE_LEN);
  return 0;
}

int cc_put_auth_request(struct buf *b, const uint8_t hash[CC_HASH_LEN],
                        const uint8_t nonce[CC_NONCE_LEN]) {
  int r;
  if ((r = buf_put_u16be(b, CC_AUTH_REQUEST)) != 0 ||
      (r = buf_put(b, hash, CC_HASH_LEN)) != 0 ||
      (r = buf_put(b, nonce, CC_NONCE_LEN)) != 0)
    return r;
  return 0;
}

int cc_parse_auth_verify(const uint8_t *p, size_t n, const uint8_t **cert,
                         size_t *cert_len, const uint8_t **sig,
                         size_t *sig_len) {
  struct rd r = rd_make(p, n);
  uint16_t clen;
  *cert = *sig = NULL;
  *cert_len = *sig_len = 0;
  if (expect_cmd(&r, CC_AUTH_VERIFY) || rd_u16be(&r, &clen))
    return MESH_E_MALFORMED;
  if (clen > MESH_CC_MAX_CERT) return MESH_E_TOO_LARGE;
  const uint8_t *c;
  if (clen == 0 || rd_bytes(&r, clen, &c) || r.left == 0)
    return MESH_E_MALFORMED;
  if (r.left > MESH_CC_MAX_SIG) return MESH_E_TOO_LARGE;
  *cert = c;
  *cert_len = clen;
  *sig = r.p;
  *sig_len = r.left;
  return 0;
}

int cc_put_auth_verify(struct buf *b, const uint8_t *cert, size_t cert_len,
                       const uint8_t *sig, size_t sig_len) {
  int r;
  if (cert_len > MESH_CC_MAX_CERT || sig_len > MESH_CC_MAX_SIG)
    return MESH_E_TOO_LARGE;
  if ((r = buf_put_u16be(b, CC_AUTH_VERIFY)) != 0 ||
      (r = buf_put_u16be(b, (uint16_t)cert_len)) != 0 ||
      (r = buf_put(b, cert, cert_len)) != 0 ||
      (r = buf_put(b, sig, sig_len)) != 0)
    return r;
  return 0;
}

int cc_parse_auth_info(const uint8_t *p, size_t n, struct cc_auth_info *out) {
  struct rd r = rd_make(p, n);
  const uint8_t *mesh;
  uint16_t hlen = 0;
  memset(out, 0, sizeof *out);
  if (n < 70) return MESH_E_MALFORMED;
  if (expect_cmd(&r, CC_AUTH_INFO) || rd_u32be(&r, &out->info_version) ||
      rd_u32be(&r, &out->agent_id) || rd_u32be(&r, &out->agent_version) ||
      rd_u32be(&r, &out->platform_type) || rd_bytes(&r, 48, &mesh) ||
      rd_u32be(&r, &out->caps))
    return MESH_E_MALFORMED;
  memcpy(out->mesh_id, mesh, 48);
  if (out->platform_type < 1 || out->platform_type > 8) out->platform_type = 1;
  if (n == 70) return 0; /* no hostname field at all */
  if (rd_u16be(&r, &hlen)) return MESH_E_MALFORMED;
  if (hlen > MESH_CC_MAX_HOSTNAME) return MESH_E_TOO_LARGE;
  if (rd_bytes(&r, hlen, &out->hostname) || r.left != 0)
    return MESH_E_MALFORMED;
  out->hostname_len = hlen;
  return 0;
}

int cc_put_auth_info(struct buf *b, const struct cc_auth_info *in) {
  int r;
  if (in->hostname_len > MESH_CC_MAX_HOSTNAME) return MESH_E_TOO_LARGE;
  if ((r = buf_put_u16be(b, CC_AUTH_INFO)) != 0 ||
      (r = buf_put_u32be(b, in->info_version)) != 0 ||
      (r = buf_put_u32be(b, in->agent_id)) != 0 ||
      (r = buf_put_u32be(b, in->agent_version)) != 0 ||
      (r = buf_put_u32be(b, in->platform_type)) != 0 ||
      (r = buf_put(b, in->mesh_id, 48)) != 0 ||
      (r = buf_put_u32be(b, in->caps)) != 0 ||
      (r = buf_put_u16be(b, (uint16_t)in->hostname_len)) != 0 ||
      (r = buf_put(b, in->hostname, in->hostname_len)) != 0)
    return r;
  return 0;
}

int cc_parse_server_id(const uint8_t *p, size_t n, uint8_t id[CC_HASH_LEN]) {
  struct rd r = rd_make(p, n);
  const uint8_t *h;
  if (n != 2 + CC_HASH_LEN || expect_cmd(&r, CC_SERVER_ID) ||
      rd_bytes(&r, CC_HASH_LEN, &h))
    return MESH_E_MALFORMED;
  memcpy(id, h, CC_HASH_LEN);
  return 0;
}

int cc_put_server_id(struct buf *b, const uint8_t id[CC_HASH_LEN]) {
  int r;
  if ((r = buf_put_u16be(b, CC_SERVER_ID)) != 0 ||
      (r = buf_put(b, id, CC_HASH_LEN)) != 0)
    return r;
  return 0;
}

int cc_parse_text(const uint8_t *p, size_t n, const uint8_t **text,
                  size_t *len) {
  *text = NULL;
  *len = 0;
  if (n < 2) return MESH_E_MALFORMED;
  size_t l = n - 2;
  while (l && p[2 + l - 1] == 0) l--;
  if (l > MESH_CC_MAX_TEXT) return MESH_E_TOO_LARGE;
  *text = p + 2;
  *len = l;
  return 0;
}

int cc_put_text(struct buf *b, uint16_t cmd, const char *text, int nul) {
  size_t l = strlen(text);
  int r;
  if (l > MESH_CC_MAX_TEXT) return MESH_E_TOO_LARGE;
  if ((r = buf_put_u16be(b, cmd)) != 0 || (r = buf_put(b, text, l)) != 0 ||
      (nul && (r = buf_put_u8(b, 0)) != 0))
    return r;
  return 0;
}

int cc_put_cmd(struct buf *b, uint16_t cmd) { return buf_put_u16be(b, cmd); }

int cc_parse_request(const uint8_t *p, size_t n, uint16_t *cmd, uint16_t *req,
                     const uint8_t **body, size_t *body_len) {
  struct rd r = rd_make(p, n);
  if (rd_u16be(&r, cmd) || rd_u16be(&r, req)) return MESH_E_MALFORMED;
  *body = r.p;
  *body_len = r.left;
  return 0;
}

int cc_put_request(struct buf *b, uint16_t cmd, uint16_t req,
                   const uint8_t *body, size_t body_len) {
  int r;
  if ((r = buf_put_u16be(b, cmd)) != 0 || (r = buf_put_u16be(b, req)) != 0 ||
      (r = buf_put(b, body, body_len)) != 0)
    return r;
  return 0;
}
