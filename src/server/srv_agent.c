/*
 * srv_agent.c - /agent.ashx: one control channel per agent.
 *
 * A connection lives from the WebSocket upgrade to its on_close. It holds a
 * reference for the socket, one for its deadline timer and one per RSA job
 * on the thread pool; it is freed when the last goes, so a job that ends
 * after the socket closed finds its connection still there, sees it closed
 * and does nothing.
 *
 * An admitted connection is in srv->agents under its node id. A second
 * connection for the same node replaces the first: the old one leaves the
 * table at once and is closed, and its close no longer touches the device.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "base/text.h"
#include "crypto/hash.h"
#include "crypto/rand.h"
#include "net/crypto_job.h"
#include "net/http_srv.h"
#include "net/ws.h"
#include "cores.h"
#include "ctl.h"
#include "srv.h"
#include "update.h"

/* Pre-auth JSON an agent may send (agentName); more is an attack. */
#define AGENT_MAX_PREAUTH_JSON 4
/* WebSocket close codes we use (4000-4999 are for applications). */
#define CLOSE_POLICY 1008
#define CLOSE_REPLACED 4000

struct agent_conn {
  struct srv *srv;
  struct ws *ws;
  struct cc_srv *cc; /* the handshake; freed once the agent is admitted */
  uv_timer_t deadline;
  int refs;
  int closed;   /* the socket is gone */
  int admitted; /* this connection owns the node's table entry */
  int preauth_json;
  char node_id[65];
  char group_id[97]; /* the device's group, once admitted */
  char peer[64];
  char agent_name[MESH_CC_MAX_HOSTNAME + 1];
  uint32_t arch, agent_version, caps; /* from command 3 */
  struct srv_update *upd;             /* update.c: a native update is running */
  struct cores_conn core;             /* cores.c, once admitted */
};

static void conn_unref(struct agent_conn *a) {
  if (--a->refs == 0) {
    free(a->cc);
    free(a);
  }
}

/* Closes the connection with a logged reason; safe to call repeatedly. */
static void conn_fail(struct agent_conn *a, uint16_t code, int err,
                      const char *what) {
  if (a->closed) return;
  char reason[96];
  snprintf(reason, sizeof reason, "%s: %s", what, mesh_strerror(err));
  log_warn("event=agent_refused peer=%s node=%s reason=\"%s\"", a->peer,
           a->node_id[0] ? a->node_id : "-", reason);
  /* The peer gets the same reason in the close frame. */
  ws_close(a->ws, code, reason);
}

/* Any negative result from the state machine ends the connection. */
static void check(struct agent_conn *a, int r, const char *what) {
  if (r < 0) conn_fail(a, CLOSE_POLICY, r, what);
}

/* Called after every call into the state machine: once the agent is
 * admitted, the handshake's buffers (certificate, signature, about 13 KB)
 * are of no more use, and every connected agent would otherwise carry
 * them for its whole life. */
static void release_handshake(struct agent_conn *a) {
  if (a->cc && a->cc->state == CC_SRV_DONE) {
    free(a->cc);
    a->cc = NULL;
  }
}

static void cc_send(void *data, const uint8_t *p, size_t n) {
  struct agent_conn *a = data;
  if (!a->closed) ws_send(a->ws, WS_BINARY, p, n);
}

static void on_signed(int status, const uint8_t *sig, size_t len, void *data) {
  struct agent_conn *a = data;
  if (!a->closed) {
    if (status)
      conn_fail(a, 1011, status, "signing failed");
    else
      check(a, cc_srv_signed(a->cc, sig, len), "sign result");
    release_handshake(a);
  }
  conn_unref(a);
}

static void cc_sign(void *data, int ident, const uint8_t msg[CC_SIGNED_LEN]) {
  struct agent_conn *a = data;
  int r = crypto_job_sign(a->srv->loop, a->srv->keys.agent[ident].key, msg,
                          CC_SIGNED_LEN, on_signed, a);
  if (r)
    conn_fail(a, 1011, r, "cannot queue signature");
  else
    a->refs++;
}

