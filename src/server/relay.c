/*
 * relay.c - /meshrelay.ashx (relay.h): the sockets of the tunnels that
 * relay_table.c keeps.
 *
 * Each accepted socket is one struct relay_end (relay_priv.h), owned here
 * from the upgrade to its on_close (where it is freed). A joined end sits
 * in its tunnel's end slot; the two ends of a tunnel point at it and at
 * each other through it. Detaching is explicit: whoever ends a tunnel
 * clears every end's `tun` and removes the tunnel from the table in one
 * place (relay__tunnel_end), so no callback ever follows a pointer to a
 * freed tunnel. Restricted viewers are read first: relay_guard.c.
 *
 * Back-pressure: after copying a message into the peer's socket, if the
 * peer has more than MESH_STREAM_HIGH_WATER queued, the source is paused
 * (`held`); the peer's on_drain (below MESH_STREAM_LOW_WATER) resumes it.
 * A message already read when the pause came is still copied, so the
 * peer's queue is bounded by the high-water mark plus the largest
 * message, well under MESH_STREAM_HARD_LIMIT.
 *
 * Idle memory: a socket that receives large messages keeps a reassembly
 * buffer (up to 64 KiB) from one to the next, since freeing and faulting
 * it in again per message costs CPU while data flows. Ends that received
 * a message are on the relay's `busy` list; the sweep timer releases the
 * buffer of each one that received nothing for a whole sweep period and
 * takes it off the list, so an idle tunnel holds none and the sweep only
 * walks the sockets that were recently active.
 */
#include "relay.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "ctl.h"
#include "net/http_parse.h"
#include "net/http_srv.h"
#include "net/ws.h"
#include "proto/kvm_filter.h"
#include "proto/rights.h"
#include "recording.h"
#include "relay_priv.h"
#include "relay_table.h"
#include "relay_token.h"

/* Tunnels whose deadline passed are looked for this often. */
#define RELAY_SWEEP_MS 500
#define RELAY_SWEEP_BATCH 64

struct relay {
  struct relay_table table;
  uv_timer_t sweep;
  int timer_started;
  struct relay_end *busy; /* ends that received a message lately */
};

/* Puts e on the busy list, if it is not there yet, and marks it recent. */
static void busy_mark(struct relay *r, struct relay_end *e) {
  e->recent = 1;
  if (e->busy) return;
  e->busy = 1;
  e->bprev = NULL;
  e->bnext = r->busy;
  if (r->busy) r->busy->bprev = e;
  r->busy = e;
}

static void busy_unlink(struct relay *r, struct relay_end *e) {
  if (!e->busy) return;
  if (e->bprev)
    e->bprev->bnext = e->bnext;
  else
    r->busy = e->bnext;
  if (e->bnext) e->bnext->bprev = e->bprev;
  e->busy = 0;
  e->bprev = e->bnext = NULL;
}

/* One sweep over the busy list: ends quiet since the last sweep give
 * their input buffer back and leave the list. */
static void busy_sweep(struct relay *r) {
  for (struct relay_end *e = r->busy, *next; e; e = next) {
    next = e->bnext;
    if (e->recent) {
      e->recent = 0;
      continue;
    }
    ws_release_input(e->ws);
    busy_unlink(r, e);
  }
}

static const char *side_name(enum relay_side s) {
  return s == RELAY_VIEWER ? "viewer" : "agent";
}

static const char *mode_name(enum kvm_filter_mode m) {
  return m == KVM_FILTER_VIEW_ONLY ? "view-only" : "limited";
}

