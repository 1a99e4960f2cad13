/*
 * tunnel.c - one relay session on the agent side: the request from the
 * control channel, the WebSocket to the relay, and the state machine of
 * spec §4.1 up to the hand-over to the terminal or files session.
 *
 * States: CONNECTING (TLS + upgrade; the relay certificate is judged before
 * the upgrade request, which carries the rauth token, is sent), WAIT_START
 * (everything is dropped until the relay's "c" or "cr"), SELECT (options
 * and the protocol number), CONSENT (the local user is being asked: the
 * viewer's messages are held, not handled), ACTIVE (the session owns the
 * stream). A tunnel is freed only from the WebSocket's on_close and its
 * timer's close callback, whichever comes last. The CONSENT state's
 * work is in consent_tunnel.c; the record is in tunnel_priv.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "agent/consent.h"
#include "agent/kvm.h"
#include "agent/tunnel.h"
#include "agent/tunnel_priv.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mesh_limits.h"
#include "crypto/hash.h"
#include "net/ws.h"

/* ------------------------------------------------ pure helpers */

char *tunnel_relay_url(const char *ctrl_url, const char *value,
                       const char **why) {
  const char *base = "", *rest = value;
  size_t base_len = 0;
  if (strncmp(value, "*/", 2) == 0) {
    const char *host = strstr(ctrl_url, "://");
    if (!host) {
      *why = "control channel URL has no scheme";
      return NULL;
    }
    const char *slash = strchr(host + 3, '/');
    base = ctrl_url;
    base_len = slash ? (size_t)(slash - ctrl_url) : strlen(ctrl_url);
    rest = value + 1; /* keep the '/' */
  } else if (strncmp(value, "wss://", 6) != 0) {
    *why = "relay URL must start with */ or wss://";
    return NULL;
  }
  size_t n = base_len + strlen(rest);
  if (n > MESH_HTTP_MAX_URL) {
    *why = "relay URL too long";
    return NULL;
  }
  char *out = malloc(n * 3 + 1), *o = out;
  if (!out) {
    *why = "out of memory";
    return NULL;
  }
  memcpy(o, base, base_len);
  o += base_len;
  for (const char *s = rest; *s; s++) {
    if (*s == '$' || *s == '@') {
      memcpy(o, *s == '$' ? "%24" : "%40", 3);
      o += 3;
    } else if ((unsigned char)*s < 0x21 || *s == 0x7f) {
      /* No spaces or control bytes: they would break the request line. */
      free(out);
      *why = "relay URL has a control character";
      return NULL;
    } else {
      *o++ = *s;
    }
  }
  *o = 0;
  return out;
}

int tunnel_parse_hash(const char *hex, uint8_t out[48]) {
  size_t k = 0;
  int hi = -1;
  for (const char *s = hex; *s; s++) {
    int v;
    if (*s == ':') continue;
    if (*s >= '0' && *s <= '9')
      v = *s - '0';
    else if (*s >= 'a' && *s <= 'f')
      v = *s - 'a' + 10;
    else if (*s >= 'A' && *s <= 'F')
      v = *s - 'A' + 10;
    else
      return MESH_E_MALFORMED;
    if (hi < 0) {
      hi = v;
      continue;
    }
    if (k == 48) return MESH_E_MALFORMED;
    out[k++] = (uint8_t)(hi << 4 | v);
    hi = -1;
  }
  return k == 48 && hi < 0 ? 0 : MESH_E_MALFORMED;
}

const char *tunnel_rights_refusal(int proto, uint32_t r) {
  int full = r == MESH_RIGHT_ADMIN;
  switch (proto) {
    case P_TERM:
    case P_PS:
    case P_USER:
    case P_UPS:
      if (!(r & MESH_RIGHT_REMOTECONTROL) ||
          (!full && (r & MESH_RIGHT_NOTERMINAL)))
        return "no terminal rights on this device";
      return NULL;
    case P_FILES:
      if (!(r & MESH_RIGHT_REMOTECONTROL) ||
          (!full && (r & MESH_RIGHT_NOFILES)))
        return "no file rights on this device";
      return NULL;
    case P_DESKTOP:
      if ((!(r & MESH_RIGHT_REMOTECONTROL) && !(r & MESH_RIGHT_VIEWONLY)) ||
          (!full && (r & MESH_RIGHT_NODESKTOP)))
        return "no remote desktop rights on this device";
      return NULL;
    default:
      return NULL;
  }
}