static void on_verified(int status, const uint8_t key_hash[CC_HASH_LEN],
                        void *data) {
  struct agent_conn *a = data;
  if (!a->closed) {
    if (status)
      conn_fail(a, CLOSE_POLICY, status, "agent signature");
    else
      check(a, cc_srv_verified(a->cc, 1, key_hash), "verify result");
    release_handshake(a);
  }
  conn_unref(a);
}

static void cc_verify(void *data, const uint8_t *cert, size_t cert_len,
                      const uint8_t *sig, size_t sig_len,
                      const uint8_t msg[CC_SIGNED_LEN]) {
  struct agent_conn *a = data;
  int r = crypto_job_verify(a->srv->loop, cert, cert_len, sig, sig_len, msg,
                            CC_SIGNED_LEN, on_verified, a);
  if (r)
    conn_fail(a, 1011, r, "cannot queue verification");
  else
    a->refs++;
}

/* The device group an agent names in command 3 (spec §4.2): 48 bytes as
 * B64MC, or a legacy 32-byte id as lower-case hex. */
static void group_id_of(const uint8_t mesh_id[48], char out[97]) {
  static const uint8_t zero[16];
  if (memcmp(mesh_id + 32, zero, 16) == 0)
    enc_hex(mesh_id, 32, out, 0);
  else
    enc_b64(mesh_id, 48, out, 1);
}

static void take_over_node(struct agent_conn *a) {
  struct srv *s = a->srv;
  struct agent_conn *old = strmap_get(&s->agents, a->node_id);
  if (old) {
    old->admitted = 0;
    log_info("event=agent_replaced node=%s old_peer=%s new_peer=%s", a->node_id,
             old->peer, a->peer);
    ws_close(old->ws, CLOSE_REPLACED, "replaced by a newer connection");
  }
  if (strmap_set(&s->agents, a->node_id, a) == 0) a->admitted = 1;
}

static void cc_authenticated(void *data, const uint8_t node_hash[CC_HASH_LEN],
                             const struct cc_auth_info *info) {
  struct agent_conn *a = data;
  struct srv *s = a->srv;
  char group[97], host[MESH_CC_MAX_HOSTNAME + 1], *stored = NULL;
  int created = 0;
  struct store_group g;

  hash_to_b64mc(node_hash, a->node_id);
  group_id_of(info->mesh_id, group);
  int r = store_group_get(s->store, group, 0, &g);
  if (r) {
    log_warn(
        "event=agent_refused peer=%s node=%s group=%s "
        "reason=\"unknown device group\"",
        a->peer, a->node_id, group);
    cc_srv_admit(a->cc, 0);
    ws_close(a->ws, CLOSE_POLICY, "unknown device group");
    return;
  }
  store_group_cleanup(&g);
  memcpy(host, info->hostname, info->hostname_len);
  host[info->hostname_len] = 0;
  /* Everything the agent says about itself is stored, listed and shown:
   * make it valid UTF-8 without control characters first. */
  text_clean(host);
  text_clean(a->agent_name);
  text_clean(a->cc->host_info);
  text_clean(a->cc->commit_date);
  char addr[64];
  snprintf(addr, sizeof addr, "%s", a->peer);
  char *colon = strrchr(addr, ':');
  if (colon) *colon = 0;
  struct store_agent_seen seen = {
      .node_id = a->node_id,
      .group_id = group,
      .name = a->agent_name[0] ? a->agent_name : host,
      .os = a->cc->host_info,
      .commit_date = a->cc->commit_date,
      .addr = addr,
      .peer = a->peer,
      .platform = info->platform_type,
      .agent_id = info->agent_id,
      .caps = info->caps,
  };
  if ((r = store_device_online(s->store, &seen, &stored, &created)) != 0) {
    conn_fail(a, 1011, r, "database");
    return;
  }
  if ((r = cc_srv_admit(a->cc, 1)) != 0) {
    free(stored);
    check(a, r, "admit");
    return;
  }
  take_over_node(a);
  a->arch = info->agent_id;
  a->agent_version = info->agent_version;
  a->caps = info->caps;
  snprintf(a->group_id, sizeof a->group_id, "%s", stored);
  events_node_state(s, a->node_id, stored, 1, created);
  uv_timer_stop(&a->deadline);
  ws_set_idle_timeout(a->ws, s->cfg.agent_idle_ms);
  log_info(
      "event=agent_online peer=%s node=%s group=%s name=\"%s\" "
      "agent_id=%u caps=0x%x server_sig=%s",
      a->peer, a->node_id, stored, seen.name, info->agent_id, info->caps,
      a->cc->skip_sign ? "skipped" : "sent");
  free(stored);
  /* Ask for the agent's binary hash (command 12) to record it. */
  uint8_t q[4] = {0, CC_AGENT_HASH, 0, 0};
  ws_send(a->ws, WS_BINARY, q, sizeof q);
  cores_admitted(&a->core, s, a->ws, a->node_id, a->group_id, info->caps,
                 info->agent_version);
}

