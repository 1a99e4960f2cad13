/*
 * relay.c - one tunnel to a device through meshd's relay (docs/sessions.md
 * §1): authcookie and a msg/tunnel request on control.ashx, then a
 * WebSocket to /meshrelay.ashx that meshd pairs with the agent's.
 *
 * In the tunnel (spec sessions.md §3): the relay's text "c" says both
 * sides are there; text JSON with ctrlChannel "102938" is control (console
 * errors, the exit status, pings); everything else belongs to the
 * protocol module (term.c, files.c) through on_data.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "cli/cli.h"

#define TUNNEL_RESPONSE_ID "meshctl-tunnel"
#define CTRL_CHANNEL "102938"
/* The relay drops an unpaired side after 15-30 s; wait a little longer. */
#define PAIR_MS 35000

struct mc_relay {
  struct mc_app *a;
  struct ws *ws; /* NULL once closed */
  uv_timer_t timer;
  const struct mc_relay_cbs *cbs;
  void *data;
  const struct mc_device *dev;
  int paired;
  int finished, status; /* mc_relay_finish was called */
  int closed;           /* on_close ran */
  int have_exit, exit_code;
  char console[256]; /* the agent's error text (console msgid 2) */
  char refusal[256]; /* the relay's {"action":"close"} text */
};

struct mc_app *mc_relay_app(struct mc_relay *r) {
  return r->a;
}

int mc_relay_send(struct mc_relay *r, enum ws_type t, const void *p, size_t n) {
  return r->ws && !r->finished ? ws_send(r->ws, t, p, n) : MESH_E_CLOSED;
}

int mc_relay_send_json(struct mc_relay *r, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return MESH_E_NOMEM;
  int rc = mc_relay_send(r, WS_TEXT, text, strlen(text));
  free(text);
  return rc;
}

size_t mc_relay_queued(struct mc_relay *r) {
  return r->ws ? ws_queued(r->ws) : 0;
}

void mc_relay_finish(struct mc_relay *r, int status, const char *msg) {
  if (r->finished) return;
  if (status != 0 && msg) mc_err("%s", msg);
  if (r->ws && r->paired) {
    /* Tell the agent first (spec §2.10), then close the socket. */
    static const char bye[] =
        "{\"ctrlChannel\":\"" CTRL_CHANNEL "\",\"type\":\"close\"}";
    ws_send(r->ws, WS_TEXT, bye, sizeof bye - 1);
  }
  r->finished = 1;
  r->status = status;
  if (r->ws) ws_close(r->ws, WS_CLOSE_NORMAL, "done");
}

/* A control message from the agent. */
static void on_ctrl(struct mc_relay *r, json_t *j) {
  const char *type = json_string_value(json_object_get(j, "type"));
  if (!type) return;
  if (strcmp(type, "exit") == 0) {
    json_t *code = json_object_get(j, "code");
    if (json_is_integer(code)) {
      json_int_t c = json_integer_value(code);
      r->have_exit = 1;
      r->exit_code = c < 0 || c > 255 ? 255 : (int)c;
    }
  } else if (strcmp(type, "console") == 0) {
    const char *m = json_string_value(json_object_get(j, "msg"));
    json_int_t id = json_integer_value(json_object_get(j, "msgid"));
    if (m && id == 2) snprintf(r->console, sizeof r->console, "%s", m);
    /* msgid 1: waiting for the remote user's consent. */
    if (m && id == 1) mc_err("%s", m);
  } else if (strcmp(type, "ping") == 0) {
    static const char pong[] =
        "{\"ctrlChannel\":\"" CTRL_CHANNEL "\",\"type\":\"pong\"}";
    mc_relay_send(r, WS_TEXT, pong, sizeof pong - 1);
  } else if (strcmp(type, "close") == 0) {
    if (r->ws) ws_close(r->ws, WS_CLOSE_NORMAL, "closed by the device");
  }
}

static void on_message(struct ws *w, enum ws_type t, const uint8_t *p, size_t n,
                       void *data) {
  struct mc_relay *r = data;
  (void)w;
  if (r->finished) return;
  if (t == WS_TEXT && n > 0 && p[0] == '{') {
    json_t *j = json_loadb((const char *)p, n, 0, NULL);
    json_t *cc = json_object_get(j, "ctrlChannel");
    const char *action = json_string_value(json_object_get(j, "action"));
    if ((json_is_string(cc) &&
         strcmp(json_string_value(cc), CTRL_CHANNEL) == 0) ||
        (json_is_integer(cc) && json_integer_value(cc) == 102938)) {
      on_ctrl(r, j);
      json_decref(j);
      return;
    }
    if (!r->paired && action && strcmp(action, "close") == 0) {
      const char *m = json_string_value(json_object_get(j, "msg"));
      snprintf(r->refusal, sizeof r->refusal, "%s", m ? m : "refused");
      json_decref(j);
      return;
    }
    json_decref(j);
  }
  if (!r->paired) {
    if (t == WS_TEXT &&
        ((n == 1 && p[0] == 'c') || (n == 2 && p[0] == 'c' && p[1] == 'r'))) {
      r->paired = 1;
      uv_timer_stop(&r->timer);
      r->cbs->on_start(r, r->data);
    }
    return; /* nothing else means anything before pairing */
  }
  r->cbs->on_data(r, t, p, n, r->data);
}

static void on_drain(struct ws *w, void *data) {
  struct mc_relay *r = data;
  (void)w;
  if (r->cbs->on_drain && !r->finished) r->cbs->on_drain(r, r->data);
}

/* The session's status once the tunnel is gone, with the reason printed
 * when it failed and nobody said why yet. */
