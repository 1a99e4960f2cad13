/*
 * cc_agent.c - the agent side of the secondary handshake (spec §4.5).
 *
 * The agent trusts one server identity, not the web PKI: it accepts the
 * server only when the certificate in command 2 hashes to its ServerID and
 * signs our nonce together with the TLS certificate we actually see. Until
 * both sides are authenticated it acts on nothing but commands 1, 2 and 4;
 * anything else is an error that closes the connection.
 */
#include <string.h>

#include "base/err.h"
#include "cc_handshake.h"

#define SEEN(a, cmd) ((a)->seen & (1u << (cmd)))
#define AUTH_SERVER_OK 1u
#define AUTH_AGENT_OK 2u

static int send_buf(struct cc_agent *a, struct buf *b, int r) {
  if (r == 0) a->ops->send(a->data, b->data, b->len);
  buf_cleanup(b);
  return r;
}

static int send_auth_info(struct cc_agent *a) {
  struct buf b;
  buf_init(&b, 128 + MESH_CC_MAX_HOSTNAME);
  return send_buf(a, &b, cc_put_auth_info(&b, &a->cfg->info));
}

static int maybe_open(struct cc_agent *a) {
  if (a->auth != (AUTH_SERVER_OK | AUTH_AGENT_OK)) return 0;
  struct buf b;
  buf_init(&b, 4 + MESH_CC_MAX_TEXT);
  int r = send_buf(a, &b,
                   cc_put_text(&b, CC_AGENT_TAG, a->cfg->tag ? a->cfg->tag : "",
                               a->cfg->tag != NULL));
  if (r) return r;
  a->ops->connected(a->data, a->skipped);
  return 0;
}

int cc_agent_start(struct cc_agent *a, const struct cc_agent_ops *ops,
                   void *data, const struct cc_agent_config *cfg,
                   const uint8_t peer_cert_hash[CC_HASH_LEN],
                   const uint8_t peer_key_hash[CC_HASH_LEN],
                   const uint8_t nonce[CC_NONCE_LEN]) {
  memset(a, 0, sizeof *a);
  a->ops = ops;
  a->data = data;
  a->cfg = cfg;
  memcpy(a->peer_cert_hash, peer_cert_hash, CC_HASH_LEN);
  memcpy(a->peer_key_hash, peer_key_hash, CC_HASH_LEN);
  memcpy(a->na, nonce, CC_NONCE_LEN);

  struct buf b;
  int r;
  buf_init(&b, 4 + MESH_CC_MAX_TEXT);
  if ((r = send_buf(a, &b,
                    cc_put_text(&b, CC_COMMIT_DATE, cfg->commit_date, 1))) != 0)
    return r;
  if (cfg->host_info &&
      (r = send_buf(a, &b, cc_put_text(&b, CC_HOST_INFO, cfg->host_info, 0))))
    return r;
  if ((r = send_buf(a, &b, cc_put_server_id(&b, cfg->server_id))) != 0)
    return r;
  /* A pin that matches the certificate we see means this server already
   * proved its identity over this very certificate: skip its signature. */
  if (cfg->pinned && memcmp(cfg->pinned, peer_cert_hash, CC_HASH_LEN) == 0) {
    if ((r = send_buf(a, &b, cc_put_cmd(&b, CC_AUTH_CONFIRM))) != 0) return r;
    a->auth = AUTH_SERVER_OK;
    a->skipped = 1;
  }
  if ((r = send_buf(a, &b, cc_put_auth_request(&b, peer_cert_hash, a->na))))
    return r;
  if (a->skipped) return send_auth_info(a);
  return 0;
}