/* ------------------------------------------------ sessions report */

/* Sends {action:'sessions', type, value:{userid: count}} for every active
 * tunnel of that kind (spec §10), so the server can show who is on. */
static void report_sessions(struct agent *a, int proto) {
  json_t *v = json_object();
  for (struct tunnel *t = a->tunnels; t && v; t = t->next) {
    if (t->state != T_ACTIVE || t->proto != proto) continue;
    json_t *c = json_object_get(v, t->userid);
    json_object_set_new(v, t->userid,
                        json_integer(c ? json_integer_value(c) + 1 : 1));
  }
  json_t *j = json_pack("{s:s, s:s, s:o}", "action", "sessions", "type",
                        proto == P_FILES     ? "files"
                        : proto == P_DESKTOP ? "kvm"
                                             : "terminal",
                        "value", v);
  agent_send_json(a, j);
}

/* ------------------------------------------------ sending */

int tunnel_send(struct tunnel *t, enum ws_type type, const void *p, size_t n) {
  if (!t->ws || t->state == T_CLOSED) return MESH_E_CLOSED;
  if (t->rtc_phase == RTC_HOLD || t->rtc_phase == RTC_ACTIVE)
    return tunnel_rtc_send(t, type, p, n);
  return ws_send(t->ws, type, p, n);
}

int tunnel_send_json(struct tunnel *t, enum ws_type type, json_t *j) {
  char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
  int r = s ? tunnel_send(t, type, s, strlen(s)) : MESH_E_NOMEM;
  free(s);
  json_decref(j);
  return r;
}

void tunnel_close(struct tunnel *t, uint16_t code, const char *reason) {
  if (t->state == T_CLOSED) return;
  t->state = T_CLOSED;
  if (t->ws) ws_close(t->ws, code, reason);
}

void tunnel__console(struct tunnel *t, int msgid, const char *msg) {
  tunnel_send_json(t, WS_TEXT,
                   json_pack("{s:s, s:s, s:i, s:s?}", "ctrlChannel", "102938",
                             "type", "console", "msgid", msgid, "msg", msg));
}

json_t *tunnel__json(const uint8_t *p, size_t n) {
  return n <= MESH_FILES_MAX_COMMAND ? json_loadb((const char *)p, n, 0, NULL)
                                     : NULL;
}

void tunnel_refuse(struct tunnel *t, const char *text) {
  log_warn("event=tunnel_refused %s reason=\"%s\"", t->name, text);
  tunnel__console(t, 2, text);
  tunnel_close(t, 1008, text);
}

size_t tunnel_queued(struct tunnel *t) {
  return (t->ws ? ws_queued(t->ws) : 0) + tunnel_rtc_queued(t);
}
void tunnel_pause(struct tunnel *t) {
  if (t->ws) ws_pause(t->ws);
}
void tunnel_resume(struct tunnel *t) {
  if (t->ws) ws_resume(t->ws);
}
uv_loop_t *tunnel_loop(struct tunnel *t) { return t->a->loop; }
const char *tunnel_name(struct tunnel *t) { return t->name; }

/* ------------------------------------------------ control messages */

void tunnel_ctrl(struct tunnel *t, json_t *j) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return;
  if (strcmp(type, "ping") == 0) {
    tunnel_send_json(
        t, WS_TEXT,
        json_pack("{s:s, s:s}", "ctrlChannel", "102938", "type", "pong"));
  } else if (strcmp(type, "rtt") == 0) {
    json_t *e = json_pack("{s:s, s:s}", "ctrlChannel", "102938", "type", "rtt");
    json_t *time = json_object_get(j, "time");
    if (e && time) json_object_set(e, "time", time);
    tunnel_send_json(t, WS_TEXT, e);
  } else if (strcmp(type, "close") == 0) {
    tunnel_close(t, 1000, "closed by viewer");
  } else if (strcmp(type, "termsize") == 0 && t->term) {
    json_int_t c = json_integer_value(json_object_get(j, "cols"));
    json_int_t r = json_integer_value(json_object_get(j, "rows"));
    if (c > 0 && r > 0 && c < 10000 && r < 10000)
      term_resize(t->term, (unsigned)c, (unsigned)r);
  } else if (strcmp(type, "options") == 0 && t->state == T_SELECT) {
    json_decref(t->options);
    t->options = json_incref(j);
  } else if (t->state == T_ACTIVE) {
    tunnel_rtc_ctrl(t, type, j);
  }
  /* Anything else (pong, lock, ...) is ignored, as spec §3.1 asks of
   * unknown types. */
}