int relay_rights_ok(uint32_t rights, int proto) {
  if (rights == MESH_RIGHT_ADMIN) return 1;
  /* Desktop: REMOTECONTROL, or VIEWONLY for a session whose input is
   * dropped (here and by the agent); NODESKTOP refuses (spec §2.4, §4.3). */
  if (proto == 2)
    return (rights & (MESH_RIGHT_REMOTECONTROL | MESH_RIGHT_VIEWONLY)) &&
           !(rights & MESH_RIGHT_NODESKTOP);
  if (!(rights & MESH_RIGHT_REMOTECONTROL)) return 0;
  if ((proto == 1 || proto == 6 || proto == 8 || proto == 9) &&
      (rights & MESH_RIGHT_NOTERMINAL))
    return 0;
  if ((proto == 4 || proto == 5) && (rights & MESH_RIGHT_NOFILES)) return 0;
  return 1;
}

/* ------------------------------------------------------------- events */

static int64_t wall_now(void) { return (int64_t)time(NULL); }

/* The relaylog audit events of the stock server (spec §10): msgid 14/10
 * terminal, 16/12 files, 15/11 desktop, 13/9 anything else. */
static void relay_event(struct srv *s, struct relay_tunnel *t,
                        struct relay_end *v, struct relay_end *a, int ended) {
  int p = t->proto;
  int term = p == 1 || p == 6 || p == 8 || p == 9;
  const char *what = term     ? "terminal"
                     : p == 2 ? "desktop"
                     : p == 5 ? "file management"
                              : "relay";
  int msgid = term ? 14 : p == 2 ? 15 : p == 5 ? 16 : 13;
  uint64_t secs = ended ? (uv_now(s->loop) - t->paired_at) / 1000 : 0;
  char msg[256], nid[80];
  snprintf(msg, sizeof msg, "%s %s session \"%s\" from %s to %s",
           ended ? "Ended" : "Started", what, t->id, v->ip, a->ip);
  if (ended) {
    size_t l = strlen(msg);
    snprintf(msg + l, sizeof msg - l, ", %llu second(s)",
             (unsigned long long)secs);
    msgid -= 4;
  }
  snprintf(nid, sizeof nid, "node//%s", t->node_id);
  json_t *ev =
      json_pack("{s:s, s:s, s:s, s:s, s:i, s:[s, s, s], s:s, s:i, s:s}",
                "etype", "relay", "action", "relaylog", "userid", t->user_id,
                "username", v->user_name, "msgid", msgid, "msgArgs", t->id,
                v->ip, a->ip, "msg", msg, "protocol", p, "nodeid", nid);
  if (!ev) return;
  if (ended) {
    json_array_append_new(json_object_get(ev, "msgArgs"),
                          json_integer((json_int_t)secs));
    /* As seen from the viewer's socket: what meshd read from it and what
     * it wrote to it. */
    json_object_set_new(ev, "bytesin", json_integer((json_int_t)v->bytes_in));
    json_object_set_new(ev, "bytesout", json_integer((json_int_t)a->bytes_in));
  }
  struct ev_scope sc = {t->user_id, t->group_id, t->node_id};
  events_emit(s, ev, &sc, 0);
}

/* ------------------------------------------------------------ tunnels */

void relay__tunnel_end(struct srv *s, struct relay_tunnel *t,
                       struct relay_end *except, uint16_t code,
                       const char *reason) {
  struct relay_end *v = t->end[RELAY_VIEWER], *a = t->end[RELAY_AGENT];
  if (t->state == RELAY_PAIRED && v && a) {
    relay_event(s, t, v, a, 1);
    log_info(
        "event=relay_end id=%s user=%s node=%s p=%d viewer_bytes=%llu "
        "agent_bytes=%llu",
        t->id, t->user_id, t->node_id, t->proto,
        (unsigned long long)v->bytes_in, (unsigned long long)a->bytes_in);
    /* Once per session, never per message. */
    if (v->filtering)
      log_info(
          "event=relay_input_filtered id=%s user=%s node=%s mode=%s "
          "dropped_commands=%llu dropped_text=%llu dropped_malformed=%llu",
          t->id, t->user_id, t->node_id, mode_name(v->mode),
          (unsigned long long)v->dropped_cmds,
          (unsigned long long)v->dropped_text,
          (unsigned long long)v->dropped_bad);
  }
  for (int i = 0; i < 2; i++) {
    struct relay_end *e = t->end[i];
    if (!e) continue;
    e->tun = NULL;
    /* A paused socket would not read the peer's answering close frame,
     * and the close would wait MESH_WS_CLOSE_MS for nothing; what it
     * still reads is dropped (tun is NULL). */
    ws_resume(e->ws);
    if (e != except) ws_close(e->ws, code, reason);
  }
  recording_close(s, t);
  relay_table_remove(&s->relay->table, t);
}

