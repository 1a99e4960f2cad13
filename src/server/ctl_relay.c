/*
 * ctl_relay.c - the user API side of relay sessions (docs/sessions.md §1,
 * docs/user-api.md §7.20-7.21): `authcookie` hands out the relay tokens,
 * `msg` of type `tunnel` registers a tunnel id and asks the agent to join.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/enc.h"
#include "base/err.h"
#include "base/log.h"
#include "ctl.h"
#include "net/http_parse.h"
#include "recording.h"
#include "relay.h"
#include "relay_table.h"
#include "relay_token.h"

/* The relay URL a tunnel request may carry: this server's own relay
 * ("*" is the server the agent's control channel goes to). An absolute
 * URL would send the agent elsewhere with the user's token. */
#define RELAY_VALUE_PREFIX "*/meshrelay.ashx?"

/* Sends j (taken) with the request's responseid and tag copied in. */
static void send_reply(struct ctl_session *cs, json_t *req, json_t *j) {
  json_t *rid = json_object_get(req, "responseid");
  json_t *tag = json_object_get(req, "tag");
  if (rid) json_object_set(j, "responseid", rid);
  if (tag) json_object_set(j, "tag", tag);
  ctl_send(cs, j);
  json_decref(j);
}

/* {"action":"msg","result":text}, only when a responseid asked for a
 * reply (the stock rule). */
static void msg_result(struct ctl_session *cs, json_t *req, const char *text) {
  if (!json_object_get(req, "responseid")) return;
  send_reply(cs, req, json_pack("{s:s, s:s}", "action", "msg", "result", text));
}

void ctl_cmd_authcookie(struct ctl_session *cs, json_t *req) {
  struct srv *s = cs->srv;
  char ip[64], cookie[MESH_RELAY_MAX_TOKEN + 1], rcookie[sizeof cookie];
  int64_t now = (int64_t)time(NULL);
  ctl_peer_ip(cs, ip, sizeof ip);
  int r = relay_token_make(s->keys.cookie_key, RELAY_TOKEN_COOKIE, cs->user.id,
                           ip, now, cookie, sizeof cookie);
  if (r == 0)
    r = relay_token_make(s->keys.cookie_key, RELAY_TOKEN_RCOOKIE, cs->user.id,
                         NULL, now, rcookie, sizeof rcookie);
  if (r != 0) {
    log_warn_r(r, "event=authcookie user=%s", cs->user.id);
    send_reply(cs, req,
               json_pack("{s:s, s:s}", "action", "authcookie", "result",
                         "Server error"));
  } else {
    send_reply(cs, req,
               json_pack("{s:s, s:s, s:s}", "action", "authcookie", "cookie",
                         cookie, "rcookie", rcookie));
  }
  OPENSSL_cleanse(cookie, sizeof cookie);
  OPENSSL_cleanse(rcookie, sizeof rcookie);
}

/* The checks of spec §2.4 and docs/sessions.md §1/§3 on a tunnel
 * request. Fills the node id, tunnel id and protocol; returns NULL or
 * the result text to refuse with. */
static const char *check_tunnel(struct ctl_session *cs, json_t *req,
                                char node[RELAY_NODE_MAX],
                                char group[RELAY_NODE_MAX],
                                char id[MESH_RELAY_MAX_ID + 2], int *proto,
                                uint32_t *rights) {
  struct srv *s = cs->srv;
  const char *value = ctl_str_of(req, "value");
  json_t *usage = json_object_get(req, "usage");
  char buf[MESH_RELAY_MAX_TOKEN + 1], uid[RELAY_USER_MAX];
  if (ctl_bare_id(ctl_str_of(req, "nodeid"), "node", node, RELAY_NODE_MAX))
    return "Invalid nodeid";
  if (!value ||
      strncmp(value, RELAY_VALUE_PREFIX, strlen(RELAY_VALUE_PREFIX)) ||
      strlen(value) > MESH_HTTP_MAX_URL)
    return "Invalid value";
  if (usage && !json_is_integer(usage)) return "Invalid usage";
  const char *q = value + strlen(RELAY_VALUE_PREFIX);
  if (http_query_param(q, "id", id, MESH_RELAY_MAX_ID + 2) != 0 ||
      !relay_id_ok(id))
    return "Invalid tunnel id";
  /* A nodeid in the URL must be this device (the stock server drops the
   * request silently; meshd says why). */
  int r = http_query_param(q, "nodeid", buf, sizeof buf);
  if (r != 0 && r != MESH_E_NOT_FOUND) return "Invalid value";
  if (r == 0 && strcmp(strncmp(buf, "node//", 6) == 0 ? buf + 6 : buf, node))
    return "Invalid value";
  /* The protocol the agent will name in its URL; usage only when the
   * URL has none. The stock server checks rights on the URL's p alone,
   * and stock meshctrl sends usage 1 for its files sessions too. */
  int p = usage ? (int)json_integer_value(usage) : 0;
  char pt[16];
  if (http_query_param(q, "p", pt, sizeof pt) == 0 && pt[0]) p = atoi(pt);
  *proto = p;
  /* The agent joins with the rauth in the URL: it must be this user's,
   * or the tunnel could never pair. */
  r = http_query_param(q, "rauth", buf, sizeof buf);
  if (r == 0)
    r = relay_token_open(s->keys.cookie_key, RELAY_TOKEN_RCOOKIE, buf, NULL,
                         (int64_t)time(NULL), uid, sizeof uid);
  OPENSSL_cleanse(buf, sizeof buf);
  if (r == MESH_E_TIMEOUT) return "Expired rauth";
  if (r != 0 || strcmp(uid, cs->user.id) != 0) return "Invalid rauth";
  struct ctl_node o;
  ctl_node_lookup(s, node, &o);
  if (!o.found || strlen(o.group) >= RELAY_NODE_MAX) return "Access denied";
  memcpy(group, o.group, strlen(o.group) + 1);
  /* Group membership decides, for administrators too, as for every other
   * device command (a site administrator is not a member of every group,
   * as in the stock server). */
  *rights = ctl_rights_in(cs, group);
  if (!*rights || !relay_rights_ok(*rights, p)) return "Access denied";
  return NULL;
}

