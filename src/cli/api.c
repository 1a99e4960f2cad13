/*
 * api.c - meshctl's side of meshd's user API: POST /api/login and
 * /api/logout (srv_api.h), and a /control.ashx connection opened with the
 * session cookie (docs/user-api.md).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli/cli.h"

#define COOKIE_NAME "meshd_session"
/* Messages kept while waiting for a reply; pushes beyond it are dropped. */
#define CTL_INBOX_MAX 256

/* ------------------------------------------------------------ /api/ */

struct http_wait {
  int done, err, status;
  json_t *body;
  char cookie[MC_TOKEN_MAX];
};

/* Finds "meshd_session=VALUE" in a Set-Cookie header. */
static void take_cookie(const char *sc, char *out, size_t cap) {
  size_t nl = strlen(COOKIE_NAME);
  out[0] = 0;
  if (!sc || strncmp(sc, COOKIE_NAME "=", nl + 1) != 0) return;
  sc += nl + 1;
  size_t n = strcspn(sc, "; ");
  if (n > 0 && n < cap) {
    memcpy(out, sc, n);
    out[n] = 0;
  }
}

static void on_http_done(int err, const struct http_parse *resp, void *data) {
  struct http_wait *w = data;
  w->done = 1;
  w->err = err;
  if (err != 0) return;
  size_t n;
  const uint8_t *b = http_parse_body(resp, &n);
  w->status = http_parse_code(resp);
  w->body = b ? json_loadb((const char *)b, n, 0, NULL) : NULL;
  take_cookie(http_parse_header(resp, "Set-Cookie"), w->cookie,
              sizeof w->cookie);
}

/* Runs one POST to base + path with a JSON body; fills w. 0 or MC_FAIL
 * (printed: the connection failed). */
static int post(struct mc_app *a, const char *path, const char *body,
                const char *headers, struct http_wait *w) {
  char url[MC_URL_MAX + 32];
  snprintf(url, sizeof url, "%s%s", a->sess.url, path);
  struct http_cli_req rq = {.method = "POST",
                            .headers = headers,
                            .content_type = "application/json",
                            .body = body,
                            .body_len = strlen(body),
                            .timeout_ms = MC_CONNECT_MS,
                            .verify = mc_app_verify,
                            .verify_data = a};
  memset(w, 0, sizeof *w);
  int r = http_cli_request(&a->loop, url, a->tls, &rq, on_http_done, w, NULL);
  if (r != 0) {
    mc_err("cannot send to %s: %s", url, mesh_strerror(r));
    return MC_FAIL;
  }
  mc_run_until(a, &w->done);
  if (w->err != 0) {
    mc_app_conn_error(a, a->sess.url, w->err, NULL);
    return MC_FAIL;
  }
  return 0;
}

static const char *error_text(json_t *body) {
  const char *e = json_string_value(json_object_get(body, "error"));
  return e ? e : "no reason given";
}