static const struct cc_srv_ops agent_cc_ops = {
    .send = cc_send,
    .sign = cc_sign,
    .verify = cc_verify,
    .authenticated = cc_authenticated,
};

static void on_preauth_json(struct agent_conn *a, const uint8_t *p, size_t n) {
  if (++a->preauth_json > AGENT_MAX_PREAUTH_JSON) {
    conn_fail(a, CLOSE_POLICY, MESH_E_PROTO_STATE, "too many messages");
    return;
  }
  json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
  const char *action = NULL, *value = NULL;
  if (j &&
      json_unpack(j, "{s:s, s:s}", "action", &action, "value", &value) == 0 &&
      strcmp(action, "agentName") == 0 && value[0] &&
      strlen(value) < sizeof a->agent_name)
    snprintf(a->agent_name, sizeof a->agent_name, "%s", value);
  json_decref(j);
}

static void on_agent_json(struct agent_conn *a, const uint8_t *p, size_t n) {
  json_error_t err;
  json_t *j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &err);
  const char *action = NULL;
  if (!j || json_unpack(j, "{s:s}", "action", &action) != 0) {
    json_decref(j);
    conn_fail(a, 1007, MESH_E_MALFORMED, "bad JSON");
    return;
  }
  if (a->upd) {
    /* While its binary is replaced, only the update's own messages
     * matter: the agent is about to restart (spec §6.4, §6.5). */
    srv_update_on_json(a->upd, j, action);
  } else if (strcmp(action, "ping") == 0) {
    static const char pong[] = "{\"action\":\"pong\"}";
    ws_send(a->ws, WS_BINARY, pong, sizeof pong - 1);
  } else if (a->admitted && cores_on_json(&a->core, j, action)) {
    /* a report of the agent's core */
  } else {
    log_debug("event=agent_json node=%s action=\"%.32s\" ignored=1", a->node_id,
              action);
  }
  json_decref(j);
}

static void on_agent_command(struct agent_conn *a, const uint8_t *p, size_t n) {
  uint16_t cmd, req;
  const uint8_t *body;
  size_t len;
  if (cc_parse_request(p, n, &cmd, &req, &body, &len) != 0) return;
  if (cmd == CC_AGENT_HASH && len == CC_HASH_LEN) {
    char hex[2 * CC_HASH_LEN + 1];
    enc_hex(body, len, hex, 0);
    store_device_set_agent_hash(a->srv->store, a->node_id, hex);
    if (a->admitted && !a->upd) {
      int r = srv_update_check(a->srv, a->ws, a->node_id, a->peer, a->arch,
                               a->agent_version, a->caps, body, &a->upd);
      if (r < 0) log_warn_r(r, "event=agent_update node=%s", a->node_id);
    }
  } else if (cmd == CC_AGENT_UPDATE_BLOCK && a->upd) {
    int r = srv_update_on_ack(a->upd, req, len);
    if (r) conn_fail(a, CLOSE_POLICY, r, "agent update ack");
  } else if (cmd == CC_CORE_MODULE_HASH && a->upd) {
    /* The reply to the update's core clear: no core until it restarts. */
  } else if (cmd == CC_CORE_MODULE_HASH && a->admitted) {
    cores_on_hash(&a->core, body, len);
  }
  /* Core, tag and update replies matter once cores and updates exist. */
}

