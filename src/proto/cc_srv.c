/*
 * cc_srv.c - the server side of the secondary handshake (spec §4.6).
 *
 * Order of events the machine accepts: 30, 31, 5 and 4 may come first (each
 * once; 5 and 4 only before 1, since 1 starts our signature); 1 and 2 in
 * either order (the agent's signature can only be checked once 1 gave us
 * its nonce); 3 at any time before admission. When the agent's signature
 * verifies, AuthInfo has arrived and our own signature is out, the owner
 * decides admission. Unlike the stock server, which silently holds a socket
 * that breaks the rules, every violation here is an error, so the owner can
 * close the connection and log why.
 */
#include <string.h>

#include "base/err.h"
#include "cc_handshake.h"

#define SEEN(s, cmd) ((s)->seen & (1u << (cmd)))

void cc_srv_init(struct cc_srv *s, const struct cc_srv_ops *ops, void *data,
                 const struct cc_server_ident *idents, int n_idents,
                 const uint8_t web_cert_hash[CC_HASH_LEN],
                 const uint8_t web_key_hash[CC_HASH_LEN],
                 const uint8_t nonce[CC_NONCE_LEN]) {
  memset(s, 0, sizeof *s);
  s->ops = ops;
  s->data = data;
  s->idents = idents;
  s->n_idents = n_idents;
  memcpy(s->web_cert_hash, web_cert_hash, CC_HASH_LEN);
  memcpy(s->web_key_hash, web_key_hash, CC_HASH_LEN);
  memcpy(s->ns, nonce, CC_NONCE_LEN);
}

/* Sends one encoded message; the stack buffer covers the largest one we
 * produce, a command 2. */
static int send_buf(struct cc_srv *s, struct buf *b, int r) {
  if (r == 0) s->ops->send(s->data, b->data, b->len);
  buf_cleanup(b);
  return r;
}

static void maybe_verify(struct cc_srv *s) {
  if (!SEEN(s, CC_AUTH_REQUEST) || !SEEN(s, CC_AUTH_VERIFY) ||
      s->verify_pending || s->verified)
    return;
  uint8_t msg[CC_SIGNED_LEN];
  memcpy(msg, s->hs, CC_HASH_LEN);
  memcpy(msg + CC_HASH_LEN, s->ns, CC_NONCE_LEN);
  memcpy(msg + CC_HASH_LEN + CC_NONCE_LEN, s->na, CC_NONCE_LEN);
  s->verify_pending = 1;
  s->ops->verify(s->data, s->cert, s->cert_len, s->sig, s->sig_len, msg);
}

static void maybe_admit(struct cc_srv *s) {
  if (s->state != CC_SRV_HANDSHAKE || !s->verified || !SEEN(s, CC_AUTH_INFO) ||
      s->sign_pending)
    return;
  s->state = CC_SRV_ADMITTING;
  s->ops->authenticated(s->data, s->node_hash, &s->info);
}

static void copy_text(char *dst, const uint8_t *p, size_t n) {
  memcpy(dst, p, n);
  dst[n] = 0;
}

static int on_auth_request(struct cc_srv *s, const uint8_t *p, size_t n) {
  int r = cc_parse_auth_request(p, n, s->hs, s->na);
  if (r) return r;
  /* The agent's view of our TLS certificate must be ours: anything else
   * means a man in the middle terminated its TLS. */
  if (memcmp(s->hs, s->web_cert_hash, CC_HASH_LEN) != 0 &&
      memcmp(s->hs, s->web_key_hash, CC_HASH_LEN) != 0)
    return MESH_E_AUTH;
  struct buf b;
  buf_init(&b, 128);
  if ((r = send_buf(s, &b, cc_put_auth_request(&b, s->hs, s->ns))) != 0)
    return r;
  if (!s->skip_sign) {
    uint8_t msg[CC_SIGNED_LEN];
    memcpy(msg, s->hs, CC_HASH_LEN);
    memcpy(msg + CC_HASH_LEN, s->na, CC_NONCE_LEN);
    memcpy(msg + CC_HASH_LEN + CC_NONCE_LEN, s->ns, CC_NONCE_LEN);
    s->sign_pending = 1;
    s->ops->sign(s->data, s->ident, msg);
  }
  return 0;
}

static int on_auth_verify(struct cc_srv *s, const uint8_t *p, size_t n) {
  const uint8_t *cert, *sig;
  int r = cc_parse_auth_verify(p, n, &cert, &s->cert_len, &sig, &s->sig_len);
  if (r) return r;
  memcpy(s->cert, cert, s->cert_len);
  memcpy(s->sig, sig, s->sig_len);
  return 0;
}