/* Refuses a socket before it joined: the JSON close message meshctrl and
 * the web app show, then 1008 with the same text. */
static void refuse(struct relay_end *e, const char *cause, const char *msg) {
  json_t *j = json_pack("{s:s, s:s, s:s}", "action", "close", "cause", cause,
                        "msg", msg);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  if (text) ws_send(e->ws, WS_TEXT, text, strlen(text));
  free(text);
  json_decref(j);
  log_info("event=relay_refused peer=%s side=%s cause=%s reason=\"%s\"",
           ws_peer(e->ws), side_name(e->side), cause, msg);
  ws_close(e->ws, WS_CLOSE_POLICY, msg);
}

static void send_text(struct relay_end *e, const char *text) {
  ws_send(e->ws, WS_TEXT, text, strlen(text));
}

/* Both sides are there: start. */
static void tunnel_paired(struct srv *s, struct relay_tunnel *t) {
  struct relay_end *v = t->end[RELAY_VIEWER], *a = t->end[RELAY_AGENT];
  /* "cr" tells both sides the session is recorded (spec §2.7); a
   * recording that cannot start leaves the session unrecorded. */
  const char *start =
      t->recorded && recording_open(s, t, v->user_name) == 0 ? "cr" : "c";
  ws_resume(v->ws);
  ws_resume(a->ws);
  send_text(v, start);
  send_text(a, start);
  relay_event(s, t, v, a, 0);
  log_info("event=relay_paired id=%s user=%s node=%s p=%d viewer=%s agent=%s",
           t->id, t->user_id, t->node_id, t->proto, ws_peer(v->ws),
           ws_peer(a->ws));
}

static const char *join_error(int r) {
  switch (r) {
    case MESH_E_NOT_FOUND:
      return "unknown or used tunnel id";
    case MESH_E_TIMEOUT:
      return "tunnel id expired";
    case MESH_E_AUTH:
      return "tunnel id of another user";
    default:
      return "tunnel id already in use";
  }
}

/* ------------------------------------------------------------ sockets */

/* Whether tunnel t may move onto a direct WebRTC channel: only when the
 * administrator allows it, and never while the relay records the
 * session, whose bytes would then bypass the recording. */
static int rtc_allowed(struct srv *s, const struct relay_tunnel *t) {
  return s->settings.webrtc && !t->rec;
}

/* Drops a viewer's WebRTC offer: the agent never answers, and the viewer
 * stays on the relay (its own setup deadline runs out). */
static void drop_offer(struct relay_end *e, const struct relay_tunnel *t) {
  if (e->dropped_offers++ == 0)
    log_info("event=relay_offer_dropped id=%s user=%s reason=\"%s\"", t->id,
             t->user_id,
             t->rec ? "the session is recorded" : "WebRTC is not allowed");
}