static void on_message(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                       void *data) {
  struct agent_conn *a = data;
  (void)w;
  (void)t; /* the first byte decides, never the opcode (spec §2.2) */
  int r = a->cc ? cc_srv_feed(a->cc, p, n) : cc_srv_post_auth(p, n);
  if (r == CC_PREAUTH_JSON) {
    on_preauth_json(a, p, n);
  } else if (r == CC_PASS) {
    if (p[0] == '{')
      on_agent_json(a, p, n);
    else
      on_agent_command(a, p, n);
  } else {
    check(a, r, "handshake");
  }
  release_handshake(a);
}

static void on_deadline_closed(uv_handle_t *h) { conn_unref(h->data); }

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct agent_conn *a = data;
  struct srv *s = a->srv;
  (void)w;
  a->closed = 1;
  s->n_conns--;
  srv_update_stop(a->upd);
  a->upd = NULL;
  if (a->admitted) {
    strmap_del(&s->agents, a->node_id);
    /* 1: the agent is on another server now, online there. */
    int moved = store_device_offline(s->store, a->node_id) == 1;
    if (!moved) events_node_state(s, a->node_id, a->group_id, 0, 0);
    log_info(
        "event=agent_offline peer=%s node=%s code=%d reason=\"%s\" "
        "moved=%d",
        a->peer, a->node_id, code, reason ? reason : "", moved);
  } else {
    log_info("event=agent_closed peer=%s code=%d reason=\"%s\"", a->peer, code,
             reason ? reason : "");
  }
  uv_close((uv_handle_t *)&a->deadline, on_deadline_closed);
  conn_unref(a);
}

static void on_deadline(uv_timer_t *t) {
  struct agent_conn *a = t->data;
  conn_fail(a, CLOSE_POLICY, MESH_E_TIMEOUT, "handshake deadline");
}

static const struct ws_cbs agent_ws_cbs = {
    .on_message = on_message,
    .on_close = on_close,
};

void srv_agent_accept(struct srv *s, struct http_conn *c,
                      const struct http_req *req) {
  struct agent_conn *a = calloc(1, sizeof *a);
  uint8_t nonce[CC_NONCE_LEN];
  if (a) a->cc = malloc(sizeof *a->cc);
  if (!a || !a->cc || rand_bytes(nonce, sizeof nonce) != 0) {
    if (a) free(a->cc);
    free(a);
    http_respond(c, 503, NULL, "text/plain", "busy\n", 5);
    return;
  }
  a->srv = s;
  snprintf(a->peer, sizeof a->peer, "%s", req->peer);
  cc_srv_init(a->cc, &agent_cc_ops, a, s->keys.cc, s->keys.n_agent,
              s->keys.web_cert_hash, s->keys.web_key_hash, nonce);
  a->ws = http_upgrade_ws(c, req, &agent_ws_cbs, a);
  if (!a->ws) { /* http_upgrade_ws answered with an error status */
    free(a->cc);
    free(a);
    return;
  }
  a->refs = 2; /* the socket and the deadline timer */
  ws_set_max_message(a->ws, MESH_CC_MAX_MESSAGE);
  s->n_conns++;
  uv_timer_init(s->loop, &a->deadline);
  a->deadline.data = a;
  uv_timer_start(&a->deadline, on_deadline, s->cfg.auth_ms, 0);
}

void srv_agent_kick(struct srv *s, const char *node_id, const char *reason) {
  struct agent_conn *a = strmap_get(&s->agents, node_id);
  if (a) ws_close(a->ws, CLOSE_POLICY, reason);
}

struct cores_conn *srv_agent_cores(struct srv *s, const char *node_id) {
  struct agent_conn *a = strmap_get(&s->agents, node_id);
  return a && !a->closed && a->admitted ? &a->core : NULL;
}

int srv_agent_send_json(struct srv *s, const char *node_id, json_t *msg) {
  struct agent_conn *a = strmap_get(&s->agents, node_id);
  if (!a || a->closed || !a->admitted) return MESH_E_NOT_FOUND;
  char *text = json_dumps(msg, JSON_COMPACT);
  if (!text) return MESH_E_NOMEM;
  /* Binary, like the pong above: the agent tells JSON by its first byte
   * and the stock server's messages reach it either way. */
  int r = ws_send(a->ws, WS_BINARY, text, strlen(text));
  free(text);
  return r;
}