static void on_close(struct ws *w, int code, const char *reason, void *data) {
  struct mc_relay *r = data;
  (void)w;
  r->ws = NULL;
  r->closed = 1;
  uv_timer_stop(&r->timer);
  if (r->finished) return;
  r->finished = 1;
  r->status = MC_FAIL;
  if (r->have_exit) {
    r->status = r->exit_code;
  } else if (r->console[0]) {
    mc_err("the device refused: %s", r->console);
  } else if (r->refusal[0]) {
    mc_err("tunnel refused by the server: %s", r->refusal);
  } else if (!r->paired && code == WS_CLOSE_ABNORMAL) {
    mc_app_conn_error(r->a, r->a->sess.url, 0, reason);
  } else if (!r->paired) {
    mc_err("tunnel refused: %s",
           reason && reason[0] ? reason : "closed before the device joined");
  } else {
    mc_err("the session with '%s' ended unexpectedly (%d %s)", r->dev->name,
           code, reason && reason[0] ? reason : "no reason");
  }
}

static const struct ws_cbs relay_cbs = {NULL, on_message, on_drain, on_close};

static void on_pair_timeout(uv_timer_t *t) {
  struct mc_relay *r = t->data;
  if (!r->paired)
    mc_relay_finish(r, MC_FAIL, "the device did not join the tunnel in time");
}

static void on_timer_closed(uv_handle_t *h) { *(int *)h->data = 1; }

/* A tunnel id: 16 characters of [A-Za-z0-9] (docs/sessions.md §1). */
static int tunnel_id(char out[17]) {
  static const char abc[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  uint8_t raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) return -1;
  for (size_t i = 0; i < 16; i++) out[i] = abc[raw[i] % 62];
  out[16] = 0;
  return 0;
}

/* Asks meshd for the tunnel; 0, or MC_FAIL (printed). */
static int request_tunnel(struct mc_ctl *c, const struct mc_device *d, int p,
                          const char *id, char *auth, size_t auth_cap) {
  json_t *ck = mc_ctl_call(c, json_pack("{s:s}", "action", "authcookie"),
                           "authcookie", NULL);
  if (!ck) return MC_FAIL;
  const char *cookie = json_string_value(json_object_get(ck, "cookie"));
  const char *rcookie = json_string_value(json_object_get(ck, "rcookie"));
  if (!cookie || !rcookie || strlen(cookie) >= auth_cap) {
    json_decref(ck);
    mc_err(
        "the server did not give relay cookies (does it support "
        "sessions?)");
    return MC_FAIL;
  }
  snprintf(auth, auth_cap, "%s", cookie);
  size_t cap = strlen(d->id) + strlen(rcookie) + 128;
  char *value = malloc(cap);
  if (value)
    snprintf(value, cap, "*/meshrelay.ashx?p=%d&nodeid=%s&id=%s&rauth=%s", p,
             d->id, id, rcookie);
  json_decref(ck);
  if (!value) {
    mc_err("out of memory");
    return MC_FAIL;
  }
  json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s}", "action", "msg",
                          "type", "tunnel", "nodeid", d->id, "value", value,
                          "usage", p, "responseid", TUNNEL_RESPONSE_ID);
  free(value);
  json_t *rep = mc_ctl_call(c, req, "msg", TUNNEL_RESPONSE_ID);
  if (!rep) return MC_FAIL;
  const char *res = json_string_value(json_object_get(rep, "result"));
  int r = MC_FAIL;
  if (res && strcmp(res, "OK") == 0)
    r = 0;
  else if (res && strcmp(res, "Unable to route") == 0)
    mc_err("device '%s' is offline", d->name);
  else if (res && strncasecmp(res, "Access denied", 13) == 0)
    mc_err("access denied to device '%s'", d->name);
  else
    mc_err("tunnel to '%s' refused: %s", d->name, res ? res : "no reason");
  json_decref(rep);
  return r;
}

int mc_relay_run(struct mc_app *a, struct mc_ctl *c, const struct mc_device *d,
                 int p, const struct mc_relay_cbs *cbs, void *data) {
  char id[17], auth[1024], url[MC_URL_MAX + 1400];
  if (tunnel_id(id) != 0) {
    mc_err("no randomness for a tunnel id");
    return MC_FAIL;
  }
  if (request_tunnel(c, d, p, id, auth, sizeof auth) != 0) return MC_FAIL;
  struct mc_relay r;
  memset(&r, 0, sizeof r);
  r.a = a;
  r.cbs = cbs;
  r.data = data;
  r.dev = d;
  snprintf(url, sizeof url,
           "wss%s/meshrelay.ashx?browser=1&p=%d&nodeid=%s&id=%s&auth=%s",
           a->sess.url + 5, p, d->id, id, auth);
  struct ws_connect_opts o = {.connect_timeout_ms = MC_CONNECT_MS,
                              .verify = mc_app_verify,
                              .verify_data = a};
  int rc = ws_connect_ex(&a->loop, url, a->tls, &o, &relay_cbs, &r, &r.ws);
  if (rc != 0) {
    mc_err("cannot open the relay: %s", mesh_strerror(rc));
    return MC_FAIL;
  }
  uv_timer_init(&a->loop, &r.timer);
  r.timer.data = &r;
  uv_timer_start(&r.timer, on_pair_timeout, PAIR_MS, 0);
  mc_run_until(a, &r.closed);
  /* r lives on this stack frame: its timer must be closed before return. */
  int timer_closed = 0;
  r.timer.data = &timer_closed;
  uv_close((uv_handle_t *)&r.timer, on_timer_closed);
  mc_run_until(a, &timer_closed);
  return r.status;
}