static void on_message(struct ws *w, enum ws_type type, const uint8_t *p,
                       size_t n, void *data) {
  struct relay_end *e = data;
  struct relay_tunnel *t = e->tun;
  (void)w;
  /* Before the start signal nothing is forwarded: both peers wait for
   * "c" (spec §4.1), and what a misbehaving one sends early is dropped
   * rather than buffered here. */
  if (!t || t->state != RELAY_PAIRED) return;
  struct relay_end *peer = t->end[!e->side];
  if (!peer) return;
  e->bytes_in += n;
  busy_mark(e->srv->relay, e);
  uint8_t *copy = NULL;
  if (e->side == RELAY_VIEWER && (e->selecting || e->filtering)) {
    /* What is recorded is what the agent gets. */
    int r = relay__guard_message(e, type, &p, &n, &copy);
    if (r <= 0) return;
  }
  if (e->side == RELAY_VIEWER && !rtc_allowed(e->srv, t) &&
      relay__is_offer(p, n)) {
    free(copy);
    drop_offer(e, t);
    return;
  }
  recording_message(e->srv, t, e->side, type, p, n);
  int sent = ws_send(peer->ws, type, p, n);
  free(copy);
  if (sent != 0) return; /* peer is closing */
  if (!e->held && ws_queued(peer->ws) > MESH_STREAM_HIGH_WATER) {
    e->held = 1;
    ws_pause(e->ws);
  }
}

static void on_drain(struct ws *w, void *data) {
  struct relay_end *e = data;
  (void)w;
  if (!e->tun) return;
  struct relay_end *src = e->tun->end[!e->side];
  if (src && src->held) {
    src->held = 0;
    ws_resume(src->ws);
  }
}

/* Whether a close code one side sent may be passed on to the other: the
 * codes an endpoint may send about the session itself (RFC 6455 §7.4),
 * and the application range. 1005/1006 (no code, connection lost) and
 * 1002 (that side's framing was broken) say nothing the other side can
 * use, and become 1000 "peer closed". */
static int forwardable(int code) {
  return code == 1000 || code == 1001 || code == 1003 ||
         (code >= 1007 && code <= 1011) || (code >= 3000 && code <= 4999);
}

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct relay_end *e = data;
  (void)w;
  /* The agent's refusal (1008 "no terminal rights", 1009, ...) or the
   * viewer's reason reaches the other side as it was sent. */
  if (e->tun) {
    if (forwardable(code) && reason && reason[0])
      relay__tunnel_end(e->srv, e->tun, e, (uint16_t)code, reason);
    else
      relay__tunnel_end(e->srv, e->tun, e, WS_CLOSE_NORMAL, "peer closed");
  }
  busy_unlink(e->srv->relay, e);
  free(e);
}

static const struct ws_cbs relay_ws_cbs = {
    .on_message = on_message,
    .on_drain = on_drain,
    .on_close = on_close,
};

/* "1.2.3.4:5678" -> "1.2.3.4" (and "[::1]:5678" -> "[::1]"). */
static void ip_of(const char *peer, char *out, size_t cap) {
  snprintf(out, cap, "%s", peer ? peer : "");
  char *colon = strrchr(out, ':');
  if (colon) *colon = 0;
}

/* The viewer's user, from its auth token or its session cookie. Returns
 * 0, or the cause to refuse with. */
static const char *viewer_user(struct relay_end *e, const struct http_req *req,
                               char *user_id, size_t cap) {
  struct srv *s = e->srv;
  char tok[MESH_RELAY_MAX_TOKEN + 1];
  const char *cause = NULL;
  int r = http_query_param(req->query, "auth", tok, sizeof tok);
  if (r == 0 && tok[0]) {
    r = relay_token_open(s->keys.cookie_key, RELAY_TOKEN_COOKIE, tok, e->ip,
                         wall_now(), user_id, cap);
    if (r == MESH_E_TIMEOUT)
      cause = "expired";
    else if (r != 0)
      cause = "noauth";
  } else {
    char sess[SESSION_TOKEN_LEN + 2], *uid = NULL;
    const char *cookies = http_req_header(req, "Cookie");
    if (cookies &&
        srv_cookie_value(cookies, CTL_COOKIE, sess, sizeof sess) == 0 &&
        sessions_lookup(s->store, sess, &uid) == 0 && strlen(uid) < cap)
      memcpy(user_id, uid, strlen(uid) + 1);
    else
      cause = "noauth";
    OPENSSL_cleanse(sess, sizeof sess);
    free(uid);
  }
  OPENSSL_cleanse(tok, sizeof tok);
  return cause;
}