/* ------------------------------------------------ protocol selection */

void tunnel__start(struct tunnel *t, long proto,
                   const struct consent_plan *pl) {
  const char *why = NULL;
  char text[40];
  int r = 0;
  switch (proto) {
    case P_TERM:
    case P_PS:
    case P_USER:
    case P_UPS:
      /* 6 and 9 are PowerShell and 8 the console user's shell on Windows;
       * on Linux all four are the agent user's shell (spec §4.2). */
      r = term_start(t, t->options, &t->term, &why);
      if (r == 0) t->proto = P_TERM;
      break;
    case P_FILES:
      r = fsess_start(t, &t->files);
      why = "cannot start the file session";
      if (r == 0) t->proto = P_FILES;
      break;
    case P_DESKTOP:
      r = kvm_start(t, kvm_input_allowed(t->rights, t->desktopviewonly),
                    &t->kvm, &why);
      if (r == 0) t->proto = P_DESKTOP;
      break;
    default:
      snprintf(text, sizeof text, "unknown protocol %ld", proto);
      tunnel_refuse(t, text);
      return;
  }
  if (r) {
    tunnel_refuse(t, why ? why : "cannot start the session");
    return;
  }
  t->state = T_ACTIVE;
  uv_timer_stop(&t->timer);
  log_info("event=session_start %s protocol=%s", t->name,
           t->proto == P_FILES     ? "files"
           : t->proto == P_DESKTOP ? "desktop"
                                   : "terminal");
  report_sessions(t->a, t->proto);
  consent_show_notices(t, pl);
}

static void select_protocol(struct tunnel *t, const uint8_t *p, size_t n) {
  char text[40];
  long proto = 0;
  size_t i = 0;
  while (i < n && i < 9 && isdigit(p[i])) proto = proto * 10 + (p[i++] - '0');
  if (i == 0 || i != n) {
    snprintf(text, sizeof text, "invalid protocol selection");
    tunnel_refuse(t, text);
    return;
  }
  const char *why = tunnel_rights_refusal((int)proto, t->rights);
  if (why) {
    tunnel_refuse(t, why);
    return;
  }
  if (consent_kind_of((int)proto) == CONSENT_KIND_NONE) {
    snprintf(text, sizeof text, "unknown protocol %ld", proto);
    tunnel_refuse(t, text);
    return;
  }
  consent_gate(t, proto);
}

/* A text message while selecting: options/control JSON or the protocol. */
static void on_select(struct tunnel *t, const uint8_t *p, size_t n) {
  if (n > 0 && p[0] == '{') {
    json_t *j = tunnel__json(p, n);
    if (!json_is_object(j)) {
      json_decref(j);
      tunnel_refuse(t, "malformed options or control message");
      return;
    }
    const char *type = json_string_value(json_object_get(j, "type"));
    if (json_object_get(j, "ctrlChannel"))
      tunnel_ctrl(t, j);
    else if (type && strcmp(type, "options") == 0) {
      json_decref(t->options);
      t->options = json_incref(j);
      /* The viewer may ask for more consent, never less (spec §4.1). */
      json_t *c = json_object_get(j, "consent");
      if (json_is_integer(c))
        t->consent |= (uint32_t)json_integer_value(c) & 0x7fu;
    }
    json_decref(j);
    return;
  }
  select_protocol(t, p, n);
}

/* A message once the terminal runs: binary is keystrokes, text is
 * control JSON, never written to the pty (spec §5.1). */
static void on_term_message(struct tunnel *t, enum ws_type type,
                            const uint8_t *p, size_t n) {
  if (type == WS_BINARY) {
    term_input(t->term, p, n);
    return;
  }
  json_t *j = tunnel__json(p, n);
  if (json_is_object(j)) tunnel_ctrl(t, j);
  json_decref(j);
}

void tunnel__active_message(struct tunnel *t, enum ws_type type,
                            const uint8_t *p, size_t n) {
  if (t->term)
    on_term_message(t, type, p, n);
  else if (t->files)
    fsess_message(t->files, type, p, n);
  else if (t->kvm)
    kvm_message(t->kvm, type, p, n);
}

/* ------------------------------------------------ WebSocket callbacks */