int mc_api_login(struct mc_app *a, const struct mc_login_opts *o) {
  snprintf(a->sess.url, sizeof a->sess.url, "%s", o->url);
  snprintf(a->sess.user, sizeof a->sess.user, "%s", o->user);
  a->have_pin = o->pin != NULL;
  if (o->pin) memcpy(a->sess.pin, o->pin, HTTP_CLI_PIN_LEN);
  json_t *j = json_pack("{s:s, s:s}", "user", o->user, "pass", o->pass);
  if (j && o->token) json_object_set_new(j, "token", json_string(o->token));
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  /* The password's copies in j are wiped before it goes. */
  const char *pw = json_string_value(json_object_get(j, "pass"));
  if (pw) OPENSSL_cleanse((char *)pw, strlen(pw));
  json_decref(j);
  if (!text) {
    mc_err("out of memory");
    return MC_FAIL;
  }
  struct http_wait w;
  int r = post(a, "/api/login", text, NULL, &w);
  OPENSSL_cleanse(text, strlen(text));
  free(text);
  if (r != 0) return r;
  int token_required =
      json_is_true(json_object_get(w.body, "tokenRequired")) != 0;
  if (w.status == 200 && w.cookie[0]) {
    snprintf(a->sess.token, sizeof a->sess.token, "%s", w.cookie);
    memcpy(a->sess.pin, a->seen_pin, HTTP_CLI_PIN_LEN);
    r = 0;
  } else if (w.status == 200) {
    mc_err(
        "the server signed in but sent no session cookie: is %s a meshd "
        "server?",
        a->sess.url);
    r = MC_FAIL;
  } else if (w.status == 401 && token_required && !o->token) {
    r = MESH_E_AUTH; /* the caller asks for a code */
  } else if (w.status == 401 && token_required) {
    mc_err("sign-in refused: wrong two-factor code");
    r = MC_FAIL;
  } else if (w.status == 401) {
    mc_err("sign-in refused: %s", error_text(w.body));
    r = MC_FAIL;
  } else if (w.status == 429) {
    mc_err("sign-in refused: too many attempts; try again in a minute");
    r = MC_FAIL;
  } else {
    mc_err("sign-in failed: HTTP %d: %s", w.status, error_text(w.body));
    r = MC_FAIL;
  }
  OPENSSL_cleanse(w.cookie, sizeof w.cookie);
  json_decref(w.body);
  return r;
}

int mc_api_logout(struct mc_app *a) {
  char hdr[MC_TOKEN_MAX + 32];
  struct http_wait w;
  snprintf(hdr, sizeof hdr, "Cookie: " COOKIE_NAME "=%s\r\n", a->sess.token);
  int r = post(a, "/api/logout", "{}", hdr, &w);
  OPENSSL_cleanse(hdr, sizeof hdr);
  if (r != 0) return r;
  if (w.status != 200) {
    mc_err("sign-out failed: HTTP %d: %s", w.status, error_text(w.body));
    r = MC_FAIL;
  }
  json_decref(w.body);
  return r;
}

/* ------------------------------------------------------ control.ashx */

struct mc_ctl {
  struct mc_app *a;
  struct ws *ws; /* NULL once closed */
  uv_timer_t timer;
  json_t *inbox; /* messages not yet taken */
  int wake;      /* something happened: re-check */
  int closed, timed_out, started;
  int close_code;
  char reason[128];
  char refusal[128]; /* msg of an {"action":"close"} */
};

static void ctl_on_message(struct ws *w, enum ws_type t, const uint8_t *p,
                           size_t n, void *data) {
  struct mc_ctl *c = data;
  (void)w;
  if (!c || t != WS_TEXT) return;
  json_t *j = json_loadb((const char *)p, n, 0, NULL);
  const char *action = json_string_value(json_object_get(j, "action"));
  if (!action || strcmp(action, "event") == 0 ||
      json_array_size(c->inbox) >= CTL_INBOX_MAX) {
    json_decref(j);
    return;
  }
  if (strcmp(action, "close") == 0) {
    const char *m = json_string_value(json_object_get(j, "msg"));
    snprintf(c->refusal, sizeof c->refusal, "%s", m ? m : "closed");
  }
  if (strcmp(action, "userinfo") == 0) c->started = 1;
  json_array_append_new(c->inbox, j);
  c->wake = 1;
}

static void ctl_on_close(struct ws *w, int code, const char *reason,
                         void *data) {
  struct mc_ctl *c = data;
  (void)w;
  if (!c) return;
  c->ws = NULL;
  c->closed = 1;
  c->close_code = code;
  snprintf(c->reason, sizeof c->reason, "%s", reason);
  c->wake = 1;
}

static const struct ws_cbs ctl_cbs = {NULL, ctl_on_message, NULL, ctl_on_close};

static void on_timer(uv_timer_t *t) {
  struct mc_ctl *c = t->data;
  c->timed_out = 1;
  c->wake = 1;
}

static void free_ctl(uv_handle_t *h) {
  struct mc_ctl *c = h->data;
  json_decref(c->inbox);
  free(c);
}