/* Strips "node//" from a node id given in the query. */
static const char *bare_node(const char *id) {
  return strncmp(id, "node//", 6) == 0 ? id + 6 : id;
}

static void join_viewer(struct relay_end *e, const struct http_req *req,
                        const char *id) {
  struct srv *s = e->srv;
  char uid[RELAY_USER_MAX], nodeid[128];
  const char *cause = viewer_user(e, req, uid, sizeof uid);
  if (cause) return refuse(e, cause, cause);
  struct user u;
  if (users_get(s->store, uid, &u) != 0) return refuse(e, "noauth", "noauth");
  int locked = u.siteadmin != SITE_ADMIN && (u.siteadmin & SITE_LOCKED);
  snprintf(e->user_name, sizeof e->user_name, "%s", u.name);
  user_cleanup(&u);
  if (locked) return refuse(e, "noauth", "account locked");
  struct relay_tunnel *t = relay_table_get(&s->relay->table, id);
  /* The device named in the URL, if any, must be the tunnel's. */
  if (t && http_query_param(req->query, "nodeid", nodeid, sizeof nodeid) == 0 &&
      strcmp(bare_node(nodeid), t->node_id) != 0)
    return refuse(e, "token", "tunnel id of another device");
  /* Rights are checked again now: they may have changed since msg/tunnel.
   * Both the registered protocol and this URL's must be allowed. */
  if (t && strcmp(t->user_id, uid) == 0) {
    uint32_t rights = members_rights(s->store, t->group_id, uid);
    if (!relay_rights_ok(rights, t->proto) ||
        (e->proto >= 0 && !relay_rights_ok(rights, e->proto)))
      return refuse(e, "rights", "no rights for this session");
    relay__guard_init(e, rights, t->proto);
  }
  int r = relay_table_join(&s->relay->table, id, RELAY_VIEWER, uid, e,
                           uv_now(s->loop), &t);
  if (r != 0) return refuse(e, "token", join_error(r));
  e->tun = t;
  log_info("event=relay_join side=viewer peer=%s id=%s user=%s", ws_peer(e->ws),
           id, uid);
  if (t->state == RELAY_PAIRED)
    tunnel_paired(s, t);
  else
    ws_pause(e->ws); /* nothing is read until the peer is there */
}

static void join_agent(struct relay_end *e, const struct http_req *req,
                       const char *id) {
  struct srv *s = e->srv;
  char tok[MESH_RELAY_MAX_TOKEN + 1], uid[RELAY_USER_MAX];
  struct relay_tunnel *t;
  int r = http_query_param(req->query, "rauth", tok, sizeof tok);
  if (r == 0)
    r = relay_token_open(s->keys.cookie_key, RELAY_TOKEN_RCOOKIE, tok, NULL,
                         wall_now(), uid, sizeof uid);
  OPENSSL_cleanse(tok, sizeof tok);
  if (r == MESH_E_TIMEOUT) return refuse(e, "expired", "expired");
  if (r != 0) return refuse(e, "noauth", "noauth");
  r = relay_table_join(&s->relay->table, id, RELAY_AGENT, uid, e,
                       uv_now(s->loop), &t);
  if (r != 0) return refuse(e, "token", join_error(r));
  e->tun = t;
  log_info("event=relay_join side=agent peer=%s id=%s user=%s", ws_peer(e->ws),
           id, uid);
  if (t->state == RELAY_PAIRED)
    tunnel_paired(s, t);
  else
    ws_pause(e->ws);
}