static int on_auth_info(struct cc_srv *s, const uint8_t *p, size_t n) {
  int r = cc_parse_auth_info(p, n, &s->info);
  if (r) return r;
  if (s->info.hostname_len)
    memcpy(s->hostname, s->info.hostname, s->info.hostname_len);
  s->info.hostname = s->hostname;
  return 0;
}

static int on_server_id(struct cc_srv *s, const uint8_t *p, size_t n) {
  uint8_t id[CC_HASH_LEN];
  int r = cc_parse_server_id(p, n, id);
  if (r) return r;
  /* An unknown id keeps the default identity, as the stock server does: an
   * agent configured for another server then fails its own check. */
  for (int i = 0; i < s->n_idents; i++)
    if (memcmp(id, s->idents[i].key_hash, CC_HASH_LEN) == 0) s->ident = i;
  return 0;
}

int cc_srv_post_auth(const uint8_t *p, size_t n) {
  int t = cc_msg_type(p, n);
  if (t < 0) return t;
  /* A handshake command once admitted is a confused or hostile agent. */
  return t == CC_JSON || t >= 10 ? CC_PASS : MESH_E_PROTO_STATE;
}

int cc_srv_feed(struct cc_srv *s, const uint8_t *p, size_t n) {
  int t = cc_msg_type(p, n), r;
  if (t < 0) return t;
  if (s->state == CC_SRV_DONE) return cc_srv_post_auth(p, n);
  if (t == CC_JSON) return CC_PREAUTH_JSON;
  if (s->state != CC_SRV_HANDSHAKE) return MESH_E_PROTO_STATE;
  if (t > 31 || SEEN(s, t)) return MESH_E_PROTO_STATE;
  const uint8_t *text;
  size_t len;
  switch (t) {
    case CC_COMMIT_DATE:
    case CC_HOST_INFO:
      if ((r = cc_parse_text(p, n, &text, &len)) != 0) return r;
      copy_text(t == CC_COMMIT_DATE ? s->commit_date : s->host_info, text, len);
      break;
    case CC_SERVER_ID:
      if (SEEN(s, CC_AUTH_REQUEST)) return MESH_E_PROTO_STATE;
      if ((r = on_server_id(s, p, n)) != 0) return r;
      break;
    case CC_AUTH_CONFIRM:
      if (SEEN(s, CC_AUTH_REQUEST) || n != 2) return MESH_E_PROTO_STATE;
      s->skip_sign = 1;
      break;
    case CC_AUTH_REQUEST:
      if ((r = on_auth_request(s, p, n)) != 0) return r;
      break;
    case CC_AUTH_VERIFY:
      if ((r = on_auth_verify(s, p, n)) != 0) return r;
      break;
    case CC_AUTH_INFO:
      if ((r = on_auth_info(s, p, n)) != 0) return r;
      break;
    default:
      return MESH_E_PROTO_STATE;
  }
  s->seen |= 1u << t;
  maybe_verify(s);
  maybe_admit(s);
  return CC_CONSUMED;
}

int cc_srv_signed(struct cc_srv *s, const uint8_t *sig, size_t sig_len) {
  if (!s->sign_pending) return MESH_E_PROTO_STATE;
  s->sign_pending = 0;
  const struct cc_server_ident *id = &s->idents[s->ident];
  struct buf b;
  buf_init(&b, 4 + MESH_CC_MAX_CERT + MESH_CC_MAX_SIG);
  int r = send_buf(
      s, &b, cc_put_auth_verify(&b, id->cert_der, id->cert_len, sig, sig_len));
  if (r) return r;
  maybe_admit(s);
  return 0;
}

int cc_srv_verified(struct cc_srv *s, int ok,
                    const uint8_t key_hash[CC_HASH_LEN]) {
  if (!s->verify_pending) return MESH_E_PROTO_STATE;
  s->verify_pending = 0;
  if (!ok) return MESH_E_AUTH;
  s->verified = 1;
  memcpy(s->node_hash, key_hash, CC_HASH_LEN);
  maybe_admit(s);
  return 0;
}

int cc_srv_admit(struct cc_srv *s, int admitted) {
  if (s->state != CC_SRV_ADMITTING) return MESH_E_PROTO_STATE;
  if (!admitted) return MESH_E_AUTH;
  struct buf b;
  buf_init(&b, 2);
  int r = send_buf(s, &b, cc_put_cmd(&b, CC_AUTH_CONFIRM));
  if (r == 0) s->state = CC_SRV_DONE;
  return r;
}