static int on_auth_request(struct cc_agent *a, const uint8_t *p, size_t n) {
  uint8_t hash[CC_HASH_LEN], msg[CC_SIGNED_LEN];
  int r = cc_parse_auth_request(p, n, hash, a->ns);
  if (r) return r;
  if (memcmp(hash, a->peer_cert_hash, CC_HASH_LEN) != 0 &&
      memcmp(hash, a->peer_key_hash, CC_HASH_LEN) != 0)
    return MESH_E_AUTH;
  memcpy(msg, hash, CC_HASH_LEN);
  memcpy(msg + CC_HASH_LEN, a->ns, CC_NONCE_LEN);
  memcpy(msg + CC_HASH_LEN + CC_NONCE_LEN, a->na, CC_NONCE_LEN);
  a->ops->sign(a->data, msg);
  return 0;
}

static int on_auth_verify(struct cc_agent *a, const uint8_t *p, size_t n) {
  const uint8_t *cert, *sig;
  size_t cert_len, sig_len;
  uint8_t msg[CC_SIGNED_LEN];
  if (!SEEN(a, CC_AUTH_REQUEST)) return MESH_E_PROTO_STATE;
  int r = cc_parse_auth_verify(p, n, &cert, &cert_len, &sig, &sig_len);
  if (r) return r;
  if (a->skipped) return 0; /* we told it to skip; nothing to check */
  /* Our own view of the TLS certificate, not the echo, goes into the
   * message: a relay that rewrote TLS cannot make this verify. */
  memcpy(msg, a->peer_cert_hash, CC_HASH_LEN);
  memcpy(msg + CC_HASH_LEN, a->na, CC_NONCE_LEN);
  memcpy(msg + CC_HASH_LEN + CC_NONCE_LEN, a->ns, CC_NONCE_LEN);
  a->verify_pending = 1;
  a->ops->verify(a->data, cert, cert_len, sig, sig_len, msg);
  return 0;
}

int cc_agent_feed(struct cc_agent *a, const uint8_t *p, size_t n) {
  int t = cc_msg_type(p, n), r;
  if (t < 0) return t;
  if (cc_agent_open(a)) {
    /* The handshake ids mean nothing once open; the stock agent drops
     * them, and so do we. */
    return (t != CC_JSON && t < 10) ? CC_CONSUMED : CC_PASS;
  }
  if (t > 31 || SEEN(a, t)) return MESH_E_PROTO_STATE;
  switch (t) {
    case CC_AUTH_REQUEST:
      r = on_auth_request(a, p, n);
      break;
    case CC_AUTH_VERIFY:
      r = on_auth_verify(a, p, n);
      break;
    case CC_AUTH_CONFIRM:
      if (n != 2) return MESH_E_MALFORMED;
      a->auth |= AUTH_AGENT_OK;
      a->seen |= 1u << t;
      return maybe_open(a);
    default:
      return MESH_E_PROTO_STATE;
  }
  if (r) return r;
  a->seen |= 1u << t;
  return CC_CONSUMED;
}

int cc_agent_signed(struct cc_agent *a, const uint8_t *sig, size_t sig_len) {
  struct buf b;
  buf_init(&b, 4 + MESH_CC_MAX_CERT + MESH_CC_MAX_SIG);
  return send_buf(
      a, &b,
      cc_put_auth_verify(&b, a->cfg->cert_der, a->cfg->cert_len, sig, sig_len));
}

int cc_agent_verified(struct cc_agent *a, int ok,
                      const uint8_t key_hash[CC_HASH_LEN]) {
  if (!a->verify_pending) return MESH_E_PROTO_STATE;
  a->verify_pending = 0;
  if (!ok || memcmp(key_hash, a->cfg->server_id, CC_HASH_LEN) != 0)
    return MESH_E_AUTH;
  a->auth |= AUTH_SERVER_OK;
  a->ops->pin(a->data, a->peer_cert_hash);
  int r = send_auth_info(a);
  if (r) return r;
  return maybe_open(a);
}

int cc_agent_open(const struct cc_agent *a) {
  return a->auth == (AUTH_SERVER_OK | AUTH_AGENT_OK);
}