void srv_relay_accept(struct srv *s, struct http_conn *c,
                      const struct http_req *req) {
  /* A browser's upgrade must come from this server's own pages, or any
   * site could use a signed-in user's session cookie (cross-site
   * WebSocket hijacking); agents and tools send no Origin. */
  if (!srv_same_origin(req)) {
    static const char msg[] = "cross-origin request refused\n";
    log_warn("event=origin_refused peer=%s path=/meshrelay.ashx", req->peer);
    http_respond(c, 403, NULL, "text/plain; charset=utf-8", msg,
                 sizeof msg - 1);
    return;
  }
  struct relay_end *e = calloc(1, sizeof *e);
  if (!e) {
    http_respond(c, 503, NULL, "text/plain", "busy\n", 5);
    return;
  }
  e->srv = s;
  ip_of(req->peer, e->ip, sizeof e->ip);
  e->ws = http_upgrade_ws(c, req, &relay_ws_cbs, e);
  if (!e->ws) {
    free(e);
    return;
  }
  char id[MESH_RELAY_MAX_ID + 2], p[16], probe[4];
  e->proto = http_query_param(req->query, "p", p, sizeof p) == 0 && p[0]
                 ? atoi(p)
                 : -1;
  /* The viewer is the side that signs in as a user (auth token or
   * session cookie); the agent brings only the rauth token. */
  int agent = http_query_param(req->query, "auth", probe, sizeof probe) ==
                  MESH_E_NOT_FOUND &&
              http_query_param(req->query, "rauth", probe, sizeof probe) !=
                  MESH_E_NOT_FOUND;
  e->side = agent ? RELAY_AGENT : RELAY_VIEWER;
  if (http_query_param(req->query, "id", id, sizeof id) != 0 ||
      !relay_id_ok(id))
    return refuse(e, "token", "missing or malformed tunnel id");
  if (agent)
    join_agent(e, req, id);
  else
    join_viewer(e, req, id);
}

/* ------------------------------------------------------- registration */

static void on_sweep(uv_timer_t *h) {
  struct srv *s = h->data;
  busy_sweep(s->relay);
  struct relay_tunnel *list[RELAY_SWEEP_BATCH];
  size_t n = relay_table_expired(&s->relay->table, uv_now(s->loop), list,
                                 RELAY_SWEEP_BATCH);
  for (size_t i = 0; i < n; i++) {
    if (list[i]->end[0] || list[i]->end[1])
      log_info("event=relay_timeout id=%s user=%s", list[i]->id,
               list[i]->user_id);
    relay__tunnel_end(s, list[i], NULL, WS_CLOSE_POLICY, "no peer in time");
  }
}

int relay_register(struct srv *s, const char *id, const char *user_id,
                   const char *node_id, const char *group_id, int proto,
                   int record) {
  struct relay_tunnel *t;
  int r = relay_table_register(&s->relay->table, id, user_id, node_id, group_id,
                               proto, uv_now(s->loop), &t);
  if (r == 0) t->recorded = record;
  return r;
}

void relay_unregister(struct srv *s, const char *id) {
  struct relay_tunnel *t = relay_table_get(&s->relay->table, id);
  if (t && t->state == RELAY_REGISTERED)
    relay_table_remove(&s->relay->table, t);
}

int relay_start(struct srv *s) {
  struct relay *r = calloc(1, sizeof *r);
  if (!r) return MESH_E_NOMEM;
  relay_table_init(&r->table);
  uv_timer_init(s->loop, &r->sweep);
  r->sweep.data = s;
  uv_timer_start(&r->sweep, on_sweep, RELAY_SWEEP_MS, RELAY_SWEEP_MS);
  r->timer_started = 1;
  s->relay = r;
  return 0;
}

void relay_stop(struct srv *s) {
  if (s->relay && s->relay->timer_started) {
    s->relay->timer_started = 0;
    uv_close((uv_handle_t *)&s->relay->sweep, NULL);
  }
}

void relay_cleanup(struct srv *s) {
  if (!s->relay) return;
  relay_table_cleanup(&s->relay->table);
  free(s->relay);
  s->relay = NULL;
}