/* Says why the connection ended. */
static void ctl_lost(struct mc_ctl *c) {
  struct mc_app *a = c->a;
  if (c->refusal[0] && strncmp(c->refusal, "noauth", 6) == 0)
    mc_err(
        "the session has expired or was revoked: sign in again with "
        "meshctl login %s",
        a->sess.url);
  else if (c->refusal[0])
    mc_err("the server refused the session: %s", c->refusal);
  else if (!c->started && c->close_code == WS_CLOSE_ABNORMAL)
    mc_app_conn_error(a, a->sess.url, 0, c->reason);
  else if (c->timed_out)
    mc_err("%s did not answer in time", a->sess.url);
  else
    mc_err("the server closed the connection (%d %s)", c->close_code,
           c->reason[0] ? c->reason : "no reason");
}

int mc_ctl_open(struct mc_app *a, struct mc_ctl **out) {
  char url[MC_URL_MAX + 32], hdr[MC_TOKEN_MAX + 32];
  struct mc_ctl *c = calloc(1, sizeof *c);
  *out = NULL;
  if (!c || !(c->inbox = json_array())) {
    free(c);
    mc_err("out of memory");
    return MC_FAIL;
  }
  c->a = a;
  uv_timer_init(&a->loop, &c->timer);
  c->timer.data = c;
  /* https://h:p -> wss://h:p/control.ashx */
  snprintf(url, sizeof url, "wss%s/control.ashx", a->sess.url + 5);
  snprintf(hdr, sizeof hdr, "Cookie: " COOKIE_NAME "=%s\r\n", a->sess.token);
  struct ws_connect_opts o = {.connect_timeout_ms = MC_CONNECT_MS,
                              .headers = hdr,
                              .verify = mc_app_verify,
                              .verify_data = a};
  int r = ws_connect_ex(&a->loop, url, a->tls, &o, &ctl_cbs, c, &c->ws);
  OPENSSL_cleanse(hdr, sizeof hdr);
  if (r != 0) {
    mc_err("cannot connect to %s: %s", url, mesh_strerror(r));
    mc_ctl_close(c);
    return MC_FAIL;
  }
  uv_timer_start(&c->timer, on_timer, MC_REPLY_MS, 0);
  while (!c->started && !c->closed && !c->refusal[0] && !c->timed_out) {
    c->wake = 0;
    mc_run_until(a, &c->wake);
  }
  uv_timer_stop(&c->timer);
  if (!c->started) {
    ctl_lost(c);
    mc_ctl_close(c);
    return MC_FAIL;
  }
  *out = c;
  return 0;
}

static int matches(json_t *m, const char *action, const char *responseid) {
  const char *a = json_string_value(json_object_get(m, "action"));
  if (!a || strcmp(a, action) != 0) return 0;
  if (!responseid) return 1;
  const char *r = json_string_value(json_object_get(m, "responseid"));
  return r && strcmp(r, responseid) == 0;
}

json_t *mc_ctl_call(struct mc_ctl *c, json_t *req, const char *action,
                    const char *responseid) {
  char *text = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  if (!text || !c->ws || ws_send(c->ws, WS_TEXT, text, strlen(text)) != 0) {
    free(text);
    ctl_lost(c);
    return NULL;
  }
  free(text);
  c->timed_out = 0;
  uv_timer_start(&c->timer, on_timer, MC_REPLY_MS, 0);
  json_t *found = NULL;
  for (;;) {
    size_t i;
    json_t *m;
    json_array_foreach(c->inbox, i, m) {
      if (matches(m, action, responseid)) {
        found = json_incref(m);
        json_array_remove(c->inbox, i);
        break;
      }
    }
    if (found || c->closed || c->refusal[0] || c->timed_out) break;
    c->wake = 0;
    mc_run_until(c->a, &c->wake);
  }
  uv_timer_stop(&c->timer);
  if (!found) ctl_lost(c);
  return found;
}

void mc_ctl_close(struct mc_ctl *c) {
  if (!c) return;
  if (c->ws) {
    ws_set_data(c->ws, NULL);
    ws_close(c->ws, WS_CLOSE_NORMAL, "bye");
  }
  uv_close((uv_handle_t *)&c->timer, free_ctl);
}