/* What the agent gets (spec §2.4's table): the viewer's request without
 * nodeid, plus who asks, with what rights, the group's consent bits (from
 * the store, never from the viewer), and the certificate hash the agent
 * must see on the relay. */
static json_t *agent_request(struct ctl_session *cs, json_t *req,
                             const char *id, uint32_t rights,
                             uint32_t consent) {
  struct srv *s = cs->srv;
  char hash[2 * CC_HASH_LEN + 1], ip[64], sid[RELAY_USER_MAX + 80];
  enc_hex(s->keys.web_cert_hash, CC_HASH_LEN, hash, 0);
  ctl_peer_ip(cs, ip, sizeof ip);
  /* meshd has no per-connection session ids yet: the user and the
   * tunnel name the request well enough for the agent's console replies. */
  snprintf(sid, sizeof sid, "%s/%s", cs->user.id, id);
  json_t *m = json_pack(
      "{s:s, s:s, s:O, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:I, s:{}}", "action",
      "msg", "type", "tunnel", "value", json_object_get(req, "value"),
      "servertlshash", hash, "rights", (json_int_t)rights, "userid",
      cs->user.id, "username", cs->user.name, "realname",
      cs->user.realname ? cs->user.realname : cs->user.name, "remoteaddr", ip,
      "sessionid", sid, "consent", (json_int_t)consent, "soptions");
  json_t *usage = json_object_get(req, "usage");
  if (m && usage) json_object_set(m, "usage", usage);
  return m;
}

static void cmd_tunnel(struct ctl_session *cs, json_t *req) {
  struct srv *s = cs->srv;
  char node[RELAY_NODE_MAX], group[RELAY_NODE_MAX], id[MESH_RELAY_MAX_ID + 2];
  int proto = 0;
  uint32_t rights = 0;
  const char *why = check_tunnel(cs, req, node, group, id, &proto, &rights);
  if (why) {
    log_info("event=tunnel_refused user=%s reason=\"%s\"", cs->user.id, why);
    return msg_result(cs, req, why);
  }
  if (!strmap_get(&s->agents, node))
    return msg_result(cs, req, "Unable to route");
  /* Terminal sessions in a group that wants them are recorded; the
   * group's consent bits go to the agent. meshd keeps no per-device
   * consent (changedevice's consent is not stored), so the group's is all
   * there is. A group that cannot be read fails closed. */
  struct store_group g;
  int record = 0;
  uint32_t consent = 0;
  if (store_group_get(s->store, group, 0, &g) != 0)
    return msg_result(cs, req, "Server error");
  record = recording_wanted(proto) && g.record_sessions;
  consent = g.consent;
  store_group_cleanup(&g);
  int r = relay_register(s, id, cs->user.id, node, group, proto, record);
  if (r == MESH_E_TOO_LARGE) return msg_result(cs, req, "Too many sessions");
  if (r == MESH_E_EXISTS) return msg_result(cs, req, "Tunnel id in use");
  if (r != 0) return msg_result(cs, req, "Server error");
  json_t *m = agent_request(cs, req, id, rights, consent);
  r = m ? srv_agent_send_json(s, node, m) : MESH_E_NOMEM;
  json_decref(m);
  if (r != 0) {
    relay_unregister(s, id);
    return msg_result(cs, req, "Unable to route");
  }
  log_info("event=tunnel_request user=%s node=%s id=%s p=%d", cs->user.id, node,
           id, proto);
  msg_result(cs, req, "OK");
}

void ctl_cmd_msg(struct ctl_session *cs, json_t *req) {
  const char *type = ctl_str_of(req, "type");
  if (type && strcmp(type, "tunnel") == 0) return cmd_tunnel(cs, req);
  msg_result(cs, req, "Unsupported message type");
}