static int verify_relay(X509 *cert, void *data) {
  struct tunnel *t = data;
  uint8_t h[MESH_HASH_LEN];
  if (!cert || hash_cert(cert, h) != 0) return MESH_E_AUTH;
  if (memcmp(h, t->ctrl_hash, sizeof h) != 0) {
    log_warn(
        "event=tunnel_cert_refused %s reason=\"relay certificate is "
        "not the control channel's\"",
        t->name);
    return MESH_E_AUTH;
  }
  if (t->has_tls_hash && memcmp(h, t->tls_hash, sizeof h) != 0) {
    log_warn(
        "event=tunnel_cert_refused %s reason=\"relay certificate does "
        "not match servertlshash\"",
        t->name);
    return MESH_E_AUTH;
  }
  return 0;
}

static void on_open(struct ws *w, void *data) {
  struct tunnel *t = data;
  (void)w;
  if (t->state == T_CONNECTING) t->state = T_WAIT_START;
  log_debug("event=tunnel_open %s", t->name);
}

static void on_message(struct ws *w, enum ws_type type, const uint8_t *p,
                       size_t n, void *data) {
  struct tunnel *t = data;
  (void)w;
  switch (t->state) {
    case T_WAIT_START:
      /* Everything before the relay's start signal is dropped (§4.1). */
      if (type == WS_TEXT &&
          ((n == 1 && p[0] == 'c') || (n == 2 && p[0] == 'c' && p[1] == 'r'))) {
        t->state = T_SELECT;
        t->recorded = n == 2;
      }
      break;
    case T_SELECT:
      if (type == WS_TEXT) on_select(t, p, n);
      break;
    case T_CONSENT:
      consent_hold(t, type, p, n);
      break;
    case T_ACTIVE:
      tunnel__active_message(t, type, p, n);
      break;
    default:
      break;
  }
}

void tunnel__drain(struct tunnel *t) {
  if (t->term) term_drain(t->term);
  if (t->files) fsess_drain(t->files);
  if (t->kvm) kvm_drain(t->kvm);
}

static void on_drain(struct ws *w, void *data) {
  (void)w;
  tunnel__drain(data);
}

static void tunnel_free(struct tunnel *t) {
  free(t->userid);
  free(t->username);
  free(t->realname);
  free(t->privacybartext);
  json_decref(t->soptions);
  json_decref(t->options);
  free(t->plan);
  consent_free_held(t);
  free(t);
}

static void on_timer_closed(uv_handle_t *h) {
  struct tunnel *t = h->data;
  t->timer_open = 0;
  if (!t->ws) tunnel_free(t);
}

static void unlink_tunnel(struct tunnel *t) {
  struct agent *a = t->a;
  for (struct tunnel **pp = &a->tunnels; *pp; pp = &(*pp)->next) {
    if (*pp == t) {
      *pp = t->next;
      a->n_tunnels--;
      break;
    }
  }
}

static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct tunnel *t = data;
  (void)w;
  int was_active = t->proto != 0;
  t->ws = NULL;
  t->state = T_CLOSED;
  log_info("event=tunnel_closed %s code=%d reason=\"%s\"", t->name, code,
           reason ? reason : "");
  if (t->term) term_detach(t->term);
  if (t->files) fsess_detach(t->files);
  if (t->kvm) kvm_detach(t->kvm);
  tunnel_rtc_close(t);
  /* The windows go with the session; a prompt answers nothing now. */
  consent_ui_close(t->prompt);
  consent_ui_close(t->toast);
  consent_ui_close(t->bar);
  t->prompt = t->toast = t->bar = NULL;
  t->term = NULL;
  t->files = NULL;
  t->kvm = NULL;
  unlink_tunnel(t);
  if (was_active) report_sessions(t->a, t->proto);
  if (t->timer_open)
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
  else
    tunnel_free(t);
}

void tunnel__deadline(uv_timer_t *h) {
  struct tunnel *t = h->data;
  if (t->state == T_CONNECTING || t->state == T_WAIT_START ||
      t->state == T_SELECT)
    tunnel_refuse(t, "no protocol selected in time");
  if (t->state == T_CONSENT) consent_expired(t);
}

static const struct ws_cbs tunnel_ws_cbs = {
    .on_open = on_open,
    .on_message = on_message,
    .on_drain = on_drain,
    .on_close = on_close,
};

/* ------------------------------------------------ the request */

/* A string field of the request, copied (NULL when absent). */
static char *dup_str(json_t *cmd, const char *key) {
  const char *v = json_string_value(json_object_get(cmd, key));
  return v ? strdup(v) : NULL;
}

void tunnel_request(struct agent *a, json_t *cmd) {
  const char *value = json_string_value(json_object_get(cmd, "value"));
  const char *userid = json_string_value(json_object_get(cmd, "userid"));
  json_t *hash = json_object_get(cmd, "servertlshash");
  json_t *rights = json_object_get(cmd, "rights");
  const char *why = NULL;
  if (!value || !userid || !json_is_integer(rights)) {
    log_warn(
        "event=tunnel_request_refused reason=\"value, userid or rights "
        "missing\"");
    return;
  }
  if (json_object_get(cmd, "tcpport") || json_object_get(cmd, "udpport")) {
    log_warn(
        "event=tunnel_request_refused user=%.80s reason=\"port "
        "forwarding is not supported\"",
        userid);
    return;
  }
  if (a->n_tunnels >= MESH_AGENT_MAX_TUNNELS) {
    log_warn(
        "event=tunnel_request_refused user=%.80s reason=\"%d tunnels "
        "open\"",
        userid, a->n_tunnels);
    return;
  }
  if (!a->has_server_cert_hash) {
    log_warn(
        "event=tunnel_request_refused reason=\"no control channel "
        "certificate\"");
    return;
  }
  struct tunnel *t = calloc(1, sizeof *t);
  if (!t || !(t->userid = strdup(userid))) {
    free(t);
    log_warn("event=tunnel_request_refused reason=\"out of memory\"");
    return;
  }
  t->a = a;
  t->held_tail = &t->held;
  t->rtc_out_tail = &t->rtc_out;
  t->rights = (uint32_t)json_integer_value(rights);
  /* Consent comes from the server's request and the .msh's LocalConsent
   * (the viewer can add to it in its options, never take away). */
  json_t *consent = json_object_get(cmd, "consent");
  t->consent =
      (json_is_integer(consent) ? (uint32_t)json_integer_value(consent) & 0x7fu
                                : 0) |
      a->cfg.local_consent;
  t->username = dup_str(cmd, "username");
  t->realname = dup_str(cmd, "realname");
  t->privacybartext = dup_str(cmd, "privacybartext");
  json_t *so = json_object_get(cmd, "soptions");
  if (json_is_object(so)) t->soptions = json_incref(so);
  t->desktopviewonly = json_is_true(json_object_get(cmd, "desktopviewonly"));
  memcpy(t->ctrl_hash, a->server_cert_hash, sizeof t->ctrl_hash);
  snprintf(t->name, sizeof t->name, "tunnel=%u user=%.60s", ++a->tunnel_serial,
           userid);
  if (hash && !json_is_null(hash)) {
    if (!json_is_string(hash) ||
        tunnel_parse_hash(json_string_value(hash), t->tls_hash) != 0) {
      log_warn("event=tunnel_request_refused %s reason=\"bad servertlshash\"",
               t->name);
      tunnel_free(t);
      return;
    }
    t->has_tls_hash = 1;
  }
  /* The URL carries the rauth token: it is never logged. */
  char *url = tunnel_relay_url(agent_server_url(a), value, &why);
  if (!url) {
    log_warn("event=tunnel_request_refused %s reason=\"%s\"", t->name, why);
    tunnel_free(t);
    return;
  }
  struct ws_connect_opts o = {
      .connect_timeout_ms = MESH_AGENT_CONNECT_MS,
      .verify = verify_relay,
      .verify_data = t,
  };
  int r = ws_connect_ex(a->loop, url, a->tls, &o, &tunnel_ws_cbs, t, &t->ws);
  free(url);
  if (r) {
    log_warn_r(r, "event=tunnel_connect_failed %s", t->name);
    tunnel_free(t);
    return;
  }
  ws_set_max_message(t->ws, MESH_TUNNEL_MAX_MESSAGE);
  uv_timer_init(a->loop, &t->timer);
  t->timer.data = t;
  t->timer_open = 1;
  uv_timer_start(&t->timer, tunnel__deadline, MESH_TUNNEL_START_MS, 0);
  t->next = a->tunnels;
  a->tunnels = t;
  a->n_tunnels++;
  log_info("event=tunnel_request %s rights=0x%x", t->name, t->rights);
}

void tunnel_stop_all(struct agent *a) {
  for (struct tunnel *t = a->tunnels; t; t = t->next)
    tunnel_close(t, 1001, "agent stopping");
}
